//! Calls from the policy to its host: the Redis capability of
//! `spot-balancer-host` and Kubewarden's own Kubernetes capability.
//!
//! The policy reaches the host through [`Host`], so the request path can be
//! tested natively with a scripted host. Every failure of a call comes back
//! as a [`CapabilityError`]; callers turn it into a warning and fall back to
//! the sequence, never into a rejection.

pub mod kubernetes;
pub mod redis;

use std::fmt;

/// A host that answers waPC calls.
pub trait Host {
    /// Calls `binding`/`namespace`/`operation` with `payload`, returning the
    /// host's reply or its error message.
    fn call(
        &self,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, String>;
}

/// The host the module runs in, reached through waPC.
pub struct WapcHost;

impl Host for WapcHost {
    fn call(
        &self,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, String> {
        kubewarden_policy_sdk::wapc_guest::host_call(binding, namespace, operation, payload)
            .map_err(|err| err.to_string())
    }
}

/// What went wrong with one host call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapabilityError {
    /// The host refused or failed the call: the capability is missing,
    /// not granted, or its backend is down or slow.
    Call {
        /// `binding/namespace/operation`.
        operation: String,
        /// The host's message.
        message: String,
    },
    /// The host answered with something the policy cannot read.
    Reply {
        /// `binding/namespace/operation`.
        operation: String,
        /// What was wrong with the reply.
        problem: String,
    },
}

impl fmt::Display for CapabilityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapabilityError::Call { operation, message } if message.is_empty() => {
                write!(f, "{operation} failed")
            }
            CapabilityError::Call { operation, message } => {
                write!(f, "{operation} failed: {message}")
            }
            CapabilityError::Reply { operation, problem } => {
                write!(f, "{operation} gave an unreadable reply: {problem}")
            }
        }
    }
}

impl std::error::Error for CapabilityError {}

/// Calls `operation` with `request` as JSON and parses the reply as JSON.
pub(crate) fn call_json(
    host: &dyn Host,
    (binding, namespace, operation): (&str, &str, &str),
    request: &serde_json::Value,
) -> Result<serde_json::Value, CapabilityError> {
    let name = || format!("{binding}/{namespace}/{operation}");
    // Serialising a Value cannot fail: its map keys are strings.
    let payload = serde_json::to_vec(request).unwrap_or_default();
    let reply = host
        .call(binding, namespace, operation, &payload)
        .map_err(|message| CapabilityError::Call {
            operation: name(),
            message,
        })?;
    serde_json::from_slice(&reply).map_err(|err| CapabilityError::Reply {
        operation: name(),
        problem: err.to_string(),
    })
}

#[cfg(test)]
pub(crate) mod scripted {
    //! A host that answers from a script, for native tests of the request
    //! path.

    use super::Host;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// Replies by operation name, and a record of every call made.
    #[derive(Default)]
    pub struct ScriptedHost {
        /// The reply to each `namespace/operation`; a missing one is an
        /// error, as on a host without the capability.
        pub replies: HashMap<String, Result<String, String>>,
        /// Every call, as `namespace/operation` and the payload's JSON.
        pub calls: RefCell<Vec<(String, serde_json::Value)>>,
    }

    impl ScriptedHost {
        /// Scripts the reply to `namespace/operation`.
        pub fn reply(mut self, operation: &str, reply: Result<&str, &str>) -> Self {
            let reply = reply.map(str::to_string).map_err(str::to_string);
            self.replies.insert(operation.to_string(), reply);
            self
        }

        /// The operations called, in order.
        pub fn operations(&self) -> Vec<String> {
            self.calls
                .borrow()
                .iter()
                .map(|(op, _)| op.clone())
                .collect()
        }
    }

    impl Host for ScriptedHost {
        fn call(
            &self,
            _binding: &str,
            namespace: &str,
            operation: &str,
            payload: &[u8],
        ) -> Result<Vec<u8>, String> {
            let name = format!("{namespace}/{operation}");
            let request = serde_json::from_slice(payload).unwrap_or_default();
            self.calls.borrow_mut().push((name.clone(), request));
            match self.replies.get(&name) {
                Some(Ok(reply)) => Ok(reply.clone().into_bytes()),
                Some(Err(message)) => Err(message.clone()),
                None => Err(format!("no capability {name}")),
            }
        }
    }
}
