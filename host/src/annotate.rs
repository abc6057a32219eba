//! Embedding a policy's metadata into its module, as `kwctl annotate` does.
//!
//! The metadata file (YAML) is completed with the fields Kubewarden fills
//! in by default, the protocol version the module reports, and two
//! annotations: the tool that annotated it and the usage text (the README).
//! It is written as JSON into the custom section [`METADATA_SECTION`],
//! replacing any section of that name the module already had.

use serde_json::{Map, Value, json};
use thiserror::Error;

use crate::metadata::{self, METADATA_SECTION, MetadataError};

/// The annotation naming the tool that annotated the module.
pub const ANNOTATED_BY: &str = "io.kubewarden.kwctl";

/// The annotation holding the policy's usage text.
pub const USAGE: &str = "io.kubewarden.policy.usage";

/// Why a module could not be annotated.
#[derive(Debug, Error)]
pub enum AnnotateError {
    /// The metadata file is not YAML.
    #[error("failed to parse metadata: {0}")]
    Yaml(String),

    /// The metadata lacks a field or has one of the wrong type.
    #[error("invalid metadata: {field} {problem}")]
    Invalid {
        /// The field, as `rules` or `annotations`.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },

    /// The module is not a wasm module, or is truncated.
    #[error(transparent)]
    Module(#[from] MetadataError),
}

/// The module with `metadata_yaml` embedded, completed with
/// `protocol_version` and, when given, the `usage` text.
///
/// # Errors
///
/// [`AnnotateError`] when the metadata is not YAML, lacks `rules` or
/// `mutating`, or the module cannot be read.
pub fn annotate(
    module: &[u8],
    metadata_yaml: &str,
    usage: Option<&str>,
    protocol_version: &str,
) -> Result<Vec<u8>, AnnotateError> {
    let metadata = complete(metadata_yaml, usage, protocol_version)?;
    // A Value serialises to JSON without error: its keys are strings.
    let json = serde_json::to_vec(&metadata).unwrap_or_default();
    let mut annotated = metadata::without_custom_section(module, METADATA_SECTION)?;
    annotated.extend(metadata::custom_section_bytes(METADATA_SECTION, &json));
    Ok(annotated)
}

/// The metadata document Kubewarden stores: the file's fields, defaults for
/// the optional ones, the protocol version and the two annotations.
fn complete(
    metadata_yaml: &str,
    usage: Option<&str>,
    protocol_version: &str,
) -> Result<Value, AnnotateError> {
    let parsed: Value =
        serde_yaml::from_str(metadata_yaml).map_err(|e| AnnotateError::Yaml(e.to_string()))?;
    let Value::Object(mut metadata) = parsed else {
        return Err(AnnotateError::Invalid {
            field: "metadata",
            problem: "is not a mapping",
        });
    };
    if !metadata.get("rules").is_some_and(Value::is_array) {
        return Err(AnnotateError::Invalid {
            field: "rules",
            problem: "must be a list",
        });
    }
    if !metadata.get("mutating").is_some_and(Value::is_boolean) {
        return Err(AnnotateError::Invalid {
            field: "mutating",
            problem: "must be true or false",
        });
    }

    // The defaults policy-evaluator assumes for fields a file leaves out.
    let defaults = [
        ("backgroundAudit", json!(true)),
        ("contextAwareResources", json!([])),
        ("executionMode", json!("kubewarden-wapc")),
        ("policyType", json!("kubernetes")),
    ];
    for (field, value) in defaults {
        metadata.entry(field).or_insert(value);
    }
    metadata.insert("protocolVersion".into(), json!(protocol_version));

    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(annotations) = annotations else {
        return Err(AnnotateError::Invalid {
            field: "annotations",
            problem: "must be a mapping",
        });
    };
    let tool = concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION"));
    annotations.insert(ANNOTATED_BY.into(), json!(tool));
    if let Some(usage) = usage {
        annotations.insert(USAGE.into(), json!(usage));
    }
    Ok(Value::Object(metadata))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::Metadata;
    use rstest::rstest;

    /// An empty wasm module: magic and version only.
    const EMPTY_MODULE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

    const METADATA: &str = "rules: []\nmutating: true\ncontextAwareResources:\n  \
                            - apiVersion: v1\n    kind: Pod\nannotations:\n  a: b\n";

    #[test]
    fn completes_and_embeds_the_metadata() {
        let annotated = annotate(&EMPTY_MODULE, METADATA, Some("# usage"), "v1").unwrap();
        let metadata = Metadata::from_module(&annotated).unwrap().unwrap();
        assert!(metadata.mutating);
        assert_eq!(metadata.context_aware_resources.len(), 1);

        let document = complete(METADATA, Some("# usage"), "v1").unwrap();
        assert_eq!(document["protocolVersion"], "v1");
        assert_eq!(document["backgroundAudit"], true);
        assert_eq!(document["executionMode"], "kubewarden-wapc");
        assert_eq!(document["annotations"]["a"], "b");
        assert_eq!(document["annotations"][USAGE], "# usage");
        assert_eq!(
            document["annotations"][ANNOTATED_BY],
            concat!("spot-balancer-host ", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn annotating_twice_keeps_one_section() {
        let once = annotate(&EMPTY_MODULE, METADATA, None, "v1").unwrap();
        let twice = annotate(&once, METADATA, None, "v1").unwrap();
        assert_eq!(once, twice);
    }

    #[rstest]
    #[case("rules: [", "failed to parse metadata: ")]
    #[case("- 1", "invalid metadata: metadata is not a mapping")]
    #[case("mutating: true", "invalid metadata: rules must be a list")]
    #[case(
        "rules: []\nmutating: yes please",
        "invalid metadata: mutating must be true or false"
    )]
    #[case(
        "rules: []\nmutating: false\nannotations: 3",
        "invalid metadata: annotations must be a mapping"
    )]
    fn refuses_incomplete_metadata(#[case] yaml: &str, #[case] message: &str) {
        let error = annotate(&EMPTY_MODULE, yaml, None, "v1").unwrap_err();
        assert!(error.to_string().starts_with(message), "{error}");
    }

    #[test]
    fn refuses_what_is_not_a_module() {
        let error = annotate(b"not wasm", METADATA, None, "v1").unwrap_err();
        assert_eq!(error.to_string(), MetadataError::NotWasm.to_string());
    }
}
