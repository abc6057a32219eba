//! The invariants of the policy's answers, checked on every fuzz input.
//!
//! For `validate`:
//!
//! - the answer is a ValidationResponse, never a guest error;
//! - a payload that does not parse, or whose settings are refused, is
//!   admitted unchanged with one warning;
//! - a refusal happens only under `onInvalidRatio: reject`, with a message;
//! - a mutated pod differs from the pod in the request only in the paths the
//!   policy owns: the `spot-balancer.io/` decision annotations, the capacity
//!   label in `spec.nodeSelector`, expressions on that label appended to the
//!   required node-affinity terms, and spot tolerations appended to
//!   `spec.tolerations`; and what it wrote there is the capacity its
//!   annotation records;
//! - the mutated pod, sent again, is admitted unchanged with no warning.
//!
//! For `validate_settings`: the answer is a SettingsValidationResponse, a
//! refusal has a message that names every unknown top-level key, and
//! settings it accepts are ones the request path accepts too.

use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use serde_json::{Map, Value, json};
use spot_balancer::admission::Outcome;
use spot_balancer::decision::{
    CAPACITY_ANNOTATION, DECIDED_BY_ANNOTATION, POSITION_ANNOTATION, RATIO_ANNOTATION,
};
use spot_balancer::platform::NodeRequirement;
use spot_balancer::settings::{InvalidRatioAction, Mode, Settings};

/// The annotations a decision is recorded in.
const DECISION_ANNOTATIONS: [&str; 4] = [
    CAPACITY_ANNOTATION,
    DECIDED_BY_ANNOTATION,
    POSITION_ANNOTATION,
    RATIO_ANNOTATION,
];

/// The top-level settings keys; any other key must be named in a refusal.
const SETTINGS_KEYS: [&str; 14] = [
    "defaultSpotRatio",
    "stabilityWeights",
    "spotRatioKey",
    "onInvalidRatio",
    "jobLabels",
    "executorIdLabel",
    "roleLabel",
    "mode",
    "platform",
    "customPlatform",
    "pinDrivers",
    "liveCounts",
    "redis",
    "ratioFromDriver",
];

/// The path of the required node-affinity terms inside a pod.
const TERMS: [&str; 5] = [
    "spec",
    "affinity",
    "nodeAffinity",
    "requiredDuringSchedulingIgnoredDuringExecution",
    "nodeSelectorTerms",
];

/// Checks the answer of `validate` to `payload` and returns it parsed.
pub fn validate_answer(payload: &[u8], answer: &[u8]) -> ValidationResponse {
    let response: ValidationResponse = serde_json::from_slice(answer)
        .unwrap_or_else(|err| panic!("the answer is not a ValidationResponse: {err}"));
    let outcome = match (response.accepted, response.mutated_object.clone()) {
        (false, None) => Outcome::Rejected {
            message: response
                .message
                .clone()
                .expect("a refusal carries a message"),
        },
        (false, Some(_)) => panic!("a refusal carries a mutated object"),
        (true, object) => {
            assert!(response.message.is_none(), "an admission carries a message");
            let warnings = response.warnings.clone().unwrap_or_default();
            if let Some(warnings) = &response.warnings {
                assert!(!warnings.is_empty(), "warnings are sent as an empty list");
            }
            match object {
                Some(object) => Outcome::Mutated { object, warnings },
                None => Outcome::Unchanged { warnings },
            }
        }
    };
    assert!(response.code.is_none(), "the policy sets no status code");
    assert!(
        response.audit_annotations.is_none(),
        "the policy sets no audit annotations"
    );
    review_outcome(payload, &outcome);
    response
}

