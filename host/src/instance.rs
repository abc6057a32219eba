//! One live instance of a policy module and the waPC calls made on it.
//!
//! An [`Instance`] wraps a waPC host over a freshly rehydrated wasmtime
//! store. Its host calls go to a shared [`Dispatcher`]. Its two entry
//! points mirror policy-evaluator's handling of a Kubewarden waPC policy,
//! failures included, so that a guest that traps or answers garbage yields
//! the same outcome here as under policy-server:
//!
//! - `validate_settings` never fails: a guest failure is an invalid-settings
//!   answer whose message says what happened;
//! - `validate` never fails: a guest failure is a rejection with code 500.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use wapc::WapcHost;
use wasmtime_provider::WasmtimeEngineProvider;

use crate::capability::Dispatcher;
use crate::request::AdmissionRequest;
use crate::response::{AdmissionResponse, ValidationResponse};
use crate::settings::PolicySettings;

/// The policy's verdict on its settings, as the SDK serialises it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SettingsValidation {
    /// Whether the settings are accepted.
    pub valid: bool,
    /// Why they are not; the policy may leave it out.
    #[serde(default)]
    pub message: Option<String>,
}

/// The payload of a `validate` call.
#[derive(Serialize)]
struct ValidatePayload<'a> {
    /// The AdmissionRequest.
    request: &'a Value,
    /// The policy's settings.
    settings: &'a Map<String, Value>,
}

/// A fresh, initialised instance of a policy module.
pub struct Instance {
    /// The waPC host running the instance.
    host: WapcHost,
}

impl Instance {
    /// Starts an instance on `engine`, routing its host calls to
    /// `dispatcher`, and runs the module's waPC initialisation.
    ///
    /// # Errors
    ///
    /// The waPC error text when initialisation fails.
    pub(crate) fn new(
        engine: WasmtimeEngineProvider,
        dispatcher: Arc<Dispatcher>,
    ) -> Result<Self, String> {
        let callback =
            move |_id: u64, binding: &str, namespace: &str, operation: &str, payload: &[u8]| {
                dispatcher
                    .dispatch(binding, namespace, operation, payload)
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            };
        let host =
            WapcHost::new(Box::new(engine), Some(Box::new(callback))).map_err(|e| e.to_string())?;
        Ok(Self { host })
    }

    /// Calls the guest's `validate_settings` with `settings`.
    ///
    /// A guest failure, or an answer that is not a settings verdict, is
    /// reported as invalid settings with policy-evaluator's messages.
    pub fn validate_settings(&self, settings: &PolicySettings) -> SettingsValidation {
        let payload = settings.to_value().to_string();
        match self.host.call("validate_settings", payload.as_bytes()) {
            Ok(answer) => serde_json::from_slice(&answer).unwrap_or_else(|e| SettingsValidation {
                valid: false,
                message: Some(format!("error: InvalidResponseWithError({e:?})")),
            }),
            Err(error) => SettingsValidation {
                valid: false,
                message: Some(format!(
                    "Error invoking settings validation callback: {error:?}"
                )),
            },
        }
    }

    /// Calls the guest's `validate` with `{"request": ..., "settings": ...}`
    /// and turns its answer into the `AdmissionResponse` for `request`.
    pub fn validate(
        &self,
        settings: &PolicySettings,
        request: &AdmissionRequest,
    ) -> AdmissionResponse {
        let uid = request.uid();
        // Written straight from the request, as policy-server serialises the
        // request it holds; copying it into a new tree first would add a
        // cost per request that no real host pays. Writing out JSON values
        // cannot fail; if it did, the guest would answer the empty payload
        // with its parse error.
        let payload = serde_json::to_string(&ValidatePayload {
            request: request.as_json(),
            settings: settings.as_object(),
        })
        .unwrap_or_default();

        match self.host.call("validate", payload.as_bytes()) {
            Ok(answer) => match serde_json::from_slice::<ValidationResponse>(&answer) {
                Ok(response) => AdmissionResponse::from_validation(uid, request.object(), response),
                Err(e) => {
                    tracing::error!(error = %e, "policy answered validate with a malformed response");
                    AdmissionResponse::internal_error(
                        uid,
                        &format!("invalid response from policy: {e}"),
                    )
                }
            },
            Err(error) => {
                tracing::warn!(%error, "policy failed to validate the request");
                AdmissionResponse::internal_error(uid, &error.to_string())
            }
        }
    }

    /// Calls any guest function with a raw payload and returns its raw
    /// answer; the typed methods above are built on the same call.
    ///
    /// # Errors
    ///
    /// The waPC error text when the guest traps or reports an error.
    pub fn call(&self, function: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.host.call(function, payload).map_err(|e| e.to_string())
    }

    /// Calls the guest's `protocol_version`, returning its JSON answer
    /// (`"v1"` for current SDKs).
    ///
    /// # Errors
    ///
    /// The waPC error text, or the parser's when the answer is not a JSON
    /// string.
    pub fn protocol_version(&self) -> Result<String, String> {
        let answer = self
            .host
            .call("protocol_version", &[])
            .map_err(|e| e.to_string())?;
        serde_json::from_slice(&answer).map_err(|e| e.to_string())
    }
}
