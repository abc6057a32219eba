//! The pods the policy admits, field by field, for the fixtures of every
//! scenario: the merged node selector, the user's own choice kept, the
//! pinned driver, best-effort mode, each platform's affinity and
//! tolerations, fields `k8s-openapi` does not know kept to the digit, and a
//! second pass over a placed pod that changes nothing.
//!
//! Paths are JSONPath (`jsonpath_lib`); together with `owned_paths.rs`,
//! which proves nothing else changed, they pin the whole admitted pod.

mod common;

use common::{
    CASES, CUSTOM_PLATFORM, Expect, admitted_pod, evaluate, object, parse, request, text,
};
use rstest::rstest;
use serde_json::Value;

/// The path to the required node-affinity terms.
const TERMS: &str =
    "$.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms";

/// Asserts that `path` selects exactly the JSON `expected` in `pod`, or
/// nothing when `expected` is `None`.
fn assert_selects(pod: &Value, path: &str, expected: Option<&str>) {
    let found = jsonpath_lib::select(pod, path).unwrap_or_else(|err| panic!("{path}: {err:?}"));
    let found: Vec<Value> = found.into_iter().cloned().collect();
    let expected: Vec<Value> = expected.map(|text| parse(path, text)).into_iter().collect();
    assert_eq!(found, expected, "{path}");
}

/// An existing selector keeps its keys and gains the capacity label.
#[test]
fn an_existing_node_selector_is_merged() {
    let pod = admitted_pod("spark-executor-existing-node-selector-merged", "{}");
    let selector = r#"{
        "topology.kubernetes.io/zone": "us-west-2b",
        "node.kubernetes.io/instance-type": "r6i.2xlarge",
        "karpenter.sh/capacity-type": "on-demand"
    }"#;
    assert_selects(&pod, "$.spec.nodeSelector", Some(selector));
}

/// The expression `spark-executor-required-affinity-on-capacity-label`
/// requires the capacity label with.
const OWN_AFFINITY: &str = "$.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuring\
                            Execution.nodeSelectorTerms[0].matchExpressions[1]";

/// A pod that chose its capacity, by selector or by required affinity, is
/// admitted exactly as it came.
#[rstest]
#[case::by_selector(
    "spark-executor-own-node-selector-on-capacity-label",
    "$.spec.nodeSelector",
    r#"{"karpenter.sh/capacity-type": "on-demand"}"#
)]
#[case::by_affinity(
    "spark-executor-required-affinity-on-capacity-label",
    OWN_AFFINITY,
    r#"{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}"#
)]
fn the_users_choice_is_kept(#[case] fixture: &str, #[case] path: &str, #[case] choice: &str) {
    let answer = evaluate(&request(fixture), &parse("settings", "{}"));
    assert!(answer.accepted);
    assert_eq!(answer.mutated, None);

    let pod = admitted_pod(fixture, "{}");
    assert_selects(&pod, path, Some(choice));
    assert_selects(&pod, "$.metadata.annotations", None);
}

/// Drivers go to on-demand capacity, recorded without a position or ratio
/// and beside the annotations they had; with `pinDrivers: false` they are
/// left alone.
#[test]
fn drivers_are_pinned_to_on_demand() {
    let pod = admitted_pod("spark-driver", "{}");
    let selector = r#"{"karpenter.sh/capacity-type": "on-demand"}"#;
    assert_selects(&pod, "$.spec.nodeSelector", Some(selector));
    let annotations = r#"{
        "spark-app-name": "nightly-sessionize",
        "spot-balancer.io/capacity": "on-demand",
        "spot-balancer.io/decided-by": "driver"
    }"#;
    assert_selects(&pod, "$.metadata.annotations", Some(annotations));

    let pod = admitted_pod("spark-driver", r#"{"pinDrivers": false}"#);
    assert_selects(&pod, "$.spec.nodeSelector", None);
}

