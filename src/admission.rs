//! One admission request, from payload to answer.
//!
//! The policy admits every pod; what varies is whether it is mutated and
//! which warnings come with it. The one exception is a pod whose ratio
//! cannot be read when `onInvalidRatio` is `reject`. Every step reads the
//! payload fallibly and every host call may fail, so no input and no host
//! makes this module panic or refuse a pod.

use crate::capabilities::redis::{self, JobKeys};
use crate::capabilities::{Host, kubernetes};
use crate::decision::{Basis, CAPACITY_ANNOTATION, Decision};
use crate::live;
use crate::logging::LOG;
use crate::mutation;
use crate::placement::{self, Capacity, Phase};
use crate::ratio::Ratio;
use crate::settings::{InvalidRatioAction, LiveCountSource, Settings};
use crate::spark::{ExecutorId, JobLabel, Role, SparkPod};
use crate::sparse::{self, Merged, Sparse};
use serde_json::Value;
use slog::{debug, error, warn};

/// What the policy answers to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Admit the object as it came.
    Unchanged {
        /// Messages for the client, possibly none.
        warnings: Vec<String>,
    },
    /// Admit the object as changed here.
    Mutated {
        /// The whole object, with the decision written in.
        object: Value,
        /// Messages for the client, possibly none.
        warnings: Vec<String>,
    },
    /// Refuse the object.
    Rejected {
        /// Why, for the client.
        message: String,
    },
}

impl Outcome {
    /// Admit unchanged, with the warnings gathered so far.
    fn unchanged(warnings: Vec<String>) -> Outcome {
        Outcome::Unchanged { warnings }
    }

    /// Admit unchanged, with one warning.
    fn unchanged_because(warning: String) -> Outcome {
        Outcome::Unchanged {
            warnings: vec![warning],
        }
    }
}

/// What the policy answers to a `validate` payload, with what it needs to
/// write a mutated pod back out.
pub struct Review<'a> {
    /// The answer.
    pub outcome: Outcome,
    /// The payload, of which the outcome's pod is the `request.object`.
    pub payload: Sparse<'a>,
}

impl Review<'_> {
    /// The outcome with the whole pod, as a host receives it: for tests
    /// and tools that compare pods. `validate` writes the pod out without
    /// building this tree.
    pub fn into_outcome(self) -> Outcome {
        match self.outcome {
            Outcome::Mutated { object, warnings } => {
                // A tree and texts that all parsed write out into one tree;
                // if that ever failed, the tree alone is the best answer.
                let whole = serde_json::to_value(Merged::new(self.payload.object_shape(), &object));
                Outcome::Mutated {
                    object: whole.unwrap_or(object),
                    warnings,
                }
            }
            outcome => outcome,
        }
    }
}

/// Answers a `validate` payload: `{"request": ..., "settings": ...}`.
///
/// The pod is parsed only where the policy reads or writes it (see
/// [`sparse`](crate::sparse)); a mutated pod is written out with
/// [`Sparse::object_shape`] to get back every member it was not given.
pub fn review<'a>(payload: &'a [u8], host: &dyn Host) -> Review<'a> {
    let mut payload = match sparse::parse(payload) {
        Ok(payload) => payload,
        Err(err) => {
            // The host builds the payload, so this means a broken host.
            error!(LOG, "cannot parse the validation payload"; "error" => %err);
            return Review {
                outcome: Outcome::unchanged_because(format!(
                    "spot-balancer could not parse its payload ({err}); admitted unchanged"
                )),
                payload: Sparse::default(),
            };
        }
    };
    let outcome = review_payload(&mut payload.view, host);
    Review { outcome, payload }
}

/// Answers a parsed payload.
fn review_payload(payload: &mut Value, host: &dyn Host) -> Outcome {
    // Settings were validated when the policy was loaded; failing here means
    // the host skipped that step.
    let settings = match Settings::from_value(payload.get("settings").unwrap_or(&Value::Null)) {
        Ok(settings) => settings,
        Err(err) => {
            error!(LOG, "settings refused at request time"; "error" => %err);
            return Outcome::unchanged_because(format!(
                "spot-balancer has {err}; admitted unchanged"
            ));
        }
    };

    let Some(request) = payload
        .get_mut("request")
        .filter(|request| request.is_object())
    else {
        warn!(LOG, "payload has no request");
        return Outcome::unchanged_because(
            "spot-balancer received no admission request; admitted unchanged".to_string(),
        );
    };
    review_request(request, &settings, host)
}

