//! How the simulator learns where the policy puts an executor.
//!
//! The engine asks a [`Placer`] about each new executor. [`PolicyPlacer`]
//! asks the real policy module: it evaluates the executor's CREATE review,
//! applies the returned patch to the pod and reads the decision from the
//! `spot-balancer.io/capacity` annotation. A pod the policy leaves
//! unchanged, rejects, or annotates with anything but `spot` counts as
//! on-demand, and the [`Outcome`] says which of these happened so the
//! report can show it.
//!
//! [`PlacementMode`] says which live capability the policy may use: none
//! (ID-only), or the Kubernetes capability listing the job's live executors
//! from a [`SimulatedCluster`] the placer keeps up to date.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;
use thiserror::Error;

use super::cluster::SimulatedCluster;
use super::executor_pod::{CAPACITY_ANNOTATION, executor_review};
use super::scenario::{RatioSource, Scenario};
use crate::capability::{
    ContextAwareAccess, Dispatcher, GuestLog, KUBERNETES_NAMESPACE, KUBEWARDEN_BINDING, Kubernetes,
    LogSink, NoCluster, TRACING_NAMESPACE,
};
use crate::metadata::ContextAwareResource;
use crate::policy::{EvaluationError, Policy};
use crate::request::AdmissionRequest;
use crate::settings::PolicySettings;

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
}

impl Decision {
    /// Reads the decision from an answer: `allowed`, and the patched pod.
    pub fn from_answer(allowed: bool, message: Option<&str>, patched: Option<&Value>) -> Self {
        let on_demand = |outcome| Self {
            capacity: Capacity::OnDemand,
            outcome,
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
}

impl fmt::Display for PlacementMode {
    /// The mode's command-line name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::IdOnly => "id-only",
            Self::Kubernetes => "kubernetes",
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

    /// The built review is not an admission request (a simulator bug).
    #[error("failed to build the review of executor {id}: {reason}")]
    Review {
        /// The executor's ID.
        id: u64,
        /// What was wrong.
        reason: String,
    },
}

/// Decides where a new executor goes.
pub trait Placer {
    /// The decision for executor `id` of the scenario's job.
    ///
    /// # Errors
    ///
    /// [`PlacementError`] when no decision can be had at all; the
    /// simulation stops.
    /// `live` holds the job's live executors and their capacity, as the
    /// cluster would show them.
    fn place(
        &mut self,
        scenario: &Scenario,
        id: u64,
        live: &[(u64, Capacity)],
    ) -> Result<Decision, PlacementError>;
}

/// Places executors by evaluating the policy module.
pub struct PolicyPlacer {
    /// The compiled policy.
    policy: Policy,
    /// Capabilities of the placement mode.
    dispatcher: Arc<Dispatcher>,
    /// Settings every evaluation uses.
    settings: PolicySettings,
    /// The cluster the Kubernetes capability lists, in that mode.
    cluster: Option<Arc<SimulatedCluster>>,
}

impl PolicyPlacer {
    /// A placer for `scenario` in `mode`.
    ///
    /// `settings` are given to the policy, with `defaultSpotRatio` set to
    /// the scenario's ratio when the ratio comes from settings. Guest logs
    /// go to `guest_log`.
    ///
    /// # Errors
    ///
    /// [`PlacementError::Wiring`] when the capabilities cannot be wired.
    pub fn new(
        policy: Policy,
        mode: PlacementMode,
        scenario: &Scenario,
        settings: PolicySettings,
        guest_log: LogSink,
    ) -> Result<Self, PlacementError> {
        let mut settings = settings.into_object();
        if scenario.ratio_source == RatioSource::Settings {
            settings.insert("defaultSpotRatio".into(), Value::from(scenario.ratio));
        }
        let cluster = match mode {
            PlacementMode::IdOnly => None,
            PlacementMode::Kubernetes => {
                settings.insert("liveCounts".into(), Value::from("kubernetes"));
                Some(Arc::new(SimulatedCluster::default()))
            }
        };
        let settings = PolicySettings::from(settings);

        let mut dispatcher = Dispatcher::new();
        dispatcher.register(
            KUBEWARDEN_BINDING,
            TRACING_NAMESPACE,
            GuestLog::new(policy.id(), guest_log),
        )?;
        let kubernetes = match &cluster {
            None => Kubernetes::new(ContextAwareAccess::Denied, Arc::new(NoCluster)),
            Some(cluster) => {
                let pods = ContextAwareResource {
                    api_version: "v1".into(),
                    kind: "Pod".into(),
                };
                let access = ContextAwareAccess::Allowed([pods].into());
                Kubernetes::new(access, cluster.clone())
            }
        };
        dispatcher.register(KUBEWARDEN_BINDING, KUBERNETES_NAMESPACE, kubernetes)?;

        Ok(Self {
            policy,
            dispatcher: Arc::new(dispatcher),
            settings,
            cluster,
        })
    }
}

impl Placer for PolicyPlacer {
    /// Evaluates the executor's review and reads the patched pod.
    fn place(
        &mut self,
        scenario: &Scenario,
        id: u64,
        live: &[(u64, Capacity)],
    ) -> Result<Decision, PlacementError> {
        if let Some(cluster) = &self.cluster {
            cluster.set_live(&scenario.namespace, &scenario.job, live);
        }
        let review = executor_review(
            &scenario.namespace,
            &scenario.job,
            id,
            scenario.ratio,
            scenario.ratio_source,
        );
        let request =
            AdmissionRequest::from_document(review).map_err(|e| PlacementError::Review {
                id,
                reason: e.to_string(),
            })?;

        let response = self
            .policy
            .evaluate(&self.dispatcher, &self.settings, &request)?;
        let message = response.status.as_ref().and_then(|s| s.message.as_deref());

        let patched = match response.decoded_patch() {
            None if response.patch.is_some() => {
                return Ok(Decision {
                    capacity: Capacity::OnDemand,
                    outcome: Outcome::BadPatch("the patch is not base64 JSON".into()),
                });
            }
            None => None,
            Some(patch) => {
                let mut pod = request.object().cloned().unwrap_or(Value::Null);
                let applied = serde_json::from_value::<json_patch::Patch>(patch)
                    .map_err(|e| e.to_string())
                    .and_then(|patch| {
                        json_patch::patch(&mut pod, &patch).map_err(|e| e.to_string())
                    });
                if let Err(reason) = applied {
                    return Ok(Decision {
                        capacity: Capacity::OnDemand,
                        outcome: Outcome::BadPatch(reason),
                    });
                }
                Some(pod)
            }
        };

        Ok(Decision::from_answer(
            response.allowed,
            message,
            patched.as_ref(),
        ))
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
        assert_eq!(decision, Decision { capacity, outcome });
    }

    #[test]
    fn capacities_display_as_the_annotation_values() {
        assert_eq!(Capacity::Spot.to_string(), "spot");
        assert_eq!(Capacity::OnDemand.to_string(), "on-demand");
    }
}
