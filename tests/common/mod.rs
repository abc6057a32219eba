//! Helpers shared by the integration tests: the e2e fixtures, the table of
//! cases the bats suite also plays, a native run of `spot_balancer::validate`,
//! and a small RFC 6902 patcher to check the expected patches with.
//!
//! Everything here reads JSON with the crate's `arbitrary_precision` and
//! `preserve_order` features, so a fixture's numbers and key order reach the
//! policy exactly as they are written in the file.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helpers"
)]

use serde_json::{Map, Value, json};
use std::fs;
use std::path::{Path, PathBuf};

/// The directory of the AdmissionReview fixtures.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e-tests/fixtures")
}

/// The directory of the patches the bats suite expects.
pub fn expected_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e-tests/expected")
}

/// Every fixture's name, without `.json`, in alphabetical order.
pub fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(fixtures_dir())
        .expect("the fixtures directory is readable")
        .map(|entry| entry.expect("a fixture entry is readable").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Parses JSON text, panicking with `what` in the message when it is not.
pub fn parse(what: &str, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("{what} is not JSON: {err}"))
}

/// The AdmissionReview in fixture `name`.
pub fn review(name: &str) -> Value {
    let path = fixtures_dir().join(format!("{name}.json"));
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    parse(&format!("fixture {name}"), &text)
}

/// The AdmissionRequest in fixture `name`.
pub fn request(name: &str) -> Value {
    review(name)["request"].clone()
}

/// The pod a fixture's request carries in `object`.
pub fn object(name: &str) -> Value {
    request(name)["object"].clone()
}

/// The policy's answer to one request, as its `ValidationResponse` says it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `accepted`.
    pub accepted: bool,
    /// `message`, for rejections.
    pub message: Option<String>,
    /// `warnings`, empty when the response has none.
    pub warnings: Vec<String>,
    /// `mutated_object`, when the policy changed the pod.
    pub mutated: Option<Value>,
}

/// Runs `spot_balancer::validate` on `request` with `settings`, as a host
/// would: the payload is `{"request": ..., "settings": ...}`.
pub fn evaluate(request: &Value, settings: &Value) -> Answer {
    let payload = json!({"request": request, "settings": settings});
    let bytes = serde_json::to_vec(&payload).expect("a payload serialises");
    let raw = spot_balancer::validate(&bytes).expect("validate never fails as a guest call");
    let response: Value = serde_json::from_slice(&raw).expect("the response is JSON");

    let warnings = match &response["warnings"] {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().expect("a warning is a string").to_string())
            .collect(),
        other => panic!("warnings is neither null nor a list: {other}"),
    };
    Answer {
        accepted: response["accepted"]
            .as_bool()
            .expect("accepted is a boolean"),
        message: response["message"].as_str().map(str::to_string),
        warnings,
        mutated: match &response["mutated_object"] {
            Value::Null => None,
            object => Some(object.clone()),
        },
    }
}

/// Runs the policy on fixture `name` with settings given as JSON text.
pub fn evaluate_fixture(name: &str, settings: &str) -> Answer {
    evaluate(&request(name), &parse("settings", settings))
}

/// The pod as admitted: the mutated object, or the request's object when
/// the policy left it alone.
pub fn admitted_pod(name: &str, settings: &str) -> Value {
    evaluate_fixture(name, settings)
        .mutated
        .unwrap_or_else(|| object(name))
}

/// What a case's response must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Allowed, with the patch in `expected/<case>.patch.json`.
    Mutated,
    /// Allowed, with no patch.
    Unchanged,
    /// Refused, with the message given.
    Rejected(&'static str),
}

/// One evaluation the bats suite plays: a fixture, settings and the answer.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// The fixture's name.
    pub fixture: &'static str,
    /// What the settings change, `""` for the fixture's own case; it names
    /// the expected patch `<fixture>--<variant>.patch.json`.
    pub variant: &'static str,
    /// The settings, as JSON text.
    pub settings: &'static str,
    /// The response.
    pub expect: Expect,
    /// The exact warnings, in order.
    pub warnings: &'static [&'static str],
}

impl Case {
    /// The case's name: the fixture, then `--variant` when there is one.
    pub fn name(&self) -> String {
        if self.variant.is_empty() {
            self.fixture.to_string()
        } else {
            format!("{}--{}", self.fixture, self.variant)
        }
    }