/// Checks `outcome`, the policy's answer to `payload`.
pub fn review_outcome(payload: &[u8], outcome: &Outcome) {
    let warnings: &[String] = match outcome {
        Outcome::Unchanged { warnings } | Outcome::Mutated { warnings, .. } => warnings,
        Outcome::Rejected { message } => std::slice::from_ref(message),
    };
    for warning in warnings {
        assert!(
            warning.starts_with("spot-balancer"),
            "a message does not say it comes from spot-balancer: {warning:?}"
        );
    }

    // A payload that does not parse gets exactly one warning.
    let Ok(payload) = serde_json::from_slice::<Value>(payload) else {
        let Outcome::Unchanged { warnings } = outcome else {
            panic!("a payload that does not parse was answered with {outcome:?}");
        };
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("spot-balancer could not parse its payload"));
        return;
    };
    let settings = Settings::from_value(payload.get("settings").unwrap_or(&Value::Null));
    let Ok(settings) = settings else {
        let Outcome::Unchanged { warnings } = outcome else {
            panic!("a payload with refused settings was answered with {outcome:?}");
        };
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("spot-balancer has invalid settings"));
        return;
    };

    let request = payload.get("request");
    let text = |pointer: &str| {
        request
            .and_then(|r| r.pointer(pointer))
            .and_then(Value::as_str)
    };
    let is_pod_create = text("/operation") == Some("CREATE")
        && text("/kind/kind") == Some("Pod")
        && text("/kind/group").unwrap_or("").is_empty();
    match outcome {
        Outcome::Unchanged { .. } => {}
        Outcome::Rejected { .. } => {
            assert!(
                is_pod_create,
                "a request other than a pod creation was refused"
            );
            assert_eq!(
                settings.on_invalid_ratio,
                InvalidRatioAction::Reject,
                "a pod was refused without onInvalidRatio: reject"
            );
        }
        Outcome::Mutated { object, .. } => {
            assert!(
                is_pod_create,
                "a request other than a pod creation was mutated"
            );
            let before = request
                .and_then(|r| r.get("object"))
                .expect("a mutated answer to a request without an object");
            owned_changes(before, object, &settings);
        }
    }
}

