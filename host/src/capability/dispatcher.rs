//! Routing of guest host calls to capabilities.
//!
//! The dispatcher is a two-level map, binding then namespace, to shared
//! [`Capability`] handlers. It is built once, before any policy runs, and is
//! read-only afterwards, so every instance of a policy can share it without
//! locking. A call for anything not registered is refused with
//! Kubewarden's "unknown binding" or "unknown namespace" message.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Capability, CapabilityError};

/// Routes `(binding, namespace, operation)` host calls to capabilities.
#[derive(Clone, Default)]
pub struct Dispatcher {
    /// Handlers by binding, then by namespace.
    handlers: BTreeMap<String, BTreeMap<String, Arc<dyn Capability>>>,
}

impl std::fmt::Debug for Dispatcher {
    /// Lists what is served; handlers themselves are opaque.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.served()).finish()
    }
}

impl Dispatcher {
    /// A dispatcher that serves nothing: every call is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves every operation of `binding`/`namespace` with `capability`.
    ///
    /// # Errors
    ///
    /// [`CapabilityError::AlreadyRegistered`] when that pair already has a
    /// handler: replacing one silently would hide a wiring mistake.
    pub fn register(
        &mut self,
        binding: &str,
        namespace: &str,
        capability: impl Capability + 'static,
    ) -> Result<(), CapabilityError> {
        self.register_shared(binding, namespace, Arc::new(capability))
    }

    /// Like [`register`](Self::register), for a handler the caller keeps a
    /// handle on (to reset a replay session between runs, for example).
    ///
    /// # Errors
    ///
    /// [`CapabilityError::AlreadyRegistered`] when that pair already has a
    /// handler.
    pub fn register_shared(
        &mut self,
        binding: &str,
        namespace: &str,
        capability: Arc<dyn Capability>,
    ) -> Result<(), CapabilityError> {
        let namespaces = self.handlers.entry(binding.to_owned()).or_default();
        if namespaces.contains_key(namespace) {
            return Err(CapabilityError::AlreadyRegistered {
                binding: binding.to_owned(),
                namespace: namespace.to_owned(),
            });
        }
        namespaces.insert(namespace.to_owned(), capability);
        Ok(())
    }

    /// Serves one host call.
    ///
    /// # Errors
    ///
    /// [`CapabilityError::UnknownBinding`] or
    /// [`CapabilityError::UnknownNamespace`] when nothing is registered for
    /// the call, or whatever the capability returns.
    pub fn dispatch(
        &self,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, CapabilityError> {
        let Some(namespaces) = self.handlers.get(binding) else {
            tracing::warn!(
                binding,
                namespace,
                operation,
                "refused host call: unknown binding"
            );
            return Err(CapabilityError::UnknownBinding(binding.to_owned()));
        };
        let Some(capability) = namespaces.get(namespace) else {
            tracing::warn!(
                binding,
                namespace,
                operation,
                "refused host call: unknown namespace"
            );
            return Err(CapabilityError::UnknownNamespace(namespace.to_owned()));
        };

        let answer = capability.call(operation, payload);
        if let Err(error) = &answer {
            tracing::debug!(binding, namespace, operation, %error, "host call failed");
        }
        answer
    }

    /// The `(binding, namespace)` pairs served, in sorted order.
    pub fn served(&self) -> impl Iterator<Item = (&str, &str)> {
        self.handlers.iter().flat_map(|(binding, namespaces)| {
            namespaces
                .keys()
                .map(move |namespace| (binding.as_str(), namespace.as_str()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Answers `ping` with `pong` and knows no other operation.
    fn ping(operation: &str, _payload: &[u8]) -> Result<Vec<u8>, CapabilityError> {
        match operation {
            "ping" => Ok(b"pong".to_vec()),
            other => Err(CapabilityError::UnknownOperation(other.to_owned())),
        }
    }

    /// A dispatcher serving `ping` under `kubewarden/tracing` and `mine/redis`.
    fn dispatcher() -> Dispatcher {
        let mut dispatcher = Dispatcher::new();
        dispatcher.register("kubewarden", "tracing", ping).unwrap();
        dispatcher.register("mine", "redis", ping).unwrap();
        dispatcher
    }

    #[rstest]
    #[case::kubewarden_binding("kubewarden", "tracing", "ping")]
    #[case::own_binding("mine", "redis", "ping")]
    fn routes_registered_calls(
        #[case] binding: &str,
        #[case] namespace: &str,
        #[case] operation: &str,
    ) {
        assert_eq!(
            dispatcher().dispatch(binding, namespace, operation, b""),
            Ok(b"pong".to_vec())
        );
    }

    #[rstest]
    #[case::unknown_binding("other", "tracing", "ping", "unknown binding: other")]
    #[case::namespace_of_other_binding("kubewarden", "redis", "ping", "unknown namespace: redis")]
    #[case::unserved_kubewarden_namespace(
        "kubewarden",
        "oci",
        "v1/verify",
        "unknown namespace: oci"
    )]
    #[case::unknown_operation("mine", "redis", "flushall", "unknown operation: flushall")]
    #[case::empty_binding("", "", "", "unknown binding: ")]
    fn refuses_unregistered_calls(
        #[case] binding: &str,
        #[case] namespace: &str,
        #[case] operation: &str,
        #[case] message: &str,
    ) {
        let error = dispatcher()
            .dispatch(binding, namespace, operation, b"")
            .unwrap_err();
        assert_eq!(error.to_string(), message);
    }

    #[test]
    fn refuses_a_second_handler_for_the_same_pair() {
        let mut dispatcher = dispatcher();
        let error = dispatcher.register("mine", "redis", ping).unwrap_err();
        assert_eq!(
            error.to_string(),
            "failed to register capability mine/redis: already registered"
        );
    }

    #[test]
    fn lists_what_it_serves() {
        let dispatcher = dispatcher();
        let served: Vec<_> = dispatcher.served().collect();
        assert_eq!(served, [("kubewarden", "tracing"), ("mine", "redis")]);
    }

    #[test]
    fn an_empty_dispatcher_refuses_everything() {
        let error = Dispatcher::new()
            .dispatch("kubewarden", "tracing", "log", b"{}")
            .unwrap_err();
        assert_eq!(error, CapabilityError::UnknownBinding("kubewarden".into()));
    }
}
