//! One admission request, from payload to answer.
//!
//! The policy admits every pod; what varies is whether it is mutated and
//! which warnings come with it. The one exception is a pod whose ratio
//! cannot be read when `onInvalidRatio` is `reject`. Every step reads the
//! payload fallibly, so no input makes this module panic.

use crate::decision::{Basis, Decision};
use crate::logging::LOG;
use crate::mutation;
use crate::placement::{self, Phase};
use crate::ratio::Ratio;
use crate::settings::{InvalidRatioAction, Settings};
use crate::spark::{ExecutorId, Role, SparkPod};
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
    /// Admit unchanged, with no warning.
    fn accept() -> Outcome {
        Outcome::Unchanged {
            warnings: Vec::new(),
        }
    }

    /// Admit unchanged, with one warning.
    fn accept_with_warning(warning: String) -> Outcome {
        Outcome::Unchanged {
            warnings: vec![warning],
        }
    }
}

/// Answers a `validate` payload: `{"request": ..., "settings": ...}`.
pub fn review(payload: &[u8]) -> Outcome {
    let mut payload: Value = match serde_json::from_slice(payload) {
        Ok(payload) => payload,
        Err(err) => {
            // The host builds the payload, so this means a broken host.
            error!(LOG, "cannot parse the validation payload"; "error" => %err);
            return Outcome::accept_with_warning(format!(
                "spot-balancer could not parse its payload ({err}); pod admitted unchanged"
            ));
        }
    };

    // Settings were validated when the policy was loaded; failing here means
    // the host skipped that step.
    let settings = match Settings::from_value(payload.get("settings").unwrap_or(&Value::Null)) {
        Ok(settings) => settings,
        Err(err) => {
            error!(LOG, "settings refused at request time"; "error" => %err);
            return Outcome::accept_with_warning(format!(
                "spot-balancer has {err}; pod admitted unchanged"
            ));
        }
    };

    let Some(request) = payload.get_mut("request") else {
        warn!(LOG, "payload has no request");
        return Outcome::accept_with_warning(
            "spot-balancer received no admission request; admitted unchanged".to_string(),
        );
    };
    review_request(request, &settings)
}

/// Answers one AdmissionRequest with validated settings.
pub fn review_request(request: &mut Value, settings: &Settings) -> Outcome {
    let text = |pointer: &str| request.pointer(pointer).and_then(Value::as_str);
    let operation = text("/operation").unwrap_or("");
    let group = text("/kind/group").unwrap_or("");
    let kind = text("/kind/kind").unwrap_or("");

    // Placement is decided once, when the pod is created; a pod's node
    // selector and affinity cannot change afterwards anyway.
    if operation != "CREATE" || !group.is_empty() || kind != "Pod" {
        debug!(LOG, "request passed through"; "operation" => operation, "kind" => kind);
        return Outcome::accept();
    }
    let namespace = text("/namespace").unwrap_or("").to_string();
    let uid = text("/uid").unwrap_or("").to_string();

    let Some(mut pod) = request
        .as_object_mut()
        .and_then(|request| request.remove("object"))
    else {
        warn!(LOG, "create request has no object"; "uid" => &uid);
        return Outcome::accept_with_warning(
            "spot-balancer found no object in the request; admitted unchanged".to_string(),
        );
    };
    if !pod.is_object() {
        warn!(LOG, "pod is not a json object"; "uid" => &uid);
        return Outcome::accept_with_warning(
            "spot-balancer found an object that is not a JSON object; admitted unchanged"
                .to_string(),
        );
    }

    let mut warnings = Vec::new();
    let decision = {
        let spark = SparkPod::read(&pod, settings);
        let pod_ref = &pod;
        match spark.role {
            Role::Other => return Outcome::accept(),
            Role::Driver if !settings.pin_drivers => return Outcome::accept(),
            _ if mutation::recorded_capacity(pod_ref).is_some() => {
                debug!(LOG, "pod already placed"; "pod" => spark.name);
                return Outcome::accept();
            }
            _ if mutation::constrains_label(pod_ref, &settings.platform.label) => {
                debug!(LOG, "pod chose its capacity itself"; "pod" => spark.name,
                    "label" => &settings.platform.label);
                return Outcome::accept();
            }
            Role::Driver => Decision::driver(),
            Role::Executor => {
                let ratio = match job_ratio(&spark, settings) {
                    Ok((ratio, warning)) => {
                        warnings.extend(warning);
                        ratio
                    }
                    Err(message) => {
                        warn!(LOG, "pod rejected for its ratio"; "pod" => spark.name);
                        return Outcome::Rejected { message };
                    }
                };
                place_executor(&spark, &namespace, &uid, ratio, settings, &mut warnings)
            }
        }
    };

    if let Err(err) = mutation::apply(&mut pod, &decision, &settings.platform, settings.mode) {
        warn!(LOG, "pod cannot be mutated"; "uid" => &uid, "error" => %err);
        warnings.push(format!(
            "spot-balancer left the pod unchanged: {err}, so the {} pick could not be written",
            decision.capacity
        ));
        return Outcome::Unchanged { warnings };
    }
    Outcome::Mutated {
        object: pod,
        warnings,
    }
}

/// The ratio an executor's job asks for, with a warning when its value had
/// to be replaced by the default, or the rejection message.
fn job_ratio(spark: &SparkPod, settings: &Settings) -> Result<(Ratio, Option<String>), String> {
    let Some(text) = spark.ratio else {
        return Ok((settings.default_ratio, None));
    };
    if let Some(ratio) = settings.weights.resolve(text) {
        return Ok((ratio, None));
    }
    let problem = format!(
        "{} is {:?}, expected {}",
        settings.spot_ratio_key,
        text,
        settings.weights.accepted_forms()
    );
    match settings.on_invalid_ratio {
        InvalidRatioAction::Reject => Err(format!("spot-balancer: {problem}")),
        InvalidRatioAction::UseDefault => {
            warn!(LOG, "invalid spot ratio, using the default"; "pod" => spark.name,
                "value" => text);
            Ok((
                settings.default_ratio,
                Some(format!(
                    "spot-balancer: {problem}; using the default {}",
                    settings.default_ratio
                )),
            ))
        }
    }
}

/// The decision for an executor of a job with `ratio`.
fn place_executor(
    spark: &SparkPod,
    namespace: &str,
    uid: &str,
    ratio: Ratio,
    settings: &Settings,
    warnings: &mut Vec<String>,
) -> Decision {
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
    let phase = Phase::of_job(namespace, job_id);

    let (position, basis) = match spark.executor_id {
        ExecutorId::Number(id) => (id, Basis::ExecutorId),
        unusable => {
            // A client may leave naming to the server; the request UID is
            // then the only identity the pod has.
            let name = if spark.name.is_empty() {
                uid
            } else {
                spark.name
            };
            let shown = match unusable {
                ExecutorId::Unusable(text) => {
                    format!("has {}={text:?}", settings.executor_id_label)
                }
                _ => format!("has no {} label", settings.executor_id_label),
            };
            warn!(LOG, "executor has no usable id"; "pod" => spark.name, "job" => job_id);
            warnings.push(format!(
                "spot-balancer: executor {shown}; placed by a hash of its name, which keeps the \
                 job at its spot ratio only on average"
            ));
            (placement::position_from_name(name), Basis::NameHash)
        }
    };

    let capacity = placement::capacity_at(position, ratio, phase);
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
