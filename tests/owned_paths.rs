//! Issue 6, over every fixture: the policy changes only what it owns.
//!
//! Each fixture is evaluated under a matrix of settings that reaches every
//! platform, both modes and both picks. Wherever the policy mutates, the
//! request's pod and the mutated pod are walked together: a subtree whose
//! serialised text is unchanged is byte-for-byte equal and is skipped; any
//! other difference must be an addition the policy owns:
//!
//! - a decision annotation under `metadata.annotations` (`spot-balancer.io/`
//!   capacity, decided-by, position or ratio);
//! - `spec.nodeSelector.<capacity label>`;
//! - an expression on the capacity label appended to a required
//!   node-affinity term's `matchExpressions`;
//! - one of the platform's spot tolerations appended to `spec.tolerations`.
//!
//! Containers on the way to those (a new `metadata.annotations`, say) may be
//! created. Nothing may be removed, replaced or reordered.

mod common;

use common::{CUSTOM_PLATFORM, evaluate, fixture_names, parse, request, text};
use serde_json::Value;
use spot_balancer::platform::Platform;
use spot_balancer::settings::Settings;
use std::fmt;

/// Settings that together reach every platform, mode and pick.
const SETTINGS: &[&str] = &[
    "{}",
    r#"{"defaultSpotRatio": 1}"#,
    r#"{"defaultSpotRatio": 0}"#,
    r#"{"mode": "best-effort"}"#,
    r#"{"platform": "eks-managed-node-groups"}"#,
    r#"{"platform": "eks-managed-node-groups", "defaultSpotRatio": 1}"#,
    r#"{"platform": "gke"}"#,
    r#"{"platform": "gke", "defaultSpotRatio": 1}"#,
    r#"{"platform": "gke", "defaultSpotRatio": 0}"#,
    r#"{"platform": "gke", "mode": "best-effort", "defaultSpotRatio": 1}"#,
    r#"{"platform": "aks", "defaultSpotRatio": 1}"#,
    r#"{"platform": "aks", "defaultSpotRatio": 0}"#,
    CUSTOM_PLATFORM,
];

/// The annotations the policy writes.
const DECISION_ANNOTATIONS: [&str; 4] = [
    "spot-balancer.io/capacity",
    "spot-balancer.io/decided-by",
    "spot-balancer.io/position",
    "spot-balancer.io/ratio",
];

/// One step of a path into a pod.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// A path into a pod, shown as `spec.tolerations[2]`.
#[derive(Debug, Clone, Default, PartialEq)]
struct PodPath(Vec<Step>);

impl PodPath {
    /// Whether the path is `pattern`, where `"*"` is any key and `"#"` any
    /// index.
    fn is(&self, pattern: &[&str]) -> bool {
        self.0.len() == pattern.len()
            && self.0.iter().zip(pattern).all(|(step, want)| match step {
                Step::Key(key) => *want == "*" || want == key,
                Step::Index(_) => *want == "#",
            })
    }

    /// The last key, if the path ends in one.
    fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Step::Key(key)) => Some(key),
            _ => None,
        }
    }
}

impl fmt::Display for PodPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(key) if key.contains(['.', '/']) => write!(f, "[{key:?}]")?,
                Step::Key(key) if i == 0 => write!(f, "{key}")?,
                Step::Key(key) => write!(f, ".{key}")?,
                Step::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// The paths at which an addition is judged whole rather than by its parts.
const ATOMS: [&[&str]; 4] = [
    &["metadata", "annotations", "*"],
    &["spec", "nodeSelector", "*"],
    &["spec", "tolerations", "#"],
    &[
        "spec",
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "nodeSelectorTerms",
        "#",
        "matchExpressions",
        "#",
    ],
];

