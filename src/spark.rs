//! Reading what the policy needs from a pod: its Spark role, its job, its
//! executor ID and the ratio it asks for.
//!
//! Reading never fails: a field that is missing or of the wrong type reads
//! as absent, and the caller decides what that means for the pod.

use crate::settings::Settings;
use serde_json::{Map, Value};

/// What a pod is to Spark, from its role label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `spark-role: driver`: the one pod whose loss loses the job.
    Driver,
    /// `spark-role: executor`: one of the job's workers.
    Executor,
    /// Anything else, including pods with no role label.
    Other,
}

/// The executor ID label, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorId<'a> {
    /// A usable ID: Spark numbers executors from 1 and never reuses one.
    Number(u64),
    /// The pod has no such label.
    Missing,
    /// The label holds something else, such as the `EXECID` placeholder
    /// that Spark's statefulset and deployment allocators write.
    Unusable(&'a str),
}

/// The label that named a pod's job, and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobLabel<'a> {
    /// The label key, one of the `jobLabels` setting.
    pub key: &'a str,
    /// The job ID.
    pub value: &'a str,
}

/// The Spark view of one pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SparkPod<'a> {
    /// The pod's role.
    pub role: Role,
    /// The first of the `jobLabels` the pod carries.
    pub job: Option<JobLabel<'a>>,
    /// The executor ID label.
    pub executor_id: ExecutorId<'a>,
    /// `metadata.name`; empty when the client left naming to the server.
    pub name: &'a str,
    /// The raw value of the ratio annotation, or else the ratio label: a
    /// string on any pod the API server admits, but read as any JSON value
    /// so that a wrong type is reported, not ignored.
    pub ratio: Option<&'a Value>,
}

impl<'a> SparkPod<'a> {
    /// Reads `pod`, a Pod object, with the label keys `settings` name.
    pub fn read(pod: &'a Value, settings: &'a Settings) -> SparkPod<'a> {
        let labels = metadata_map(pod, "labels");
        let label = |key: &str| {
            labels
                .and_then(|labels| labels.get(key))
                .and_then(Value::as_str)
        };

        let role = match label(&settings.role_label) {
            Some("driver") => Role::Driver,
            Some("executor") => Role::Executor,
            _ => Role::Other,
        };
        let job = settings.job_labels.iter().find_map(|key| {
            label(key).map(|value| JobLabel {
                key: key.as_str(),
                value,
            })
        });
        let executor_id = match label(&settings.executor_id_label) {
            None => ExecutorId::Missing,
            Some(text) => {
                parse_executor_id(text).map_or(ExecutorId::Unusable(text), ExecutorId::Number)
            }
        };
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let ratio = metadata_map(pod, "annotations")
            .and_then(|annotations| annotations.get(&settings.spot_ratio_key))
            .or_else(|| labels.and_then(|labels| labels.get(&settings.spot_ratio_key)));

        SparkPod {
            role,
            job,
            executor_id,
            name,
            ratio,
        }
    }
}

/// `metadata.<field>` of `pod` when it is an object.
pub fn metadata_map<'a>(pod: &'a Value, field: &str) -> Option<&'a Map<String, Value>> {
    pod.get("metadata")?.get(field)?.as_object()
}

/// An executor ID: decimal digits only, at least 1, at most `u64::MAX`.
fn parse_executor_id(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>().ok().filter(|&id| id >= 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case("1", Some(1))]
    #[case("42", Some(42))]
    #[case("007", Some(7))]
    #[case("18446744073709551615", Some(u64::MAX))]
    #[case("18446744073709551616", None)]
    #[case("0", None)]
    #[case("EXECID", None)]
    #[case("-1", None)]
    #[case("+1", None)]
    #[case(" 1", None)]
    #[case("1.0", None)]
    #[case("", None)]
    #[case("١", None)]
    fn executor_ids_are_positive_decimals(#[case] text: &str, #[case] id: Option<u64>) {
        assert_eq!(parse_executor_id(text), id);
    }

    #[test]
    fn reads_an_emr_on_eks_executor() {
        let pod = json!({"metadata": {
            "name": "spark-pi-exec-3",
            "labels": {
                "spark-role": "executor",
                "spark-app-selector": "spark-0001",
                "emr-containers.amazonaws.com/job.id": "000000033abc",
                "spark-exec-id": "3",
            },
            "annotations": {"spot-balancer.io/spot-ratio": "0.3"},
        }});
        let settings = Settings::default();
        assert_eq!(
            SparkPod::read(&pod, &settings),
            SparkPod {
                role: Role::Executor,
                job: Some(JobLabel {
                    key: "emr-containers.amazonaws.com/job.id",
                    value: "000000033abc",
                }),
                executor_id: ExecutorId::Number(3),
                name: "spark-pi-exec-3",
                ratio: Some(&json!("0.3")),
            }
        );
    }

    #[rstest]
    #[case::no_metadata(json!({}))]
    #[case::metadata_not_object(json!({"metadata": "x"}))]
    #[case::labels_a_list(json!({"metadata": {"labels": ["spark-role"]}}))]
    #[case::label_not_string(json!({"metadata": {"labels": {"spark-role": 1}}}))]
    #[case::not_an_object(json!("pod"))]
    fn odd_pods_read_as_nothing(#[case] pod: Value) {
        let settings = Settings::default();
        let read = SparkPod::read(&pod, &settings);
        assert_eq!(read.role, Role::Other);
        assert_eq!(read.job, None);
        assert_eq!(read.executor_id, ExecutorId::Missing);
        assert_eq!(read.name, "");
        assert_eq!(read.ratio, None);
    }

    #[test]
    fn the_ratio_annotation_wins_over_the_label() {
        let pod = json!({"metadata": {
            "labels": {"spot-balancer.io/spot-ratio": "0.9", "spark-exec-id": "EXECID"},
            "annotations": {"spot-balancer.io/spot-ratio": "BALANCED"},
        }});
        let settings = Settings::default();
        let read = SparkPod::read(&pod, &settings);
        assert_eq!(read.ratio, Some(&json!("BALANCED")));
        assert_eq!(read.executor_id, ExecutorId::Unusable("EXECID"));

        let pod = json!({"metadata": {"labels": {"spot-balancer.io/spot-ratio": "0.9"}}});
        assert_eq!(SparkPod::read(&pod, &settings).ratio, Some(&json!("0.9")));
    }
}
