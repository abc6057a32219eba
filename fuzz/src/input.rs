//! The structure-aware input: a real-looking admission payload, then edits
//! that put arbitrary values at the paths the policy reads, then, rarely,
//! raw bytes spliced into the serialised payload.
//!
//! Starting from real pods keeps most inputs past the early exits (not a
//! pod, not Spark) so the fuzzer spends its time on placement and mutation.

use crate::host::Reply;
use arbitrary::Arbitrary;
use serde_json::{Map, Number, Value, json};

/// Strings the policy compares against, and strings that look like them.
const WORDS: [&str; 40] = [
    "",
    "CREATE",
    "UPDATE",
    "DELETE",
    "Pod",
    "apps",
    "executor",
    "driver",
    "spot",
    "on-demand",
    "EXECID",
    "0",
    "1",
    "3",
    "007",
    "-1",
    "18446744073709551615",
    "18446744073709551616",
    "0.5",
    "1.0000001",
    ".25",
    "NaN",
    "BALANCED",
    "ON_DEMAND_ONLY",
    "NIGHTLY",
    "karpenter.sh/capacity-type",
    "cloud.google.com/gke-spot",
    "kubernetes.azure.com/scalesetpriority",
    "spot-balancer.io/capacity",
    "spot-balancer.io/spot-ratio",
    "spark-exec-id",
    "spark-role",
    "spark-app-selector",
    "DoesNotExist",
    "NotIn",
    "matchExpressions",
    "nodeSelectorTerms",
    "é",
    "\u{0}",
    "spark-pi-driver",
];

/// Numbers written out, including ones neither `u64`, `i64` nor `f64` hold.
const NUMBERS: [&str; 12] = [
    "1e400",
    "-1e400",
    "1E-400",
    "-0",
    "0.0",
    "1.0",
    "18446744073709551616",
    "-9223372036854775809",
    "0.1000000000000000055511151231257827",
    "123456789012345678901234567890e-30",
    "5e-1",
    "2592000",
];

/// The paths an edit can target: every field the policy reads or writes,
/// and the settings keys, as JSON pointers.
const PATHS: [&str; 56] = [
    "/request",
    "/request/operation",
    "/request/kind",
    "/request/kind/kind",
    "/request/kind/group",
    "/request/namespace",
    "/request/uid",
    "/request/dryRun",
    "/request/object",
    "/request/oldObject",
    "/request/oldObject/metadata/annotations/spot-balancer.io~1capacity",
    "/request/oldObject/metadata/labels/spark-role",
    "/request/object/kind",
    "/request/object/metadata",
    "/request/object/metadata/name",
    "/request/object/metadata/labels",
    "/request/object/metadata/labels/spark-role",
    "/request/object/metadata/labels/spark-exec-id",
    "/request/object/metadata/labels/spark-app-selector",
    "/request/object/metadata/labels/emr-containers.amazonaws.com~1job.id",
    "/request/object/metadata/labels/spot-balancer.io~1spot-ratio",
    "/request/object/metadata/labels/example.com~1role",
    "/request/object/metadata/annotations",
    "/request/object/metadata/annotations/spot-balancer.io~1spot-ratio",
    "/request/object/metadata/annotations/spot-balancer.io~1capacity",
    "/request/object/metadata/annotations/spot-balancer.io~1position",
    "/request/object/metadata/ownerReferences",
    "/request/object/metadata/ownerReferences/0/kind",
    "/request/object/metadata/ownerReferences/0/name",
    "/request/object/spec",
    "/request/object/spec/nodeSelector",
    "/request/object/spec/nodeSelector/karpenter.sh~1capacity-type",
    "/request/object/spec/nodeSelector/cloud.google.com~1gke-spot",
    "/request/object/spec/affinity",
    "/request/object/spec/affinity/nodeAffinity",
    "/request/object/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution",
    "/request/object/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution\
     /nodeSelectorTerms",
    "/request/object/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution\
     /nodeSelectorTerms/0",
    "/request/object/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution\
     /nodeSelectorTerms/0/matchExpressions",
    "/request/object/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution\
     /nodeSelectorTerms/0/matchExpressions/0/key",
    "/request/object/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution\
     /nodeSelectorTerms/1/matchExpressions",
    "/request/object/spec/tolerations",
    "/request/object/spec/tolerations/0",
    "/settings",
    "/settings/defaultSpotRatio",
    "/settings/stabilityWeights/NIGHTLY",
    "/settings/spotRatioKey",
    "/settings/onInvalidRatio",
    "/settings/jobLabels",
    "/settings/executorIdLabel",
    "/settings/mode",
    "/settings/platform",
    "/settings/customPlatform/spotTolerations/0",
    "/settings/pinDrivers",
    "/settings/liveCounts",
    "/settings/redis/enabled",
];