/// One difference between the request's pod and the mutated pod.
#[derive(Debug)]
enum Difference {
    /// A value that was not there before.
    Added(PodPath, Value),
    /// Anything else: a removal, a replacement, a reordering.
    Disturbed(PodPath, &'static str),
}

/// Collects the differences between `old` and `new` under `path`.
fn compare(old: &Value, new: &Value, path: &mut PodPath, found: &mut Vec<Difference>) {
    if text(old) == text(new) {
        return;
    }
    match (old, new) {
        (Value::Object(old_map), Value::Object(new_map)) => {
            let before: Vec<&String> = old_map.keys().collect();
            let kept: Vec<&String> = new_map
                .keys()
                .filter(|k| old_map.contains_key(*k))
                .collect();
            if kept != before {
                found.push(Difference::Disturbed(
                    path.clone(),
                    "keys removed or reordered",
                ));
            }
            for (key, value) in new_map {
                path.0.push(Step::Key(key.clone()));
                match old_map.get(key) {
                    Some(old_value) => compare(old_value, value, path, found),
                    None => added(value, path, found),
                }
                path.0.pop();
            }
        }
        (Value::Array(old_items), Value::Array(new_items))
            if new_items.len() >= old_items.len() =>
        {
            for (index, value) in new_items.iter().enumerate() {
                path.0.push(Step::Index(index));
                match old_items.get(index) {
                    Some(old_value) => compare(old_value, value, path, found),
                    None => added(value, path, found),
                }
                path.0.pop();
            }
        }
        // A `null` container reads as absent, and the policy may fill it.
        (Value::Null, Value::Object(_) | Value::Array(_)) => added(new, path, found),
        _ => found.push(Difference::Disturbed(path.clone(), "value replaced")),
    }
}

/// Records the addition of `value` at `path`, part by part down to atoms.
fn added(value: &Value, path: &mut PodPath, found: &mut Vec<Difference>) {
    let atom = ATOMS.iter().any(|pattern| path.is(pattern));
    match value {
        Value::Object(map) if !atom && !map.is_empty() => {
            for (key, child) in map {
                path.0.push(Step::Key(key.clone()));
                added(child, path, found);
                path.0.pop();
            }
        }
        Value::Array(items) if !atom && !items.is_empty() => {
            for (index, child) in items.iter().enumerate() {
                path.0.push(Step::Index(index));
                added(child, path, found);
                path.0.pop();
            }
        }
        _ => found.push(Difference::Added(path.clone(), value.clone())),
    }
}

/// Whether the policy owns the addition of `value` at `path` on `platform`.
fn owned(path: &PodPath, value: &Value, platform: &Platform) -> bool {
    if path.is(ATOMS[0]) {
        let key = path.last_key().unwrap_or("");
        DECISION_ANNOTATIONS.contains(&key) && value.is_string()
    } else if path.is(ATOMS[1]) {
        path.last_key() == Some(platform.label.as_str()) && value.is_string()
    } else if path.is(ATOMS[2]) {
        platform.spot_tolerations.contains(value)
    } else if path.is(ATOMS[3]) {
        value["key"].as_str() == Some(platform.label.as_str())
    } else {
        false
    }
}

/// For every fixture and every setting of the matrix, each difference the
/// policy makes to a pod is an addition it owns.
#[test]
fn mutations_touch_only_owned_paths() {
    let mut violations = Vec::new();
    let mut mutated_runs = 0;

    for name in fixture_names() {
        let request = request(&name);
        for settings_text in SETTINGS {
            let settings = parse("settings", settings_text);
            let platform = Settings::from_value(&settings)
                .expect("the matrix's settings are valid")
                .platform;
            let Some(mutated) = evaluate(&request, &settings).mutated else {
                continue;
            };
            mutated_runs += 1;

            let mut found = Vec::new();
            compare(
                &request["object"],
                &mutated,
                &mut PodPath::default(),
                &mut found,
            );
            assert!(
                !found.is_empty(),
                "{name} with {settings_text}: mutated to the same pod"
            );
            for difference in found {
                match difference {
                    Difference::Added(path, value) if owned(&path, &value, &platform) => {}
                    Difference::Added(path, value) => {
                        violations.push(format!(
                            "{name} with {settings_text}: added {path}: {value}"
                        ));
                    }
                    Difference::Disturbed(path, what) => {
                        violations.push(format!("{name} with {settings_text}: {what} at {path}"));
                    }
                }
            }
        }
    }

    assert!(
        violations.is_empty(),
        "changes the policy does not own:\n{}",
        violations.join("\n")
    );
    // 21 fixtures are pods the policy places; most of them under every setting.
    assert!(
        mutated_runs > 200,
        "only {mutated_runs} runs mutated: the matrix lost its reach"
    );
}

/// The walk itself sees what it must refuse: a removed key, a replaced
/// value, a reordering and an addition the policy does not own.
#[test]
fn the_walk_reports_changes_the_policy_does_not_own() {
    let platform = Platform::karpenter();
    let old = parse(
        "old",
        r#"{"a": 1, "b": {"c": [1, 2]}, "spec": {"nodeSelector": {}}}"#,
    );
    let cases = [
        (
            r#"{"a": 1, "b": {"c": [1, 2]}}"#,
            "keys removed or reordered at ",
        ),
        (
            r#"{"a": 2, "b": {"c": [1, 2]}, "spec": {"nodeSelector": {}}}"#,
            "value replaced at a",
        ),
        (
            r#"{"b": {"c": [1, 2]}, "a": 1, "spec": {"nodeSelector": {}}}"#,
            "keys removed or reordered at ",
        ),
        (
            r#"{"a": 1, "b": {"c": [1, 2, 3]}, "spec": {"nodeSelector": {}}}"#,
            "added b.c[2]: 3",
        ),
        (
            r#"{"a": 1, "b": {"c": [1, 2]}, "spec": {"nodeSelector": {"x": "y"}}}"#,
            "added spec.nodeSelector.x",
        ),
    ];
    for (new, want) in cases {
        let mut found = Vec::new();
        compare(
            &old,
            &parse("new", new),
            &mut PodPath::default(),
            &mut found,
        );
        let shown: Vec<String> = found
            .iter()
            .filter_map(|difference| match difference {
                Difference::Added(path, value) if !owned(path, value, &platform) => {
                    Some(format!("added {path}: {value}"))
                }
                Difference::Added(..) => None,
                Difference::Disturbed(path, what) => Some(format!("{what} at {path}")),
            })
            .collect();
        assert!(
            shown.iter().any(|line| line.starts_with(want)),
            "{new}: {shown:?}"
        );
    }
}
