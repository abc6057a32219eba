//! The `spot-balancer/redis` capability: executor positions and live counts
//! per job, kept in Redis.
//!
//! The contract, what the policy sends and what it gets back, is
//! `docs/redis-capability.md`. In short: four operations on two keys per
//! job, `<keyPrefix>:<namespace>:<job>:position` and
//! `<keyPrefix>:<namespace>:<job>:live`, each operation one atomic command
//! or Lua script, every write renewing the key's TTL.
//!
//! The capability never stalls an admission: every call is bounded by the
//! connect and reply timeouts of its [`RedisConfig`] (50 ms each by
//! default), and any failure (no server, a slow one, an error answer, an
//! unreadable request) is returned to the guest as an error whose message
//! says what failed. The policy then admits the pod with a sequence or
//! name-hash placement and a warning quoting that message. A host wires it
//! like this:
//!
//! ```no_run
//! use spot_balancer_host::capability::{Dispatcher, RedisCapability, RedisConfig};
//!
//! let mut dispatcher = Dispatcher::new();
//! RedisCapability::open(&RedisConfig::with_url("redis://127.0.0.1:6379"))
//!     .unwrap()
//!     .register(&mut dispatcher)
//!     .unwrap();
//! ```
//!
//! Opening connects to nothing: the first call does, so a host starts, and
//! its admissions fall back, while Redis is down.
//!
//! A timeout does not undo a write: Redis runs a command it received even
//! after the capability stopped waiting for the answer. A `next_position`
//! that timed out may so leave a gap in the job's positions, and a
//! `record_admission` that timed out may have counted the executor that
//! the policy's warning calls uncounted. Both are the price of a bound on
//! the wait; the job's keys expire, which ends either error.

mod commands;
mod config;
mod connection;
mod error;
mod request;

pub use config::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_REPLY_TIMEOUT, DEFAULT_URL, RedisConfig};
pub use error::RedisError;

use super::{Capability, CapabilityError, Dispatcher};
use commands::Answer;
use connection::Connections;
use request::Request;

/// The waPC binding of spot-balancer's own capabilities.
pub const SPOT_BALANCER_BINDING: &str = "spot-balancer";

/// The namespace of the Redis capability.
pub const REDIS_NAMESPACE: &str = "redis";

/// The Redis capability, shared by every instance of the policy.
pub struct RedisCapability {
    /// The pooled connections to the server.
    connections: Connections,
}

impl std::fmt::Debug for RedisCapability {
    /// Names the server; the connections are opaque.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCapability")
            .field("address", &self.connections.address())
            .finish_non_exhaustive()
    }
}

impl RedisCapability {
    /// A capability for the server `config` names. No connection is opened
    /// until the first call.
    ///
    /// # Errors
    ///
    /// [`RedisError::Url`] for a URL the client cannot use,
    /// [`RedisError::ZeroTimeout`] for a zero timeout.
    pub fn open(config: &RedisConfig) -> Result<Self, RedisError> {
        Ok(Self {
            connections: Connections::new(config)?,
        })
    }

    /// The server's `host:port`, or its socket path.
    pub fn address(&self) -> &str {
        self.connections.address()
    }

    /// Serves this capability under `spot-balancer`/`redis`.
    ///
    /// # Errors
    ///
    /// [`CapabilityError::AlreadyRegistered`] when the dispatcher already
    /// serves that pair.
    pub fn register(self, dispatcher: &mut Dispatcher) -> Result<(), CapabilityError> {
        dispatcher.register(SPOT_BALANCER_BINDING, REDIS_NAMESPACE, self)
    }

    /// Runs the request's command and reads its answer.
    fn serve(&self, request: &Request) -> Result<Answer, RedisError> {
        let operation = request.operation.name();
        let value =
            self.connections
                .query(operation, request.key(), &commands::command(request))?;
        commands::answer(request.operation, value).map_err(|unexpected| RedisError::Reply {
            address: self.address().to_owned(),
            operation,
            key: request.key().to_owned(),
            reply: unexpected.reply,
            expected: unexpected.expected,
        })
    }
}

impl Capability for RedisCapability {
    /// Serves `next_position`, `live_counts`, `record_admission` and
    /// `record_deletion`.
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, CapabilityError> {
        let request = match request::parse(operation, payload) {
            Ok(Some(request)) => request,
            Ok(None) => return Err(CapabilityError::UnknownOperation(operation.to_owned())),
            Err(error) => return Err(error.into()),
        };
        let answer = self.serve(&request).inspect_err(|error| {
            tracing::debug!(operation, key = request.key(), %error, "redis call failed");
        })?;
        Ok(answer.to_json())
    }
}

impl From<RedisError> for CapabilityError {
    /// An unreadable request is an invalid payload; every other failure is
    /// the backend's, which Kubewarden reports as a callback failure.
    fn from(error: RedisError) -> Self {
        match error {
            RedisError::Request { .. } => CapabilityError::InvalidPayload(error.to_string()),
            other => CapabilityError::Callback(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A capability whose server is never reached by these tests.
    fn capability() -> RedisCapability {
        RedisCapability::open(&RedisConfig::default()).unwrap()
    }

    #[test]
    fn registers_under_its_binding_and_namespace() {
        let mut dispatcher = Dispatcher::new();
        capability().register(&mut dispatcher).unwrap();
        let served: Vec<_> = dispatcher.served().collect();
        assert_eq!(served, [("spot-balancer", "redis")]);
    }

    #[test]
    fn refuses_operations_it_does_not_have() {
        let error = capability().call("flushall", b"{}").unwrap_err();
        assert_eq!(error, CapabilityError::UnknownOperation("flushall".into()));
    }

    #[test]
    fn an_unreadable_request_is_an_invalid_payload_sent_to_no_server() {
        let error = capability().call("live_counts", b"{}").unwrap_err();
        assert_eq!(
            error,
            CapabilityError::InvalidPayload(
                "unreadable live_counts request: missing field `keyPrefix`".into()
            )
        );
    }

    #[test]
    fn backend_failures_are_callback_failures() {
        let error = CapabilityError::from(RedisError::Connect {
            address: "127.0.0.1:6379".into(),
            reason: "connection refused".into(),
        });
        assert_eq!(
            error.to_string(),
            "Callback evaluation failure: cannot connect to redis at 127.0.0.1:6379: \
             connection refused"
        );
    }
}
