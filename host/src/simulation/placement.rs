//! What the simulator asks of whoever places executors, and the answers.
//!
//! The engine asks a [`Placer`] about each new executor, tells it about
//! each executor that leaves, and asks it at the end what its store still
//! counts. [`PolicyPlacer`](super::PolicyPlacer) is the placer that asks
//! the real module. A pod the policy leaves unchanged, rejects, or
//! annotates with anything but `spot` counts as on-demand, and the
//! [`Outcome`] says which of these happened so the report can show it.
//!
//! [`PlacementMode`] says which live capability the policy may use: none
//! (ID-only), the Kubernetes capability listing the job's live executors,
//! or the Redis capability counting admissions and deletions.

use std::fmt;

use serde_json::Value;
use thiserror::Error;

use super::executor_pod::CAPACITY_ANNOTATION;
use super::scenario::Scenario;
use crate::policy::EvaluationError;

/// Where an executor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capacity {
    /// Spot (preemptible) capacity.
    Spot,
    /// On-demand capacity.
    OnDemand,
}

impl fmt::Display for Capacity {
    /// `spot` or `on-demand`, as in the decision annotation.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Spot => "spot",
            Self::OnDemand => "on-demand",
        })
    }
}

/// How the policy's answer was read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// The patched pod carries the decision annotation.
    Decided,
    /// The policy admitted the pod unchanged.
    Unmutated,
    /// The patched pod has no decision annotation.
    NoAnnotation,
    /// The annotation holds something other than `spot` or `on-demand`.
    UnknownValue(String),
    /// The policy rejected the pod; the text is its message.
    Rejected(String),
    /// The patch does not apply to the pod; the text says why.
    BadPatch(String),
}

/// The policy's decision about one executor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Where the executor runs; on-demand unless the policy said spot.
    pub capacity: Capacity,
    /// How the answer was read.
    pub outcome: Outcome,
    /// The answer's warnings, as the client would see them; possibly none.
    pub warnings: Vec<String>,
}

impl Decision {
    /// Reads the decision from an answer: `allowed`, and the patched pod.
    /// The decision has no warnings; the caller adds the answer's.
    pub fn from_answer(allowed: bool, message: Option<&str>, patched: Option<&Value>) -> Self {
        let on_demand = |outcome| Self {
            capacity: Capacity::OnDemand,
            outcome,
            warnings: Vec::new(),
        };
        if !allowed {
            return on_demand(Outcome::Rejected(message.unwrap_or_default().to_owned()));
        }
        let Some(pod) = patched else {
            return on_demand(Outcome::Unmutated);
        };
        match pod["metadata"]["annotations"][CAPACITY_ANNOTATION].as_str() {
            Some("spot") => Self {
                capacity: Capacity::Spot,
                outcome: Outcome::Decided,
                warnings: Vec::new(),
            },
            Some("on-demand") => on_demand(Outcome::Decided),
            Some(other) => on_demand(Outcome::UnknownValue(other.to_owned())),
            None => on_demand(Outcome::NoAnnotation),
        }
    }
}

/// Which live capability the policy may consult while placing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PlacementMode {
    /// From the executor ID alone: no capability but logging is served.
    #[default]
    IdOnly,
    /// With live counts from the Kubernetes capability (`liveCounts:
    /// kubernetes`): the policy lists the job's live executors.
    Kubernetes,
    /// With live counts from spot-balancer's Redis capability
    /// (`liveCounts: redis`) on a real server: the policy counts each
    /// admission up and each DELETE review down, so the simulator sends
    /// one for every executor that leaves.
    Redis,
}

impl fmt::Display for PlacementMode {
    /// The mode's command-line name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::IdOnly => "id-only",
            Self::Kubernetes => "kubernetes",
            Self::Redis => "redis",
        })
    }
}

