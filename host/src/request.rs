//! The admission request a policy evaluates.
//!
//! A request file may hold a whole `AdmissionReview` or the bare
//! `AdmissionRequest` inside one; like `kwctl run`, the host takes the
//! `request` field when the document's `kind` is `AdmissionReview` and the
//! document itself otherwise. The request is kept as JSON: the host passes
//! it to the policy untouched and reads only `uid` and `object` from it.

use serde_json::Value;
use thiserror::Error;

/// Why a document is not an admission request.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RequestError {
    /// The document is not valid JSON.
    #[error("failed to parse request: {reason}")]
    Json {
        /// What the JSON parser reported.
        reason: String,
    },

    /// The document, or the review's `request`, is not a JSON object.
    #[error("failed to read request: expected a JSON object, found {found}")]
    NotAnObject {
        /// The JSON type found instead.
        found: &'static str,
    },

    /// The document is an `AdmissionReview` without a `request` field.
    #[error("failed to read request: the AdmissionReview has no request field")]
    ReviewWithoutRequest,

    /// The request has no string `uid`.
    #[error("failed to read request: field uid is missing or not a string")]
    MissingUid,
}

/// An admission request, as the API server sends it to a webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionRequest {
    /// The request object; always a JSON object with a string `uid`.
    value: Value,
}

impl AdmissionRequest {
    /// Parses a request file's contents.
    ///
    /// # Errors
    ///
    /// [`RequestError`] when the text is not JSON or not a request.
    pub fn from_json(text: &str) -> Result<Self, RequestError> {
        let document: Value = serde_json::from_str(text).map_err(|e| RequestError::Json {
            reason: e.to_string(),
        })?;
        Self::from_document(document)
    }

    /// Takes a request out of an `AdmissionReview`, or a bare request as is.
    ///
    /// # Errors
    ///
    /// [`RequestError`] when the document is not an object, a review lacks
    /// its `request`, or the request lacks a string `uid`.
    pub fn from_document(document: Value) -> Result<Self, RequestError> {
        let Value::Object(mut object) = document else {
            return Err(RequestError::NotAnObject {
                found: json_type(&document),
            });
        };

        // kwctl looks at `kind` only: a bare request has a `kind` too, but it
        // is a GroupVersionKind object, never the string "AdmissionReview".
        let value = if object.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
            object
                .remove("request")
                .ok_or(RequestError::ReviewWithoutRequest)?
        } else {
            Value::Object(object)
        };

        match &value {
            Value::Object(request) => match request.get("uid") {
                Some(Value::String(_)) => Ok(Self { value }),
                _ => Err(RequestError::MissingUid),
            },
            other => Err(RequestError::NotAnObject {
                found: json_type(other),
            }),
        }
    }

    /// The request's `uid`, copied into the response.
    pub fn uid(&self) -> &str {
        self.value
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The object under admission; `None` when absent or `null`, as it is for
    /// DELETE.
    pub fn object(&self) -> Option<&Value> {
        self.value.get("object").filter(|object| !object.is_null())
    }

    /// The whole request as JSON.
    pub fn as_json(&self) -> &Value {
        &self.value
    }
}

/// Names a JSON value's type for error messages.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case::bare_request(
        r#"{"uid": "u-1", "kind": {"kind": "Pod"}, "object": {"a": 1}}"#,
        "u-1",
        Some(json!({"a": 1}))
    )]
    #[case::review(
        r#"{"kind": "AdmissionReview", "request": {"uid": "u-2", "object": {"b": 2}}}"#,
        "u-2",
        Some(json!({"b": 2}))
    )]
    #[case::delete_has_null_object(r#"{"uid": "u-3", "object": null}"#, "u-3", None)]
    #[case::no_object(r#"{"uid": "u-4"}"#, "u-4", None)]
    fn reads_requests(#[case] text: &str, #[case] uid: &str, #[case] object: Option<Value>) {
        let request = AdmissionRequest::from_json(text).unwrap();
        assert_eq!(request.uid(), uid);
        assert_eq!(request.object(), object.as_ref());
    }

    #[rstest]
    #[case::not_json(
        "{",
        "failed to parse request: EOF while parsing an object at line 1 column 1"
    )]
    #[case::array("[]", "failed to read request: expected a JSON object, found an array")]
    #[case::review_without_request(
        r#"{"kind": "AdmissionReview"}"#,
        "failed to read request: the AdmissionReview has no request field"
    )]
    #[case::review_with_string_request(
        r#"{"kind": "AdmissionReview", "request": "x"}"#,
        "failed to read request: expected a JSON object, found a string"
    )]
    #[case::no_uid(
        r#"{"object": {}}"#,
        "failed to read request: field uid is missing or not a string"
    )]
    #[case::numeric_uid(
        r#"{"uid": 7}"#,
        "failed to read request: field uid is missing or not a string"
    )]
    fn refuses_non_requests(#[case] text: &str, #[case] message: &str) {
        assert_eq!(
            AdmissionRequest::from_json(text).unwrap_err().to_string(),
            message
        );
    }
}
