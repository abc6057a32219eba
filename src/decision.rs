//! A placement decision and the annotations that record it on the pod.
//!
//! The annotations let an operator see why a pod went where it went, and let
//! the policy recognise a pod it has already placed, so that evaluating the
//! mutated pod again changes nothing.

use crate::placement::Capacity;
use crate::ratio::Ratio;

/// The annotation recording the chosen capacity: `spot` or `on-demand`.
pub const CAPACITY_ANNOTATION: &str = "spot-balancer.io/capacity";
/// The annotation recording the executor's position in the job's sequence.
pub const POSITION_ANNOTATION: &str = "spot-balancer.io/position";
/// The annotation recording where the position came from.
pub const DECIDED_BY_ANNOTATION: &str = "spot-balancer.io/decided-by";
/// The annotation recording the ratio the decision was made for.
pub const RATIO_ANNOTATION: &str = "spot-balancer.io/ratio";

/// What a decision was based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The executor's Spark ID, as a position in the job's sequence.
    ExecutorId,
    /// A position from the Redis capability's counter, for executors
    /// without a usable ID.
    RedisCounter,
    /// A hash of the pod's name, for executors without a usable ID when no
    /// counter is available.
    NameHash,
    /// The job's live counts, which overrode the sequence to bring the job
    /// back to its ratio.
    LiveCounts,
    /// The pod is a driver, pinned to on-demand capacity.
    Driver,
}

impl Basis {
    /// The value of the `decided-by` annotation.
    pub const fn as_str(self) -> &'static str {
        match self {
            Basis::ExecutorId => "executor-id",
            Basis::RedisCounter => "redis-counter",
            Basis::NameHash => "name-hash",
            Basis::LiveCounts => "live-counts",
            Basis::Driver => "driver",
        }
    }
}

/// Where one pod goes, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The capacity chosen.
    pub capacity: Capacity,
    /// What the choice was based on.
    pub basis: Basis,
    /// The position in the job's sequence, for executors.
    pub position: Option<u64>,
    /// The job's ratio, for executors.
    pub ratio: Option<Ratio>,
}

impl Decision {
    /// The decision for a driver: on-demand, with no position or ratio.
    pub const fn driver() -> Decision {
        Decision {
            capacity: Capacity::OnDemand,
            basis: Basis::Driver,
            position: None,
            ratio: None,
        }
    }

    /// The annotations that record this decision, as key and value.
    pub fn annotations(&self) -> Vec<(&'static str, String)> {
        let mut annotations = vec![
            (CAPACITY_ANNOTATION, self.capacity.to_string()),
            (DECIDED_BY_ANNOTATION, self.basis.as_str().to_string()),
        ];
        if let Some(position) = self.position {
            annotations.push((POSITION_ANNOTATION, position.to_string()));
        }
        if let Some(ratio) = self.ratio {
            annotations.push((RATIO_ANNOTATION, ratio.to_string()));
        }
        annotations
    }
}
