//! The `kubewarden/kubernetes` capability: reads of cluster state.
//!
//! A context-aware policy asks the host for Kubernetes objects with four
//! operations: `list_resources_by_namespace`, `list_resources_all`,
//! `get_resource` and `can_i`. This capability checks that the policy may
//! make the call, turns the SDK's JSON payload into the request kwctl would
//! record ([`CallbackRequest`]), and asks a [`KubernetesBackend`] for the
//! answer. The backend here is a replay session or [`NoCluster`]; a live
//! cluster is a later backend.
//!
//! Access follows kwctl: without `--allow-context-aware` nothing may be
//! read; with it, a policy may read exactly the kinds its metadata lists in
//! `contextAwareResources` (none when the module is not annotated).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{Capability, CapabilityError, KUBERNETES_NAMESPACE};
use crate::metadata::{ContextAwareResource, Metadata};
use crate::replay::{CallbackRequest, ReplaySession};

/// Produces the answer to a Kubernetes request.
pub trait KubernetesBackend: Send + Sync {
    /// Answers `request` with the bytes the guest receives.
    ///
    /// # Errors
    ///
    /// The text of the failure; the guest receives it wrapped in
    /// Kubewarden's "Callback evaluation failure" message.
    fn answer(&self, request: &CallbackRequest) -> Result<Vec<u8>, String>;
}

impl KubernetesBackend for ReplaySession {
    /// Answers from the next recorded exchange.
    fn answer(&self, request: &CallbackRequest) -> Result<Vec<u8>, String> {
        ReplaySession::answer(self, request)
    }
}

/// The backend when no cluster and no session is available: every request
/// fails, saying how to provide one.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCluster;

impl KubernetesBackend for NoCluster {
    /// Refuses `request`.
    fn answer(&self, request: &CallbackRequest) -> Result<Vec<u8>, String> {
        Err(format!(
            "no cluster to answer {}: this host reads Kubernetes only from a session given \
             with --replay-host-capabilities-interactions",
            request.variant()
        ))
    }
}

/// Which Kubernetes reads a policy is granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextAwareAccess {
    /// No read at all: the policy runs without `--allow-context-aware`.
    Denied,
    /// Reads of these kinds only; `can_i` is allowed.
    Allowed(BTreeSet<ContextAwareResource>),
}

impl ContextAwareAccess {
    /// The access kwctl grants: none unless `allow_context_aware`, and then
    /// the kinds listed in the module's metadata.
    pub fn from_metadata(allow_context_aware: bool, metadata: Option<&Metadata>) -> Self {
        if !allow_context_aware {
            return Self::Denied;
        }
        match metadata {
            Some(metadata) => Self::Allowed(metadata.context_aware_resources.clone()),
            None => {
                tracing::warn!(
                    "policy module is not annotated: no Kubernetes kind may be read, \
                     as with kwctl"
                );
                Self::Allowed(BTreeSet::new())
            }
        }
    }

    /// Whether reading `api_version`/`kind` is granted.
    fn permits(&self, api_version: &str, kind: &str) -> bool {
        match self {
            Self::Denied => false,
            Self::Allowed(kinds) => kinds
                .iter()
                .any(|resource| resource.api_version == api_version && resource.kind == kind),
        }
    }
}

/// The `list_resources_by_namespace` payload of the SDK.
#[derive(Debug, Deserialize)]
struct ListByNamespace {
    /// `apiVersion` of the kind.
    api_version: String,
    /// The kind.
    kind: String,
    /// Namespace to list in.
    namespace: String,
    /// Label selector; everything when absent.
    #[serde(default)]
    label_selector: Option<String>,
    /// Field selector; everything when absent.
    #[serde(default)]
    field_selector: Option<String>,
    /// Fields to keep in the answer; all when absent.
    #[serde(default)]
    field_masks: Option<BTreeSet<String>>,
}

/// The `list_resources_all` payload of the SDK.
#[derive(Debug, Deserialize)]
struct ListAll {
    /// `apiVersion` of the kind.
    api_version: String,
    /// The kind.
    kind: String,
    /// Label selector; everything when absent.
    #[serde(default)]
    label_selector: Option<String>,
    /// Field selector; everything when absent.
    #[serde(default)]
    field_selector: Option<String>,
    /// Fields to keep in the answer; all when absent.
    #[serde(default)]
    field_masks: Option<BTreeSet<String>>,
}

/// The `get_resource` payload of the SDK.
#[derive(Debug, Deserialize)]
struct GetResource {
    /// `apiVersion` of the kind.
    api_version: String,
    /// The kind.
    kind: String,
    /// Name of the object.
    name: String,
    /// Namespace of the object; absent for cluster-scoped kinds.
    #[serde(default)]
    namespace: Option<String>,
    /// Whether the host may answer from its cache.
    disable_cache: bool,
    /// Fields to keep in the answer; all when absent.
    #[serde(default)]
    field_masks: Option<BTreeSet<String>>,
}