/// The request fields every step needs.
struct Context<'a> {
    /// Validated settings.
    settings: &'a Settings,
    /// The host, for capability calls.
    host: &'a dyn Host,
    /// The request's namespace.
    namespace: String,
    /// The request's UID, for logs and unnamed pods.
    uid: String,
    /// Whether the request is a dry run, which must change no state.
    dry_run: bool,
}

/// Answers one AdmissionRequest with validated settings.
pub fn review_request(request: &mut Value, settings: &Settings, host: &dyn Host) -> Outcome {
    let text = |pointer: &str| request.pointer(pointer).and_then(Value::as_str);
    let operation = text("/operation").unwrap_or("").to_string();
    let group = text("/kind/group").unwrap_or("");
    let kind = text("/kind/kind").unwrap_or("");
    if !group.is_empty() || kind != "Pod" {
        debug!(LOG, "request passed through"; "operation" => &operation, "kind" => kind);
        return Outcome::unchanged(Vec::new());
    }
    let context = Context {
        settings,
        host,
        namespace: text("/namespace").unwrap_or("").to_string(),
        uid: text("/uid").unwrap_or("").to_string(),
        dry_run: request
            .get("dryRun")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };

    // Placement is decided once, when the pod is created: a pod's node
    // selector and affinity cannot change afterwards. Deletions matter only
    // to the counts the Redis capability keeps.
    match operation.as_str() {
        "CREATE" => match take_object(request, "object") {
            Ok(pod) => admit(pod, &context),
            Err(outcome) => outcome,
        },
        "DELETE" if settings.live_counts == LiveCountSource::Redis => {
            match request.get("oldObject") {
                Some(pod) => Outcome::unchanged(forget(pod, &context)),
                None => Outcome::unchanged(Vec::new()),
            }
        }
        _ => {
            debug!(LOG, "request passed through"; "operation" => &operation, "kind" => kind);
            Outcome::unchanged(Vec::new())
        }
    }
}

/// Moves the object under `field` out of the request, or says why not.
fn take_object(request: &mut Value, field: &str) -> Result<Value, Outcome> {
    match request
        .as_object_mut()
        .and_then(|request| request.remove(field))
    {
        // An object may leave out its kind; one that names another kind is
        // not a pod, whatever the request says.
        Some(pod) if pod.is_object() => match pod.get("kind") {
            None => Ok(pod),
            Some(kind) if kind == "Pod" => Ok(pod),
            Some(kind) => {
                warn!(LOG, "pod request holds another kind"; "kind" => %kind);
                Err(Outcome::unchanged_because(format!(
                    "spot-balancer found an object of kind {kind} in a Pod request; admitted \
                     unchanged"
                )))
            }
        },
        Some(_) => {
            warn!(LOG, "object is not a json object");
            Err(Outcome::unchanged_because(
                "spot-balancer found an object that is not a JSON object; admitted unchanged"
                    .to_string(),
            ))
        }
        None => {
            warn!(LOG, "create request has no object");
            Err(Outcome::unchanged_because(
                "spot-balancer found no object in the request; admitted unchanged".to_string(),
            ))
        }
    }
}

/// Decides where a new pod goes and writes the decision into it.
fn admit(mut pod: Value, context: &Context) -> Outcome {
    let settings = context.settings;
    let mut warnings = Vec::new();

    let spark = SparkPod::read(&pod, settings);
    let decision = match spark.role {
        Role::Other => return Outcome::unchanged(warnings),
        Role::Driver if !settings.pin_drivers => return Outcome::unchanged(warnings),
        _ if mutation::recorded_capacity(&pod).is_some() => {
            // A recorded capacity the policy cannot have written is someone
            // else's; the pod is left as it is, but not silently.
            if let Some(recorded) = mutation::recorded_capacity(&pod)
                .filter(|recorded| Capacity::from_name(recorded).is_none())
            {
                warn!(LOG, "pod carries an unknown capacity"; "pod" => spark.name,
                    "capacity" => recorded);
                warnings.push(format!(
                    "spot-balancer: pod has {CAPACITY_ANNOTATION}={recorded:?}, which is neither \
                     spot nor on-demand; admitted unchanged"
                ));
            } else {
                debug!(LOG, "pod already placed"; "pod" => spark.name);
            }
            return Outcome::unchanged(warnings);
        }
        _ if mutation::constrains_label(&pod, &settings.platform.label) => {
            debug!(LOG, "pod chose its capacity itself"; "pod" => spark.name,
                "label" => &settings.platform.label);
            return Outcome::unchanged(warnings);
        }
        Role::Driver => Decision::driver(),
        Role::Executor => {
            let ratio = match executor_ratio(&spark, &pod, context, &mut warnings) {
                Ok(ratio) => ratio,
                Err(message) => return Outcome::Rejected { message },
            };
            place_executor(&spark, ratio, context, &mut warnings)
        }
    };
    let job = spark.job.map(|job| job.value.to_string());

    if let Err(err) = mutation::apply(&mut pod, &decision, &settings.platform, settings.mode) {
        warn!(LOG, "pod cannot be mutated"; "uid" => &context.uid, "error" => %err);
        warnings.push(format!(
            "spot-balancer left the pod unchanged: {err}, so the {} pick could not be written",
            decision.capacity
        ));
        return Outcome::Unchanged { warnings };
    }

    // Count the executor only once it is sure to be admitted as placed.
    if settings.live_counts == LiveCountSource::Redis
        && decision.basis != Basis::Driver
        && !context.dry_run
    {
        let keys = job_keys(job.as_deref().unwrap_or(""), context);
        if let Err(err) = redis::record_admission(context.host, &keys, decision.capacity) {
            warn!(LOG, "capability failed, count not recorded"; "error" => %err);
            warnings.push(format!(
                "spot-balancer: {err}; this executor is missing from the job's live counts"
            ));
        }
    }
    Outcome::Mutated {
        object: pod,
        warnings,
    }
}

