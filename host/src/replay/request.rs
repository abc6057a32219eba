//! A host-capability request in the form kwctl records it.
//!
//! kwctl writes each request of a session as the YAML of policy-evaluator's
//! `CallbackRequestType` enum: a tag naming the variant and a mapping of
//! snake-case fields, for example
//!
//! ```yaml
//! !KubernetesGetResource
//! api_version: v1
//! kind: Pod
//! name: p-testing
//! namespace: local
//! disable_cache: true
//! ```
//!
//! and replays by comparing the recorded request with the live one as typed
//! values. [`CallbackRequest`] is that value without the Rust types: a
//! variant name and a JSON object of fields. Two requests are equal when
//! their variants are equal and their fields are, with an absent field
//! equal to a `null` one: serde reads a missing optional field as `None`,
//! so a session recorded before a field (such as `field_masks`) existed
//! still matches.

use std::fmt;

use serde_json::{Map, Value};

/// One request a policy makes of the host, as recorded in a session.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackRequest {
    /// The `CallbackRequestType` variant, e.g. `KubernetesGetResource`.
    variant: String,
    /// The variant's fields, with every `null` removed at every depth.
    fields: Map<String, Value>,
}

impl CallbackRequest {
    /// A request of `variant` with `fields` (an object; any other value
    /// counts as no fields).
    pub fn new(variant: &str, fields: Value) -> Self {
        let fields = match without_nulls(fields) {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Self {
            variant: variant.to_owned(),
            fields,
        }
    }

    /// Parses a request as kwctl writes it in a session file.
    ///
    /// # Errors
    ///
    /// A message naming the problem when the text is not YAML, or not a
    /// tagged mapping.
    pub fn from_recorded(text: &str) -> Result<Self, String> {
        let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let serde_yaml::Value::Tagged(tagged) = value else {
            return Err(
                "expected a request tagged with its kind, like !KubernetesGetResource".into(),
            );
        };

        // `Tag`'s Display includes the leading `!`.
        let tag = tagged.tag.to_string();
        let variant = tag.strip_prefix('!').unwrap_or(&tag);
        let fields = serde_json::to_value(&tagged.value).map_err(|e| e.to_string())?;
        if !fields.is_object() {
            return Err(format!("the fields of {variant} are not a mapping"));
        }
        Ok(Self::new(variant, fields))
    }

    /// The `CallbackRequestType` variant.
    pub fn variant(&self) -> &str {
        &self.variant
    }

    /// The fields, without `null`s.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }
}

impl fmt::Display for CallbackRequest {
    /// `Variant {json fields}`, compact, for replay mismatch messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.variant, Value::Object(self.fields.clone()))
    }
}

/// Removes `null` members from every object in `value`, at every depth.
///
/// Array elements are kept even when `null`: position matters in an array.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[test]
    fn parses_kwctl_recorded_requests() {
        let recorded = "!KubernetesGetResource\napi_version: /v1\nkind: Pod\nname: p-testing\n\
                        namespace: local\ndisable_cache: true\n";

        let request = CallbackRequest::from_recorded(recorded).unwrap();

        assert_eq!(request.variant(), "KubernetesGetResource");
        assert_eq!(
            Value::Object(request.fields().clone()),
            json!({"api_version": "/v1", "kind": "Pod", "name": "p-testing",
                   "namespace": "local", "disable_cache": true})
        );
    }

    #[rstest]
    #[case::absent_equals_null(
        "!KubernetesListResourceNamespace\napi_version: v1\nkind: Pod\nnamespace: spark\n",
        json!({"api_version": "v1", "kind": "Pod", "namespace": "spark",
               "label_selector": null, "field_selector": null, "field_masks": null})
    )]
    #[case::null_equals_absent(
        "!KubernetesListResourceNamespace\napi_version: v1\nkind: Pod\nnamespace: spark\n\
         label_selector: ~\nfield_masks: null\n",
        json!({"api_version": "v1", "kind": "Pod", "namespace": "spark"})
    )]
    #[case::selector_and_masks(
        "!KubernetesListResourceNamespace\napi_version: v1\nkind: Pod\nnamespace: spark\n\
         label_selector: spark-app-selector=job-1\nfield_masks:\n- metadata.name\n- spec.nodeName\n",
        json!({"api_version": "v1", "kind": "Pod", "namespace": "spark",
               "label_selector": "spark-app-selector=job-1",
               "field_masks": ["metadata.name", "spec.nodeName"]})
    )]
    fn recorded_and_live_requests_match(#[case] recorded: &str, #[case] live: Value) {
        let recorded = CallbackRequest::from_recorded(recorded).unwrap();
        assert_eq!(
            recorded,
            CallbackRequest::new("KubernetesListResourceNamespace", live)
        );
    }

    #[rstest]
    #[case::other_namespace(json!({"api_version": "v1", "kind": "Pod", "namespace": "other"}))]
    #[case::other_selector(
        json!({"api_version": "v1", "kind": "Pod", "namespace": "spark", "label_selector": "a=b"})
    )]
    #[case::other_kind(json!({"api_version": "v1", "kind": "Node", "namespace": "spark"}))]
    fn different_requests_do_not_match(#[case] live: Value) {
        let recorded = CallbackRequest::from_recorded(
            "!KubernetesListResourceNamespace\napi_version: v1\nkind: Pod\nnamespace: spark\n",
        )
        .unwrap();
        assert_ne!(
            recorded,
            CallbackRequest::new("KubernetesListResourceNamespace", live)
        );
    }

    #[test]
    fn variants_must_match() {
        let fields = json!({"api_version": "v1", "kind": "Pod"});
        assert_ne!(
            CallbackRequest::new("KubernetesListResourceAll", fields.clone()),
            CallbackRequest::new("KubernetesGetResourcePluralName", fields)
        );
    }

    #[rstest]
    #[case::untagged(
        "api_version: v1\n",
        "expected a request tagged with its kind, like !KubernetesGetResource"
    )]
    #[case::tagged_scalar("!DNSLookupHost x", "the fields of DNSLookupHost are not a mapping")]
    fn refuses_malformed_recordings(#[case] text: &str, #[case] message: &str) {
        assert_eq!(CallbackRequest::from_recorded(text).unwrap_err(), message);
    }

    #[test]
    fn displays_variant_and_fields() {
        let request = CallbackRequest::new("KubernetesGetResource", json!({"kind": "Pod"}));
        assert_eq!(
            request.to_string(),
            r#"KubernetesGetResource {"kind":"Pod"}"#
        );
    }
}