    /// The expected patch, as a JSON list of operations.
    pub fn expected_patch(&self) -> Value {
        let path = expected_dir().join(format!("{}.patch.json", self.name()));
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
        parse(&path.display().to_string(), &text)
    }
}

/// Shorthand for a table line.
const fn case(
    fixture: &'static str,
    variant: &'static str,
    settings: &'static str,
    expect: Expect,
    warnings: &'static [&'static str],
) -> Case {
    Case {
        fixture,
        variant,
        settings,
        expect,
        warnings,
    }
}

/// The `custom` platform the custom fixtures are written for.
pub const CUSTOM_PLATFORM: &str = r#"{"platform": "custom", "customPlatform": {
    "capacityLabel": "node.example.com/lifecycle", "spotValue": "preemptible",
    "spotTolerations": [{"key": "node.example.com/lifecycle", "operator": "Equal",
        "value": "preemptible", "effect": "NoSchedule"}]}}"#;

/// Settings naming the `eks-managed-node-groups` preset.
const MANAGED_NODE_GROUPS: &str = r#"{"platform": "eks-managed-node-groups"}"#;

/// Settings naming the `gke` preset in best-effort mode.
const GKE_BEST_EFFORT: &str = r#"{"platform": "gke", "mode": "best-effort"}"#;

/// Settings that give the `COST_OVER_RELIABILITY` weight another ratio.
const WEIGHT_OVERRIDE: &str = r#"{"stabilityWeights": {"COST_OVER_RELIABILITY": 0.25}}"#;

/// Settings that refuse pods with an unreadable ratio.
const REJECT: &str = r#"{"onInvalidRatio": "reject"}"#;

/// The warning for an executor of Spark's statefulset allocator.
pub const EXECID_WARNING: &str = "spot-balancer: executor has spark-exec-id=\"EXECID\"; placed \
    by a hash of its name, which keeps the job at its spot ratio only on average";

/// The warning for an executor without a job label.
pub const NO_JOB_WARNING: &str = "spot-balancer: executor has none of the labels \
    emr-containers.amazonaws.com/job.id, spark-app-selector; it is balanced with the other \
    unlabelled executors of its namespace";

/// The refusal of the `50%` ratio annotation.
pub const BAD_RATIO: &str = "spot-balancer: spot-balancer.io/spot-ratio on the pod is \"50%\", \
    expected a number from 0 to 1 or one of BALANCED, COST_OVER_RELIABILITY, ON_DEMAND_ONLY, \
    RELIABILITY_OVER_COST";

/// The warning when the `50%` ratio annotation is replaced by the default.
pub const BAD_RATIO_WARNING: &str = "spot-balancer: spot-balancer.io/spot-ratio on the pod is \
    \"50%\", expected a number from 0 to 1 or one of BALANCED, COST_OVER_RELIABILITY, \
    ON_DEMAND_ONLY, RELIABILITY_OVER_COST; using the default 0.5";

use Expect::{Mutated, Rejected, Unchanged};

