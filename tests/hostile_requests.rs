//! Hostile and odd admission payloads, each in a file of `tests/hostile/`,
//! sent through `spot_balancer::validate` as a host would send them.
//!
//! Every file has one line in [`cases`] with the exact answer: admitted
//! unchanged with the exact warnings, refused with the exact message, or
//! admitted with the exact placement written in. The expected pod is built
//! here from the pod in the file, so a case fails if the policy touches
//! anything else. No case may end in a guest error.
//!
//! Unless a file says otherwise, its settings are the defaults: Karpenter's
//! capacity label, ratio 0.5, and the executor `spark-pi-exec-3` of job
//! `spark-0001` in namespace `spark`, which the sequence puts on spot.

use kubewarden_policy_sdk::response::ValidationResponse;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// Where the corpus lives, one case per file.
const CORPUS: &str = "tests/hostile";

/// The settings keys, as a refusal of an unknown key lists them.
const SETTINGS_KEYS: &str = "defaultSpotRatio, stabilityWeights, spotRatioKey, onInvalidRatio, \
                             jobLabels, executorIdLabel, roleLabel, mode, platform, \
                             customPlatform, pinDrivers, liveCounts, redis, ratioFromDriver";

/// The accepted forms of a ratio with the built-in weights.
const RATIO_FORMS: &str = "a number from 0 to 1 or one of BALANCED, COST_OVER_RELIABILITY, \
                           ON_DEMAND_ONLY, RELIABILITY_OVER_COST";

/// The warning for a payload without a request.
const NO_REQUEST: &str = "spot-balancer received no admission request; admitted unchanged";

/// The warning for a pod creation without an object.
const NO_OBJECT: &str = "spot-balancer found no object in the request; admitted unchanged";

/// The warning for an object that is not a JSON object.
const NOT_AN_OBJECT: &str =
    "spot-balancer found an object that is not a JSON object; admitted unchanged";

/// The warning for an executor without a job label.
const NO_JOB: &str = "spot-balancer: executor has none of the labels \
                      emr-containers.amazonaws.com/job.id, spark-app-selector; it is balanced \
                      with the other unlabelled executors of its namespace";

/// The position of `spark-pi-exec-3` placed by the hash of its name.
const NAME_HASH: &str = "5990017556766564504";

/// The position of a pod whose name and request UID are both empty: the
/// FNV-1a offset basis, the hash of nothing.
const EMPTY_HASH: &str = "14695981039346656037";

/// The position of `spark-π-exec-ü` placed by the hash of its name.
const UNICODE_NAME_HASH: &str = "6771133829767972836";

/// The position of an unnamed pod placed by the hash of its request UID.
const UID_HASH: &str = "13663232269032637982";

/// The node affinity of a pod, as warnings name it.
const NODE_AFFINITY: &str = "spec.affinity.nodeAffinity";

/// The required node affinity of a pod, as warnings name it.
const REQUIRED: &str = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution";

/// The required node-affinity terms, as warnings name them.
const TERMS: &str =
    "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms";

/// The expressions of every required term, as warnings name them.
const EXPRESSIONS: &str = "spec.affinity.nodeAffinity.requiredDuringScheduling\
                           IgnoredDuringExecution.nodeSelectorTerms[].matchExpressions";

/// What a refused `mode: 1` is told.
const MODE_IS_1: &str = r#"mode: expected one of "strict", "best-effort", got 1"#;

/// The capacity of drivers, whose picks the GKE cases write.
const ON_DEMAND: &str = "on-demand";

/// The form a field must have to be written into: an object.
const OBJECT: &str = "an object";

/// The form a field must have to be written into: a list.
const LIST: &str = "a list";

/// How every refusal and warning about a pod's ratio annotation starts.
const RATIO_KEY: &str = "spot-balancer: spot-balancer.io/spot-ratio";

/// The parser's error for a NUL byte inside a string of the payload.
const NUL_IN_STRING: &str =
    "control character (\\u0000-\\u001F) found while parsing a string at line 24 column 40";

