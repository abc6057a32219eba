//! The baseline policy: a Kubewarden policy that parses every request and
//! accepts it unchanged.
//!
//! It does the least work a real policy must do: it deserialises the
//! `validate` payload with the SDK and answers with an acceptance. Measuring
//! it gives the floor that spot-balancer's own cost is compared against, and
//! the host's integration tests use it as a module whose answers are known.
//!
//! Settings are an empty object; any key is rejected so that the host's
//! settings-validation path can be exercised with a known message.

use kubewarden_policy_sdk::{
    accept_request, protocol_version_guest, request::ValidationRequest, settings::Validatable,
    validate_settings, wapc_guest as guest,
};
use serde::Deserialize;

/// The policy's settings: none are accepted.
///
/// An empty object (or the `{}` the host sends by default) is valid; any key
/// fails deserialisation with serde's "unknown field" message, which names
/// the key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {}

impl Validatable for Settings {
    /// Every settings object that deserialised is valid: there is nothing
    /// left to check.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Registers the three waPC entry points a Kubewarden host calls.
///
/// The waPC host calls this once, right after instantiation and before any
/// other export; it only records function pointers.
#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings::<Settings>);
    guest::register_function("protocol_version", protocol_version_guest);
}

/// Parses the request and accepts it.
///
/// A payload that is not a `ValidationRequest` is returned as a guest error,
/// which a host turns into a rejection with code 500.
fn validate(payload: &[u8]) -> guest::CallResult {
    let _request = ValidationRequest::<Settings>::new(payload)?;
    accept_request()
}
