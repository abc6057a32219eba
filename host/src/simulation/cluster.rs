//! The cluster a simulated job runs in, as the policy's Kubernetes
//! capability sees it: the job's live executor pods, each with the capacity
//! the policy recorded on it.
//!
//! The placer sets the live executors before every evaluation; a pod list
//! the policy asks for is built from them, as the policy server's cache
//! would hold them. Any other read fails, as a read of something the
//! simulated cluster does not have.

use std::sync::Mutex;

use serde_json::{Value, json};

use super::executor_pod::CAPACITY_ANNOTATION;
use super::placement::Capacity;
use crate::capability::KubernetesBackend;
use crate::replay::CallbackRequest;

/// The live executors of the simulated job, shared with the capability.
#[derive(Debug, Default)]
pub struct SimulatedCluster {
    /// Every live executor's pod, as the capability lists it.
    pods: Mutex<Vec<Value>>,
}

impl SimulatedCluster {
    /// Replaces the live executors of job `job` in `namespace`.
    pub fn set_live(&self, namespace: &str, job: &str, live: &[(u64, Capacity)]) {
        let pods = live
            .iter()
            .map(|(id, capacity)| {
                json!({
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": format!("{job}-exec-{id}"),
                        "namespace": namespace,
                        "annotations": {CAPACITY_ANNOTATION: capacity.to_string()},
                    },
                    "status": {"phase": "Running"},
                })
            })
            .collect();
        *self
            .pods
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = pods;
    }
}

impl KubernetesBackend for SimulatedCluster {
    /// Lists the live executors; refuses every other read.
    fn answer(&self, request: &CallbackRequest) -> Result<Vec<u8>, String> {
        if request.variant() != "KubernetesListResourceNamespace" {
            return Err(format!(
                "the simulated cluster does not serve {}",
                request.variant()
            ));
        }
        let pods = self
            .pods
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let list = json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": *pods});
        serde_json::to_vec(&list).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_live_executors_with_their_capacity() {
        let cluster = SimulatedCluster::default();
        cluster.set_live(
            "spark",
            "job",
            &[(1, Capacity::Spot), (4, Capacity::OnDemand)],
        );
        let request = CallbackRequest::new("KubernetesListResourceNamespace", json!({}));
        let list: Value = serde_json::from_slice(&cluster.answer(&request).unwrap()).unwrap();
        let capacities: Vec<&Value> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pod| &pod["metadata"]["annotations"][CAPACITY_ANNOTATION])
            .collect();
        assert_eq!(capacities, ["spot", "on-demand"]);
        assert_eq!(list["items"][1]["metadata"]["name"], "job-exec-4");

        let other = CallbackRequest::new("KubernetesGetResource", json!({}));
        assert_eq!(
            cluster.answer(&other).unwrap_err(),
            "the simulated cluster does not serve KubernetesGetResource"
        );
    }
}
