//! The admission requests a Spark executor causes: its CREATE, and the
//! DELETE when it goes.
//!
//! Spark on Kubernetes creates each executor as a pod labelled
//! `spark-role: executor`, `spark-app-selector: <application id>` and
//! `spark-exec-id: <n>`, with IDs counting up from 1 and never reused. The
//! API server sends the policy a CREATE AdmissionReview for it, and, when
//! the pod is deleted (its node was reclaimed, or Spark released it), a
//! DELETE AdmissionReview with the pod as stored under `oldObject`. This
//! file builds both, shaped as the fixtures of the e2e suite are.

use serde_json::{Map, Value, json};

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
    let pod = executor_pod(namespace, job, id, ratio, source);
    let uid = format!("simulated-{namespace}-{job}-{id}");
    review(namespace, job, id, Operation::Create { uid, pod })
}

/// The DELETE AdmissionReview of executor `id`, as the API server sends it
/// when the pod goes: no `object`, and the pod under `oldObject`.
///
/// The pod is the one of [`executor_review`] with its annotations replaced
/// by `annotations`, those of the pod as the policy admitted it; `None`
/// keeps the CREATE's. The rest of the policy's patch (the node selector,
/// tolerations) is not put back: a DELETE is read for the job's labels and
/// the recorded decision only.
pub fn executor_deletion_review(
    namespace: &str,
    job: &str,
    id: u64,
    ratio: f64,
    source: RatioSource,
    annotations: Option<&Map<String, Value>>,
) -> Value {
    let mut pod = executor_pod(namespace, job, id, ratio, source);
    if let (Some(metadata), Some(annotations)) = (
        pod.get_mut("metadata").and_then(Value::as_object_mut),
        annotations,
    ) {
        metadata.insert("annotations".into(), Value::Object(annotations.clone()));
    }
    let uid = format!("simulated-delete-{namespace}-{job}-{id}");
    review(namespace, job, id, Operation::Delete { uid, pod })
}

/// The executor pod Spark's driver creates.
fn executor_pod(namespace: &str, job: &str, id: u64, ratio: f64, source: RatioSource) -> Value {
    let mut metadata = json!({
        "name": pod_name(job, id),
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
    })
}

/// The name Spark gives executor `id` of `job`.
fn pod_name(job: &str, id: u64) -> String {
    format!("{job}-exec-{id}")
}

/// What a review asks about, with its request's UID.
enum Operation {
    /// A new pod, under `object`.
    Create {
        /// The request's UID.
        uid: String,
        /// The pod created.
        pod: Value,
    },
    /// A pod going, under `oldObject`.
    Delete {
        /// The request's UID.
        uid: String,
        /// The pod as stored.
        pod: Value,
    },
}

/// The AdmissionReview of `operation` on executor `id`'s pod.
fn review(namespace: &str, job: &str, id: u64, operation: Operation) -> Value {
    let (verb, uid, object, old_object, options) = match operation {
        Operation::Create { uid, pod } => ("CREATE", uid, pod, Value::Null, "CreateOptions"),
        Operation::Delete { uid, pod } => ("DELETE", uid, Value::Null, pod, "DeleteOptions"),
    };
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": pod_name(job, id),
            "namespace": namespace,
            "operation": verb,
            "userInfo": {
                "username": format!("system:serviceaccount:{namespace}:spark"),
                "groups": ["system:serviceaccounts", "system:authenticated"],
            },
            "object": object,
            "oldObject": old_object,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": options},
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

    #[test]
    fn the_deletion_review_carries_the_admitted_pod_as_old_object() {
        let admitted = json!({CAPACITY_ANNOTATION: "spot", "spot-balancer.io/position": "7"});
        let review = executor_deletion_review(
            "spark-jobs",
            "spark-1",
            7,
            0.5,
            RatioSource::Settings,
            admitted.as_object(),
        );
        let request = AdmissionRequest::from_document(review).unwrap();

        assert_eq!(request.uid(), "simulated-delete-spark-jobs-spark-1-7");
        let json = request.as_json();
        assert_eq!(json["operation"], "DELETE");
        assert_eq!(json["object"], Value::Null);
        assert_eq!(json["options"]["kind"], "DeleteOptions");
        let pod = &json["oldObject"]["metadata"];
        assert_eq!(pod["name"], "spark-1-exec-7");
        assert_eq!(pod["labels"]["spark-exec-id"], "7");
        assert_eq!(pod["annotations"], admitted);
    }

    #[test]
    fn a_deletion_without_admitted_annotations_keeps_the_created_ones() {
        let review = executor_deletion_review("ns", "job", 2, 0.3, RatioSource::Annotation, None);
        let annotations = &review["request"]["oldObject"]["metadata"]["annotations"];
        assert_eq!(annotations, &json!({RATIO_ANNOTATION: "0.3"}));
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
