//! A host whose capability replies the fuzzer writes: refusals, replies
//! that are not JSON, JSON of any shape, and replies of the shapes the
//! capabilities promise with arbitrary contents, in the order the policy
//! calls.

use crate::input::FuzzValue;
use arbitrary::Arbitrary;
use serde_json::{Value, json};
use spot_balancer::capabilities::Host;
use std::cell::RefCell;
use std::collections::VecDeque;

/// One reply of the host to one call.
#[derive(Arbitrary, Debug, Clone)]
pub enum Reply {
    /// The host fails the call with this message.
    Fail(String),
    /// The host answers these bytes, JSON or not.
    Raw(Vec<u8>),
    /// The host answers this JSON value.
    Json(FuzzValue),
    /// A Redis `next_position` reply.
    Position(u64),
    /// A Redis count reply.
    Counts(u64, u64),
    /// A Kubernetes pod list of the job's executors.
    Pods(Vec<ListedPod>),
    /// A Kubernetes driver pod with this ratio annotation.
    Driver(FuzzValue),
}

/// One executor in a listed pod list.
#[derive(Arbitrary, Debug, Clone)]
pub struct ListedPod {
    /// What its capacity annotation says: spot, on-demand, something else,
    /// or nothing.
    recorded: u8,
    /// What it selects for Karpenter's capacity label, the same way.
    selected: u8,
    /// Whether it is terminating.
    terminating: bool,
    /// Its phase: Pending, Running, Succeeded, Failed, or none.
    phase: u8,
}

impl ListedPod {
    /// The pod as the Kubernetes capability lists it.
    fn to_json(&self) -> Value {
        let capacity = |choice: u8| match choice % 4 {
            0 => Some("spot"),
            1 => Some("on-demand"),
            2 => Some("gpu"),
            _ => None,
        };
        let mut pod = json!({"metadata": {"name": "spark-pi-exec"}, "spec": {}, "status": {}});
        if let Some(recorded) = capacity(self.recorded) {
            pod["metadata"]["annotations"] = json!({"spot-balancer.io/capacity": recorded});
        }
        if let Some(selected) = capacity(self.selected) {
            pod["spec"]["nodeSelector"] = json!({"karpenter.sh/capacity-type": selected});
        }
        if self.terminating {
            pod["metadata"]["deletionTimestamp"] = json!("2026-12-03T10:00:00Z");
        }
        let phases = ["Pending", "Running", "Succeeded", "Failed"];
        if let Some(phase) = phases.get(usize::from(self.phase % 5)) {
            pod["status"]["phase"] = json!(phase);
        }
        pod
    }
}

impl Reply {
    /// The bytes the host answers, or its error.
    fn answer(&self) -> Result<Vec<u8>, String> {
        let json = match self {
            Reply::Fail(message) => return Err(message.clone()),
            Reply::Raw(bytes) => return Ok(bytes.clone()),
            Reply::Json(value) => value.to_json(),
            Reply::Position(position) => json!({"position": position}),
            Reply::Counts(spot, on_demand) => json!({"spot": spot, "onDemand": on_demand}),
            Reply::Pods(pods) => json!({"apiVersion": "v1", "kind": "PodList",
                "items": pods.iter().map(ListedPod::to_json).collect::<Vec<_>>()}),
            Reply::Driver(ratio) => json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": "spark-pi-driver",
                "annotations": {"spot-balancer.io/spot-ratio": ratio.to_json()}}}),
        };
        // Serialising a Value cannot fail: its keys are strings.
        Ok(serde_json::to_vec(&json).unwrap_or_default())
    }
}

/// Answers each call with the next scripted reply; once they run out,
/// every call fails, as on a host without the capability.
pub struct ScriptedHost {
    /// The replies not yet given.
    replies: RefCell<VecDeque<Reply>>,
}

impl ScriptedHost {
    /// A host that gives `replies` in order.
    pub fn new(replies: Vec<Reply>) -> ScriptedHost {
        ScriptedHost {
            replies: RefCell::new(replies.into()),
        }
    }
}

impl Host for ScriptedHost {
    fn call(
        &self,
        _binding: &str,
        _namespace: &str,
        _operation: &str,
        _payload: &[u8],
    ) -> Result<Vec<u8>, String> {
        match self.replies.borrow_mut().pop_front() {
            Some(reply) => reply.answer(),
            None => Err("no capability scripted".to_string()),
        }
    }
}
