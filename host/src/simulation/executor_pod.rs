//! The admission request Spark's driver causes for one executor.
//!
//! Spark on Kubernetes creates each executor as a pod labelled
//! `spark-role: executor`, `spark-app-selector: <application id>` and
//! `spark-exec-id: <n>`, with IDs counting up from 1 and never reused. The
//! API server sends the policy a CREATE AdmissionReview for it. This file
//! builds that review, shaped as the fixtures of the e2e suite are.

use serde_json::{Value, json};

use super::scenario::RatioSource;

/// The annotation Spark sets from
/// `spark.kubernetes.executor.annotation.spot-balancer.io/spot-ratio`.
pub const RATIO_ANNOTATION: &str = "spot-balancer.io/spot-ratio";

/// The annotation the policy records its decision in.
pub const CAPACITY_ANNOTATION: &str = "spot-balancer.io/capacity";

/// The CREATE AdmissionReview of executor `id` of `job` in `namespace`.
///
/// With [`RatioSource::Annotation`], the pod carries `ratio` in
/// [`RATIO_ANNOTATION`]; otherwise it carries no annotation.
pub fn executor_review(
    namespace: &str,
    job: &str,
    id: u64,
    ratio: f64,
    source: RatioSource,
) -> Value {
    let name = format!("{job}-exec-{id}");
    let mut metadata = json!({
        "name": name,
        "namespace": namespace,
        "labels": {
            "spark-app-selector": job,
            "spark-exec-id": id.to_string(),
            "spark-role": "executor",
        },
    });
    if source == RatioSource::Annotation {
        metadata["annotations"] = json!({ RATIO_ANNOTATION: ratio.to_string() });
    }

    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": format!("simulated-{namespace}-{job}-{id}"),
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": name,
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {
                "username": format!("system:serviceaccount:{namespace}:spark"),
                "groups": ["system:serviceaccounts", "system:authenticated"],
            },
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": metadata,
                "spec": {
                    "containers": [{
                        "name": "spark-kubernetes-executor",
                        "image": "apache/spark:3.5.3",
                        "args": ["executor"],
                    }],
                    "restartPolicy": "Never",
                },
            },
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::AdmissionRequest;
    use rstest::rstest;

    #[test]
    fn the_review_is_an_executor_pod_create() {
        let review = executor_review("spark-jobs", "spark-1", 7, 0.5, RatioSource::Settings);
        let request = AdmissionRequest::from_document(review).unwrap();

        assert_eq!(request.uid(), "simulated-spark-jobs-spark-1-7");
        let labels = &request.object().unwrap()["metadata"]["labels"];
        assert_eq!(
            labels,
            &json!({"spark-app-selector": "spark-1", "spark-exec-id": "7", "spark-role": "executor"})
        );
        assert_eq!(request.as_json()["operation"], "CREATE");
    }

    #[rstest]
    #[case::settings(RatioSource::Settings, None)]
    #[case::annotation(RatioSource::Annotation, Some("0.3"))]
    fn the_ratio_annotation_is_set_only_when_asked(
        #[case] source: RatioSource,
        #[case] expected: Option<&str>,
    ) {
        let review = executor_review("ns", "job", 1, 0.3, source);
        let annotation =
            review["request"]["object"]["metadata"]["annotations"][RATIO_ANNOTATION].as_str();
        assert_eq!(annotation, expected);
    }
}