/// Checks that `after`, the policy's mutation of `before` under `settings`,
/// changed only owned paths, and wrote the capacity it records.
pub fn owned_changes(before: &Value, after: &Value, settings: &Settings) {
    let platform = &settings.platform;
    let label = platform.label.as_str();
    let (mut before, mut after) = (before.clone(), after.clone());
    assert!(
        after.is_object(),
        "the mutated pod is not an object: {after}"
    );

    // The decision is recorded; drop it, and any stale record, from both.
    let annotations = |pod: &mut Value| {
        pod.get_mut("metadata")
            .and_then(|metadata| metadata.get_mut("annotations"))
            .and_then(Value::as_object_mut)
            .map(|annotations| {
                let recorded: Vec<_> = DECISION_ANNOTATIONS
                    .iter()
                    .map(|key| annotations.remove(*key))
                    .collect();
                recorded
            })
    };
    let recorded = annotations(&mut after).expect("the mutated pod has no annotations");
    let _ = annotations(&mut before);
    let capacity = recorded[0]
        .as_ref()
        .and_then(Value::as_str)
        .map(str::to_string);
    let capacity = capacity.expect("the mutated pod does not record its capacity");
    assert!(
        matches!(capacity.as_str(), "spot" | "on-demand"),
        "the recorded capacity is {capacity:?}"
    );
    assert!(
        recorded[1]
            .as_ref()
            .and_then(Value::as_str)
            .is_some_and(|by| !by.is_empty()),
        "the mutated pod does not record what decided it"
    );

    // What the pod must now require of the node's capacity label.
    let (requirement, tolerations) = match capacity.as_str() {
        "spot" if settings.mode == Mode::BestEffort => (None, &platform.spot_tolerations[..]),
        "spot" => (Some(&platform.spot), &platform.spot_tolerations[..]),
        _ => (Some(&platform.on_demand), &[][..]),
    };

    // The capacity label in the node selector.
    let selected = after
        .pointer_mut("/spec/nodeSelector")
        .and_then(Value::as_object_mut)
        .and_then(|selector| selector.remove(label));
    match requirement {
        Some(NodeRequirement::Equals(value)) => {
            assert_eq!(
                selected,
                Some(json!(value)),
                "{capacity} pick selects {label} wrongly"
            )
        }
        _ => assert_eq!(selected, None, "{capacity} pick selects {label}"),
    }

    // Expressions on the capacity label in the required affinity terms.
    let expression = match requirement {
        Some(NodeRequirement::Absent) => Some(json!({"key": label, "operator": "DoesNotExist"})),
        Some(NodeRequirement::NotIn(values)) => {
            Some(json!({"key": label, "operator": "NotIn", "values": values}))
        }
        _ => None,
    };
    let before_terms = terms(&before).map(<[Value]>::len);
    let after_terms = terms_mut(&mut after);
    match (&expression, after_terms) {
        (None, Some(terms)) => {
            for term in terms.iter() {
                assert!(
                    !term_mentions(term, label),
                    "a term mentions {label}: {term}"
                );
            }
        }
        (None, None) => {}
        (Some(_), None) => panic!("the {capacity} pick wrote no affinity term"),
        (Some(expression), Some(terms)) => {
            if before_terms.unwrap_or(0) == 0 {
                assert_eq!(terms.len(), 1, "a new term list has more than one term");
            }
            for term in terms.iter_mut() {
                let expressions = term
                    .get_mut("matchExpressions")
                    .and_then(Value::as_array_mut)
                    .expect("a required term has no matchExpressions");
                let position = expressions.iter().position(|e| e == expression);
                let position = position.expect("a required term lacks the capacity expression");
                assert_eq!(
                    position + 1,
                    expressions.len(),
                    "the expression is not appended"
                );
                expressions.pop();
            }
        }
    }
    for term in terms(&before).unwrap_or_default() {
        assert!(
            !term_mentions(term, label),
            "the pod chose its capacity itself: {term}"
        );
    }

    // Tolerations: the pod's own, then the spot tolerations it lacked.
    let kept = before
        .pointer("/spec/tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(list) = after
        .pointer_mut("/spec/tolerations")
        .and_then(Value::as_array_mut)
    {
        assert!(
            list.starts_with(&kept),
            "the pod's tolerations were changed"
        );
        let added = list.split_off(kept.len());
        let missing: Vec<_> = tolerations.iter().filter(|t| !kept.contains(t)).collect();
        assert_eq!(
            added.iter().collect::<Vec<_>>(),
            missing,
            "wrong tolerations added"
        );
    } else {
        assert!(
            tolerations.iter().all(|t| kept.contains(t)),
            "the {capacity} pick added no tolerations"
        );
    }

    // Containers the policy created to hold what it wrote are empty now;
    // put back what the pod had there, innermost first.
    restore_created(&before, &mut after, &["metadata", "annotations"]);
    restore_created(&before, &mut after, &["metadata"]);
    restore_created(&before, &mut after, &["spec", "nodeSelector"]);
    restore_created(&before, &mut after, &["spec", "tolerations"]);
    if let Some(after_terms) = terms_mut(&mut after) {
        let before_terms = terms(&before).unwrap_or_default();
        for (i, term) in after_terms.iter_mut().enumerate() {
            let before_term = before_terms.get(i).cloned().unwrap_or(Value::Null);
            restore_created(&before_term, term, &["matchExpressions"]);
        }
        if before_terms.is_empty() && after_terms.len() == 1 && is_empty(&after_terms[0]) {
            after_terms.clear();
        }
    }
    for depth in (2..=TERMS.len()).rev() {
        restore_created(&before, &mut after, &TERMS[..depth]);
    }
    restore_created(&before, &mut after, &["spec"]);

    assert_eq!(
        before, after,
        "the mutation changed a path the policy does not own"
    );
}

/// The required node-affinity terms of `pod`, when they are a list.
fn terms(pod: &Value) -> Option<&[Value]> {
    TERMS
        .iter()
        .try_fold(pod, |value, key| value.get(key))?
        .as_array()
        .map(Vec::as_slice)
}

/// The required node-affinity terms of `pod`, mutably.
fn terms_mut(pod: &mut Value) -> Option<&mut Vec<Value>> {
    TERMS
        .iter()
        .try_fold(pod, |value, key| value.get_mut(key))?
        .as_array_mut()
}

/// Whether a term's expressions constrain `label`, as the policy reads them.
fn term_mentions(term: &Value, label: &str) -> bool {
    term.get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|expression| expression.get("key").and_then(Value::as_str) == Some(label))
}

