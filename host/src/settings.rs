//! The settings a policy is run with.
//!
//! Kubewarden settings are always a JSON object. As with `kwctl run`, they
//! come from `--settings-json` (JSON text) or `--settings-path` (a YAML or
//! JSON file), default to `{}`, and `null` means `{}`. Anything else is
//! refused before the policy is involved.

use serde_json::{Map, Value};
use thiserror::Error;

use crate::request::json_type;

/// Why text is not a settings object.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SettingsError {
    /// `--settings-json` is not JSON.
    #[error("failed to parse settings json: {reason}")]
    Json {
        /// What the JSON parser reported.
        reason: String,
    },

    /// The settings file is not YAML (JSON is YAML too).
    #[error("failed to parse settings file: {reason}")]
    Yaml {
        /// What the YAML parser reported.
        reason: String,
    },

    /// The document parsed but is not an object.
    #[error("settings must be an object or null, found {found}")]
    NotAnObject {
        /// The JSON type found instead.
        found: &'static str,
    },
}

/// A policy's settings: a JSON object, empty by default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicySettings(Map<String, Value>);

impl PolicySettings {
    /// Parses the text of `--settings-json`.
    ///
    /// # Errors
    ///
    /// [`SettingsError`] when the text is not JSON or not an object.
    pub fn from_json(text: &str) -> Result<Self, SettingsError> {
        let value: Value = serde_json::from_str(text).map_err(|e| SettingsError::Json {
            reason: e.to_string(),
        })?;
        Self::try_from(value)
    }

    /// Parses the contents of a `--settings-path` file.
    ///
    /// # Errors
    ///
    /// [`SettingsError`] when the text is not YAML or not a mapping.
    pub fn from_yaml(text: &str) -> Result<Self, SettingsError> {
        // An empty file is YAML's null, which means no settings.
        let value: Value = serde_yaml::from_str(text).map_err(|e| SettingsError::Yaml {
            reason: e.to_string(),
        })?;
        Self::try_from(value)
    }

    /// The settings as the JSON value given to the policy.
    pub fn to_value(&self) -> Value {
        Value::Object(self.0.clone())
    }

    /// The settings' keys and values, borrowed.
    pub fn as_object(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The settings' keys and values.
    pub fn into_object(self) -> Map<String, Value> {
        self.0
    }
}

impl From<Map<String, Value>> for PolicySettings {
    /// Any JSON object is a settings object.
    fn from(object: Map<String, Value>) -> Self {
        Self(object)
    }
}

impl TryFrom<Value> for PolicySettings {
    type Error = SettingsError;

    /// Accepts an object, or `null` as the empty object.
    fn try_from(value: Value) -> Result<Self, Self::Error> {
        match value {
            Value::Null => Ok(Self::default()),
            Value::Object(map) => Ok(Self(map)),
            other => Err(SettingsError::NotAnObject {
                found: json_type(&other),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case::object(r#"{"defaultSpotRatio": 0.5}"#, json!({"defaultSpotRatio": 0.5}))]
    #[case::null("null", json!({}))]
    #[case::empty_object("{}", json!({}))]
    fn parses_json_settings(#[case] text: &str, #[case] expected: Value) {
        assert_eq!(
            PolicySettings::from_json(text).unwrap().to_value(),
            expected
        );
    }

    #[rstest]
    #[case::yaml_mapping("defaultSpotRatio: 0.5\nzones: [a, b]\n", json!({"defaultSpotRatio": 0.5, "zones": ["a", "b"]}))]
    #[case::json_file(r#"{"a": true}"#, json!({"a": true}))]
    #[case::empty_file("", json!({}))]
    fn parses_yaml_settings(#[case] text: &str, #[case] expected: Value) {
        assert_eq!(
            PolicySettings::from_yaml(text).unwrap().to_value(),
            expected
        );
    }

    #[rstest]
    #[case::json_array("[1]", "settings must be an object or null, found an array")]
    #[case::json_number("3", "settings must be an object or null, found a number")]
    #[case::bad_json(
        "{",
        "failed to parse settings json: EOF while parsing an object at line 1 column 1"
    )]
    fn refuses_bad_json_settings(#[case] text: &str, #[case] message: &str) {
        assert_eq!(
            PolicySettings::from_json(text).unwrap_err().to_string(),
            message
        );
    }

    #[rstest]
    #[case::yaml_scalar("just text", "settings must be an object or null, found a string")]
    #[case::yaml_list("- a\n- b\n", "settings must be an object or null, found an array")]
    fn refuses_bad_yaml_settings(#[case] text: &str, #[case] message: &str) {
        assert_eq!(
            PolicySettings::from_yaml(text).unwrap_err().to_string(),
            message
        );
    }
}
