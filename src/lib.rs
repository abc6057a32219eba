//! spot-balancer: a Kubewarden policy that splits each Spark job's executors
//! between spot and on-demand capacity at a ratio the job chooses.
//!
//! This file holds only the waPC entry points. The work is in:
//!
//! - [`settings`]: the settings document, validated with messages that name
//!   each key;
//! - [`ratio`]: exact ratios and the named stability weights;
//! - [`placement`]: the sequence that places executor `n` of a job, within
//!   one executor of the target for every run of IDs;
//! - [`spark`]: reading a pod's role, job, executor ID and ratio;
//! - [`platform`]: how each spot platform labels and taints its nodes;
//! - [`decision`] and [`mutation`]: the decision, and writing it into the pod
//!   without touching anything else;
//! - [`live`] and [`capabilities`]: live counts from the Redis capability
//!   or the Kubernetes capability, and the rule that steers a job back to
//!   its ratio with them;
//! - [`admission`]: one request from payload to answer.

pub mod admission;
pub mod capabilities;
pub mod decision;
pub mod live;
mod logging;
pub mod mutation;
pub mod placement;
pub mod platform;
pub mod ratio;
pub mod settings;
pub mod spark;

use admission::Outcome;
use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::{self, CallResult};
use settings::Settings;

/// Registers the functions a Kubewarden host calls.
#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    wapc_guest::register_function("validate", validate);
    wapc_guest::register_function("validate_settings", validate_settings);
    wapc_guest::register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

/// Answers an admission request. Always returns a response: problems with
/// the request become warnings, never guest errors.
pub fn validate(payload: &[u8]) -> CallResult {
    let response = match admission::review(payload, &capabilities::WapcHost) {
        Outcome::Unchanged { warnings } => response(true, None, None, warnings),
        Outcome::Mutated { object, warnings } => response(true, None, Some(object), warnings),
        Outcome::Rejected { message } => response(false, Some(message), None, Vec::new()),
    };
    Ok(serde_json::to_vec(&response)?)
}

/// Answers whether a settings document is valid. Unlike the SDK's helper,
/// a document that does not parse is also an answer, `valid: false` with a
/// message, not a guest error.
pub fn validate_settings(payload: &[u8]) -> CallResult {
    let checked = serde_json::from_slice(payload)
        .map_err(|err| format!("invalid settings: not a JSON document: {err}"))
        .and_then(|value| Settings::from_value(&value).map_err(|err| err.to_string()));
    let answer = SettingsValidationResponse {
        valid: checked.is_ok(),
        message: checked.err(),
    };
    Ok(serde_json::to_vec(&answer)?)
}

/// A response in the SDK's form; no field is sent empty.
fn response(
    accepted: bool,
    message: Option<String>,
    mutated_object: Option<serde_json::Value>,
    warnings: Vec<String>,
) -> ValidationResponse {
    ValidationResponse {
        accepted,
        message,
        code: None,
        mutated_object,
        audit_annotations: None,
        warnings: (!warnings.is_empty()).then_some(warnings),
    }
}
