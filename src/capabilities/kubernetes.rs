//! Kubewarden's Kubernetes capability, as the policy uses it: the live
//! executors of a job, and the ratio on the job's driver.
//!
//! Requests are the SDK's own types, so they are exactly what
//! `policy-server` and `kwctl` expect. Replies are read as JSON, field by
//! field, so a pod the policy cannot read is skipped rather than failing the
//! whole list.

use super::{CapabilityError, Host, call_json};
use crate::decision::CAPACITY_ANNOTATION;
use crate::live::LiveCounts;
use crate::placement::Capacity;
use crate::platform::{NodeRequirement, Platform};
use crate::spark::JobLabel;
use kubewarden_policy_sdk::host_capabilities::kubernetes::{
    GetResourceRequest, ListResourcesByNamespaceRequest,
};
use serde_json::Value;
use std::collections::BTreeSet;

/// The binding and namespace of Kubewarden's Kubernetes capability.
const CAPABILITY: (&str, &str) = ("kubewarden", "kubernetes");

/// The only fields of a listed pod the count reads; the host prunes the
/// rest, which keeps replies small for large jobs.
const EXECUTOR_FIELDS: [&str; 5] = [
    "metadata.annotations",
    "metadata.deletionTimestamp",
    "metadata.name",
    "spec.nodeSelector",
    "status.phase",
];

/// Counts the live executors of `job` in `namespace` by capacity.
///
/// An executor counts when it is neither terminating (it has a deletion
/// timestamp) nor finished (phase `Succeeded` or `Failed`). Its capacity is
/// the one the policy recorded on it, or else the value it selects for the
/// platform's capacity label; executors with neither are not counted.
pub fn live_counts(
    host: &dyn Host,
    namespace: &str,
    job: JobLabel,
    role_label: &str,
    platform: &Platform,
) -> Result<LiveCounts, CapabilityError> {
    let request = ListResourcesByNamespaceRequest {
        api_version: "v1".to_string(),
        kind: "Pod".to_string(),
        namespace: namespace.to_string(),
        label_selector: Some(format!("{}={},{role_label}=executor", job.key, job.value)),
        field_selector: None,
        field_masks: Some(
            EXECUTOR_FIELDS
                .iter()
                .map(|field| field.to_string())
                .collect(),
        ),
    };
    let operation = "list_resources_by_namespace";
    let reply = call(operation, host, &request)?;
    let Some(items) = reply.get("items").and_then(Value::as_array) else {
        return Err(CapabilityError::Reply {
            operation: format!("kubewarden/kubernetes/{operation}"),
            problem: "expected a list with items".to_string(),
        });
    };

    let mut counts = LiveCounts::default();
    for pod in items.iter().filter(|pod| is_live(pod)) {
        match capacity_of(pod, platform) {
            Some(Capacity::Spot) => counts.spot += 1,
            Some(Capacity::OnDemand) => counts.on_demand += 1,
            None => {}
        }
    }
    Ok(counts)
}

/// The value of `annotation` on the driver pod `driver` in `namespace`, or
/// `None` when the driver does not carry it.
pub fn driver_annotation(
    host: &dyn Host,
    namespace: &str,
    driver: &str,
    annotation: &str,
) -> Result<Option<String>, CapabilityError> {
    let request = GetResourceRequest {
        api_version: "v1".to_string(),
        kind: "Pod".to_string(),
        name: driver.to_string(),
        namespace: Some(namespace.to_string()),
        disable_cache: false,
        field_masks: Some(BTreeSet::from(["metadata.annotations".to_string()])),
    };
    let reply = call("get_resource", host, &request)?;
    let value = reply
        .get("metadata")
        .and_then(|metadata| metadata.get("annotations"))
        .and_then(|annotations| annotations.get(annotation))
        .and_then(Value::as_str);
    Ok(value.map(str::to_string))
}

/// The name of the pod that owns `pod`: Spark makes the driver the owner of
/// its executors, so their garbage collection follows the driver's.
pub fn driver_name(pod: &Value) -> Option<&str> {
    pod.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|owner| owner.get("kind").and_then(Value::as_str) == Some("Pod"))?
        .get("name")?
        .as_str()
}

/// Calls one operation of the capability with a request of the SDK's.
fn call(
    operation: &str,
    host: &dyn Host,
    request: &impl serde::Serialize,
) -> Result<Value, CapabilityError> {
    // The SDK's request types serialise to plain JSON objects.
    let request = serde_json::to_value(request).unwrap_or_default();
    call_json(host, (CAPABILITY.0, CAPABILITY.1, operation), &request)
}