/// Strict mode pins a spot pick; best-effort only records it, and still
/// pins an on-demand pick.
#[test]
fn best_effort_pins_only_on_demand_picks() {
    let strict = admitted_pod("spark-executor-with-id", "{}");
    let spot = r#"{"karpenter.sh/capacity-type": "spot"}"#;
    assert_selects(&strict, "$.spec.nodeSelector", Some(spot));
    let annotations = r#"{
        "spot-balancer.io/capacity": "spot",
        "spot-balancer.io/decided-by": "executor-id",
        "spot-balancer.io/position": "3",
        "spot-balancer.io/ratio": "0.5"
    }"#;
    assert_selects(&strict, "$.metadata.annotations", Some(annotations));

    let best_effort = admitted_pod("spark-executor-with-id", r#"{"mode": "best-effort"}"#);
    assert_selects(&best_effort, "$.spec.nodeSelector", None);
    assert_selects(&best_effort, "$.metadata.annotations", Some(annotations));

    let on_demand = admitted_pod("karpenter-on-demand-pick", r#"{"mode": "best-effort"}"#);
    let selector = r#"{"karpenter.sh/capacity-type": "on-demand"}"#;
    assert_selects(&on_demand, "$.spec.nodeSelector", Some(selector));
}

/// On GKE a spot pick selects spot nodes and tolerates their taint after
/// the pod's own tolerations; best-effort keeps only the toleration.
#[test]
fn gke_spot_picks_tolerate_the_spot_taint() {
    let toleration = r#"{
        "key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true",
        "effect": "NoSchedule"
    }"#;
    let strict = admitted_pod("gke-spot-pick", r#"{"platform": "gke"}"#);
    let selector = r#"{"cloud.google.com/gke-spot": "true"}"#;
    assert_selects(&strict, "$.spec.nodeSelector", Some(selector));
    assert_selects(&strict, "$.spec.tolerations[3]", Some(toleration));

    let settings = r#"{"platform": "gke", "mode": "best-effort"}"#;
    let best_effort = admitted_pod("gke-spot-pick", settings);
    assert_selects(&best_effort, "$.spec.nodeSelector", None);
    assert_selects(
        &best_effort,
        "$.spec.tolerations[0].key",
        Some(r#""dedicated""#),
    );
    assert_selects(&best_effort, "$.spec.tolerations[3]", Some(toleration));
}

/// On GKE an on-demand pick requires the spot label absent in each of the
/// pod's alternative terms, and leaves its preferences alone.
#[test]
fn gke_on_demand_picks_extend_every_term() {
    let pod = admitted_pod("gke-on-demand-pick", r#"{"platform": "gke"}"#);
    let terms = r#"[
        {"matchExpressions": [
            {"key": "cloud.google.com/machine-family", "operator": "In", "values": ["n2d"]},
            {"key": "cloud.google.com/gke-spot", "operator": "DoesNotExist"}
        ]},
        {"matchExpressions": [
            {"key": "cloud.google.com/machine-family", "operator": "In", "values": ["c3d"]},
            {"key": "cloud.google.com/gke-nodepool", "operator": "NotIn", "values": ["system"]},
            {"key": "cloud.google.com/gke-spot", "operator": "DoesNotExist"}
        ]}
    ]"#;
    assert_selects(&pod, TERMS, Some(terms));
    let preference =
        "$.spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight";
    assert_selects(&pod, preference, Some("50"));
    assert_selects(&pod, "$.spec.nodeSelector", None);
}

/// On AKS a spot pick tolerates the spot taint after the pod's own
/// tolerations; an on-demand pick gets a required term of its own beside
/// the pod's preferences and tolerates nothing new.
#[test]
fn aks_picks_merge_with_the_pods_scheduling() {
    let spot = admitted_pod("aks-spot-pick", r#"{"platform": "aks"}"#);
    let tolerations = r#"[
        {"key": "workload", "operator": "Equal", "value": "batch", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": 300},
        {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot",
            "effect": "NoSchedule"}
    ]"#;
    assert_selects(&spot, "$.spec.tolerations", Some(tolerations));

    let on_demand = admitted_pod("aks-on-demand-pick", r#"{"platform": "aks"}"#);
    let terms = r#"[{"matchExpressions": [
        {"key": "kubernetes.azure.com/scalesetpriority", "operator": "NotIn", "values": ["spot"]}
    ]}]"#;
    assert_selects(&on_demand, TERMS, Some(terms));
    let preference = "$.spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution\
                      [0].preference.matchExpressions[0].key";
    assert_selects(
        &on_demand,
        preference,
        Some(r#""kubernetes.azure.com/agentpool""#),
    );
    assert_selects(&on_demand, "$.spec.tolerations[3]", None);
}

/// A custom platform without an on-demand value asks for on-demand with
/// `NotIn` the spot value, also in a term that had only `matchFields`; its
/// spot pick joins the pod's own selector.
#[test]
fn custom_platforms_use_their_label() {
    let on_demand = admitted_pod("custom-on-demand-pick", CUSTOM_PLATFORM);
    let first_term = r#"{
        "matchFields": [
            {"key": "metadata.name", "operator": "NotIn", "values": ["worker-17.example.internal"]}
        ],
        "matchExpressions": [
            {"key": "node.example.com/lifecycle", "operator": "NotIn", "values": ["preemptible"]}
        ]
    }"#;
    assert_selects(&on_demand, &format!("{TERMS}[0]"), Some(first_term));

    let spot = admitted_pod("custom-spot-pick", CUSTOM_PLATFORM);
    let selector = r#"{
        "node.example.com/pool": "analytics",
        "node.example.com/lifecycle": "preemptible"
    }"#;
    assert_selects(&spot, "$.spec.nodeSelector", Some(selector));
}