/// Every file of the corpus and the answer it must get, one case a line.
#[rustfmt::skip]
fn cases() -> Vec<(&'static str, Expect)> {
    vec![
        // Payloads that are not JSON, or not the JSON a host sends.
        ("payload_empty", unparsable("EOF while parsing a value at line 1 column 0")),
        ("payload_whitespace_only", unparsable("EOF while parsing a value at line 3 column 0")),
        ("payload_truncated", unparsable("EOF while parsing a string at line 20 column 20")),
        ("payload_not_utf8", unparsable("invalid unicode code point at line 24 column 40")),
        ("payload_deeply_nested", unparsable("recursion limit exceeded at line 1 column 149")),
        ("payload_trailing_garbage", unparsable("trailing characters at line 40 column 1")),
        ("payload_utf8_bom", unparsable("expected value at line 1 column 1")),
        ("payload_lone_surrogate", unparsable("unexpected end of hex escape at line 24 column 46")),
        ("payload_nul_in_string", unparsable(NUL_IN_STRING)),
        ("payload_single_quotes", unparsable("key must be a string at line 2 column 3")),
        // In fields the policy does not parse, found by fuzzing: what a full
        // parse refuses is refused all the same.
        ("containers_deeply_nested", unparsable("recursion limit exceeded at line 29 column 146")),
        ("containers_lone_surrogate", unparsable("unexpected end of hex escape at line 29 column 102")),
        ("containers_surrogate_pair", spot("3")),
        ("payload_null", warned(NO_REQUEST)),
        ("payload_list", warned(NO_REQUEST)),
        ("payload_string", warned(NO_REQUEST)),
        ("payload_number_1e400", warned(NO_REQUEST)),
        ("payload_without_request", warned(NO_REQUEST)),
        // A request that is not an object is no request: the same warning.
        ("payload_request_null", warned(NO_REQUEST)),
        ("payload_request_string", warned(NO_REQUEST)),
        ("payload_request_list", warned(NO_REQUEST)),
        ("payload_duplicate_request", unchanged()),
        ("payload_without_settings", spot("3")),
        ("settings_null", spot("3")),
        ("settings_list", refused_settings("settings: expected an object, got []")),
        ("settings_mode_wrong_type", refused_settings(MODE_IS_1)),
        ("settings_ratio_1e400", refused_settings(&bad_ratio_setting("1e+400"))),
        ("settings_unknown_key", refused_settings(&unknown_setting("spotRatio"))),
        // The request's own fields.
        ("operation_number", unchanged()),
        ("operation_null", unchanged()),
        ("operation_missing", unchanged()),
        ("operation_lowercase", unchanged()),
        ("operation_update", unchanged()),
        ("operation_delete", unchanged()),
        ("operation_empty", unchanged()),
        ("operation_list", unchanged()),
        ("dry_run_string", spot("3")),
        ("kind_string", unchanged()),
        ("kind_null", unchanged()),
        ("kind_missing", unchanged()),
        ("kind_kind_number", unchanged()),
        ("kind_kind_lowercase", unchanged()),
        ("kind_kind_trailing_space", unchanged()),
        ("kind_kind_empty", unchanged()),
        ("kind_group_apps", unchanged()),
        ("kind_deployment", unchanged()),
        // Only a non-empty string names a group other than the core one.
        ("kind_group_missing", spot("3")),
        ("kind_group_null", spot("3")),
        ("kind_group_number", spot("3")),
        ("namespace_number", on_demand("3")),
        ("namespace_empty", on_demand("3")),
        ("namespace_unicode", on_demand("3")),
        ("uid_number_unnamed_pod", spot(EMPTY_HASH).by_name().warn(no_id())),
        ("uid_used_for_unnamed_pod", on_demand(UID_HASH).by_name().warn(no_id())),
        ("object_missing", warned(NO_OBJECT)),
        ("object_null", warned(NOT_AN_OBJECT)),
        ("object_string", warned(NOT_AN_OBJECT)),
        ("object_list", warned(NOT_AN_OBJECT)),
        ("object_number", warned(NOT_AN_OBJECT)),
        ("object_empty", unchanged()),
        // Awaiting a fix: an object whose own kind is not Pod is left alone
        // with a warning, whatever its labels.
        ("object_deployment_under_kind_pod", warned(not_a_pod("\"Deployment\""))),
        ("object_labelled_deployment_under_kind_pod", warned(not_a_pod("\"Deployment\""))),
        // The pod's metadata.
        ("metadata_string", unchanged()),
        ("metadata_list", unchanged()),
        ("metadata_null", unchanged()),
        ("metadata_missing", unchanged()),
        ("labels_list", unchanged()),
        ("labels_string", unchanged()),
        ("labels_null", unchanged()),
        ("label_role_number", unchanged()),
        ("label_role_capitalised", unchanged()),
        ("label_role_cyrillic_o", unchanged()),
        ("label_role_empty", unchanged()),
        ("label_job_number", on_demand("3").warn(NO_JOB)),
        ("label_job_missing", on_demand("3").warn(NO_JOB)),
        ("label_job_empty", on_demand("3")),
        ("label_job_unicode", on_demand("3")),
        ("label_job_300_characters", on_demand("3")),
        ("label_emr_job_wins", spot("3")),
        ("label_key_300_characters", spot("3")),
        ("label_value_256_kib", spot("3")),
        ("annotations_list", unwritable("metadata.annotations", "an object", "spot")),
        ("annotations_string", unwritable("metadata.annotations", "an object", "spot")),
        ("annotations_null", spot("3")),
        ("annotations_other_keys_kept", spot("3")),
        ("name_number", spot("3")),
        ("name_empty", spot("3")),
        ("name_unicode_without_executor_id", on_demand(UNICODE_NAME_HASH).by_name().warn(no_id())),
        ("already_placed", unchanged()),
        ("already_placed_number", spot("3")),
        // Awaiting a fix: a recorded capacity that names none is not taken
        // for a placement without a word.
        ("already_placed_unknown_capacity", warned(unknown_capacity("\"banana\""))),
        // Executor IDs: decimal digits from 1 to u64::MAX, else the name hash.
        ("executor_id_one", spot("1")),
        ("executor_id_leading_zeros", spot("7")),
        ("executor_id_u64_max", spot("18446744073709551615")),
        ("executor_id_u64_max_plus_one", by_name_hash(bad_id("\"18446744073709551616\""))),
        ("executor_id_50_digits", by_name_hash(bad_id(&format!("\"{}\"", "9".repeat(50))))),
        ("executor_id_zero", by_name_hash(bad_id("\"0\""))),
        ("executor_id_negative", by_name_hash(bad_id("\"-1\""))),
        ("executor_id_placeholder", by_name_hash(bad_id("\"EXECID\""))),
        ("executor_id_empty", by_name_hash(bad_id("\"\""))),
        ("executor_id_exponent", by_name_hash(bad_id("\"1e3\""))),
        ("executor_id_float", by_name_hash(bad_id("\"3.0\""))),
        ("executor_id_plus_sign", by_name_hash(bad_id("\"+3\""))),
        ("executor_id_leading_space", by_name_hash(bad_id("\" 3\""))),
        ("executor_id_newline", by_name_hash(bad_id("\"3\\n\""))),
        ("executor_id_hex", by_name_hash(bad_id("\"0x3\""))),
        ("executor_id_arabic_indic_digit", by_name_hash(bad_id("\"٣\""))),
        ("executor_id_fullwidth_digit", by_name_hash(bad_id("\"３\""))),
        ("executor_id_number", by_name_hash(no_id())),
        ("executor_id_number_1e400", by_name_hash(no_id())),
        ("executor_id_null", by_name_hash(no_id())),
        ("executor_id_missing", by_name_hash(no_id())),
        // Ratios on the pod.
        ("ratio_zero", on_demand("3").ratio("0")),
        ("ratio_one", spot("3").ratio("1")),
        ("ratio_named", spot("3").ratio("0.8")),
        ("ratio_from_label", on_demand("3").ratio("0.2")),
        ("ratio_70_characters", on_demand("3").ratio("0.333333")),
        ("ratio_nan", spot("3").warn(bad_ratio("\"NaN\""))),
        ("ratio_exponent", spot("3").warn(bad_ratio("\"1e-1\""))),
        ("ratio_negative_zero", spot("3").warn(bad_ratio("\"-0\""))),
        ("ratio_above_one", spot("3").warn(bad_ratio("\"1.0000001\""))),
        ("ratio_trailing_space", spot("3").warn(bad_ratio("\"0.5 \""))),
        ("ratio_fullwidth", spot("3").warn(bad_ratio("\"０.５\""))),
        ("ratio_lowercase_name", spot("3").warn(bad_ratio("\"balanced\""))),
        ("ratio_accented_name", spot("3").warn(bad_ratio("\"BALANCÉD\""))),
        ("ratio_empty", spot("3").warn(bad_ratio("\"\""))),
        // Awaiting a fix: a ratio that is not a string is not silently
        // replaced by the default.
        ("ratio_number", spot("3").warn(bad_ratio("0.3"))),
        ("ratio_invalid_with_reject", rejected(&bad_ratio_on_pod("\"lots\""))),
        // The pod's spec: what the policy writes into.
        ("spec_missing", spot("3")),
        ("spec_null", spot("3")),
        ("spec_string", unwritable("spec", "an object", "spot")),
        ("spec_list", unwritable("spec", "an object", "spot")),
        ("node_selector_null", spot("3")),
        ("node_selector_list", unwritable("spec.nodeSelector", "an object", "spot")),
        ("node_selector_string", unwritable("spec.nodeSelector", "an object", "spot")),
        ("node_selector_other_keys_kept", spot("3")),
        ("node_selector_chooses_capacity", unchanged()),
        ("node_selector_capacity_number", unchanged()),
        ("affinity_chooses_capacity", unchanged()),
        ("affinity_chooses_capacity_in_second_term", unchanged()),
        ("affinity_string", spot("3")),
        ("affinity_node_affinity_list", spot("3")),
        ("affinity_required_string", spot("3")),
        ("affinity_terms_object", spot("3")),
        ("affinity_term_string", spot("3")),
        ("affinity_match_expressions_string", spot("3")),
        ("affinity_expression_key_number", spot("3")),
        // GKE: an on-demand pick is a required affinity expression.
        ("gke_driver", driver().write(gke_on_demand())),
        ("gke_driver_affinity_null", driver().write(gke_on_demand())),
        ("gke_driver_affinity_terms_empty", driver().write(gke_on_demand())),
        ("gke_driver_affinity_term_without_expressions", driver().write(gke_on_demand())),
        ("gke_driver_affinity_two_terms", driver().write(gke_on_demand())),
        ("gke_driver_affinity_expression_key_number", driver().write(gke_on_demand())),
        ("gke_driver_affinity_string", unwritable("spec.affinity", OBJECT, ON_DEMAND)),
        ("gke_driver_affinity_node_affinity_list", unwritable(NODE_AFFINITY, OBJECT, ON_DEMAND)),
        ("gke_driver_affinity_required_string", unwritable(REQUIRED, OBJECT, ON_DEMAND)),
        ("gke_driver_affinity_terms_object", unwritable(TERMS, LIST, ON_DEMAND)),
        ("gke_driver_affinity_term_string", unwritable(TERMS, "a list of objects", ON_DEMAND)),
        ("gke_driver_affinity_match_expressions_string", unwritable(EXPRESSIONS, LIST, ON_DEMAND)),
        // GKE: a spot pick also needs the toleration for the spot taint.
        ("gke_spot_executor", spot("3").ratio("1").write(gke_spot())),
        ("gke_spot_tolerations_null", spot("3").ratio("1").write(gke_spot())),
        ("gke_spot_toleration_present", spot("3").ratio("1").write(gke_spot())),
        ("gke_spot_tolerations_other_kept", spot("3").ratio("1").write(gke_spot())),
        ("gke_spot_tolerations_string", unwritable("spec.tolerations", "a list", "spot")),
        ("gke_spot_tolerations_object", unwritable("spec.tolerations", "a list", "spot")),
        ("gke_spot_node_selector_list", unwritable("spec.nodeSelector", "an object", "spot")),
        // Best effort: a spot pick is only recorded.
        ("best_effort_spot_executor", spot("3").ratio("1").write(Write::Nothing)),
        ("best_effort_spot_nodeselector_list", spot("3").ratio("1").write(Write::Nothing)),
        // Drivers.
        ("driver", driver()),
        ("driver_not_pinned", unchanged()),
        ("driver_node_selector_list", unwritable("spec.nodeSelector", "an object", "on-demand")),
        // Empty strings, duplicate keys (the last wins) and numbers.
        ("empty_strings_everywhere", unchanged()),
        ("empty_strings_executor", on_demand(EMPTY_HASH).by_name().warn(bad_id("\"\""))),
        ("duplicate_role_label", spot("3")),
        ("duplicate_executor_id", spot("3")),
        ("duplicate_object_first_null", spot("3")),
        ("duplicate_object_last_null", warned(NOT_AN_OBJECT)),
        ("duplicate_operation_last_update", unchanged()),
        ("numbers_beyond_f64_survive", spot("3")),
    ]
}

