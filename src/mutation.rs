//! Writing a decision into a pod, touching only the fields the policy owns.
//!
//! The pod stays a JSON object from request to response, never a typed
//! struct, so fields that `k8s-openapi` does not know survive untouched.
//! What the policy writes is merged into what the pod has:
//!
//! - one key of `spec.nodeSelector`;
//! - one expression appended to each required node-affinity term (terms are
//!   alternatives, so the expression must hold in all of them);
//! - tolerations appended unless the pod has them already;
//! - the decision annotations in `metadata.annotations`.
//!
//! A field of the wrong type (a `nodeSelector` that is a list, say) is never
//! overwritten: the pod is left unchanged and the caller warns.

use crate::decision::{CAPACITY_ANNOTATION, Decision};
use crate::placement::Capacity;
use crate::platform::{NodeRequirement, Platform};
use crate::settings::Mode;
use crate::spark::metadata_map;
use serde_json::{Map, Value, json};
use std::fmt;

/// A field the policy would write to holds a value of another type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutationError {
    /// The field's path, as `spec.nodeSelector`.
    pub path: &'static str,
    /// The type the policy needs there.
    pub expected: &'static str,
}

impl fmt::Display for MutationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not {}", self.path, self.expected)
    }
}

impl std::error::Error for MutationError {}

/// The capacity recorded on a pod the policy has already placed.
pub fn recorded_capacity(pod: &Value) -> Option<&str> {
    metadata_map(pod, "annotations")?
        .get(CAPACITY_ANNOTATION)?
        .as_str()
}

/// Whether the pod itself already constrains the capacity `label`: a
/// `nodeSelector` entry or a required node-affinity expression on that key.
/// Then the user's choice wins and the policy leaves the pod alone.
pub fn constrains_label(pod: &Value, label: &str) -> bool {
    let selects = pod
        .pointer("/spec/nodeSelector")
        .and_then(Value::as_object)
        .is_some_and(|selector| selector.contains_key(label));
    let terms = pod
        .pointer(
            "/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution\
             /nodeSelectorTerms",
        )
        .and_then(Value::as_array);
    let requires = terms.into_iter().flatten().any(|term| {
        term.get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|expression| expression.get("key").and_then(Value::as_str) == Some(label))
    });
    selects || requires
}

/// Writes `decision` into `pod` for `platform` in `mode`.
///
/// On error the pod may be partly written; the caller then discards it and
/// admits the original.
pub fn apply(
    pod: &mut Value,
    decision: &Decision,
    platform: &Platform,
    mode: Mode,
) -> Result<(), MutationError> {
    let pod = pod.as_object_mut().ok_or(MutationError {
        path: "the object",
        expected: "an object",
    })?;

    // In best-effort mode a spot pick is left to the autoscaler, but the pod
    // still needs the tolerations that let it run on spot nodes.
    let (requirement, tolerations) = match decision.capacity {
        Capacity::Spot => {
            let requirement = (mode == Mode::Strict).then_some(&platform.spot);
            (requirement, platform.spot_tolerations.as_slice())
        }
        Capacity::OnDemand => (Some(&platform.on_demand), &[][..]),
    };

    let spec = object_field(pod, "spec", "spec")?;
    match requirement {
        Some(NodeRequirement::Equals(value)) => {
            let selector = object_field(spec, "nodeSelector", "spec.nodeSelector")?;
            selector.insert(platform.label.clone(), Value::String(value.clone()));
        }
        Some(NodeRequirement::Absent) => {
            require(
                spec,
                json!({"key": platform.label, "operator": "DoesNotExist"}),
            )?;
        }
        Some(NodeRequirement::NotIn(values)) => {
            let expression = json!({"key": platform.label, "operator": "NotIn", "values": values});
            require(spec, expression)?;
        }
        None => {}
    }
    if !tolerations.is_empty() {
        let present = array_field(spec, "tolerations", "spec.tolerations")?;
        for toleration in tolerations {
            if !present.contains(toleration) {
                present.push(toleration.clone());
            }
        }
    }

    let metadata = object_field(pod, "metadata", "metadata")?;
    let annotations = object_field(metadata, "annotations", "metadata.annotations")?;
    for (key, value) in decision.annotations() {
        annotations.insert(key.to_string(), Value::String(value));
    }
    Ok(())
}

/// Adds `expression` to every required node-affinity term of `spec`, or
/// creates the one term holding it.
fn require(spec: &mut Map<String, Value>, expression: Value) -> Result<(), MutationError> {
    let affinity = object_field(spec, "affinity", "spec.affinity")?;
    let node = object_field(affinity, "nodeAffinity", "spec.affinity.nodeAffinity")?;
    let required = object_field(
        node,
        "requiredDuringSchedulingIgnoredDuringExecution",
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
    )?;
    const TERMS: &str = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution\
                         .nodeSelectorTerms";
    let terms = array_field(required, "nodeSelectorTerms", TERMS)?;
    if terms.is_empty() {
        terms.push(json!({"matchExpressions": [expression]}));
        return Ok(());
    }
    for term in terms.iter_mut() {
        let term = term.as_object_mut().ok_or(MutationError {
            path: TERMS,
            expected: "a list of objects",
        })?;
        let expressions = array_field(
            term,
            "matchExpressions",
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution\
             .nodeSelectorTerms[].matchExpressions",
        )?;
        if !expressions.contains(&expression) {
            expressions.push(expression.clone());
        }
    }
    Ok(())
}

/// The object under `key`, created when missing or `null`.
fn object_field<'a>(
    parent: &'a mut Map<String, Value>,
    key: &str,
    path: &'static str,
) -> Result<&'a mut Map<String, Value>, MutationError> {
    let field = parent.entry(key).or_insert(Value::Null);
    if field.is_null() {
        *field = Value::Object(Map::new());
    }
    field.as_object_mut().ok_or(MutationError {
        path,
        expected: "an object",
    })
}

/// The list under `key`, created when missing or `null`.
fn array_field<'a>(
    parent: &'a mut Map<String, Value>,
    key: &str,
    path: &'static str,
) -> Result<&'a mut Vec<Value>, MutationError> {
    let field = parent.entry(key).or_insert(Value::Null);
    if field.is_null() {
        *field = Value::Array(Vec::new());
    }
    field.as_array_mut().ok_or(MutationError {
        path,
        expected: "a list",
    })
}