/// Why an executor could not be placed at all.
#[derive(Debug, Error)]
pub enum PlacementError {
    /// The policy refused the settings of the scenario.
    #[error(transparent)]
    Evaluation(#[from] EvaluationError),

    /// The placement mode's capabilities could not be wired.
    #[error(transparent)]
    Wiring(#[from] crate::capability::CapabilityError),

    /// The Redis capability refused its configuration.
    #[error(transparent)]
    RedisConfig(#[from] crate::capability::RedisError),

    /// The Redis mode was asked for without a server to count in.
    #[error("the redis placement mode needs a redis server, and none was given")]
    NoRedisServer,

    /// The run's live counts could not be read from Redis.
    #[error("failed to read the run's live counts from redis: {0}")]
    RedisCounts(String),

    /// A fresh run found counts already stored under its keys.
    #[error(
        "the run's redis keys under {prefix} already count {spot} spot and {on_demand} \
         on-demand executors; a fresh run starts from none"
    )]
    StaleCounts {
        /// The run's key prefix.
        prefix: String,
        /// Spot executors counted.
        spot: u64,
        /// On-demand executors counted.
        on_demand: u64,
    },

    /// The built review is not an admission request (a simulator bug).
    #[error("failed to build the review of executor {id}: {reason}")]
    Review {
        /// The executor's ID.
        id: u64,
        /// What was wrong.
        reason: String,
    },
}

/// The live counts a placer's store holds for the job, once the run is
/// over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredCounts {
    /// Executors counted on spot.
    pub spot: u64,
    /// Executors counted on on-demand.
    pub on_demand: u64,
}

/// What a placer did about an executor that left the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// Nothing: the mode keeps no count the executor has to leave.
    Ignored,
    /// A DELETE review of the executor went through the policy.
    Reviewed {
        /// The answer's warnings, possibly none.
        warnings: Vec<String>,
    },
}

/// Decides where a new executor goes, and hears of the ones that leave.
pub trait Placer {
    /// The decision for executor `id` of the scenario's job.
    ///
    /// `live` holds the job's live executors and their capacity, as the
    /// cluster would show them.
    ///
    /// # Errors
    ///
    /// [`PlacementError`] when no decision can be had at all; the
    /// simulation stops.
    fn place(
        &mut self,
        scenario: &Scenario,
        id: u64,
        live: &[(u64, Capacity)],
    ) -> Result<Decision, PlacementError>;

    /// Executor `id` has left the job: its node was reclaimed, or dynamic
    /// allocation released it. Default: [`Removal::Ignored`].
    ///
    /// # Errors
    ///
    /// [`PlacementError`] when the removal cannot be passed on at all; the
    /// simulation stops.
    fn remove(&mut self, scenario: &Scenario, id: u64) -> Result<Removal, PlacementError> {
        let _ = (scenario, id);
        Ok(Removal::Ignored)
    }

    /// The run is over: what the placer's store counts for the job, if it
    /// keeps counts. Called once, after the last event. Default: `None`.
    ///
    /// # Errors
    ///
    /// [`PlacementError`] when the store cannot be read.
    fn finish(&mut self, scenario: &Scenario) -> Result<Option<StoredCounts>, PlacementError> {
        let _ = scenario;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case::spot(true, Some(json!({"metadata": {"annotations": {CAPACITY_ANNOTATION: "spot"}}})), Capacity::Spot, Outcome::Decided)]
    #[case::on_demand(
        true,
        Some(json!({"metadata": {"annotations": {CAPACITY_ANNOTATION: "on-demand"}}})),
        Capacity::OnDemand,
        Outcome::Decided
    )]
    #[case::unmutated(true, None, Capacity::OnDemand, Outcome::Unmutated)]
    #[case::no_annotation(true, Some(json!({"metadata": {}})), Capacity::OnDemand, Outcome::NoAnnotation)]
    #[case::unknown_value(
        true,
        Some(json!({"metadata": {"annotations": {CAPACITY_ANNOTATION: "Spot"}}})),
        Capacity::OnDemand,
        Outcome::UnknownValue("Spot".into())
    )]
    #[case::rejected(false, None, Capacity::OnDemand, Outcome::Rejected("no".into()))]
    fn reads_decisions(
        #[case] allowed: bool,
        #[case] patched: Option<Value>,
        #[case] capacity: Capacity,
        #[case] outcome: Outcome,
    ) {
        let decision = Decision::from_answer(allowed, Some("no"), patched.as_ref());
        assert_eq!(
            decision,
            Decision {
                capacity,
                outcome,
                warnings: Vec::new()
            }
        );
    }

    #[test]
    fn capacities_display_as_the_annotation_values() {
        assert_eq!(Capacity::Spot.to_string(), "spot");
        assert_eq!(Capacity::OnDemand.to_string(), "on-demand");
    }

    #[rstest]
    #[case::id_only(PlacementMode::IdOnly, "id-only")]
    #[case::kubernetes(PlacementMode::Kubernetes, "kubernetes")]
    #[case::redis(PlacementMode::Redis, "redis")]
    fn modes_display_as_their_command_line_names(#[case] mode: PlacementMode, #[case] name: &str) {
        assert_eq!(mode.to_string(), name);
        let parsed = <PlacementMode as clap::ValueEnum>::from_str(name, false);
        assert_eq!(parsed, Ok(mode));
    }
}