#[test]
fn every_hostile_request_gets_its_exact_answer() {
    let mut failures = Vec::new();
    let cases = cases();
    for (name, expect) in &cases {
        if let Err(failure) = check(name, expect) {
            failures.push(format!("{name}.json: {failure}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile requests got another answer:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_corpus_file_has_one_case() {
    let files: BTreeSet<String> = fs::read_dir(CORPUS)
        .expect("the corpus directory")
        .map(|entry| entry.expect("a corpus entry").file_name())
        .filter_map(|name| name.to_str()?.strip_suffix(".json").map(str::to_string))
        .collect();
    let names: Vec<&str> = cases().iter().map(|(name, _)| *name).collect();
    let listed: BTreeSet<String> = names.iter().map(|name| name.to_string()).collect();
    assert_eq!(names.len(), listed.len(), "a case is listed twice");
    let unlisted: Vec<_> = files.difference(&listed).collect();
    let missing: Vec<_> = listed.difference(&files).collect();
    assert!(unlisted.is_empty(), "files without a case: {unlisted:?}");
    assert!(missing.is_empty(), "cases without a file: {missing:?}");
}

#[test]
fn placed_pods_are_left_alone_the_second_time() {
    // The recorded decision is final: the mutated pod, evaluated again as
    // a reinvocation of the webhook would, changes nothing and warns of
    // nothing.
    for (name, expect) in cases() {
        if !matches!(expect.answer, Answer::Placed(_)) {
            continue;
        }
        let bytes = corpus_file(name);
        let response = answer(&bytes).unwrap_or_else(|err| panic!("{name}: {err}"));
        let Some(placed) = response.mutated_object else {
            continue;
        };
        let mut payload: Value = serde_json::from_slice(&bytes).expect("a placed case parses");
        payload["request"]["object"] = placed;
        let again = serde_json::to_vec(&payload).expect("a payload serialises");
        let response = answer(&again).unwrap_or_else(|err| panic!("{name} again: {err}"));
        assert!(response.accepted, "{name}: refused the second time");
        assert_eq!(
            response.mutated_object, None,
            "{name}: mutated the second time"
        );
        assert_eq!(response.warnings, None, "{name}: warned the second time");
    }
}

/// What the policy must answer to one file.
#[derive(Debug)]
struct Expect {
    /// The answer itself.
    answer: Answer,
    /// The warnings that come with an admission, in order.
    warnings: Vec<String>,
}

/// The kinds of answer.
#[derive(Debug)]
enum Answer {
    /// Admitted with no mutated object.
    Unchanged,
    /// Refused, with this message.
    Rejected(String),
    /// Admitted with this placement written into the pod.
    Placed(Placement),
}

/// A placement, as the policy must write it.
#[derive(Debug)]
struct Placement {
    /// `spot` or `on-demand`, in `spot-balancer.io/capacity`.
    capacity: &'static str,
    /// `spot-balancer.io/decided-by`.
    decided_by: &'static str,
    /// `spot-balancer.io/position`, for executors.
    position: Option<&'static str>,
    /// `spot-balancer.io/ratio`, for executors.
    ratio: Option<&'static str>,
    /// What goes into the spec.
    write: Write,
}

/// What a placement writes into the pod's spec.
#[derive(Debug)]
enum Write {
    /// `spec.nodeSelector.<label>: <value>`.
    Select(&'static str, &'static str),
    /// A node selector entry, and a toleration appended unless present.
    SelectTolerating(&'static str, &'static str, Value),
    /// An expression appended to every required node-affinity term, or
    /// the one term holding it when there are none.
    Require(Value),
    /// Nothing: the decision is only recorded.
    Nothing,
}

impl Expect {
    /// The same, with one more warning.
    fn warn(mut self, warning: impl Into<String>) -> Expect {
        self.warnings.push(warning.into());
        self
    }

    /// The same placement, decided by the hash of the pod's name.
    fn by_name(self) -> Expect {
        self.placement(|placement| placement.decided_by = "name-hash")
    }

    /// The same placement, for a job at `ratio`.
    fn ratio(self, ratio: &'static str) -> Expect {
        self.placement(|placement| placement.ratio = Some(ratio))
    }

    /// The same placement, written into the spec as `write`.
    fn write(self, write: Write) -> Expect {
        self.placement(|placement| placement.write = write)
    }

    /// The same, with `change` made to the placement.
    fn placement(mut self, change: impl FnOnce(&mut Placement)) -> Expect {
        match &mut self.answer {
            Answer::Placed(placement) => change(placement),
            other => panic!("{other:?} is not a placement"),
        }
        self
    }
}

/// Admitted unchanged, without a warning.
fn unchanged() -> Expect {
    Expect {
        answer: Answer::Unchanged,
        warnings: Vec::new(),
    }
}

/// Admitted unchanged with one warning.
fn warned(warning: impl Into<String>) -> Expect {
    unchanged().warn(warning)
}

/// Refused with `message`.
fn rejected(message: &str) -> Expect {
    Expect {
        answer: Answer::Rejected(message.to_string()),
        warnings: Vec::new(),
    }
}

/// An executor at `position` of a job at 0.5, placed on `capacity` by its
/// ID and pinned there with Karpenter's label.
fn executor(capacity: &'static str, position: &'static str) -> Expect {
    Expect {
        answer: Answer::Placed(Placement {
            capacity,
            decided_by: "executor-id",
            position: Some(position),
            ratio: Some("0.5"),
            write: Write::Select("karpenter.sh/capacity-type", capacity),
        }),
        warnings: Vec::new(),
    }
}

/// An executor placed on spot; see [`executor`].
fn spot(position: &'static str) -> Expect {
    executor("spot", position)
}

/// An executor placed on on-demand; see [`executor`].
fn on_demand(position: &'static str) -> Expect {
    executor("on-demand", position)
}

/// `spark-pi-exec-3` placed by the hash of its name, with `warning`.
fn by_name_hash(warning: String) -> Expect {
    on_demand(NAME_HASH).by_name().warn(warning)
}

/// A driver, pinned to on-demand with Karpenter's label.
fn driver() -> Expect {
    Expect {
        answer: Answer::Placed(Placement {
            capacity: "on-demand",
            decided_by: "driver",
            position: None,
            ratio: None,
            write: Write::Select("karpenter.sh/capacity-type", "on-demand"),
        }),
        warnings: Vec::new(),
    }
}

/// GKE's on-demand requirement: no spot label on the node.
fn gke_on_demand() -> Write {
    Write::Require(json!({"key": "cloud.google.com/gke-spot", "operator": "DoesNotExist"}))
}

/// GKE's spot requirement and the toleration of its spot taint.
fn gke_spot() -> Write {
    let toleration = json!({"key": "cloud.google.com/gke-spot", "operator": "Equal",
        "value": "true", "effect": "NoSchedule"});
    Write::SelectTolerating("cloud.google.com/gke-spot", "true", toleration)
}

/// Admitted unchanged because the payload does not parse.
fn unparsable(error: &str) -> Expect {
    warned(format!(
        "spot-balancer could not parse its payload ({error}); admitted unchanged"
    ))
}

/// The refusal of an unknown settings key.
fn unknown_setting(key: &str) -> String {
    format!("{key}: unknown key; accepted keys are {SETTINGS_KEYS}")
}

/// The refusal of a `defaultSpotRatio` that is `shown`.
fn bad_ratio_setting(shown: &str) -> String {
    format!("defaultSpotRatio: expected {RATIO_FORMS}, got {shown}")
}

/// Admitted unchanged because the settings in the payload are refused.
fn refused_settings(error: &str) -> Expect {
    warned(format!(
        "spot-balancer has invalid settings: {error}; admitted unchanged"
    ))
}

/// The warning for an executor without the ID label.
fn no_id() -> String {
    "spot-balancer: executor has no spark-exec-id label; placed by a hash of its name, which \
     keeps the job at its spot ratio only on average"
        .to_string()
}

/// The warning for an executor whose ID label holds `shown`.
fn bad_id(shown: &str) -> String {
    format!(
        "spot-balancer: executor has spark-exec-id={shown}; placed by a hash of its name, which \
         keeps the job at its spot ratio only on average"
    )
}

/// What is wrong with a ratio on the pod that is `shown`.
fn bad_ratio_on_pod(shown: &str) -> String {
    format!("{RATIO_KEY} on the pod is {shown}, expected {RATIO_FORMS}")
}

/// The warning for a ratio on the pod that is `shown`.
fn bad_ratio(shown: &str) -> String {
    format!("{}; using the default 0.5", bad_ratio_on_pod(shown))
}

/// Admitted unchanged because the pick for `capacity` cannot be written:
/// `path` is not `form`.
fn unwritable(path: &str, form: &str, capacity: &str) -> Expect {
    warned(format!(
        "spot-balancer left the pod unchanged: {path} is not {form}, so the {capacity} pick \
         could not be written"
    ))
}

/// The warning for a Pod request whose object is of kind `shown`.
fn not_a_pod(shown: &str) -> String {
    format!("spot-balancer found an object of kind {shown} in a Pod request; admitted unchanged")
}

/// The warning for a pod whose recorded capacity is `shown`.
fn unknown_capacity(shown: &str) -> String {
    format!(
        "spot-balancer: pod has spot-balancer.io/capacity={shown}, which is neither spot nor \
         on-demand; admitted unchanged"
    )
}

/// The bytes of the corpus file `name`.
fn corpus_file(name: &str) -> Vec<u8> {
    let path = Path::new(CORPUS).join(format!("{name}.json"));
    fs::read(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// The policy's answer to `payload`, or why there is none.
fn answer(payload: &[u8]) -> Result<ValidationResponse, String> {
    let answer = spot_balancer::validate(payload).map_err(|err| format!("guest error: {err}"))?;
    serde_json::from_slice(&answer).map_err(|err| format!("not a ValidationResponse: {err}"))
}

/// Checks the answer to the file `name` against `expect`.
fn check(name: &str, expect: &Expect) -> Result<(), String> {
    let bytes = corpus_file(name);
    let response = answer(&bytes)?;

    let expected_pod = match &expect.answer {
        Answer::Placed(placement) => {
            let payload: Value = serde_json::from_slice(&bytes).map_err(|err| err.to_string())?;
            let pod = payload
                .pointer("/request/object")
                .cloned()
                .unwrap_or_default();
            Some(placed(pod, placement))
        }
        _ => None,
    };
    let (accepted, message) = match &expect.answer {
        Answer::Rejected(message) => (false, Some(message.clone())),
        _ => (true, None),
    };
    let warnings = (!expect.warnings.is_empty()).then(|| expect.warnings.clone());

    let mut problems = Vec::new();
    if response.accepted != accepted {
        problems.push(format!(
            "accepted is {}, expected {accepted}",
            response.accepted
        ));
    }
    if response.message != message {
        problems.push(format!(
            "message is {:?}, expected {message:?}",
            response.message
        ));
    }
    if response.warnings != warnings {
        problems.push(format!(
            "warnings are {:?}, expected {warnings:?}",
            response.warnings
        ));
    }
    if response.mutated_object != expected_pod {
        let shown = |pod: &Option<Value>| pod.as_ref().map_or("none".to_string(), short);
        problems.push(format!(
            "mutated object is {}, expected {}",
            shown(&response.mutated_object),
            shown(&expected_pod)
        ));
    }
    if response.code.is_some() || response.audit_annotations.is_some() {
        problems.push("a status code or audit annotations were set".to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// `value` as JSON, cut short for a failure message.
fn short(value: &Value) -> String {
    let mut text = value.to_string();
    if text.len() > 2_000 {
        let cut = (0..=2_000)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

/// The pod `pod` with `placement` written in, as the policy must write it.
fn placed(mut pod: Value, placement: &Placement) -> Value {
    let annotations = object_at(&mut pod, &["metadata", "annotations"]);
    annotations.insert(
        "spot-balancer.io/capacity".into(),
        json!(placement.capacity),
    );
    annotations.insert(
        "spot-balancer.io/decided-by".into(),
        json!(placement.decided_by),
    );
    if let Some(position) = placement.position {
        annotations.insert("spot-balancer.io/position".into(), json!(position));
    }
    if let Some(ratio) = placement.ratio {
        annotations.insert("spot-balancer.io/ratio".into(), json!(ratio));
    }

    match &placement.write {
        Write::Select(label, value) => {
            object_at(&mut pod, &["spec", "nodeSelector"]).insert(label.to_string(), json!(value));
        }
        Write::SelectTolerating(label, value, toleration) => {
            object_at(&mut pod, &["spec", "nodeSelector"]).insert(label.to_string(), json!(value));
            let tolerations = object_at(&mut pod, &["spec"])
                .entry("tolerations")
                .or_insert(Value::Null);
            if tolerations.is_null() {
                *tolerations = json!([]);
            }
            let list = tolerations.as_array_mut().expect("tolerations are a list");
            if !list.contains(toleration) {
                list.push(toleration.clone());
            }
        }
        Write::Require(expression) => {
            let path = ["spec", "affinity", "nodeAffinity"];
            let required = object_at(&mut pod, &path)
                .entry("requiredDuringSchedulingIgnoredDuringExecution")
                .or_insert(json!({}));
            let terms = required
                .as_object_mut()
                .expect("required affinity is an object")
                .entry("nodeSelectorTerms")
                .or_insert(json!([]));
            let terms = terms.as_array_mut().expect("terms are a list");
            if terms.is_empty() {
                terms.push(json!({"matchExpressions": [expression]}));
                return pod;
            }
            for term in terms {
                let term = term.as_object_mut().expect("a term is an object");
                let expressions = term.entry("matchExpressions").or_insert(json!([]));
                let expressions = expressions.as_array_mut().expect("expressions are a list");
                expressions.push(expression.clone());
            }
        }
        Write::Nothing => {}
    }
    pod
}

/// The object at `path` under `pod`, created where missing or `null`.
fn object_at<'a>(pod: &'a mut Value, path: &[&str]) -> &'a mut Map<String, Value> {
    let mut node = pod;
    for key in path {
        let field = node
            .as_object_mut()
            .expect("the path leads through objects")
            .entry(key.to_string())
            .or_insert(Value::Null);
        if field.is_null() {
            *field = json!({});
        }
        node = field;
    }
    node.as_object_mut().expect("the path ends at an object")
}