/// The selector each preset writes, next to the pod's own keys.
#[rstest]
#[case::karpenter_spot("karpenter-spot-pick", "karpenter", r#""spot""#)]
#[case::karpenter_on_demand("karpenter-on-demand-pick", "karpenter", r#""on-demand""#)]
#[case::eks_spot(
    "eks-managed-node-groups-spot-pick",
    "eks-managed-node-groups",
    r#""SPOT""#
)]
#[case::eks_on_demand(
    "eks-managed-node-groups-on-demand-pick",
    "eks-managed-node-groups",
    r#""ON_DEMAND""#
)]
#[case::aks_spot("aks-spot-pick", "aks", r#""spot""#)]
fn presets_write_their_selector(
    #[case] fixture: &str,
    #[case] platform: &str,
    #[case] value: &str,
) {
    let settings = format!(r#"{{"platform": "{platform}"}}"#);
    let pod = admitted_pod(fixture, &settings);
    let label = match platform {
        "karpenter" => "karpenter.sh/capacity-type",
        "eks-managed-node-groups" => "eks.amazonaws.com/capacityType",
        _ => "kubernetes.azure.com/scalesetpriority",
    };
    assert_selects(
        &pod,
        &format!("$.spec.nodeSelector['{label}']"),
        Some(value),
    );
    if platform == "eks-managed-node-groups" {
        assert_selects(
            &pod,
            "$.spec.nodeSelector['kubernetes.io/arch']",
            Some(r#""amd64""#),
        );
    }
}

/// The ratio recorded, and the pick made, for each way a pod names its
/// ratio.
#[rstest]
#[case::number("spark-executor-ratio-number", "{}", "0.25", "on-demand")]
#[case::weight("spark-executor-ratio-weight-name", "{}", "0.8", "spot")]
#[case::weight_overridden(
    "spark-executor-ratio-weight-name",
    r#"{"stabilityWeights": {"COST_OVER_RELIABILITY": 0.25}}"#,
    "0.25",
    "on-demand"
)]
#[case::invalid_uses_default("spark-executor-ratio-invalid", "{}", "0.5", "spot")]
fn the_ratio_annotation_sets_the_ratio(
    #[case] fixture: &str,
    #[case] settings: &str,
    #[case] ratio: &str,
    #[case] capacity: &str,
) {
    let pod = admitted_pod(fixture, settings);
    let recorded = |key: &str| format!("$.metadata.annotations['spot-balancer.io/{key}']");
    assert_selects(&pod, &recorded("ratio"), Some(&format!("{ratio:?}")));
    assert_selects(&pod, &recorded("capacity"), Some(&format!("{capacity:?}")));
    // The user's annotation stays as it was written.
    let written = &object(fixture)["metadata"]["annotations"]["spot-balancer.io/spot-ratio"];
    assert_selects(&pod, &recorded("spot-ratio"), Some(&text(written)));
}