/// The ratio an executor's job asks for, or the rejection message when it
/// is unreadable and `onInvalidRatio` is `reject`.
///
/// The executor's own annotation wins; without one, and with
/// `ratioFromDriver`, the driver's; then the default.
fn executor_ratio(
    spark: &SparkPod,
    pod: &Value,
    context: &Context,
    warnings: &mut Vec<String>,
) -> Result<Ratio, String> {
    let settings = context.settings;
    let key = &settings.spot_ratio_key;
    let (value, source) = match spark.ratio {
        Some(value) => (Some(value.clone()), "pod"),
        None if settings.ratio_from_driver => {
            let value = driver_ratio(pod, context, warnings).map(Value::String);
            (value, "driver")
        }
        None => (None, "pod"),
    };
    let Some(value) = value else {
        return Ok(settings.default_ratio);
    };
    if let Some(ratio) = value
        .as_str()
        .and_then(|text| settings.weights.resolve(text))
    {
        return Ok(ratio);
    }

    // Annotations and labels are strings; anything else reads as invalid,
    // shown as the JSON it is.
    let shown = match &value {
        Value::String(text) => format!("{text:?}"),
        other => other.to_string(),
    };
    let problem = format!(
        "{key} on the {source} is {shown}, expected {}",
        settings.weights.accepted_forms()
    );
    match settings.on_invalid_ratio {
        InvalidRatioAction::Reject => {
            warn!(LOG, "pod rejected for its ratio"; "pod" => spark.name, "value" => &shown);
            Err(format!("spot-balancer: {problem}"))
        }
        InvalidRatioAction::UseDefault => {
            warn!(LOG, "invalid spot ratio, using the default"; "pod" => spark.name,
                "value" => &shown);
            warnings.push(format!(
                "spot-balancer: {problem}; using the default {}",
                settings.default_ratio
            ));
            Ok(settings.default_ratio)
        }
    }
}

/// The ratio annotation of the executor's driver, if the driver can be read
/// and carries one.
fn driver_ratio(pod: &Value, context: &Context, warnings: &mut Vec<String>) -> Option<String> {
    let driver = kubernetes::driver_name(pod)?;
    let key = &context.settings.spot_ratio_key;
    match kubernetes::driver_annotation(context.host, &context.namespace, driver, key) {
        Ok(value) => value,
        Err(err) => {
            warn!(LOG, "capability failed, using the default ratio"; "error" => %err,
                "driver" => driver);
            warnings.push(format!(
                "spot-balancer: {err}; using the default spot ratio {}",
                context.settings.default_ratio
            ));
            None
        }
    }
}

/// The decision for an executor of a job with `ratio`.
fn place_executor(
    spark: &SparkPod,
    ratio: Ratio,
    context: &Context,
    warnings: &mut Vec<String>,
) -> Decision {
    let settings = context.settings;
    let job_id = match spark.job {
        Some(job) => job.value,
        None => {
            warn!(LOG, "executor has no job label"; "pod" => spark.name);
            warnings.push(format!(
                "spot-balancer: executor has none of the labels {}; it is balanced with the \
                 other unlabelled executors of its namespace",
                settings.job_labels.join(", ")
            ));
            ""
        }
    };
    let phase = Phase::of_job(&context.namespace, job_id);

    let (position, basis) = match spark.executor_id {
        ExecutorId::Number(id) => (id, Basis::ExecutorId),
        unusable => position_without_id(spark, unusable, job_id, context, warnings),
    };
    let sequence = placement::capacity_at(position, ratio, phase);

    let live = match (settings.live_counts, spark.job) {
        (LiveCountSource::None, _) => None,
        (source, job) => live_counts(source, job, job_id, context, warnings),
    };
    let (capacity, basis) = match live {
        Some(counts) => match live::steer(sequence, ratio, counts) {
            (capacity, true) => (capacity, Basis::LiveCounts),
            (capacity, false) => (capacity, basis),
        },
        None => (sequence, basis),
    };

    debug!(LOG, "executor placed"; "pod" => spark.name, "job" => job_id,
        "position" => position, "basis" => basis.as_str(), "ratio" => %ratio,
        "capacity" => capacity.as_str());
    Decision {
        capacity,
        basis,
        position: Some(position),
        ratio: Some(ratio),
    }
}

