//! The policy's answer, and the `AdmissionResponse` built from it.
//!
//! A policy answers `validate` with a Kubewarden `ValidationResponse`: a
//! verdict, an optional rejection message and code, and, for a mutating
//! policy, the whole mutated object. The API server wants an
//! `AdmissionResponse` instead, with the mutation as an RFC 6902 JSONPatch.
//! This file does that conversion the way Kubewarden's policy-evaluator
//! does, so that the JSON printed by `run` is the JSON `kwctl run` prints:
//! the same keys, in the same order, with `auditAnnotations` and `warnings`
//! present as `null` when the policy set none.
//!
//! The conversion is total: every `ValidationResponse` yields a response.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Rejection given when a policy mutates a request that has no object.
///
/// Kept word for word from Kubewarden, whose users may match on it.
pub const MUTATION_WITHOUT_OBJECT: &str = "Incoming object is null, which happens only with \
     DELETE operations, but the policy is attempting a mutation. This is not allowed";

/// The only patch type Kubernetes accepts from admission webhooks.
pub const PATCH_TYPE_JSON_PATCH: &str = "JSONPatch";

/// HTTP code of a rejection caused by the policy failing rather than deciding.
pub const INTERNAL_ERROR_CODE: u16 = 500;

/// A policy's answer to `validate`, as the Kubewarden SDK serialises it.
///
/// The SDK names its fields in snake case (`mutated_object`,
/// `audit_annotations`), unlike the Kubernetes types around it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ValidationResponse {
    /// Whether the request is accepted.
    pub accepted: bool,
    /// Why the request is rejected; absent when accepted.
    #[serde(default)]
    pub message: Option<String>,
    /// HTTP code of the rejection; absent to let the API server choose.
    #[serde(default)]
    pub code: Option<u16>,
    /// The object as the policy wants it; absent when it does not mutate.
    #[serde(default)]
    pub mutated_object: Option<Value>,
    /// Annotations for the API server's audit log.
    #[serde(default)]
    pub audit_annotations: Option<BTreeMap<String, String>>,
    /// Warnings shown to the client that made the request.
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

/// The `status` of a rejected `AdmissionResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmissionStatus {
    /// Human-readable reason, shown to the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Suggested HTTP code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

/// An `admission.k8s.io/v1` `AdmissionResponse`, as kwctl prints it.
///
/// Field order is the serialisation order and matches Kubewarden's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    /// The `uid` of the request answered.
    pub uid: String,
    /// Whether the request is admitted.
    pub allowed: bool,
    /// `JSONPatch` when `patch` is set; omitted otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// The base64-encoded RFC 6902 patch; omitted when nothing changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// Why the request is rejected; omitted when the policy gave no reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AdmissionStatus>,
    /// Audit annotations; serialised as `null` when there are none.
    #[serde(default)]
    pub audit_annotations: Option<BTreeMap<String, String>>,
    /// Client warnings; serialised as `null` when there are none.
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

impl AdmissionResponse {
    /// Builds the answer to a request from the policy's `ValidationResponse`.
    ///
    /// `object` is the request's object (`None` for a DELETE). The patch is
    /// the JSON diff from `object` to `mutated_object`; an empty diff sends
    /// no patch, and a mutation of a missing object is rejected with
    /// [`MUTATION_WITHOUT_OBJECT`].
    pub fn from_validation(
        uid: &str,
        object: Option<&Value>,
        response: ValidationResponse,
    ) -> AdmissionResponse {
        // A DELETE carries no object: there is nothing a patch could apply to.
        let patch = match (&response.mutated_object, object) {
            (None, _) => None,
            (Some(_), None) => {
                return AdmissionResponse {
                    uid: uid.to_owned(),
                    allowed: false,
                    status: Some(AdmissionStatus {
                        message: Some(MUTATION_WITHOUT_OBJECT.to_owned()),
                        code: None,
                    }),
                    ..AdmissionResponse::default()
                };
            }
            (Some(mutated), Some(original)) => encoded_patch(original, mutated),
        };

        let status = if response.message.is_some() || response.code.is_some() {
            Some(AdmissionStatus {
                message: response.message,
                code: response.code,
            })
        } else {
            None
        };

        AdmissionResponse {
            uid: uid.to_owned(),
            allowed: response.accepted,
            patch_type: patch.as_ref().map(|_| PATCH_TYPE_JSON_PATCH.to_owned()),
            patch,
            status,
            audit_annotations: response.audit_annotations,
            warnings: response.warnings,
        }
    }

