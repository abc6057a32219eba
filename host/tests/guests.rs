//! The host facing guests that misbehave or call the host: modules written
//! in the wasm text format (see `support/guests.rs`) that trap, fail,
//! answer garbage, mutate, or forward their payload to a host call.

mod support;

use std::sync::Arc;

use rstest::rstest;
use serde_json::{Value, json};
use spot_balancer_host::capability::{ContextAwareAccess, NoCluster};
use spot_balancer_host::metadata::ContextAwareResource;
use spot_balancer_host::replay::ReplaySession;
use spot_balancer_host::{AdmissionRequest, INTERNAL_ERROR_CODE, PolicySettings};
use support::{fixture, guests, kubewarden_dispatcher, request, text_guest};

/// The dispatcher `run` builds, with no Kubernetes access.
fn denied() -> Arc<spot_balancer_host::Dispatcher> {
    kubewarden_dispatcher("guest", ContextAwareAccess::Denied, Arc::new(NoCluster)).0
}

/// The dispatcher `run --allow-context-aware` builds for a module allowed
/// to read pods and nodes, answering from the fixture session.
fn replaying() -> Arc<spot_balancer_host::Dispatcher> {
    let access = ContextAwareAccess::Allowed(
        [("v1", "Pod"), ("v1", "Node")]
            .into_iter()
            .map(|(api_version, kind)| ContextAwareResource {
                api_version: api_version.into(),
                kind: kind.into(),
            })
            .collect(),
    );
    let session = ReplaySession::from_path(&fixture("spark-namespace-pods-session.yml")).unwrap();
    kubewarden_dispatcher("guest", access, Arc::new(session)).0
}

#[test]
fn a_trap_in_validate_is_a_rejection_with_500() {
    // The guest executes `unreachable` while validating: wasm traps, and
    // the API server would receive a rejection, not a failed webhook.
    let policy = text_guest("trapping", &guests::trapping());
    let instance = policy.instantiate(denied()).unwrap();

    let response = instance.validate(
        &PolicySettings::default(),
        &request("executor-pod-create-request.json"),
    );

    assert!(!response.allowed);
    let status = response.status.unwrap();
    assert_eq!(status.code, Some(INTERNAL_ERROR_CODE));
    assert!(
        status
            .message
            .unwrap()
            .starts_with("internal server error: Guest call failure: "),
    );
}

#[test]
fn a_trap_in_validate_settings_makes_the_settings_invalid() {
    // The guest traps while checking its settings: as in Kubewarden, the
    // settings count as invalid and the message says the call failed.
    let policy = text_guest("trapping", &guests::trapping());

    let validation = policy
        .validate_settings(&denied(), &PolicySettings::default())
        .unwrap();

    assert!(!validation.valid);
    let message = validation.message.unwrap();
    assert!(
        message.starts_with("Error invoking settings validation callback: GuestCallFailure("),
        "{message}"
    );
}

#[test]
fn a_guest_error_is_a_rejection_carrying_its_message() {
    // The guest reports an error (as an SDK policy does when it returns
    // `Err`); the rejection carries the guest's text.
    let policy = text_guest("failing", &guests::failing("cannot decide: no ratio"));
    let instance = policy.instantiate(denied()).unwrap();

    let response = instance.validate(
        &PolicySettings::default(),
        &request("executor-pod-create-request.json"),
    );

    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({
            "uid": "3d5b0f4e-7c1a-4c55-9d8e-2f0a3b6c1e01",
            "allowed": false,
            "status": {
                "message": "internal server error: Guest call failure: cannot decide: no ratio",
                "code": 500
            },
            "auditAnnotations": null,
            "warnings": null
        })
    );
}

#[rstest]
#[case::not_json(
    "not json",
    "internal server error: invalid response from policy: expected ident at line 1 column 2"
)]
#[case::wrong_shape(
    r#"{"accepted": "yes"}"#,
    "internal server error: invalid response from policy: invalid type: string \"yes\", expected a boolean at line 1 column 18"
)]
fn an_answer_that_is_not_a_validation_response_is_a_rejection_with_500(
    #[case] answer: &str,
    #[case] message: &str,
) {
    // The guest answers `validate` with something other than a
    // ValidationResponse; the host rejects, naming the parse error.
    let policy = text_guest("garbage", &guests::answering(answer));
    let instance = policy.instantiate(denied()).unwrap();

    let response = instance.validate(
        &PolicySettings::default(),
        &request("executor-pod-create-request.json"),
    );

    assert_eq!(response.status.unwrap().message.as_deref(), Some(message));
}

#[test]
fn a_mutated_object_becomes_the_json_patch_from_the_request_object() {
    // The guest answers with the request's pod plus a capacity annotation;
    // the host sends the RFC 6902 difference as a base64 JSONPatch.
    let original = request("executor-pod-create-request.json");
    let mut mutated = original.object().unwrap().clone();
    mutated["metadata"]["annotations"] = json!({"spot-balancer.io/capacity": "spot"});
    let answer = json!({"accepted": true, "mutated_object": mutated}).to_string();
    let policy = text_guest("mutating", &guests::answering(&answer));

    let response = policy
        .instantiate(denied())
        .unwrap()
        .validate(&PolicySettings::default(), &original);

    assert!(response.allowed);
    assert_eq!(response.patch_type.as_deref(), Some("JSONPatch"));
    assert_eq!(
        response.decoded_patch(),
        Some(json!([{
            "op": "add",
            "path": "/metadata/annotations",
            "value": {"spot-balancer.io/capacity": "spot"}
        }]))
    );
}