/// A JSON value built by the fuzzer, leaning on values the policy treats
/// specially.
#[derive(Arbitrary, Debug, Clone)]
pub enum FuzzValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A negative or small number.
    Integer(i64),
    /// A number up to `u64::MAX`.
    Unsigned(u64),
    /// A float; NaN and infinities, which JSON lacks, become `null`.
    Float(f64),
    /// One of [`NUMBERS`], parsed as written.
    Written(u8),
    /// One of [`WORDS`].
    Word(u8),
    /// The decimal digits of a number, as a string.
    Digits(u128),
    /// Any string.
    Text(String),
    /// A list.
    List(Vec<FuzzValue>),
    /// An object; later keys win, as in the policy's parser.
    Object(Vec<(Key, FuzzValue)>),
}

/// An object key built by the fuzzer.
#[derive(Arbitrary, Debug, Clone)]
pub enum Key {
    /// One of [`WORDS`].
    Word(u8),
    /// Any string.
    Text(String),
}

impl Key {
    /// The key as a string.
    fn to_key(&self) -> String {
        match self {
            Key::Word(i) => pick(&WORDS, *i).to_string(),
            Key::Text(text) => text.clone(),
        }
    }
}

impl FuzzValue {
    /// The value as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            FuzzValue::Null => Value::Null,
            FuzzValue::Bool(b) => Value::Bool(*b),
            FuzzValue::Integer(n) => json!(n),
            FuzzValue::Unsigned(n) => json!(n),
            FuzzValue::Float(x) => Number::from_f64(*x).map_or(Value::Null, Value::Number),
            FuzzValue::Written(i) => serde_json::from_str(pick(&NUMBERS, *i)).unwrap_or_default(),
            FuzzValue::Word(i) => json!(pick(&WORDS, *i)),
            FuzzValue::Digits(n) => json!(n.to_string()),
            FuzzValue::Text(text) => json!(text),
            FuzzValue::List(items) => items.iter().map(FuzzValue::to_json).collect(),
            FuzzValue::Object(fields) => {
                let map: Map<String, Value> = fields
                    .iter()
                    .map(|(key, value)| (key.to_key(), value.to_json()))
                    .collect();
                Value::Object(map)
            }
        }
    }
}

/// One change to the payload.
#[derive(Arbitrary, Debug, Clone)]
pub enum Edit {
    /// Put a value at one of [`PATHS`], creating what leads to it.
    Set(u8, FuzzValue),
    /// Remove what is at one of [`PATHS`].
    Remove(u8),
}

/// A whole structure-aware case: the payload and the host's replies.
#[derive(Arbitrary, Debug, Clone)]
pub struct ExecutorCase {
    /// Which real-looking request to start from.
    pub template: u8,
    /// Which valid settings document to start from.
    pub settings: u8,
    /// Changes applied in order; only the first 16 are used.
    pub edits: Vec<Edit>,
    /// What the host answers to each capability call, in order.
    pub replies: Vec<Reply>,
    /// Bytes inserted into the serialised payload at an offset.
    pub splice: Option<(u16, Vec<u8>)>,
}

impl ExecutorCase {
    /// The payload bytes `validate` receives.
    pub fn payload(&self) -> Vec<u8> {
        let mut payload = json!({
            "request": template(self.template),
            "settings": settings(self.settings),
        });
        for edit in self.edits.iter().take(16) {
            match edit {
                Edit::Set(path, value) => set(&mut payload, pick(&PATHS, *path), value.to_json()),
                Edit::Remove(path) => remove(&mut payload, pick(&PATHS, *path)),
            }
        }
        let mut bytes = serde_json::to_vec(&payload).unwrap_or_default();
        if let Some((at, inserted)) = &self.splice {
            let at = usize::from(*at) % (bytes.len() + 1);
            bytes.splice(at..at, inserted.iter().copied());
        }
        bytes
    }
}

/// `items[i]`, wrapping around.
fn pick<'a>(items: &[&'a str], i: u8) -> &'a str {
    items[usize::from(i) % items.len()]
}

/// The unescaped tokens of a JSON pointer.
fn tokens(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Puts `value` at `pointer`, turning whatever is in the way into objects
/// (or, for an index past the end of a list, appending).
fn set(root: &mut Value, pointer: &str, value: Value) {
    let mut node = root;
    for token in tokens(pointer) {
        if !node.is_object() && !node.is_array() {
            *node = Value::Object(Map::new());
        }
        node = match node {
            Value::Array(items) => {
                let i = token.parse::<usize>().unwrap_or(usize::MAX);
                if i >= items.len() {
                    items.push(Value::Null);
                }
                let last = items.len() - 1;
                &mut items[i.min(last)]
            }
            Value::Object(map) => map.entry(token).or_insert(Value::Null),
            _ => return,
        };
    }
    *node = value;
}

/// Removes what is at `pointer`, if anything.
fn remove(root: &mut Value, pointer: &str) {
    let mut tokens = tokens(pointer);
    let Some(last) = tokens.pop() else {
        return;
    };
    let parent = tokens.iter().try_fold(root, |node, token| match node {
        Value::Object(map) => map.get_mut(token),
        Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
        _ => None,
    });
    match parent {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Some(i) = last.parse::<usize>().ok().filter(|&i| i < items.len()) {
                items.remove(i);
            }
        }
        _ => {}
    }
}

