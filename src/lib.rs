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
//! - [`sparse`]: the payload parsed only where the policy looks, and a
//!   mutated pod written back out around what it did not parse;
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
pub mod sparse;

use admission::{Outcome, Review};
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::{self, CallResult};
use serde::Serialize;
use settings::Settings;
use sparse::Merged;

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
    let Review { outcome, payload } = admission::review(payload, &capabilities::WapcHost);
    let answer = match &outcome {
        Outcome::Unchanged { warnings } => Answer::accepted(None, warnings),
        Outcome::Mutated { object, warnings } => {
            let pod = Merged::new(payload.object_shape(), object);
            Answer::accepted(Some(pod), warnings)
        }
        Outcome::Rejected { message } => Answer::rejected(message),
    };
    Ok(serde_json::to_vec(&answer)?)
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

/// The SDK's `ValidationResponse`, field for field, with the mutated pod
/// written out around the members the policy did not parse.
#[derive(Serialize)]
struct Answer<'a> {
    /// Whether the pod is admitted.
    accepted: bool,
    /// Why not, when it is not.
    message: Option<&'a str>,
    /// Never set: a rejection takes the host's default code.
    code: Option<u16>,
    /// The whole pod, when it is mutated.
    mutated_object: Option<Merged<'a, 'a>>,
    /// Never set.
    audit_annotations: Option<()>,
    /// Messages for the client; absent rather than empty.
    warnings: Option<&'a [String]>,
}

impl<'a> Answer<'a> {
    /// Admits the pod, mutated when `pod` is given.
    fn accepted(pod: Option<Merged<'a, 'a>>, warnings: &'a [String]) -> Self {
        Answer {
            accepted: true,
            message: None,
            code: None,
            mutated_object: pod,
            audit_annotations: None,
            warnings: (!warnings.is_empty()).then_some(warnings),
        }
    }

    /// Refuses the pod with `message`.
    fn rejected(message: &'a str) -> Self {
        Answer {
            accepted: false,
            message: Some(message),
            code: None,
            mutated_object: None,
            audit_annotations: None,
            warnings: None,
        }
    }
}
