//! Host capabilities: what a policy may ask of the host while it runs.
//!
//! A waPC guest calls the host with a binding, a namespace, an operation
//! and a payload (`host_call("kubewarden", "kubernetes", "get_resource",
//! ...)`). The [`Dispatcher`] routes each call by `(binding, namespace)` to
//! a registered [`Capability`], which handles the operation. Kubewarden's
//! own capabilities live under the `kubewarden` binding; spot-balancer's
//! (the Redis store comes in a later issue) register under a binding of
//! their own without touching this module:
//!
//! ```
//! use spot_balancer_host::capability::{Capability, CapabilityError, Dispatcher};
//!
//! /// Answers `echo` with its payload.
//! struct Echo;
//!
//! impl Capability for Echo {
//!     fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, CapabilityError> {
//!         match operation {
//!             "echo" => Ok(payload.to_vec()),
//!             other => Err(CapabilityError::UnknownOperation(other.to_owned())),
//!         }
//!     }
//! }
//!
//! let mut dispatcher = Dispatcher::new();
//! dispatcher.register("spot-balancer", "echo", Echo).unwrap();
//! assert_eq!(dispatcher.dispatch("spot-balancer", "echo", "echo", b"hi").unwrap(), b"hi");
//! ```
//!
//! Every refusal is an error returned to the guest, never a panic, and its
//! text is the one Kubewarden's policy-evaluator sends for the same case, so
//! that a policy, and tests that read its messages, see the same thing
//! under this host as under kwctl or policy-server.

mod dispatcher;
mod kubernetes;
mod log;
mod redis;

pub use self::redis::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_REPLY_TIMEOUT, DEFAULT_URL, REDIS_NAMESPACE, RedisCapability,
    RedisConfig, RedisError, SPOT_BALANCER_BINDING,
};
pub use dispatcher::Dispatcher;
pub use kubernetes::{ContextAwareAccess, Kubernetes, KubernetesBackend, NoCluster};
pub use log::{GuestLog, LogSink};

use thiserror::Error;

/// A dispatcher serving Kubewarden's own capabilities, as `kwctl run` and
/// policy-server do: the guest's log lines to `log`, Kubernetes lookups to
/// `kubernetes`. Other capabilities are registered on it afterwards.
///
/// # Errors
///
/// None in practice: the two pairs are distinct on a fresh dispatcher. The
/// result is [`Dispatcher::register`]'s.
pub fn kubewarden_dispatcher(
    log: GuestLog,
    kubernetes: Kubernetes,
) -> Result<Dispatcher, CapabilityError> {
    let mut dispatcher = Dispatcher::new();
    dispatcher.register(KUBEWARDEN_BINDING, TRACING_NAMESPACE, log)?;
    dispatcher.register(KUBEWARDEN_BINDING, KUBERNETES_NAMESPACE, kubernetes)?;
    Ok(dispatcher)
}

/// The binding of Kubewarden's own host capabilities.
pub const KUBEWARDEN_BINDING: &str = "kubewarden";

/// The namespace of the guest logging capability.
pub const TRACING_NAMESPACE: &str = "tracing";

/// The namespace of the Kubernetes read capabilities.
pub const KUBERNETES_NAMESPACE: &str = "kubernetes";

/// A handler for every operation of one `(binding, namespace)`.
///
/// Implementations must be shareable across threads: one dispatcher serves
/// every instance of a policy. Closures of the right shape are capabilities
/// too.
pub trait Capability: Send + Sync {
    /// Handles `operation` with the guest's `payload`, returning the bytes
    /// the guest receives.
    ///
    /// # Errors
    ///
    /// A [`CapabilityError`]; its message is what the guest receives.
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, CapabilityError>;
}

impl<F> Capability for F
where
    F: Fn(&str, &[u8]) -> Result<Vec<u8>, CapabilityError> + Send + Sync,
{
    /// Calls the closure.
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, CapabilityError> {
        self(operation, payload)
    }
}

/// Why a host call was not served.
///
/// The `Display` text of the variants the guest can see is Kubewarden's,
/// word for word (capitals included), because policies and their tests
/// match on it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CapabilityError {
    /// No capability is registered under this binding.
    #[error("unknown binding: {0}")]
    UnknownBinding(String),

    /// The binding is known but this namespace is not.
    #[error("unknown namespace: {0}")]
    UnknownNamespace(String),

    /// The capability does not have this operation.
    #[error("unknown operation: {0}")]
    UnknownOperation(String),

    /// The payload is not the request the operation expects; the text is
    /// the JSON parser's, as Kubewarden sends it.
    #[error("{0}")]
    InvalidPayload(String),

    /// The policy may not read this Kubernetes kind.
    #[error(
        "Policy has not been granted access to Kubernetes {api_version}/{kind} resources. \
         The violation has been reported."
    )]
    ResourceDenied {
        /// `apiVersion` the policy asked for.
        api_version: String,
        /// Kind the policy asked for.
        kind: String,
    },

    /// The policy may not use this capability at all (`namespace/operation`).
    #[error(
        "Policy has not been granted access to the '{0}' host capability. \
         The violation has been reported."
    )]
    CapabilityDenied(String),

    /// The capability's backend failed to produce an answer.
    #[error("Callback evaluation failure: {0}")]
    Callback(String),

    /// A capability is already registered for this binding and namespace.
    #[error("failed to register capability {binding}/{namespace}: already registered")]
    AlreadyRegistered {
        /// Binding of the second registration.
        binding: String,
        /// Namespace of the second registration.
        namespace: String,
    },
}
