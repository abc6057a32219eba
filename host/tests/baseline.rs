//! The host evaluating the baseline policy, the accept-everything module
//! built from `benches/baseline-policy`.

mod support;

use std::sync::Arc;

use serde_json::json;
use spot_balancer_host::capability::{ContextAwareAccess, NoCluster};
use spot_balancer_host::{EvaluationError, INTERNAL_ERROR_CODE, PolicySettings};
use support::{baseline, kubewarden_dispatcher, request};

/// The dispatcher `run` builds, with no Kubernetes access.
fn dispatcher() -> Arc<spot_balancer_host::Dispatcher> {
    kubewarden_dispatcher("baseline", ContextAwareAccess::Denied, Arc::new(NoCluster)).0
}

#[test]
fn accepts_an_executor_pod_and_prints_what_kwctl_prints() {
    // A Spark executor pod is created; the baseline parses the request and
    // accepts it without mutation, so the response carries only the uid
    // and the verdict, with kwctl's null audit annotations and warnings.
    let response = baseline()
        .evaluate(
            &dispatcher(),
            &PolicySettings::default(),
            &request("executor-pod-create-review.json"),
        )
        .unwrap();

    assert_eq!(
        serde_json::to_string(&response).unwrap(),
        r#"{"uid":"3d5b0f4e-7c1a-4c55-9d8e-2f0a3b6c1e01","allowed":true,"auditAnnotations":null,"warnings":null}"#
    );
}

#[test]
fn a_bare_request_is_evaluated_like_the_review_holding_it() {
    // The same request is given once inside an AdmissionReview and once
    // bare; both evaluations answer identically.
    let from_review = baseline()
        .evaluate(
            &dispatcher(),
            &PolicySettings::default(),
            &request("executor-pod-create-review.json"),
        )
        .unwrap();
    let from_request = baseline()
        .evaluate(
            &dispatcher(),
            &PolicySettings::default(),
            &request("executor-pod-create-request.json"),
        )
        .unwrap();

    assert_eq!(from_review, from_request);
}

#[test]
fn invalid_settings_are_an_error_carrying_the_policy_message() {
    // The baseline accepts no settings key; given one, it refuses the
    // settings with serde's message, and no response is produced.
    let settings = PolicySettings::try_from(json!({"defaultSpotRatio": 0.5})).unwrap();

    let error = baseline()
        .evaluate(
            &dispatcher(),
            &settings,
            &request("executor-pod-create-review.json"),
        )
        .unwrap_err();

    let EvaluationError::InvalidSettings {
        message: Some(message),
    } = error
    else {
        panic!("expected invalid settings, got {error:?}");
    };
    assert!(
        message.contains("unknown field `defaultSpotRatio`"),
        "{message}"
    );
}

#[test]
fn a_request_the_policy_cannot_parse_is_rejected_with_500() {
    // The request's kind is a string where the SDK expects a
    // GroupVersionKind: the guest fails to parse it and returns an error,
    // which the host answers as Kubewarden does, an internal server error.
    let response = baseline()
        .evaluate(
            &dispatcher(),
            &PolicySettings::default(),
            &request("executor-pod-malformed-kind-request.json"),
        )
        .unwrap();

    assert_eq!(response.uid, "malformed-kind-1");
    assert!(!response.allowed);
    let status = response.status.unwrap();
    assert_eq!(status.code, Some(INTERNAL_ERROR_CODE));
    let message = status.message.unwrap();
    assert!(
        message.starts_with("internal server error: Guest call failure: "),
        "{message}"
    );
    assert!(
        message.contains("invalid type: string \"Pod\""),
        "{message}"
    );
}

#[test]
fn every_evaluation_runs_in_a_fresh_instance() {
    // Many requests are evaluated with one compiled policy, as the
    // simulator does; each gets its own instance and the same answer.
    let policy = baseline();
    let dispatcher = dispatcher();
    let request = request("executor-pod-create-request.json");

    let answers: Vec<bool> = (0..20)
        .map(|_| {
            policy
                .evaluate(&dispatcher, &PolicySettings::default(), &request)
                .unwrap()
                .allowed
        })
        .collect();

    assert_eq!(answers, vec![true; 20]);
}

#[test]
fn the_baseline_speaks_protocol_v1() {
    // The host asks the module which waPC protocol it implements; the SDK
    // answers v1.
    let instance = baseline().instantiate(dispatcher()).unwrap();
    assert_eq!(instance.protocol_version(), Ok("v1".to_owned()));
}