/// An executor of Spark's statefulset allocator is placed at the hash of
/// its name, and the annotations say so.
#[test]
fn statefulset_executors_are_placed_by_name() {
    let pod = admitted_pod("spark-executor-statefulset-execid", "{}");
    let annotations = r#"{
        "spot-balancer.io/capacity": "spot",
        "spot-balancer.io/decided-by": "name-hash",
        "spot-balancer.io/position": "2685889658819719079",
        "spot-balancer.io/ratio": "0.5"
    }"#;
    assert_selects(&pod, "$.metadata.annotations", Some(annotations));
}

/// Neither an update, a deletion nor a pod outside Spark is touched.
#[rstest]
#[case::update("spark-executor-update")]
#[case::delete("spark-executor-delete")]
#[case::non_spark("non-spark-pod")]
fn other_requests_are_not_touched(#[case] fixture: &str) {
    let answer = evaluate(&request(fixture), &parse("settings", "{}"));
    assert!(answer.accepted);
    assert_eq!(answer.mutated, None);
    assert!(answer.warnings.is_empty(), "{:?}", answer.warnings);
}

/// Fields the typed Kubernetes model does not know, and numbers no `f64`
/// holds, come back with every digit they came in with.
///
/// The one respelling is serde_json's: an exponent is always written as `e`
/// and a sign, so `1E+2` comes back as `1e+2` and `1e400` as `1e+400`, the
/// same numbers.
#[rstest]
#[case::unknown_fields(
    "spark-executor-unknown-fields",
    &["12345678901234567890123", "1.5e+300", "1e-07", "-0.0", "18446744073709551615", "2.5e-08"]
)]
#[case::huge_numbers(
    "spark-executor-unknown-fields-huge-numbers",
    &[
        r#""tooBig":1e+400"#,
        r#""tooNegative":-1e+400"#,
        "1e-400",
        "12345678901234567890123",
        "0.10000000000000000000000000001",
        "[1e+2,1.0e-0,2e+0]",
    ]
)]
fn unknown_fields_survive_to_the_digit(#[case] fixture: &str, #[case] literals: &[&str]) {
    let before = object(fixture);
    let after = evaluate(&request(fixture), &parse("settings", "{}"))
        .mutated
        .expect("the executor is placed");
    let after_text = text(&after);
    for literal in literals {
        assert!(after_text.contains(literal), "{fixture}: {literal} lost");
    }

    // Every field the pod had is byte-for-byte as it was, but the two the
    // decision is written into.
    for (key, value) in before.as_object().unwrap() {
        if key != "metadata" && key != "spec" {
            assert_eq!(text(&after[key]), text(value), "{fixture}: {key}");
        }
    }
    for (key, value) in before["metadata"].as_object().unwrap() {
        assert_eq!(
            text(&after["metadata"][key]),
            text(value),
            "{fixture}: metadata.{key}"
        );
    }
    for (key, value) in before["spec"].as_object().unwrap() {
        assert_eq!(
            text(&after["spec"][key]),
            text(value),
            "{fixture}: spec.{key}"
        );
    }
}

/// A pod the policy placed, sent again, is admitted as it is, with no
/// warning: every mutation is idempotent.
#[test]
fn a_second_pass_changes_nothing() {
    let mutating = CASES.iter().filter(|case| case.expect == Expect::Mutated);
    let extra = [("spark-executor-unknown-fields-huge-numbers", "{}")];
    let runs = mutating
        .map(|case| (case.fixture, case.settings))
        .chain(extra);

    for (fixture, settings_text) in runs {
        let settings = parse("settings", settings_text);
        let mut request = request(fixture);
        let first = evaluate(&request, &settings);
        request["object"] = first.mutated.expect("the first pass mutates");

        let second = evaluate(&request, &settings);
        assert!(second.accepted, "{fixture} with {settings_text}: refused");
        assert_eq!(
            second.mutated, None,
            "{fixture} with {settings_text}: mutated again"
        );
        assert_eq!(
            second.warnings,
            Vec::<String>::new(),
            "{fixture} with {settings_text}"
        );
    }
}