/// The `can_i` payload of the SDK.
#[derive(Debug, Deserialize)]
struct CanI {
    /// The access review to ask the API server, kept as the guest sent it.
    subject_access_review: Value,
    /// Whether the host may answer from its cache.
    disable_cache: bool,
}

/// Serves `kubewarden/kubernetes` from a backend, within the policy's access.
#[derive(Clone)]
pub struct Kubernetes {
    /// What the policy may read.
    access: ContextAwareAccess,
    /// Where answers come from.
    backend: Arc<dyn KubernetesBackend>,
}

impl Kubernetes {
    /// Serves reads granted by `access` from `backend`.
    pub fn new(access: ContextAwareAccess, backend: Arc<dyn KubernetesBackend>) -> Self {
        Self { access, backend }
    }

    /// Checks access to a kind and asks the backend.
    fn read(
        &self,
        api_version: &str,
        kind: &str,
        request: CallbackRequest,
    ) -> Result<Vec<u8>, CapabilityError> {
        if !self.access.permits(api_version, kind) {
            tracing::warn!(
                api_version,
                kind,
                "refused kubernetes read: kind not granted"
            );
            return Err(CapabilityError::ResourceDenied {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
            });
        }
        self.backend
            .answer(&request)
            .map_err(CapabilityError::Callback)
    }
}

impl Capability for Kubernetes {
    /// Serves the four Kubernetes operations of the Kubewarden SDK.
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, CapabilityError> {
        match operation {
            "list_resources_by_namespace" => {
                let req: ListByNamespace = parse(payload)?;
                let request = CallbackRequest::new(
                    "KubernetesListResourceNamespace",
                    json!({
                        "api_version": req.api_version,
                        "kind": req.kind,
                        "namespace": req.namespace,
                        "label_selector": req.label_selector,
                        "field_selector": req.field_selector,
                        "field_masks": req.field_masks,
                    }),
                );
                self.read(&req.api_version, &req.kind, request)
            }
            "list_resources_all" => {
                let req: ListAll = parse(payload)?;
                let request = CallbackRequest::new(
                    "KubernetesListResourceAll",
                    json!({
                        "api_version": req.api_version,
                        "kind": req.kind,
                        "label_selector": req.label_selector,
                        "field_selector": req.field_selector,
                        "field_masks": req.field_masks,
                    }),
                );
                self.read(&req.api_version, &req.kind, request)
            }
            "get_resource" => {
                let req: GetResource = parse(payload)?;
                let request = CallbackRequest::new(
                    "KubernetesGetResource",
                    json!({
                        "api_version": req.api_version,
                        "kind": req.kind,
                        "name": req.name,
                        "namespace": req.namespace,
                        "disable_cache": req.disable_cache,
                        "field_masks": req.field_masks,
                    }),
                );
                self.read(&req.api_version, &req.kind, request)
            }
            "can_i" => {
                let req: CanI = parse(payload)?;
                // `can_i` names no kind to check: it is allowed with
                // context-aware access as a whole.
                if self.access == ContextAwareAccess::Denied {
                    return Err(CapabilityError::CapabilityDenied(format!(
                        "{KUBERNETES_NAMESPACE}/can_i"
                    )));
                }
                let request = CallbackRequest::new(
                    "KubernetesCanI",
                    json!({
                        "request": {
                            "subject_access_review": req.subject_access_review,
                            "disable_cache": req.disable_cache,
                        },
                        "disable_cache": req.disable_cache,
                    }),
                );
                self.backend
                    .answer(&request)
                    .map_err(CapabilityError::Callback)
            }
            other => Err(CapabilityError::UnknownOperation(other.to_owned())),
        }
    }
}