/// Every case of `e2e-tests/*.bats`, one a line, with the same settings.
// One case a line reads as a table; rustfmt would spread each over seven.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    case("spark-executor-with-id", "", "{}", Mutated, &[]),
    case("spark-executor-with-id", "best-effort", r#"{"mode": "best-effort"}"#, Mutated, &[]),
    case("spark-executor-statefulset-execid", "", "{}", Mutated, &[EXECID_WARNING]),
    case("spark-driver", "", "{}", Mutated, &[]),
    case("spark-driver", "pin-drivers-off", r#"{"pinDrivers": false}"#, Unchanged, &[]),
    case("spark-executor-own-node-selector-on-capacity-label", "", "{}", Unchanged, &[]),
    case("spark-executor-required-affinity-on-capacity-label", "", "{}", Unchanged, &[]),
    case("non-spark-pod", "", "{}", Unchanged, &[]),
    case("spark-executor-update", "", "{}", Unchanged, &[]),
    case("spark-executor-delete", "", "{}", Unchanged, &[]),
    case("spark-executor-dry-run-create", "", "{}", Mutated, &[]),
    case("spark-executor-ratio-number", "", "{}", Mutated, &[]),
    case("spark-executor-ratio-weight-name", "", "{}", Mutated, &[]),
    case("spark-executor-ratio-weight-name", "weight-overridden", WEIGHT_OVERRIDE, Mutated, &[]),
    case("spark-executor-ratio-invalid", "", "{}", Mutated, &[BAD_RATIO_WARNING]),
    case("spark-executor-ratio-invalid", "reject", REJECT, Rejected(BAD_RATIO), &[]),
    case("spark-executor-unknown-fields", "", "{}", Mutated, &[]),
    case("spark-executor-existing-node-selector-merged", "", "{}", Mutated, &[]),
    case("spark-executor-without-job-label", "", "{}", Mutated, &[NO_JOB_WARNING]),
    case("spark-executor-already-placed", "", "{}", Unchanged, &[]),
    case("karpenter-spot-pick", "", r#"{"platform": "karpenter"}"#, Mutated, &[]),
    case("karpenter-on-demand-pick", "", r#"{"platform": "karpenter"}"#, Mutated, &[]),
    case("eks-managed-node-groups-spot-pick", "", MANAGED_NODE_GROUPS, Mutated, &[]),
    case("eks-managed-node-groups-on-demand-pick", "", MANAGED_NODE_GROUPS, Mutated, &[]),
    case("gke-spot-pick", "", r#"{"platform": "gke"}"#, Mutated, &[]),
    case("gke-spot-pick", "best-effort", GKE_BEST_EFFORT, Mutated, &[]),
    case("gke-on-demand-pick", "", r#"{"platform": "gke"}"#, Mutated, &[]),
    case("aks-spot-pick", "", r#"{"platform": "aks"}"#, Mutated, &[]),
    case("aks-on-demand-pick", "", r#"{"platform": "aks"}"#, Mutated, &[]),
    case("custom-spot-pick", "", CUSTOM_PLATFORM, Mutated, &[]),
    case("custom-on-demand-pick", "", CUSTOM_PLATFORM, Mutated, &[]),
];

/// Applies an RFC 6902 patch of `add`, `replace` and `remove` operations,
/// the only ones a diff produces, to `document`.
pub fn apply_patch(document: &mut Value, patch: &Value) -> Result<(), String> {
    let operations = patch.as_array().ok_or("a patch is a list of operations")?;
    for operation in operations {
        let op = operation["op"].as_str().ok_or("an operation has an op")?;
        let path = operation["path"]
            .as_str()
            .ok_or("an operation has a path")?;
        let (parent, last) = split_pointer(path)?;
        let target = document
            .pointer_mut(&parent)
            .ok_or_else(|| format!("{path}: no parent at {parent:?}"))?;
        let value = operation.get("value").cloned();
        match (op, target) {
            ("add", Value::Object(map)) => {
                map.insert(last, value.ok_or("add needs a value")?);
            }
            ("add", Value::Array(items)) => {
                let index = if last == "-" {
                    items.len()
                } else {
                    array_index(path, &last, items.len())?
                };
                items.insert(index, value.ok_or("add needs a value")?);
            }
            ("replace", Value::Object(map)) if map.contains_key(&last) => {
                map.insert(last, value.ok_or("replace needs a value")?);
            }
            ("replace", Value::Array(items)) => {
                let index = array_index(path, &last, items.len().saturating_sub(1))?;
                items[index] = value.ok_or("replace needs a value")?;
            }
            ("remove", Value::Object(map)) => {
                map.shift_remove(&last)
                    .ok_or_else(|| format!("{path}: nothing to remove"))?;
            }
            ("remove", Value::Array(items)) => {
                let index = array_index(path, &last, items.len().saturating_sub(1))?;
                items.remove(index);
            }
            (op, _) => return Err(format!("{path}: cannot {op} here")),
        }
    }
    Ok(())
}

/// A JSON pointer's parent pointer and its last token, unescaped.
fn split_pointer(path: &str) -> Result<(String, String), String> {
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or_else(|| format!("{path:?} is not a JSON pointer"))?;
    Ok((
        parent.to_string(),
        last.replace("~1", "/").replace("~0", "~"),
    ))
}

/// `token` as an array index no greater than `max`.
fn array_index(path: &str, token: &str, max: usize) -> Result<usize, String> {
    token
        .parse::<usize>()
        .ok()
        .filter(|&index| index <= max)
        .ok_or_else(|| format!("{path}: {token:?} is not an index up to {max}"))
}

/// `value` serialised, for byte-for-byte comparisons.
pub fn text(value: &Value) -> String {
    serde_json::to_string(value).expect("a value serialises")
}

/// The keys of `value` when it is an object, in their order.
pub fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .map(Map::keys)
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect()
}