    /// The answer when the policy failed instead of deciding: a trap, a
    /// guest error, or an answer that is not a `ValidationResponse`.
    ///
    /// Like Kubewarden, the request is rejected with code 500 and the
    /// message prefixed by `internal server error: `.
    pub fn internal_error(uid: &str, message: &str) -> AdmissionResponse {
        AdmissionResponse {
            uid: uid.to_owned(),
            allowed: false,
            status: Some(AdmissionStatus {
                message: Some(format!("internal server error: {message}")),
                code: Some(INTERNAL_ERROR_CODE),
            }),
            ..AdmissionResponse::default()
        }
    }

    /// Decodes `patch` back to JSON, for tests and reports.
    ///
    /// Returns `None` when there is no patch or it does not decode.
    pub fn decoded_patch(&self) -> Option<Value> {
        let bytes = BASE64.decode(self.patch.as_deref()?).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// Diffs two objects and encodes the patch, or `None` when they are equal.
fn encoded_patch(original: &Value, mutated: &Value) -> Option<String> {
    let patch = json_patch::diff(original, mutated);
    if patch.0.is_empty() {
        return None;
    }
    // A `Patch` is a list of plain operations; turning it into JSON text
    // cannot fail, but if it ever did, sending no patch is the safe answer.
    serde_json::to_string(&patch)
        .ok()
        .map(|text| BASE64.encode(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    /// A policy answer that accepts with the given mutated object.
    fn mutating(mutated: Value) -> ValidationResponse {
        ValidationResponse {
            accepted: true,
            mutated_object: Some(mutated),
            ..ValidationResponse::default()
        }
    }

    #[rstest]
    #[case::accepted(
        ValidationResponse { accepted: true, ..Default::default() },
        Some(json!({"a": 1})),
        json!({"uid": "u", "allowed": true, "auditAnnotations": null, "warnings": null})
    )]
    #[case::rejected_with_message_and_code(
        ValidationResponse {
            accepted: false,
            message: Some("no".into()),
            code: Some(403),
            ..Default::default()
        },
        Some(json!({"a": 1})),
        json!({"uid": "u", "allowed": false, "status": {"message": "no", "code": 403},
               "auditAnnotations": null, "warnings": null})
    )]
    #[case::rejected_with_code_only(
        ValidationResponse { accepted: false, code: Some(422), ..Default::default() },
        Some(json!({})),
        json!({"uid": "u", "allowed": false, "status": {"code": 422},
               "auditAnnotations": null, "warnings": null})
    )]
    #[case::rejected_without_reason(
        ValidationResponse { accepted: false, ..Default::default() },
        Some(json!({})),
        json!({"uid": "u", "allowed": false, "auditAnnotations": null, "warnings": null})
    )]
    #[case::warnings_and_audit_annotations(
        ValidationResponse {
            accepted: true,
            warnings: Some(vec!["w1".into(), "w2".into()]),
            audit_annotations: Some(BTreeMap::from([("k".into(), "v".into())])),
            ..Default::default()
        },
        Some(json!({})),
        json!({"uid": "u", "allowed": true, "auditAnnotations": {"k": "v"},
               "warnings": ["w1", "w2"]})
    )]
    #[case::unchanged_mutation_sends_no_patch(
        mutating(json!({"a": 1})),
        Some(json!({"a": 1})),
        json!({"uid": "u", "allowed": true, "auditAnnotations": null, "warnings": null})
    )]
    #[case::mutation_of_delete_is_rejected(
        mutating(json!({"a": 1})),
        None,
        json!({"uid": "u", "allowed": false, "status": {"message": MUTATION_WITHOUT_OBJECT},
               "auditAnnotations": null, "warnings": null})
    )]
    #[case::delete_without_mutation_is_fine(
        ValidationResponse { accepted: true, ..Default::default() },
        None,
        json!({"uid": "u", "allowed": true, "auditAnnotations": null, "warnings": null})
    )]
    fn converts_validation_responses(
        #[case] response: ValidationResponse,
        #[case] object: Option<Value>,
        #[case] expected: Value,
    ) {
        let converted = AdmissionResponse::from_validation("u", object.as_ref(), response);
        assert_eq!(serde_json::to_value(&converted).unwrap(), expected);
    }

    #[rstest]
    #[case::add_annotation(
        json!({"metadata": {"name": "p"}}),
        json!({"metadata": {"name": "p", "annotations": {"spot-balancer.io/capacity": "spot"}}}),
        json!([{"op": "add", "path": "/metadata/annotations",
                "value": {"spot-balancer.io/capacity": "spot"}}])
    )]
    #[case::replace_label(
        json!({"metadata": {"labels": {"a": "1"}}}),
        json!({"metadata": {"labels": {"a": "2"}}}),
        json!([{"op": "replace", "path": "/metadata/labels/a", "value": "2"}])
    )]
    #[case::remove_field(
        json!({"spec": {"x": 1, "y": 2}}),
        json!({"spec": {"x": 1}}),
        json!([{"op": "remove", "path": "/spec/y"}])
    )]
    #[case::escaped_key(
        json!({"metadata": {"labels": {}}}),
        json!({"metadata": {"labels": {"node.io/zone~a": "z"}}}),
        json!([{"op": "add", "path": "/metadata/labels/node.io~1zone~0a", "value": "z"}])
    )]
    fn patches_are_the_json_diff(
        #[case] original: Value,
        #[case] mutated: Value,
        #[case] expected_patch: Value,
    ) {
        let converted =
            AdmissionResponse::from_validation("u", Some(&original), mutating(mutated.clone()));

        assert_eq!(converted.patch_type.as_deref(), Some(PATCH_TYPE_JSON_PATCH));
        assert_eq!(converted.decoded_patch(), Some(expected_patch.clone()));

        // Applying the patch to the original must give the mutated object.
        let patch: json_patch::Patch = serde_json::from_value(expected_patch).unwrap();
        let mut patched = original;
        json_patch::patch(&mut patched, &patch).unwrap();
        assert_eq!(patched, mutated);
    }

    #[test]
    fn internal_errors_reject_with_500() {
        let response = AdmissionResponse::internal_error("u", "Guest call failure: boom");
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"uid":"u","allowed":false,"status":{"message":"internal server error: Guest call failure: boom","code":500},"auditAnnotations":null,"warnings":null}"#
        );
    }

    #[test]
    fn serialised_key_order_matches_kwctl() {
        let response = AdmissionResponse::from_validation(
            "u",
            Some(&json!({})),
            ValidationResponse {
                accepted: true,
                message: Some("m".into()),
                mutated_object: Some(json!({"a": 1})),
                ..Default::default()
            },
        );
        let text = serde_json::to_string(&response).unwrap();
        let keys = [
            "\"uid\"",
            "\"allowed\"",
            "\"patchType\"",
            "\"patch\"",
            "\"status\"",
        ];
        let positions: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
        let mut sorted = positions.clone();
        sorted.sort_unstable();
        assert_eq!(positions, sorted, "{text}");
        assert!(
            text.ends_with(r#""auditAnnotations":null,"warnings":null}"#),
            "{text}"
        );
    }
}