/// One of the starting requests, as the API server sends them.
fn template(i: u8) -> Value {
    let request = |operation: &str, object: Value| {
        json!({
            "uid": "b1c4b3a0-6a1e-4f7e-9a55-6f0e0f7d2c11",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "spark",
            "operation": operation,
            "userInfo": {"username": "system:serviceaccount:spark:spark-driver"},
            "object": object,
            "dryRun": false,
        })
    };
    let owner = json!([{"apiVersion": "v1", "kind": "Pod", "name": "spark-pi-driver",
        "uid": "0f1e2d3c-0000-4000-8000-000000000001", "controller": true}]);
    let containers = json!([{"name": "spark-kubernetes-executor", "image": "apache/spark:3.5.1",
        "resources": {"requests": {"cpu": "1", "memory": "4Gi"}}}]);
    match i % 7 {
        // An EMR on EKS executor that asks for a ratio.
        0 => request(
            "CREATE",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": "spark-pi-exec-3", "namespace": "spark",
                "labels": {"spark-role": "executor", "spark-app-selector": "spark-0001",
                    "emr-containers.amazonaws.com/job.id": "000000033abc",
                    "spark-exec-id": "3"},
                "annotations": {"spot-balancer.io/spot-ratio": "0.3"},
                "ownerReferences": owner},
                "spec": {"containers": containers, "restartPolicy": "Never"}}),
        ),
        // A plain Spark executor, first of its job.
        1 => request(
            "CREATE",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": "spark-pi-exec-1",
                "labels": {"spark-role": "executor", "spark-app-selector": "spark-0002",
                    "spark-exec-id": "1"},
                "ownerReferences": owner},
                "spec": {"containers": containers}}),
        ),
        // An executor of Spark's statefulset allocator: no name, no ID.
        2 => request(
            "CREATE",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
                "generateName": "spark-pi-exec-",
                "labels": {"spark-role": "executor", "spark-app-selector": "spark-0003",
                    "spark-exec-id": "EXECID"}},
                "spec": {"containers": containers}}),
        ),
        // A driver.
        3 => request(
            "CREATE",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": "spark-pi-driver",
                "labels": {"spark-role": "driver", "spark-app-selector": "spark-0001"},
                "annotations": {"spot-balancer.io/spot-ratio": "BALANCED"}},
                "spec": {"containers": [{"name": "spark-kubernetes-driver",
                    "image": "apache/spark:3.5.1"}]}}),
        ),
        // An executor that already has affinity terms and tolerations.
        4 => request(
            "CREATE",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": "spark-pi-exec-8",
                "labels": {"spark-role": "executor", "spark-app-selector": "spark-0001",
                    "spark-exec-id": "8"}},
                "spec": {"containers": containers,
                    "nodeSelector": {"kubernetes.io/arch": "arm64"},
                    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                        {"nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "topology.kubernetes.io/zone",
                                "operator": "In", "values": ["eu-west-1a"]}]},
                            {"matchFields": [{"key": "metadata.name", "operator": "In",
                                "values": ["node-1"]}]}]}}},
                    "tolerations": [{"key": "example.com/gpu", "operator": "Exists",
                        "effect": "NoSchedule"}]}}),
        ),
        // The deletion of an executor the policy placed.
        5 => {
            let mut delete = request("DELETE", Value::Null);
            delete["oldObject"] = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": "spark-pi-exec-2",
                "labels": {"spark-role": "executor", "spark-app-selector": "spark-0001",
                    "spark-exec-id": "2"},
                "annotations": {"spot-balancer.io/capacity": "spot"}},
                "spec": {"containers": containers}});
            delete
        }
        // A pod that is not Spark's.
        _ => request(
            "CREATE",
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web-0", "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]}}),
        ),
    }
}

/// One of the valid settings documents to start from.
fn settings(i: u8) -> Value {
    let tolerations = json!([{"key": "example.com/lifecycle", "operator": "Equal",
        "value": "preemptible", "effect": "NoSchedule"}]);
    match i % 12 {
        0 => json!({}),
        1 => json!({"platform": "gke"}),
        2 => json!({"platform": "aks"}),
        3 => json!({"platform": "eks-managed-node-groups"}),
        4 => json!({"platform": "custom", "customPlatform": {
            "capacityLabel": "example.com/lifecycle", "spotValue": "preemptible",
            "onDemandValue": "regular", "spotTolerations": tolerations}}),
        5 => json!({"platform": "custom", "customPlatform": {
            "capacityLabel": "example.com/lifecycle", "spotValue": "preemptible"}}),
        6 => json!({"platform": "gke", "mode": "best-effort"}),
        7 => json!({"onInvalidRatio": "reject"}),
        8 => json!({"liveCounts": "redis", "redis": {"enabled": true}}),
        9 => json!({"liveCounts": "kubernetes", "ratioFromDriver": true}),
        10 => json!({"pinDrivers": false, "stabilityWeights": {"NIGHTLY": 1},
            "defaultSpotRatio": "NIGHTLY"}),
        _ => json!({"jobLabels": ["example.com/job", "spark-app-selector"],
            "executorIdLabel": "spark-exec-id", "roleLabel": "example.com/role",
            "spotRatioKey": "example.com/spot-share", "platform": "aks"}),
    }
}
