//! Odd and hostile settings documents through
//! `spot_balancer::validate_settings`, as `kwctl` and `policy-server` send
//! them when a policy is loaded.
//!
//! The table gives each document its exact answer: accepted, or refused
//! with the message that names every offending key. Two property tests then
//! throw generated documents at it: objects whose keys are the real ones
//! with right or wrong values plus unknown ones, where the test knows which
//! keys offend, and JSON of any shape. Neither may ever get a guest error.

use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// The top-level keys, as a refusal of an unknown key lists them.
const KEYS: [&str; 14] = [
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

/// The accepted forms of a ratio with the built-in weights.
const RATIO_FORMS: &str = "a number from 0 to 1 or one of BALANCED, COST_OVER_RELIABILITY, \
                           ON_DEMAND_ONLY, RELIABILITY_OVER_COST";

/// What a refused label key is told.
const LABEL_KEY_FORM: &str = "a Kubernetes label key such as \"example.com/name\" (an optional \
                              DNS prefix and a slash, then at most 63 letters, digits, '-', '_' \
                              or '.')";

/// What a refused label value is told.
const LABEL_VALUE_FORM: &str = "a Kubernetes label value (at most 63 letters, digits, '-', '_' \
                                or '.', starting and ending with a letter or digit)";

/// A settings document and its answer: `None` for accepted, else the
/// whole refusal.
type Case = (Vec<u8>, Option<String>);

/// Every odd document and its answer, one case a line.
#[rustfmt::skip]
fn cases() -> Vec<Case> {
    vec![
        // Not a JSON document at all.
        unparsable(b"", "EOF while parsing a value at line 1 column 0"),
        unparsable(b"{", "EOF while parsing an object at line 1 column 1"),
        unparsable(br#"{"mode": "strict""#, "EOF while parsing an object at line 1 column 17"),
        unparsable(b"\xff", "expected value at line 1 column 1"),
        unparsable(b"{\"mode\": \"\xff\"}", "invalid unicode code point at line 1 column 11"),
        unparsable(b"{'mode': 'strict'}", "key must be a string at line 1 column 2"),
        unparsable(b"{} {}", "trailing characters at line 1 column 4"),
        unparsable(b"NaN", "expected value at line 1 column 1"),
        unparsable(b"\xef\xbb\xbf{}", "expected value at line 1 column 1"),
        // JSON, but not an object.
        refused("[]", &[("settings", "expected an object, got []")]),
        refused(r#""strict""#, &[("settings", "expected an object, got \"strict\"")]),
        refused("1e400", &[("settings", "expected an object, got 1e+400")]),
        refused("true", &[("settings", "expected an object, got true")]),
        // Empty and default documents.
        accepted("null"),
        accepted("{}"),
        accepted(" \n{ }\n"),
        // Duplicate keys: the last one is read.
        accepted(r#"{"mode": "fast", "mode": "strict"}"#),
        refused(r#"{"mode": "strict", "mode": "fast"}"#, &[("mode", &modes("\"fast\""))]),
        // Keys that are almost the real ones.
        bad("", "1", |_| unknown()),
        bad("Mode", r#""strict""#, |_| unknown()),
        bad("mode ", r#""strict""#, |_| unknown()),
        bad("défaultSpotRatio", "0.5", |_| unknown()),
        bad("spot_ratio_key", r#""x""#, |_| unknown()),
        // defaultSpotRatio.
        accepted(r#"{"defaultSpotRatio": -0}"#),
        accepted(r#"{"defaultSpotRatio": 0.0000004}"#),
        accepted(r#"{"defaultSpotRatio": 1.0000000000000001}"#),
        accepted(r#"{"defaultSpotRatio": "0"}"#),
        bad("defaultSpotRatio", "1.0000001", ratio),
        bad("defaultSpotRatio", "-0.1", ratio),
        refused(r#"{"defaultSpotRatio": 1e400}"#, &[("defaultSpotRatio", &ratio("1e+400"))]),
        bad("defaultSpotRatio", r#""1e-1""#, ratio),
        bad("defaultSpotRatio", r#"" 0.5""#, ratio),
        bad("defaultSpotRatio", r#""""#, ratio),
        bad("defaultSpotRatio", r#""balanced""#, ratio),
        bad("defaultSpotRatio", "null", ratio),
        bad("defaultSpotRatio", "[0.5]", ratio),
        bad("defaultSpotRatio", "{}", ratio),
        // stabilityWeights.
        accepted(r#"{"stabilityWeights": {}}"#),
        accepted(r#"{"stabilityWeights": {"BALANCED": 0}}"#),
        bad("stabilityWeights", "[]", weights),
        bad("stabilityWeights", r#""NIGHTLY""#, weights),
        weight_bad(r#""": 0.5"#, "stabilityWeights.", WEIGHT_NAME),
        weight_bad(r#""NIGHTLŸ": 0.5"#, "stabilityWeights.NIGHTLŸ", WEIGHT_NAME),
        weight_bad(r#""1X": 0.5"#, "stabilityWeights.1X", WEIGHT_NAME),
        weight_bad(r#""A": 1e400"#, "stabilityWeights.A", &weight("1e+400")),
        weight_bad(r#""A": -0.1"#, "stabilityWeights.A", &weight("-0.1")),
        weight_bad(r#""A": null"#, "stabilityWeights.A", &weight("null")),
        weight_bad(r#""A": "0.5""#, "stabilityWeights.A", &weight("\"0.5\"")),
        // A refused weight cannot be the default either.
        refused(r#"{"stabilityWeights": {"NIGHTLY": 2}, "defaultSpotRatio": "NIGHTLY"}"#, &[
            ("stabilityWeights.NIGHTLY", &weight("2")),
            ("defaultSpotRatio", &ratio("\"NIGHTLY\""))]),
        // Label keys.
        accepted(r#"{"spotRatioKey": "example.com/spot-share"}"#),
        accepted(r#"{"roleLabel": "r"}"#),
        bad("spotRatioKey", "5", label_key),
        bad("spotRatioKey", r#""""#, label_key),
        bad("spotRatioKey", r#""a/b/c""#, label_key),
        bad("spotRatioKey", r#""x.io/""#, label_key),
        bad("spotRatioKey", r#""X.io/x""#, label_key),
        bad("executorIdLabel", "null", label_key),
        bad("roleLabel", r#""role ""#, label_key),
        bad("roleLabel", r#""é""#, label_key),
        bad("roleLabel", &quoted("r", 64), label_key),
        // jobLabels.
        accepted(r#"{"jobLabels": ["spark-app-selector", "spark-app-selector"]}"#),
        bad("jobLabels", r#""app""#, job_labels),
        bad("jobLabels", "[]", job_labels),
        bad("jobLabels", "{}", job_labels),
        refused(r#"{"jobLabels": [""]}"#, &[("jobLabels[0]", &label_key("\"\""))]),
        refused(r#"{"jobLabels": ["a", null, "b/"]}"#, &[
            ("jobLabels[1]", &label_key("null")), ("jobLabels[2]", &label_key("\"b/\""))]),
        // The one-of-a-few choices.
        bad("mode", r#""STRICT""#, modes),
        bad("mode", "null", modes),
        bad("onInvalidRatio", r#""Reject""#, actions),
        bad("onInvalidRatio", "true", actions),
        bad("platform", r#""Karpenter""#, platforms),
        bad("platform", r#"["gke"]"#, platforms),
        bad("platform", "null", platforms),
        bad("liveCounts", r#""Redis""#, live_counts),
        // Booleans.
        bad("pinDrivers", r#""true""#, boolean),
        bad("pinDrivers", "1", boolean),
        bad("ratioFromDriver", "null", boolean),
        // customPlatform.
        refused(r#"{"customPlatform": {}}"#, &[("customPlatform", NOT_CUSTOM)]),
        refused(r#"{"platform": "gke", "customPlatform": 0}"#, &[("customPlatform", NOT_CUSTOM)]),
        refused(r#"{"platform": "custom"}"#, &[("customPlatform", CUSTOM_REQUIRED)]),
        custom_bad("[]", &[("customPlatform", "expected an object, got []")]),
        custom_bad("{}", &[("customPlatform.capacityLabel", "required"),
            ("customPlatform.spotValue", "required")]),
        custom_bad(r#"{"capacityLabel": 1, "spotValue": "s"}"#, &[
            ("customPlatform.capacityLabel", &label_key("1"))]),
        custom_bad(r#"{"capacityLabel": "l", "spotValue": "-s"}"#, &[
            ("customPlatform.spotValue", &label_value("\"-s\""))]),
        custom_bad(r#"{"capacityLabel": "l", "spotValue": "s", "onDemandValue": "é"}"#, &[
            ("customPlatform.onDemandValue", &label_value("\"é\""))]),
        custom_bad(r#"{"capacityLabel": "l", "spotValue": "s", "zone": "a"}"#, &[
            ("customPlatform.zone", CUSTOM_UNKNOWN)]),
        tolerations_bad("{}", "customPlatform.spotTolerations", NOT_TOLERATIONS),
        tolerations_bad("[null]", TOLERATION, "expected a toleration object, got null"),
        tolerations_bad(r#"[{"key": 1}]"#, TOLERATION_KEY, "expected a label key, got 1"),
        tolerations_bad(r#"[{"color": "red"}]"#, TOLERATION_COLOR, TOLERATION_UNKNOWN),
        tolerations_bad(&evicting("1.5"), TOLERATION_SECONDS, &seconds("1.5")),
        tolerations_bad(&evicting("1e400"), TOLERATION_SECONDS, &seconds("1e+400")),
        (tolerating(&evicting("-1")), None),
        // A refused platform leaves customPlatform unread.
        refused(r#"{"platform": "azure", "customPlatform": []}"#, &[
            ("platform", &platforms("\"azure\""))]),
        // Awaiting a fix: tolerations Kubernetes refuses on every pod they
        // are written into.
        tolerations_bad(r#"[{"key": "l", "operator": "Exists", "value": "s"}]"#,
            TOLERATION_VALUE, "expected no value when operator is \"Exists\", got \"s\""),
        tolerations_bad(r#"[{"key": "", "operator": "Equal", "value": "s"}]"#,
            TOLERATION_OPERATOR, "expected \"Exists\" when key is empty, got \"Equal\""),
        tolerations_bad(r#"[{"key": "l", "effect": "NoSchedule", "tolerationSeconds": 30}]"#,
            TOLERATION_EFFECT, &format!("expected {NO_EXECUTE} is set, got \"NoSchedule\"")),
        // redis and liveCounts.
        accepted(r#"{"redis": {}}"#),
        accepted(r#"{"redis": {"enabled": true, "ttlSeconds": 60}, "liveCounts": "redis"}"#),
        accepted(r#"{"redis": {"ttlSeconds": 2592000}}"#),
        bad("redis", "[]", |got| format!("expected an object, got {got}")),
        redis_bad("enabled", "1", boolean),
        redis_bad("url", r#""redis://x""#, |_| REDIS_UNKNOWN.to_string()),
        redis_bad("keyPrefix", r#""""#, key_prefix),
        redis_bad("keyPrefix", r#""spot balancer""#, key_prefix),
        redis_bad("keyPrefix", r#""é""#, key_prefix),
        redis_bad("keyPrefix", "5", key_prefix),
        redis_bad("keyPrefix", &quoted("p", 65), key_prefix),
        redis_bad("ttlSeconds", "59", ttl),
        redis_bad("ttlSeconds", "2592001", ttl),
        redis_bad("ttlSeconds", "-1", ttl),
        redis_bad("ttlSeconds", "60.5", ttl),
        redis_bad("ttlSeconds", r#""600""#, ttl),
        redis_bad("ttlSeconds", "18446744073709551616", ttl),
        refused(r#"{"liveCounts": "redis"}"#, &[("liveCounts", NEEDS_REDIS)]),
        refused(r#"{"liveCounts": "redis", "redis": {"enabled": false}}"#, &[
            ("liveCounts", NEEDS_REDIS)]),
        refused(r#"{"liveCounts": "redis", "redis": {"enabled": "yes"}}"#, &[
            ("redis.enabled", &boolean("\"yes\"")), ("liveCounts", NEEDS_REDIS)]),
        // Every kind of refusal in one document, in the order they are read.
        refused(r#"{"typo": 0, "mode": 1, "pinDrivers": 0, "roleLabel": 2, "jobLabels": []}"#,
            &[("typo", &unknown()), ("jobLabels", &job_labels("[]")),
                ("roleLabel", &label_key("2")), ("mode", &modes("1")),
                ("pinDrivers", &boolean("0"))]),
    ]
}

/// `bytes`, refused as not a JSON document with the parser's `error`.
fn unparsable(bytes: &[u8], error: &str) -> Case {
    let message = format!("invalid settings: not a JSON document: {error}");
    (bytes.to_vec(), Some(message))
}

/// `text`, accepted.
fn accepted(text: &str) -> Case {
    (doc(text), None)
}

/// `text`, refused for each of `problems` in order.
fn refused(text: &str, problems: &[(&str, &str)]) -> Case {
    (doc(text), refusal(problems))
}

/// `{key: value}`, refused for `key` with what `form` says of `value`.
fn bad(key: &str, value: &str, form: impl Fn(&str) -> String) -> Case {
    let text = format!("{{{}: {value}}}", json!(key));
    (doc(&text), refusal(&[(key, &form(value))]))
}

/// `stabilityWeights` holding `entry`, refused for `key` with `problem`.
fn weight_bad(entry: &str, key: &str, problem: &str) -> Case {
    refused(
        &format!(r#"{{"stabilityWeights": {{{entry}}}}}"#),
        &[(key, problem)],
    )
}

/// A custom platform whose `customPlatform` is `value`, refused for each
/// of `problems`.
fn custom_bad(value: &str, problems: &[(&str, &str)]) -> Case {
    let text = format!(r#"{{"platform": "custom", "customPlatform": {value}}}"#);
    refused(&text, problems)
}

/// A custom platform whose `spotTolerations` are `list`, refused for `key`
/// with `problem`.
fn tolerations_bad(list: &str, key: &str, problem: &str) -> Case {
    (tolerating(list), refusal(&[(key, problem)]))
}

/// `redis.<field>` set to `value`, refused with what `form` says of it.
fn redis_bad(field: &str, value: &str, form: impl Fn(&str) -> String) -> Case {
    let text = format!(r#"{{"redis": {{"{field}": {value}}}}}"#);
    (
        doc(&text),
        refusal(&[(&format!("redis.{field}"), &form(value))]),
    )
}

/// `text` as the bytes of a document.
fn doc(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

/// `text` made of `part` repeated `times`, in quotes.
fn quoted(part: &str, times: usize) -> String {
    format!("\"{}\"", part.repeat(times))
}

/// A custom platform whose `customPlatform` is `value`, as JSON text.
fn custom(value: &str) -> Vec<u8> {
    doc(&format!(
        r#"{{"platform": "custom", "customPlatform": {value}}}"#
    ))
}

/// A valid custom platform with `fields` added to `customPlatform`.
fn custom_with(fields: &str) -> Vec<u8> {
    custom(&format!(
        r#"{{"capacityLabel": "l", "spotValue": "s", {fields}}}"#
    ))
}

/// A valid custom platform whose `spotTolerations` are `list`.
fn tolerating(list: &str) -> Vec<u8> {
    custom_with(&format!(r#""spotTolerations": {list}"#))
}

/// A list of one `NoExecute` toleration whose `tolerationSeconds` is
/// `seconds`.
fn evicting(seconds: &str) -> String {
    let toleration = r#""key": "l", "operator": "Exists", "effect": "NoExecute""#;
    format!(r#"[{{{toleration}, "tolerationSeconds": {seconds}}}]"#)
}

/// The first toleration of `customPlatform`, as refusals name it.
const TOLERATION: &str = "customPlatform.spotTolerations[0]";

/// The fields of the first toleration, as refusals name them.
const TOLERATION_KEY: &str = "customPlatform.spotTolerations[0].key";
/// See [`TOLERATION_KEY`].
const TOLERATION_VALUE: &str = "customPlatform.spotTolerations[0].value";
/// See [`TOLERATION_KEY`].
const TOLERATION_OPERATOR: &str = "customPlatform.spotTolerations[0].operator";
/// See [`TOLERATION_KEY`].
const TOLERATION_EFFECT: &str = "customPlatform.spotTolerations[0].effect";
/// See [`TOLERATION_KEY`].
const TOLERATION_SECONDS: &str = "customPlatform.spotTolerations[0].tolerationSeconds";
/// See [`TOLERATION_KEY`].
const TOLERATION_COLOR: &str = "customPlatform.spotTolerations[0].color";

/// What a `spotTolerations` that is not a list is told.
const NOT_TOLERATIONS: &str = "expected a list of tolerations, got {}";

/// What `customPlatform` without the custom platform is told.
const NOT_CUSTOM: &str = "only allowed when platform is \"custom\"";

/// What an unknown key of `redis` is told.
const REDIS_UNKNOWN: &str = "unknown key; accepted keys are enabled, keyPrefix, ttlSeconds";

/// What a refused `tolerationSeconds` that is `got` is told.
fn seconds(got: &str) -> String {
    format!("expected a whole number of seconds, got {got}")
}

/// What a refused weight name is told.
const WEIGHT_NAME: &str =
    "expected a name of upper-case letters, digits and underscores, starting with a letter";

/// What a custom platform without `customPlatform` is told.
const CUSTOM_REQUIRED: &str = "required when platform is \"custom\": an object with \
                               capacityLabel, spotValue, and optionally onDemandValue and \
                               spotTolerations";

/// What an unknown key of `customPlatform` is told.
const CUSTOM_UNKNOWN: &str =
    "unknown key; accepted keys are capacityLabel, spotValue, onDemandValue, spotTolerations";

/// What an unknown key of a toleration is told.
const TOLERATION_UNKNOWN: &str =
    "unknown key; accepted keys are key, operator, value, effect, tolerationSeconds";

/// What a toleration with `tolerationSeconds` and another effect is to
/// be told.
const NO_EXECUTE: &str = "\"NoExecute\" when tolerationSeconds";

/// What `liveCounts: redis` without Redis is told.
const NEEDS_REDIS: &str = "\"redis\" needs redis.enabled: true";

#[test]
fn every_odd_document_gets_its_exact_answer() {
    let mut failures = Vec::new();
    let cases = cases();
    for (document, expected) in &cases {
        let response = answer(document);
        let got = (!response.valid).then(|| response.message.clone().unwrap_or_default());
        if got != *expected {
            failures.push(format!(
                "document {}\n  answered {got:?}\n  expected {expected:?}",
                String::from_utf8_lossy(document)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} settings documents got another answer:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn deep_and_long_documents_get_an_answer() {
    // Nesting past the parser's limit is refused as unparsable; long
    // strings are shown whole in the refusal.
    let deep = format!(
        r#"{{"stabilityWeights": {}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let response = answer(deep.as_bytes());
    assert_eq!(
        response.message.as_deref(),
        Some(
            "invalid settings: not a JSON document: recursion limit exceeded at line 1 column 148"
        )
    );

    let long = "x".repeat(1 << 16);
    let response = answer(json!({ "mode": long }).to_string().as_bytes());
    let expected = format!(
        "invalid settings: {}",
        problem("mode", &modes(&format!("\"{long}\"")))
    );
    assert_eq!(response.message, Some(expected));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn refusals_name_every_offending_key(case in settings_case()) {
        let document = serde_json::to_vec(&Value::Object(case.document.clone()))
            .expect("a map serialises");
        let response = answer(&document);
        prop_assert_eq!(
            response.valid,
            case.offending.is_empty(),
            "{} answered {:?}, offending keys {:?}",
            Value::Object(case.document.clone()),
            response.message,
            case.offending
        );
        if let Some(message) = &response.message {
            for key in &case.offending {
                prop_assert!(names(message, key), "{message:?} does not name {key:?}");
            }
        }
    }

    #[test]
    fn any_json_gets_an_answer(value in any_json_document()) {
        let document = serde_json::to_vec(&value).expect("a value serialises");
        let response = answer(&document);
        if let (Value::Object(map), Some(message)) = (&value, &response.message) {
            for key in map.keys().filter(|key| !KEYS.contains(&key.as_str())) {
                prop_assert!(
                    message.contains(&format!("{key}: unknown key")),
                    "{message:?} does not name the unknown key {key:?}"
                );
            }
        }
        if let Value::Object(map) = &value {
            if map.keys().any(|key| !KEYS.contains(&key.as_str())) {
                prop_assert!(!response.valid, "unknown keys accepted in {value}");
            }
        }
    }

    #[test]
    fn any_bytes_get_an_answer(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let response = answer(&bytes);
        prop_assert_eq!(response.valid, response.message.is_none());
    }
}

/// The answer to `document`, which must not be a guest error and must be
/// a consistent SettingsValidationResponse.
fn answer(document: &[u8]) -> SettingsValidationResponse {
    let shown = String::from_utf8_lossy(document);
    let answer = spot_balancer::validate_settings(document)
        .unwrap_or_else(|err| panic!("guest error for {shown}: {err}"));
    let response: SettingsValidationResponse = serde_json::from_slice(&answer)
        .unwrap_or_else(|err| panic!("not a SettingsValidationResponse for {shown}: {err}"));
    assert_eq!(response.valid, response.message.is_none(), "for {shown}");
    if let Some(message) = &response.message {
        assert!(message.starts_with("invalid settings: "), "{message}");
    }
    response
}

/// Whether `message` names `key`: as the key of a refusal, or as the start
/// of a nested key's path.
fn names(message: &str, key: &str) -> bool {
    [": ", ".", "["]
        .iter()
        .any(|after| message.contains(&format!("{key}{after}")))
}

/// The refusal for each of `problems`, in order.
fn refusal(problems: &[(&str, &str)]) -> Option<String> {
    let problems: Vec<String> = problems
        .iter()
        .map(|(key, what)| problem(key, what))
        .collect();
    Some(format!("invalid settings: {}", problems.join("; ")))
}

/// One refusal: the key, then what is wrong with it.
fn problem(key: &str, what: &str) -> String {
    format!("{key}: {what}")
}

/// What an unknown top-level key is told.
fn unknown() -> String {
    format!("unknown key; accepted keys are {}", KEYS.join(", "))
}

/// What a refused ratio that is `got` is told.
fn ratio(got: &str) -> String {
    format!("expected {RATIO_FORMS}, got {got}")
}

/// What a refused `stabilityWeights` that is `got` is told.
fn weights(got: &str) -> String {
    format!("expected an object of weight names to ratios from 0 to 1, got {got}")
}

/// What a refused weight that is `got` is told.
fn weight(got: &str) -> String {
    format!("expected a number from 0 to 1, got {got}")
}

/// What a refused label key that is `got` is told.
fn label_key(got: &str) -> String {
    format!("expected {LABEL_KEY_FORM}, got {got}")
}

/// What a refused label value that is `got` is told.
fn label_value(got: &str) -> String {
    format!("expected {LABEL_VALUE_FORM}, got {got}")
}

/// What a refused `jobLabels` that is `got` is told.
fn job_labels(got: &str) -> String {
    format!("expected a non-empty list of label keys, got {got}")
}

/// What a refused choice among `names` that is `got` is told.
fn choice(names: &[&str], got: &str) -> String {
    let names: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
    format!("expected one of {}, got {got}", names.join(", "))
}

/// What a refused `mode` is told.
fn modes(got: &str) -> String {
    choice(&["strict", "best-effort"], got)
}

/// What a refused `onInvalidRatio` is told.
fn actions(got: &str) -> String {
    choice(&["use-default", "reject"], got)
}

/// What a refused `platform` is told.
fn platforms(got: &str) -> String {
    choice(
        &[
            "karpenter",
            "eks-managed-node-groups",
            "gke",
            "aks",
            "custom",
        ],
        got,
    )
}

/// What a refused `liveCounts` is told.
fn live_counts(got: &str) -> String {
    choice(&["none", "redis", "kubernetes"], got)
}

/// What a refused boolean is told.
fn boolean(got: &str) -> String {
    format!("expected true or false, got {got}")
}

/// What a refused `redis.keyPrefix` is told.
fn key_prefix(got: &str) -> String {
    format!("expected 1 to 64 printable ASCII characters without spaces, got {got}")
}

/// What a refused `redis.ttlSeconds` is told.
fn ttl(got: &str) -> String {
    format!("expected a whole number of seconds from 60 to 2592000, got {got}")
}

/// A generated settings document and the keys in it that must be refused.
#[derive(Debug, Clone)]
struct SettingsCase {
    /// The document.
    document: Map<String, Value>,
    /// The keys a refusal must name; empty when the document is valid.
    offending: Vec<String>,
}

/// One generated value for a key, and whether the key must be refused.
type Entry = Option<(Value, bool)>;

/// Documents whose keys are real ones with right or wrong values, and
/// unknown ones.
fn settings_case() -> impl Strategy<Value = SettingsCase> {
    let simple = (
        optional(ratio_value()),
        optional(weights_value()),
        optional(label_key_value()),
        optional(choice_value(&["use-default", "reject"])),
        optional(job_labels_value()),
        optional(label_key_value()),
        optional(label_key_value()),
        optional(choice_value(&["strict", "best-effort"])),
        optional(bool_value()),
        optional(bool_value()),
    );
    let platform = (
        optional(choice_value(&[
            "karpenter",
            "eks-managed-node-groups",
            "gke",
            "aks",
            "custom",
        ])),
        optional(custom_platform_value()),
    );
    let live = (
        optional(redis_value()),
        optional(choice_value(&["none", "redis", "kubernetes"])),
    );
    let unknown = proptest::collection::btree_map(unknown_key(), any_json(), 0..3);
    (simple, platform, live, unknown).prop_map(|(simple, platform, live, unknown)| {
        let mut document = Map::new();
        let mut offending = Vec::new();
        let (ratio, weights, ratio_key, action, jobs, id, role, mode, pin, from_driver) = simple;
        put(&mut document, &mut offending, "defaultSpotRatio", &ratio);
        put(&mut document, &mut offending, "stabilityWeights", &weights);
        put(&mut document, &mut offending, "spotRatioKey", &ratio_key);
        put(&mut document, &mut offending, "onInvalidRatio", &action);
        put(&mut document, &mut offending, "jobLabels", &jobs);
        put(&mut document, &mut offending, "executorIdLabel", &id);
        put(&mut document, &mut offending, "roleLabel", &role);
        put(&mut document, &mut offending, "mode", &mode);
        put(&mut document, &mut offending, "pinDrivers", &pin);
        put(
            &mut document,
            &mut offending,
            "ratioFromDriver",
            &from_driver,
        );

        // customPlatform is judged only once platform is valid: it must be
        // there for "custom", and valid, and only then.
        let (platform, custom) = platform;
        put(&mut document, &mut offending, "platform", &platform);
        let mut custom_offends = false;
        match &platform {
            Some((_, true)) => {}
            Some((value, false)) if value == "custom" => {
                custom_offends = custom.as_ref().is_none_or(|(_, bad)| *bad);
            }
            _ => custom_offends = custom.is_some(),
        }
        if let Some((value, _)) = &custom {
            document.insert("customPlatform".to_string(), value.clone());
        }
        if custom_offends {
            offending.push("customPlatform".to_string());
        }

        // liveCounts "redis" needs a valid redis with enabled: true.
        let (redis, live_counts) = live;
        put(&mut document, &mut offending, "redis", &redis);
        put(&mut document, &mut offending, "liveCounts", &live_counts);
        let redis_on = matches!(&redis, Some((value, false)) if value["enabled"] == json!(true));
        if matches!(&live_counts, Some((value, false)) if value == "redis") && !redis_on {
            offending.push("liveCounts".to_string());
        }

        for (key, value) in unknown {
            offending.push(key.clone());
            document.insert(key, value);
        }
        SettingsCase {
            document,
            offending,
        }
    })
}

/// Puts `entry`, if any, under `key`, noting the key if it must be
/// refused.
fn put(document: &mut Map<String, Value>, offending: &mut Vec<String>, key: &str, entry: &Entry) {
    if let Some((value, bad)) = entry {
        document.insert(key.to_string(), value.clone());
        if *bad {
            offending.push(key.to_string());
        }
    }
}

/// The key left out half the time.
fn optional(entry: impl Strategy<Value = (Value, bool)>) -> impl Strategy<Value = Entry> {
    proptest::option::of(entry)
}

/// A value, valid or not, for a key that takes one of `choices`.
fn choice_value(choices: &'static [&'static str]) -> impl Strategy<Value = (Value, bool)> {
    let valid = proptest::sample::select(choices).prop_map(|name| (json!(name), false));
    let near =
        proptest::sample::select(choices).prop_map(|name| (json!(name.to_uppercase()), true));
    let other = "[a-z-]{0,12}"
        .prop_filter("not a choice", move |text| {
            !choices.contains(&text.as_str())
        })
        .prop_map(|text| (json!(text), true));
    prop_oneof![3 => valid, 1 => near, 1 => other, 1 => wrong_type(|v| v.is_string())]
}

/// A value, valid or not, for a boolean key.
fn bool_value() -> impl Strategy<Value = (Value, bool)> {
    prop_oneof![
        any::<bool>().prop_map(|b| (json!(b), false)),
        wrong_type(Value::is_boolean),
    ]
}

/// The built-in weight names.
const WEIGHT_NAMES: [&str; 4] = [
    "BALANCED",
    "COST_OVER_RELIABILITY",
    "RELIABILITY_OVER_COST",
    "ON_DEMAND_ONLY",
];

/// A value, valid or not, for `defaultSpotRatio`.
fn ratio_value() -> impl Strategy<Value = (Value, bool)> {
    prop_oneof![
        (0.0..=1.0f64).prop_map(|x| (json!(x), false)),
        proptest::sample::select(&WEIGHT_NAMES[..]).prop_map(|name| (json!(name), false)),
        (0u32..=1_000).prop_map(|n| (json!(format!("{}", f64::from(n) / 1_000.0)), false)),
        (1.000_001..1e9f64).prop_map(|x| (json!(x), true)),
        (-1e9..-1e-9f64).prop_map(|x| (json!(x), true)),
        "[a-z_]{1,10}|[2-9][0-9]{1,4}|[0-9]\\.[0-9]e-?[0-9]".prop_map(|text| (json!(text), true)),
        wrong_type(|v| v.is_number() || v.is_string()),
    ]
}

/// A value, valid or not, for `stabilityWeights`.
fn weights_value() -> impl Strategy<Value = (Value, bool)> {
    let entries = proptest::collection::btree_map("[A-Z][A-Z0-9_]{0,8}", 0.0..=1.0f64, 0..4);
    prop_oneof![
        3 => entries.prop_map(|map| (json!(map), false)),
        1 => ("[a-z][a-z0-9]{0,5}", 0.0..=1.0f64).prop_map(|(name, x)| (json!({ name: x }), true)),
        1 => ("[A-Z]{1,5}", 1.5..10.0f64).prop_map(|(name, x)| (json!({ name: x }), true)),
        1 => ("[A-Z]{1,5}", any_json().prop_filter("not a number", |v| !v.is_number()))
            .prop_map(|(name, value)| (json!({ name: value }), true)),
        1 => wrong_type(Value::is_object),
    ]
}

/// Label keys Kubernetes accepts.
const GOOD_LABEL_KEYS: [&str; 6] = [
    "spark-exec-id",
    "example.com/role",
    "a",
    "emr-containers.amazonaws.com/job.id",
    "k8s.io/Name_1.x",
    "x-y.z/A",
];

/// Label keys Kubernetes refuses.
const BAD_LABEL_KEYS: [&str; 9] = [
    "",
    "/x",
    "example.com/",
    "a/b/c",
    "Example.com/x",
    "-x",
    "x_",
    "spark exec id",
    "é",
];

/// A value, valid or not, for a label key setting.
fn label_key_value() -> impl Strategy<Value = (Value, bool)> {
    prop_oneof![
        3 => proptest::sample::select(&GOOD_LABEL_KEYS[..]).prop_map(|key| (json!(key), false)),
        1 => proptest::sample::select(&BAD_LABEL_KEYS[..]).prop_map(|key| (json!(key), true)),
        1 => "[a-z]{64,70}".prop_map(|key| (json!(key), true)),
        1 => wrong_type(Value::is_string),
    ]
}

/// A value, valid or not, for `jobLabels`.
fn job_labels_value() -> impl Strategy<Value = (Value, bool)> {
    let good = proptest::sample::select(&GOOD_LABEL_KEYS[..]);
    let bad = proptest::sample::select(&BAD_LABEL_KEYS[..]);
    prop_oneof![
        3 => proptest::collection::vec(good.clone(), 1..4).prop_map(|keys| (json!(keys), false)),
        1 => (proptest::collection::vec(good, 0..3), bad)
            .prop_map(|(mut keys, bad)| {
                keys.push(bad);
                (json!(keys), true)
            }),
        1 => Just((json!([]), true)),
        1 => wrong_type(Value::is_array),
    ]
}

/// Tolerations Kubernetes accepts on a pod.
fn good_tolerations() -> Vec<Value> {
    vec![
        json!({"key": "example.com/lifecycle", "operator": "Equal", "value": "spot",
            "effect": "NoSchedule"}),
        json!({"key": "example.com/lifecycle", "operator": "Exists"}),
        json!({"operator": "Exists"}),
        json!({"key": "l", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}),
    ]
}

/// A value, valid or not, for `customPlatform`.
fn custom_platform_value() -> impl Strategy<Value = (Value, bool)> {
    let tolerations = proptest::sample::subsequence(good_tolerations(), 0..=4);
    let valid = (
        proptest::sample::select(&GOOD_LABEL_KEYS[..]),
        "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?",
        proptest::option::of("[A-Za-z0-9]{1,10}"),
        proptest::option::of(tolerations),
    )
        .prop_map(|(label, spot, on_demand, tolerations)| {
            let mut custom = json!({"capacityLabel": label, "spotValue": spot});
            if let Some(on_demand) = on_demand {
                custom["onDemandValue"] = json!(on_demand);
            }
            if let Some(tolerations) = tolerations {
                custom["spotTolerations"] = json!(tolerations);
            }
            (custom, false)
        });
    let invalid = prop_oneof![
        Just(json!({"spotValue": "spot"})),
        Just(json!({"capacityLabel": "l"})),
        Just(json!({"capacityLabel": "l", "spotValue": "-spot"})),
        Just(json!({"capacityLabel": "l", "spotValue": "s", "label": "x"})),
        Just(json!({"capacityLabel": "l", "spotValue": "s", "spotTolerations": {}})),
        Just(json!({"capacityLabel": "l", "spotValue": "s", "spotTolerations": [{"op": 1}]})),
        Just(json!({"capacityLabel": "L/", "spotValue": "s"})),
    ]
    .prop_map(|custom| (custom, true));
    prop_oneof![3 => valid, 1 => invalid, 1 => wrong_type(Value::is_object)]
}

/// A value, valid or not, for `redis`.
fn redis_value() -> impl Strategy<Value = (Value, bool)> {
    let valid = (
        proptest::option::of(any::<bool>()),
        proptest::option::of("[!-~]{1,64}"),
        proptest::option::of(60u64..=2_592_000),
    )
        .prop_map(|(enabled, prefix, ttl)| {
            let mut redis = json!({});
            if let Some(enabled) = enabled {
                redis["enabled"] = json!(enabled);
            }
            if let Some(prefix) = prefix {
                redis["keyPrefix"] = json!(prefix);
            }
            if let Some(ttl) = ttl {
                redis["ttlSeconds"] = json!(ttl);
            }
            (redis, false)
        });
    let invalid = prop_oneof![
        wrong_type(Value::is_boolean).prop_map(|(value, _)| json!({"enabled": value})),
        Just(json!({"keyPrefix": ""})),
        Just(json!({"keyPrefix": "a b"})),
        "[!-~]{65,70}".prop_map(|prefix| json!({"keyPrefix": prefix})),
        (0u64..60).prop_map(|ttl| json!({"ttlSeconds": ttl})),
        (2_592_001u64..).prop_map(|ttl| json!({"ttlSeconds": ttl})),
        Just(json!({"enabled": true, "host": "redis"})),
    ]
    .prop_map(|redis| (redis, true));
    prop_oneof![3 => valid, 1 => invalid, 1 => wrong_type(Value::is_object)]
}

/// Any JSON value that `accepted` says is not of the key's type, marked
/// offending.
fn wrong_type(accepted: fn(&Value) -> bool) -> impl Strategy<Value = (Value, bool)> {
    any_json()
        .prop_filter("a value of the accepted type", move |value| {
            !accepted(value)
        })
        .prop_map(|value| (value, true))
}

/// A key the policy does not know.
fn unknown_key() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z]{1,12}", "\\PC{0,6}", Just(String::new())]
        .prop_filter("a real key", |key| !KEYS.contains(&key.as_str()))
}

/// JSON of any shape, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|x| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)),
        "\\PC{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("\\PC{0,6}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Any document: mostly objects whose keys are real or not, with values of
/// any shape.
fn any_json_document() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        proptest::sample::select(&KEYS[..]).prop_map(str::to_string),
        unknown_key()
    ];
    prop_oneof![
        4 => proptest::collection::btree_map(key, any_json(), 0..6)
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        1 => any_json(),
    ]
}