/// Whether a listed executor is running or about to.
fn is_live(pod: &Value) -> bool {
    let terminating = pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|stamp| !stamp.is_null());
    let phase = pod.pointer("/status/phase").and_then(Value::as_str);
    !terminating && !matches!(phase, Some("Succeeded" | "Failed"))
}

/// The capacity a listed executor was placed on.
fn capacity_of(pod: &Value, platform: &Platform) -> Option<Capacity> {
    let recorded = pod
        .pointer("/metadata/annotations")
        .and_then(|annotations| annotations.get(CAPACITY_ANNOTATION))
        .and_then(Value::as_str)
        .and_then(Capacity::from_name);
    recorded.or_else(|| {
        let selected = pod
            .pointer("/spec/nodeSelector")
            .and_then(|selector| selector.get(&platform.label))
            .and_then(Value::as_str)?;
        let selects = |requirement: &NodeRequirement| {
            matches!(requirement, NodeRequirement::Equals(value) if value == selected)
        };
        if selects(&platform.spot) {
            Some(Capacity::Spot)
        } else if selects(&platform.on_demand) {
            Some(Capacity::OnDemand)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::scripted::ScriptedHost;
    use serde_json::json;

    const JOB: JobLabel = JobLabel {
        key: "spark-app-selector",
        value: "spark-1",
    };

    #[test]
    fn counts_live_executors_by_recorded_or_selected_capacity() {
        let list = json!({"apiVersion": "v1", "kind": "PodList", "items": [
            {"metadata": {"annotations": {"spot-balancer.io/capacity": "spot"}}},
            {"metadata": {"annotations": {"spot-balancer.io/capacity": "on-demand"}}},
            {"metadata": {}, "spec": {"nodeSelector": {"karpenter.sh/capacity-type": "spot"}}},
            {"metadata": {}, "spec": {"nodeSelector": {"karpenter.sh/capacity-type": "gpu"}}},
            {"metadata": {"annotations": {"spot-balancer.io/capacity": "spot"},
                          "deletionTimestamp": "2026-12-03T10:00:00Z"}},
            {"metadata": {"annotations": {"spot-balancer.io/capacity": "spot"}},
             "status": {"phase": "Failed"}},
            {"metadata": {"annotations": {"spot-balancer.io/capacity": "on-demand"}},
             "status": {"phase": "Succeeded"}},
            {"metadata": {"annotations": {"spot-balancer.io/capacity": "spot"}},
             "status": {"phase": "Pending"}},
            "not a pod",
        ]});
        let host = ScriptedHost::default().reply(
            "kubernetes/list_resources_by_namespace",
            Ok(&list.to_string()),
        );
        let counts = live_counts(&host, "spark", JOB, "spark-role", &Platform::karpenter());
        assert_eq!(
            counts,
            Ok(LiveCounts {
                spot: 3,
                on_demand: 1
            })
        );
        assert_eq!(
            host.calls.borrow()[0].1,
            json!({
                "api_version": "v1", "kind": "Pod", "namespace": "spark",
                "label_selector": "spark-app-selector=spark-1,spark-role=executor",
                "field_selector": null,
                "field_masks": ["metadata.annotations", "metadata.deletionTimestamp",
                                "metadata.name", "spec.nodeSelector", "status.phase"],
            })
        );
    }

    #[test]
    fn a_reply_without_items_is_an_error() {
        let host = ScriptedHost::default().reply(
            "kubernetes/list_resources_by_namespace",
            Ok(r#"{"kind": "Status"}"#),
        );
        let error = live_counts(&host, "spark", JOB, "spark-role", &Platform::karpenter());
        assert_eq!(
            error.unwrap_err().to_string(),
            "kubewarden/kubernetes/list_resources_by_namespace gave an unreadable reply: \
             expected a list with items"
        );
    }

    #[test]
    fn reads_the_ratio_from_the_driver() {
        let driver = json!({"metadata": {"annotations": {"spot-balancer.io/spot-ratio": "0.3"}}});
        let host =
            ScriptedHost::default().reply("kubernetes/get_resource", Ok(&driver.to_string()));
        let ratio = driver_annotation(&host, "spark", "pi-driver", "spot-balancer.io/spot-ratio");
        assert_eq!(ratio, Ok(Some("0.3".to_string())));
        assert_eq!(host.calls.borrow()[0].1["name"], "pi-driver");
    }

    #[test]
    fn the_driver_is_the_pod_owner() {
        let pod = json!({"metadata": {"ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs"},
            {"apiVersion": "v1", "kind": "Pod", "name": "pi-driver", "uid": "u1"},
        ]}});
        assert_eq!(driver_name(&pod), Some("pi-driver"));
        assert_eq!(
            driver_name(&json!({"metadata": {"ownerReferences": "x"}})),
            None
        );
    }
}