/// Whether `value` is an empty object or list.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(list) => list.is_empty(),
        _ => false,
    }
}

/// If `after` holds an empty container at `path` where `before` held
/// nothing or `null`, puts back what `before` held.
fn restore_created(before: &Value, after: &mut Value, path: &[&str]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let old = parents
        .iter()
        .try_fold(before, |value, key| value.get(key))
        .and_then(|parent| parent.get(last));
    if old.is_some_and(|old| !old.is_null()) {
        return;
    }
    let Some(parent) = parents
        .iter()
        .try_fold(after, |value, key| value.get_mut(key))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if parent.get(*last).is_some_and(is_empty) {
        match old {
            Some(old) => parent.insert(last.to_string(), old.clone()),
            None => parent.remove(*last),
        };
    }
}

/// Checks that sending `mutated` again in `payload`'s request is admitted
/// unchanged and without a warning: the recorded decision is final.
pub fn second_admission(payload: &[u8], mutated: &Value, review: impl Fn(&[u8]) -> Outcome) {
    let Ok(mut payload) = serde_json::from_slice::<Value>(payload) else {
        panic!("a mutated answer to a payload that does not parse");
    };
    let Some(request) = payload.get_mut("request").and_then(Value::as_object_mut) else {
        panic!("a mutated answer to a payload without a request");
    };
    request.insert("object".to_string(), mutated.clone());
    let again = serde_json::to_vec(&payload).unwrap_or_default();
    let outcome = review(&again);
    assert_eq!(
        outcome,
        Outcome::Unchanged {
            warnings: Vec::new()
        },
        "the placed pod was not left alone the second time"
    );
}

/// Checks the answer of `validate_settings` to `document` and returns it.
pub fn settings_answer(document: &[u8], answer: &[u8]) -> SettingsValidationResponse {
    let response: SettingsValidationResponse = serde_json::from_slice(answer)
        .unwrap_or_else(|err| panic!("the answer is not a SettingsValidationResponse: {err}"));
    match (&response.valid, &response.message) {
        (true, None) => {}
        (false, Some(message)) => {
            assert!(message.starts_with("invalid settings: "), "{message}");
        }
        (valid, message) => panic!("valid: {valid} with message {message:?}"),
    }

    let parsed = serde_json::from_slice::<Value>(document);
    let Ok(value) = parsed else {
        assert!(
            !response.valid,
            "a document that does not parse was accepted"
        );
        return response;
    };
    let settings = Settings::from_value(&value);
    assert_eq!(
        settings.is_ok(),
        response.valid,
        "validate_settings and the request path disagree"
    );
    if let (Value::Object(map), Some(message)) = (&value, &response.message) {
        for key in unknown_keys(map) {
            assert!(
                message.contains(&format!("{key}: unknown key")),
                "the refusal does not name the unknown key {key:?}: {message}"
            );
        }
    } else if let Value::Object(map) = &value {
        assert!(
            unknown_keys(map).next().is_none(),
            "an unknown key was accepted"
        );
    }
    response
}

/// The top-level keys of `map` the policy does not know.
fn unknown_keys(map: &Map<String, Value>) -> impl Iterator<Item = &String> {
    map.keys()
        .filter(|key| !SETTINGS_KEYS.contains(&key.as_str()))
}
