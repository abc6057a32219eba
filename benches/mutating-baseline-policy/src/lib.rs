//! The mutating baseline: a Kubewarden policy that adds one annotation to
//! every object it is sent and accepts it.
//!
//! It does the least work a mutating policy must do with the SDK: parse the
//! request, change the object, and send the whole object back with
//! `mutate_request`, which the host then diffs into a JSON patch. Its cost
//! over the accept-everything baseline is what Kubewarden's mutation
//! protocol adds to any mutating policy, so spot-balancer's mutating path is
//! compared with both.

use kubewarden_policy_sdk::{
    accept_request, mutate_request, protocol_version_guest, request::ValidationRequest,
    settings::Validatable, validate_settings, wapc_guest as guest,
};
use serde::Deserialize;
use serde_json::Value;

/// The annotation written on every object.
const ANNOTATION: &str = "mutating-baseline.kubewarden.io/seen";

/// The policy's settings: none are accepted.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {}

impl Validatable for Settings {
    /// Every settings object that deserialised is valid.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Registers the three waPC entry points a Kubewarden host calls.
#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings::<Settings>);
    guest::register_function("protocol_version", protocol_version_guest);
}

/// Parses the request, annotates its object and sends it back; an object
/// that is not a JSON object with an object for `metadata` is accepted as
/// it came.
fn validate(payload: &[u8]) -> guest::CallResult {
    let request = ValidationRequest::<Settings>::new(payload)?;
    let mut object = request.request.object;
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return accept_request();
    };
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Default::default()));
    let Some(annotations) = annotations.as_object_mut() else {
        return accept_request();
    };
    annotations.insert(ANNOTATION.to_owned(), Value::from("true"));
    mutate_request(object)
}