#[test]
fn a_mutation_of_a_delete_is_refused() {
    // A DELETE has no object; a guest that still answers with a mutated
    // object is refused with Kubewarden's message.
    let answer = json!({"accepted": true, "mutated_object": {"a": 1}}).to_string();
    let policy = text_guest("mutating", &guests::answering(&answer));
    let delete =
        AdmissionRequest::from_document(json!({"uid": "d", "operation": "DELETE", "object": null}))
            .unwrap();

    let response = policy
        .instantiate(denied())
        .unwrap()
        .validate(&PolicySettings::default(), &delete);

    assert!(!response.allowed);
    assert_eq!(
        response.status.unwrap().message.as_deref(),
        Some(spot_balancer_host::MUTATION_WITHOUT_OBJECT)
    );
}

#[rstest]
#[case::unknown_binding(
    "spot-balancer",
    "redis",
    "get",
    "{}",
    "unknown binding: spot-balancer"
)]
#[case::unknown_namespace("kubewarden", "oci", "v1/verify", "{}", "unknown namespace: oci")]
#[case::unknown_operation("kubewarden", "kubernetes", "watch", "{}", "unknown operation: watch")]
#[case::context_aware_without_the_flag(
    "kubewarden",
    "kubernetes",
    "list_resources_by_namespace",
    r#"{"api_version":"v1","kind":"Pod","namespace":"spark-jobs"}"#,
    "Policy has not been granted access to Kubernetes v1/Pod resources. The violation has been reported."
)]
fn host_calls_the_host_does_not_serve_return_an_error_to_the_guest(
    #[case] binding: &str,
    #[case] namespace: &str,
    #[case] operation: &str,
    #[case] payload: &str,
    #[case] message: &str,
) {
    // The guest makes a host call this host refuses; the guest receives the
    // refusal as its host-call error (and echoes it back here).
    let policy = text_guest(
        "forwarding",
        &guests::forwarding(binding, namespace, operation),
    );
    let instance = policy.instantiate(denied()).unwrap();

    let answer = instance.call("validate", payload.as_bytes()).unwrap();

    assert_eq!(String::from_utf8(answer).unwrap(), message);
}

#[test]
fn guest_log_events_are_written_as_json_lines() {
    // The guest logs one event through kubewarden/tracing/log, as the SDK
    // does; the host writes it as one JSON line tagged with the policy.
    let policy = text_guest(
        "forwarding",
        &guests::forwarding("kubewarden", "tracing", "log"),
    );
    let (dispatcher, logs) =
        kubewarden_dispatcher("my-policy", ContextAwareAccess::Denied, Arc::new(NoCluster));
    let event = json!({"level": "info", "message": "placing executor", "exec_id": "1"});

    let answer = policy
        .instantiate(dispatcher)
        .unwrap()
        .call("validate", event.to_string().as_bytes())
        .unwrap();

    assert!(answer.is_empty());
    let written = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = written
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            json!({"level": "info", "message": "placing executor", "exec_id": "1", "policy": "my-policy"})
        ]
    );
}

#[test]
fn kubernetes_reads_are_answered_from_the_replay_session_in_order() {
    // A context-aware guest lists the job's pods, then looks up a node,
    // then lists again; the session recorded two exchanges, so the answers
    // are the recorded pod list, the recorded error, and exhaustion.
    let list = guests::forwarding("kubewarden", "kubernetes", "list_resources_by_namespace");
    let get = guests::forwarding("kubewarden", "kubernetes", "get_resource");
    let (list, get) = (text_guest("list", &list), text_guest("get", &get));
    let dispatcher = replaying();
    let list_pods = r#"{"api_version":"v1","kind":"Pod","namespace":"spark-jobs",
        "label_selector":"spark-app-selector=spark-7f3c2a1b9d","field_selector":null,"field_masks":null}"#;
    let get_node = r#"{"api_version":"v1","kind":"Node","name":"ip-10-0-1-17","namespace":null,
        "disable_cache":false,"field_masks":null}"#;

    let first = list
        .instantiate(dispatcher.clone())
        .unwrap()
        .call("validate", list_pods.as_bytes());
    let second = get
        .instantiate(dispatcher.clone())
        .unwrap()
        .call("validate", get_node.as_bytes());
    let third = list
        .instantiate(dispatcher)
        .unwrap()
        .call("validate", list_pods.as_bytes());

    let pods: Value = serde_json::from_slice(&first.unwrap()).unwrap();
    assert_eq!(pods["items"][0]["metadata"]["name"], "etl-nightly-exec-1");
    assert_eq!(
        String::from_utf8(second.unwrap()).unwrap(),
        r#"Callback evaluation failure: nodes "ip-10-0-1-17" not found"#
    );
    assert_eq!(
        String::from_utf8(third.unwrap()).unwrap(),
        "Callback evaluation failure: the list of recorded responses is empty or has been exhausted"
    );
}
