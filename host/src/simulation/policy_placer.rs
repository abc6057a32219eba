//! The placer that asks the real policy module.
//!
//! [`PolicyPlacer`] evaluates each executor's CREATE review, applies the
//! returned patch to the pod and reads the decision from the
//! `spot-balancer.io/capacity` annotation, as the API server would store
//! it. The capabilities it serves the policy depend on the
//! [`PlacementMode`]:
//!
//! - ID-only: logging, and a Kubernetes capability that refuses every
//!   read;
//! - Kubernetes: the job's live executors listed from a
//!   [`SimulatedCluster`] the placer updates before every evaluation;
//! - Redis: spot-balancer's Redis capability on a real server, under keys
//!   of the run's own ([`RedisRun`]). The policy counts each admission
//!   there; the placer sends the DELETE review of every executor that
//!   leaves, with the annotations the policy wrote on it, so the policy
//!   counts it down, and at the end reads the counts and deletes the
//!   run's keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::cluster::SimulatedCluster;
use super::executor_pod::{executor_deletion_review, executor_review};
use super::placement::{
    Capacity, Decision, Outcome, PlacementError, PlacementMode, Placer, Removal, StoredCounts,
};
use super::redis_run::RedisRun;
use super::scenario::{RatioSource, Scenario};
use crate::capability::{
    ContextAwareAccess, Dispatcher, GuestLog, Kubernetes, LogSink, NoCluster, REDIS_NAMESPACE,
    RedisConfig, SPOT_BALANCER_BINDING, kubewarden_dispatcher,
};
use crate::metadata::ContextAwareResource;
use crate::policy::Policy;
use crate::request::AdmissionRequest;
use crate::response::AdmissionResponse;
use crate::settings::PolicySettings;

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
    /// The run's Redis keys, in that mode.
    redis: Option<RedisRun>,
    /// In the Redis mode, the annotations the policy left on each live
    /// executor, for the executor's DELETE review; `None` for a pod it
    /// left unchanged.
    admitted: BTreeMap<u64, Option<Map<String, Value>>>,
}

impl PolicyPlacer {
    /// A placer for `scenario` in `mode`.
    ///
    /// `settings` are given to the policy, with `defaultSpotRatio` set to
    /// the scenario's ratio when the ratio comes from settings, and the
    /// mode's live-count settings over them. Guest logs go to `guest_log`.
    /// `redis` is the server of the Redis mode; other modes ignore it.
    ///
    /// In the Redis mode the server is asked for the run's counts once, so
    /// that a server that cannot be reached stops the run here rather than
    /// making every placement fall back.
    ///
    /// # Errors
    ///
    /// [`PlacementError::Wiring`] when the capabilities cannot be wired;
    /// in the Redis mode, [`PlacementError::NoRedisServer`] without
    /// `redis`, [`PlacementError::RedisConfig`] for a configuration the
    /// capability refuses, [`PlacementError::RedisCounts`] when the server
    /// does not answer and [`PlacementError::StaleCounts`] when the run's
    /// keys already hold counts.
    pub fn new(
        policy: Policy,
        mode: PlacementMode,
        scenario: &Scenario,
        settings: PolicySettings,
        guest_log: LogSink,
        redis: Option<&RedisConfig>,
    ) -> Result<Self, PlacementError> {
        let mut settings = settings.into_object();
        if scenario.ratio_source == RatioSource::Settings {
            settings.insert("defaultSpotRatio".into(), Value::from(scenario.ratio));
        }
        let (cluster, redis) = match mode {
            PlacementMode::IdOnly => (None, None),
            PlacementMode::Kubernetes => {
                settings.insert("liveCounts".into(), Value::from("kubernetes"));
                (Some(Arc::new(SimulatedCluster::default())), None)
            }
            PlacementMode::Redis => {
                let config = redis.ok_or(PlacementError::NoRedisServer)?;
                let run = RedisRun::open(config, scenario, &mut settings)?;
                let counts = run.counts()?;
                if counts.spot > 0 || counts.on_demand > 0 {
                    return Err(PlacementError::StaleCounts {
                        prefix: run.prefix().to_owned(),
                        spot: counts.spot,
                        on_demand: counts.on_demand,
                    });
                }
                (None, Some(run))
            }
        };
        let settings = PolicySettings::from(settings);

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
        let mut dispatcher =
            kubewarden_dispatcher(GuestLog::new(policy.id(), guest_log), kubernetes)?;
        if let Some(run) = &redis {
            dispatcher.register_shared(SPOT_BALANCER_BINDING, REDIS_NAMESPACE, run.capability())?;
        }

        Ok(Self {
            policy,
            dispatcher: Arc::new(dispatcher),
            settings,
            cluster,
            redis,
            admitted: BTreeMap::new(),
        })
    }