/// Parses a guest payload, reporting the JSON parser's message as
/// Kubewarden does.
fn parse<T: DeserializeOwned>(payload: &[u8]) -> Result<T, CapabilityError> {
    serde_json::from_slice(payload).map_err(|e| CapabilityError::InvalidPayload(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::Exchange;
    use rstest::rstest;

    /// Access to `v1/Pod` only.
    fn pods_only() -> ContextAwareAccess {
        ContextAwareAccess::Allowed(BTreeSet::from([ContextAwareResource {
            api_version: "v1".into(),
            kind: "Pod".into(),
        }]))
    }

    /// A capability answering one recorded pod list.
    fn kubernetes(access: ContextAwareAccess) -> Kubernetes {
        let session = ReplaySession::new(vec![Exchange {
            request: CallbackRequest::new(
                "KubernetesListResourceNamespace",
                json!({"api_version": "v1", "kind": "Pod", "namespace": "spark"}),
            ),
            response: Ok(b"{\"items\":[]}".to_vec()),
        }]);
        Kubernetes::new(access, Arc::new(session))
    }

    /// The SDK's payload for listing pods in `spark`.
    const LIST_PODS: &str = r#"{"api_version":"v1","kind":"Pod","namespace":"spark",
        "label_selector":null,"field_selector":null,"field_masks":null}"#;

    #[test]
    fn serves_granted_reads_from_the_backend() {
        let answer =
            kubernetes(pods_only()).call("list_resources_by_namespace", LIST_PODS.as_bytes());
        assert_eq!(answer, Ok(b"{\"items\":[]}".to_vec()));
    }

    #[rstest]
    #[case::without_allow_context_aware(
        ContextAwareAccess::Denied,
        "list_resources_by_namespace",
        LIST_PODS,
        "Policy has not been granted access to Kubernetes v1/Pod resources. \
         The violation has been reported."
    )]
    #[case::kind_not_in_metadata(
        pods_only(),
        "get_resource",
        r#"{"api_version":"v1","kind":"Node","name":"n","disable_cache":true}"#,
        "Policy has not been granted access to Kubernetes v1/Node resources. \
         The violation has been reported."
    )]
    #[case::unannotated_module(
        ContextAwareAccess::Allowed(BTreeSet::new()),
        "list_resources_all",
        r#"{"api_version":"v1","kind":"Pod"}"#,
        "Policy has not been granted access to Kubernetes v1/Pod resources. \
         The violation has been reported."
    )]
    #[case::can_i_without_allow_context_aware(
        ContextAwareAccess::Denied,
        "can_i",
        r#"{"subject_access_review":{"user":"u"},"disable_cache":false}"#,
        "Policy has not been granted access to the 'kubernetes/can_i' host capability. \
         The violation has been reported."
    )]
    #[case::unknown_operation(pods_only(), "watch", "{}", "unknown operation: watch")]
    #[case::payload_missing_field(
        pods_only(),
        "list_resources_by_namespace",
        r#"{"api_version":"v1","kind":"Pod"}"#,
        "missing field `namespace` at line 1 column 33"
    )]
    #[case::payload_not_json(
        pods_only(),
        "get_resource",
        "nope",
        "expected ident at line 1 column 2"
    )]
    fn refuses_calls_it_may_not_serve(
        #[case] access: ContextAwareAccess,
        #[case] operation: &str,
        #[case] payload: &str,
        #[case] message: &str,
    ) {
        let error = kubernetes(access)
            .call(operation, payload.as_bytes())
            .unwrap_err();
        assert_eq!(error.to_string(), message);
    }

    #[test]
    fn unrecorded_requests_fail_as_callback_failures() {
        let kubernetes = kubernetes(pods_only());
        let payload = r#"{"api_version":"v1","kind":"Pod","namespace":"other"}"#;

        let error = kubernetes
            .call("list_resources_by_namespace", payload.as_bytes())
            .unwrap_err();

        let message = error.to_string();
        assert!(
            message.starts_with(
                "Callback evaluation failure: Replay error: unexpected request. \
                 Was expecting KubernetesListResourceNamespace"
            ),
            "{message}"
        );
    }

    #[test]
    fn without_a_backend_reads_fail_saying_how_to_provide_one() {
        let kubernetes = Kubernetes::new(pods_only(), Arc::new(NoCluster));
        let error = kubernetes
            .call("list_resources_by_namespace", LIST_PODS.as_bytes())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "Callback evaluation failure: no cluster to answer KubernetesListResourceNamespace: \
             this host reads Kubernetes only from a session given with \
             --replay-host-capabilities-interactions"
        );
    }

    #[rstest]
    #[case::without_flag(false, Some(Metadata::default()), ContextAwareAccess::Denied)]
    #[case::flag_and_metadata(
        true,
        Some(Metadata {
            context_aware_resources: BTreeSet::from([ContextAwareResource {
                api_version: "v1".into(),
                kind: "Pod".into(),
            }]),
            ..Metadata::default()
        }),
        pods_only()
    )]
    #[case::flag_without_metadata(true, None, ContextAwareAccess::Allowed(BTreeSet::new()))]
    fn access_follows_kwctl(
        #[case] allow: bool,
        #[case] metadata: Option<Metadata>,
        #[case] expected: ContextAwareAccess,
    ) {
        assert_eq!(
            ContextAwareAccess::from_metadata(allow, metadata.as_ref()),
            expected
        );
    }
}