/// The position of an executor without a usable ID: from the Redis counter
/// when enabled and reachable, else from a hash of its name.
fn position_without_id(
    spark: &SparkPod,
    unusable: ExecutorId,
    job_id: &str,
    context: &Context,
    warnings: &mut Vec<String>,
) -> (u64, Basis) {
    let settings = context.settings;
    let fallback = if settings.redis.enabled {
        let keys = job_keys(job_id, context);
        match redis::next_position(context.host, &keys, context.dry_run) {
            Ok(position) => return (position, Basis::RedisCounter),
            Err(err) => {
                warn!(LOG, "capability failed, placing by name"; "error" => %err,
                    "pod" => spark.name);
                format!("{err}; placed by a hash of its name")
            }
        }
    } else {
        let shown = match unusable {
            ExecutorId::Unusable(text) => format!("has {}={text:?}", settings.executor_id_label),
            _ => format!("has no {} label", settings.executor_id_label),
        };
        warn!(LOG, "executor has no usable id, placing by name"; "pod" => spark.name);
        format!(
            "executor {shown}; placed by a hash of its name, which keeps the job at its spot \
             ratio only on average"
        )
    };
    warnings.push(format!("spot-balancer: {fallback}"));

    // A client may leave naming to the server; the request UID is then the
    // only identity the pod has.
    let name = if spark.name.is_empty() {
        &context.uid
    } else {
        spark.name
    };
    (placement::position_from_name(name), Basis::NameHash)
}

/// The job's live counts from `source`, or `None` with a warning when they
/// cannot be had.
fn live_counts(
    source: LiveCountSource,
    job: Option<JobLabel>,
    job_id: &str,
    context: &Context,
    warnings: &mut Vec<String>,
) -> Option<live::LiveCounts> {
    let counts = match (source, job) {
        (LiveCountSource::None, _) => return None,
        (LiveCountSource::Redis, _) => redis::live_counts(context.host, &job_keys(job_id, context)),
        // Without a job label there is no selector for the job's pods.
        (LiveCountSource::Kubernetes, None) => return None,
        (LiveCountSource::Kubernetes, Some(job)) => kubernetes::live_counts(
            context.host,
            &context.namespace,
            job,
            &context.settings.role_label,
            &context.settings.platform,
        ),
    };
    match counts {
        Ok(counts) => Some(counts),
        Err(err) => {
            warn!(LOG, "capability failed, placing by the sequence"; "error" => %err);
            warnings.push(format!(
                "spot-balancer: {err}; placed by the sequence alone"
            ));
            None
        }
    }
}

/// Takes a deleted executor out of the Redis live counts; returns the
/// warnings for the client.
fn forget(pod: &Value, context: &Context) -> Vec<String> {
    let spark = SparkPod::read(pod, context.settings);
    let capacity = mutation::recorded_capacity(pod).and_then(Capacity::from_name);
    let (Role::Executor, Some(capacity), false) = (spark.role, capacity, context.dry_run) else {
        return Vec::new();
    };
    let job_id = spark.job.map_or("", |job| job.value);
    match redis::record_deletion(context.host, &job_keys(job_id, context), capacity) {
        Ok(counts) => {
            debug!(LOG, "executor uncounted"; "pod" => spark.name, "spot" => counts.spot,
                "on_demand" => counts.on_demand);
            Vec::new()
        }
        Err(err) => {
            warn!(LOG, "capability failed, deletion not counted"; "error" => %err);
            vec![format!(
                "spot-balancer: {err}; the job's live counts still include this executor"
            )]
        }
    }
}

/// The Redis keys of the job `job_id` in the request's namespace.
fn job_keys<'a>(job_id: &'a str, context: &'a Context) -> JobKeys<'a> {
    JobKeys {
        prefix: &context.settings.redis.key_prefix,
        namespace: &context.namespace,
        job: job_id,
        ttl_seconds: context.settings.redis.ttl_seconds,
    }
}

#[cfg(test)]
mod tests;