    /// Evaluates `review`, built for executor `id`.
    fn evaluate(
        &self,
        id: u64,
        review: Value,
    ) -> Result<(AdmissionRequest, AdmissionResponse), PlacementError> {
        let request =
            AdmissionRequest::from_document(review).map_err(|e| PlacementError::Review {
                id,
                reason: e.to_string(),
            })?;
        let response = self
            .policy
            .evaluate(&self.dispatcher, &self.settings, &request)?;
        Ok((request, response))
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
        let (request, response) = self.evaluate(id, review)?;
        let warnings = response.warnings.clone().unwrap_or_default();
        let message = response.status.as_ref().and_then(|s| s.message.as_deref());

        let patched = match patched_pod(&request, &response) {
            Ok(patched) => patched,
            Err(reason) => {
                return Ok(Decision {
                    capacity: Capacity::OnDemand,
                    outcome: Outcome::BadPatch(reason),
                    warnings,
                });
            }
        };
        if self.redis.is_some() {
            let annotations = patched
                .as_ref()
                .and_then(|pod| pod["metadata"]["annotations"].as_object())
                .cloned();
            self.admitted.insert(id, annotations);
        }

        Ok(Decision {
            warnings,
            ..Decision::from_answer(response.allowed, message, patched.as_ref())
        })
    }

    /// In the Redis mode, sends the executor's DELETE review, as the API
    /// server does when the pod is deleted; in the others, does nothing.
    fn remove(&mut self, scenario: &Scenario, id: u64) -> Result<Removal, PlacementError> {
        if self.redis.is_none() {
            return Ok(Removal::Ignored);
        }
        let annotations = self.admitted.remove(&id).flatten();
        let review = executor_deletion_review(
            &scenario.namespace,
            &scenario.job,
            id,
            scenario.ratio,
            scenario.ratio_source,
            annotations.as_ref(),
        );
        let (_, response) = self.evaluate(id, review)?;

        let mut warnings = response.warnings.unwrap_or_default();
        if !response.allowed {
            // The pod goes whatever the policy says: its node is gone.
            let message = response.status.and_then(|s| s.message).unwrap_or_default();
            warnings.push(format!("deletion refused: {message}"));
        }
        Ok(Removal::Reviewed { warnings })
    }

    /// In the Redis mode, reads the job's counts, then deletes the run's
    /// keys; a failed deletion is logged and left to the keys' TTL.
    fn finish(&mut self, _: &Scenario) -> Result<Option<StoredCounts>, PlacementError> {
        let Some(run) = &self.redis else {
            return Ok(None);
        };
        let counts = run.counts()?;
        match run.delete_keys() {
            Ok(deleted) => tracing::debug!(prefix = run.prefix(), deleted, "run keys deleted"),
            Err(error) => tracing::warn!(prefix = run.prefix(), %error,
                "failed to delete the run's redis keys; they expire after their ttl"),
        }
        Ok(Some(counts))
    }
}

/// The request's object with the response's patch applied; `None` when
/// the policy sent no patch.
fn patched_pod(
    request: &AdmissionRequest,
    response: &AdmissionResponse,
) -> Result<Option<Value>, String> {
    let patch = match response.decoded_patch() {
        None if response.patch.is_some() => return Err("the patch is not base64 JSON".into()),
        None => return Ok(None),
        Some(patch) => patch,
    };
    let mut pod = request.object().cloned().unwrap_or(Value::Null);
    let patch = serde_json::from_value::<json_patch::Patch>(patch).map_err(|e| e.to_string())?;
    json_patch::patch(&mut pod, &patch).map_err(|e| e.to_string())?;
    Ok(Some(pod))
}
