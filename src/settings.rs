//! The policy's settings: parsed by hand from JSON so that every refusal
//! names its key and the accepted form, and all refusals come back at once.
//!
//! Keys are camelCase; an unknown key is refused, so a typo never silently
//! falls back to a default. Every key, its default and an example are in the
//! README's settings table.

use crate::platform::{NodeRequirement, Platform, Preset};
use crate::ratio::{Ratio, StabilityWeights};
use serde_json::{Map, Value};
use std::fmt;

/// The annotation (or label) a job's executors carry to choose their ratio.
pub const DEFAULT_SPOT_RATIO_KEY: &str = "spot-balancer.io/spot-ratio";

/// The labels that name a job, tried in order: EMR on EKS sets the first,
/// Spark itself the second.
pub const DEFAULT_JOB_LABELS: [&str; 2] =
    ["emr-containers.amazonaws.com/job.id", "spark-app-selector"];

/// The label Spark numbers a job's executors with.
pub const DEFAULT_EXECUTOR_ID_LABEL: &str = "spark-exec-id";

/// The label Spark sets to `driver` or `executor`.
pub const DEFAULT_ROLE_LABEL: &str = "spark-role";

/// How a decision is written into the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Pin both picks to their capacity.
    Strict,
    /// Pin on-demand picks only; spot picks are left to the autoscaler, which
    /// may still choose on-demand when spot is short.
    BestEffort,
}

/// What to do with a pod whose ratio annotation cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidRatioAction {
    /// Admit the pod with the default ratio and a warning.
    UseDefault,
    /// Reject the pod, naming the annotation and its value.
    Reject,
}

/// Where the live executor counts of a job come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveCountSource {
    /// No live counts: the sequence alone decides.
    None,
    /// Counters kept by the Redis capability of `spot-balancer-host`.
    Redis,
    /// The job's pods, listed through Kubewarden's Kubernetes capability.
    Kubernetes,
}

/// The `redis` settings: how the policy uses the Redis capability. Where
/// Redis is and how long to wait for it are the host's to configure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis.enabled`: ask the capability for the positions of executors
    /// without a usable ID. Default `false`.
    pub enabled: bool,
    /// `redis.keyPrefix`: the first part of every key. Default
    /// `spot-balancer`.
    pub key_prefix: String,
    /// `redis.ttlSeconds`: keys expire this long after a job's last
    /// admission, so finished jobs leave nothing behind. Default one day.
    pub ttl_seconds: u64,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            enabled: false,
            key_prefix: "spot-balancer".to_string(),
            ttl_seconds: 86_400,
        }
    }
}

/// The accepted range of `redis.ttlSeconds`: a minute to thirty days.
const TTL_RANGE: std::ops::RangeInclusive<u64> = 60..=2_592_000;

/// Validated settings, ready for the request path.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `defaultSpotRatio`: the ratio of pods that do not choose one.
    /// Default `BALANCED` (0.5).
    pub default_ratio: Ratio,
    /// `stabilityWeights`, merged over the built-in weights.
    pub weights: StabilityWeights,
    /// `spotRatioKey`: the annotation, or else label, that chooses a job's
    /// ratio. Default `spot-balancer.io/spot-ratio`.
    pub spot_ratio_key: String,
    /// `onInvalidRatio`: what an unreadable ratio on a pod does. Default
    /// `use-default`.
    pub on_invalid_ratio: InvalidRatioAction,
    /// `jobLabels`: the labels that identify a job, first present wins.
    pub job_labels: Vec<String>,
    /// `executorIdLabel`: the label holding the executor ID. Default
    /// `spark-exec-id`.
    pub executor_id_label: String,
    /// `roleLabel`: the label holding `driver` or `executor`. Default
    /// `spark-role`.
    pub role_label: String,
    /// `mode`: strict or best-effort. Default `strict`.
    pub mode: Mode,
    /// `platform` (and `customPlatform`): the capacity label and how to ask
    /// for each kind. Default `karpenter`.
    pub platform: Platform,
    /// `pinDrivers`: put drivers on on-demand capacity. Default `true`.
    pub pin_drivers: bool,
    /// `liveCounts`: where live executor counts come from. Default `none`.
    pub live_counts: LiveCountSource,
    /// `redis`: the Redis capability's use.
    pub redis: RedisSettings,
    /// `ratioFromDriver`: an executor without a ratio takes the one on its
    /// driver pod, read through the Kubernetes capability. Default `false`.
    pub ratio_from_driver: bool,
}

impl Default for Settings {
    fn default() -> Self {
        let weights = StabilityWeights::default();
        Settings {
            default_ratio: weights.get("BALANCED").unwrap_or(Ratio::ZERO),
            weights,
            spot_ratio_key: DEFAULT_SPOT_RATIO_KEY.to_string(),
            on_invalid_ratio: InvalidRatioAction::UseDefault,
            job_labels: DEFAULT_JOB_LABELS.map(String::from).to_vec(),
            executor_id_label: DEFAULT_EXECUTOR_ID_LABEL.to_string(),
            role_label: DEFAULT_ROLE_LABEL.to_string(),
            mode: Mode::Strict,
            platform: Platform::default(),
            pin_drivers: true,
            live_counts: LiveCountSource::None,
            redis: RedisSettings::default(),
            ratio_from_driver: false,
        }
    }
}

/// One refused setting: the key, with its path for nested values, and what
/// was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    /// The key, as `customPlatform.spotValue` or `jobLabels[1]`.
    pub key: String,
    /// What is wrong, and the accepted form.
    pub problem: String,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

/// Every refusal found in one settings document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError(pub Vec<SettingError>);

impl fmt::Display for SettingsError {
    /// `invalid settings: key: problem; key: problem`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid settings: ")?;
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SettingsError {}

/// The top-level keys, in the order the README documents them.
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

/// The keys of `redis`.
const REDIS_KEYS: [&str; 3] = ["enabled", "keyPrefix", "ttlSeconds"];

/// The keys of `customPlatform`.
const CUSTOM_PLATFORM_KEYS: [&str; 4] = [
    "capacityLabel",
    "spotValue",
    "onDemandValue",
    "spotTolerations",
];

/// The keys of one toleration in `customPlatform.spotTolerations`.
const TOLERATION_KEYS: [&str; 5] = ["key", "operator", "value", "effect", "tolerationSeconds"];

impl Settings {
    /// Parses and validates a settings document. `null` means all defaults,
    /// as does `{}`.
    pub fn from_value(value: &Value) -> Result<Settings, SettingsError> {
        let mut errors = Errors::default();
        let settings = match value {
            Value::Null => Settings::default(),
            Value::Object(map) => Settings::from_map(map, &mut errors),
            other => {
                errors.push("settings", format!("expected an object, got {other}"));
                Settings::default()
            }
        };
        errors.into_result(settings)
    }

    /// Reads every key of `map`, recording each refusal in `errors`.
    fn from_map(map: &Map<String, Value>, errors: &mut Errors) -> Settings {
        let mut settings = Settings::default();

        // Unknown keys first, so that a misspelt key is reported as such.
        for key in map.keys().filter(|key| !KEYS.contains(&key.as_str())) {
            errors.push(
                key,
                format!("unknown key; accepted keys are {}", KEYS.join(", ")),
            );
        }

        // Weights before the default ratio, which may name one of them.
        if let Some(value) = map.get("stabilityWeights") {
            read_weights(value, &mut settings.weights, errors);
        }
        if let Some(value) = map.get("defaultSpotRatio") {
            if let Some(ratio) = read_ratio("defaultSpotRatio", value, &settings.weights, errors) {
                settings.default_ratio = ratio;
            }
        }
        if let Some(key) = read_label_key(map, "spotRatioKey", errors) {
            settings.spot_ratio_key = key;
        }
        if let Some(value) = map.get("onInvalidRatio") {
            let choices = [
                ("use-default", InvalidRatioAction::UseDefault),
                ("reject", InvalidRatioAction::Reject),
            ];
            if let Some(action) = read_choice("onInvalidRatio", value, &choices, errors) {
                settings.on_invalid_ratio = action;
            }
        }
        if let Some(value) = map.get("jobLabels") {
            if let Some(labels) = read_job_labels(value, errors) {
                settings.job_labels = labels;
            }
        }
        if let Some(key) = read_label_key(map, "executorIdLabel", errors) {
            settings.executor_id_label = key;
        }
        if let Some(key) = read_label_key(map, "roleLabel", errors) {
            settings.role_label = key;
        }
        if let Some(value) = map.get("mode") {
            let choices = [("strict", Mode::Strict), ("best-effort", Mode::BestEffort)];
            if let Some(mode) = read_choice("mode", value, &choices, errors) {
                settings.mode = mode;
            }
        }
        if let Some(platform) = read_platform(map, errors) {
            settings.platform = platform;
        }
        if let Some(pin) = read_bool(map, "pinDrivers", errors) {
            settings.pin_drivers = pin;
        }
        if let Some(value) = map.get("redis") {
            if let Some(redis) = read_redis(value, errors) {
                settings.redis = redis;
            }
        }
        if let Some(value) = map.get("liveCounts") {
            let choices = [
                ("none", LiveCountSource::None),
                ("redis", LiveCountSource::Redis),
                ("kubernetes", LiveCountSource::Kubernetes),
            ];
            if let Some(source) = read_choice("liveCounts", value, &choices, errors) {
                settings.live_counts = source;
            }
        }
        if settings.live_counts == LiveCountSource::Redis && !settings.redis.enabled {
            errors.push("liveCounts", "\"redis\" needs redis.enabled: true");
        }
        if let Some(from_driver) = read_bool(map, "ratioFromDriver", errors) {
            settings.ratio_from_driver = from_driver;
        }

        settings
    }
}

/// Refusals collected while reading one document.
#[derive(Default)]
struct Errors(Vec<SettingError>);

impl Errors {
    /// Records that `key` was refused because of `problem`.
    fn push(&mut self, key: impl Into<String>, problem: impl Into<String>) {
        self.0.push(SettingError {
            key: key.into(),
            problem: problem.into(),
        });
    }

    /// `value` when nothing was refused, else every refusal.
    fn into_result<T>(self, value: T) -> Result<T, SettingsError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(SettingsError(self.0))
        }
    }
}

/// Reads `stabilityWeights`: an object of weight names to numbers.
fn read_weights(value: &Value, weights: &mut StabilityWeights, errors: &mut Errors) {
    let Value::Object(map) = value else {
        errors.push(
            "stabilityWeights",
            format!("expected an object of weight names to ratios from 0 to 1, got {value}"),
        );
        return;
    };
    for (name, ratio) in map {
        let key = format!("stabilityWeights.{name}");
        if !StabilityWeights::is_valid_name(name) {
            errors.push(
                key,
                "expected a name of upper-case letters, digits and underscores, \
                 starting with a letter",
            );
            continue;
        }
        match ratio.as_f64().and_then(Ratio::from_f64) {
            Some(ratio) => weights.set(name.clone(), ratio),
            None => errors.push(key, format!("expected a number from 0 to 1, got {ratio}")),
        }
    }
}

/// Reads a ratio given as a JSON number, a decimal string or a weight name.
fn read_ratio(
    key: &str,
    value: &Value,
    weights: &StabilityWeights,
    errors: &mut Errors,
) -> Option<Ratio> {
    let ratio = match value {
        Value::Number(number) => number.as_f64().and_then(Ratio::from_f64),
        Value::String(text) => weights.resolve(text),
        _ => None,
    };
    if ratio.is_none() {
        let accepted = weights.accepted_forms();
        errors.push(key, format!("expected {accepted}, got {value}"));
    }
    ratio
}

/// Reads the boolean under `key`, if the key is present.
fn read_bool(map: &Map<String, Value>, key: &str, errors: &mut Errors) -> Option<bool> {
    map.get(key)
        .and_then(|value| bool_value(key, value, errors))
}

/// `value` as a boolean, or a refusal of `key`.
fn bool_value(key: &str, value: &Value, errors: &mut Errors) -> Option<bool> {
    let boolean = value.as_bool();
    if boolean.is_none() {
        errors.push(key, format!("expected true or false, got {value}"));
    }
    boolean
}

/// Reads `redis`.
fn read_redis(value: &Value, errors: &mut Errors) -> Option<RedisSettings> {
    let Value::Object(map) = value else {
        errors.push("redis", format!("expected an object, got {value}"));
        return None;
    };
    let before = errors.0.len();
    for key in map.keys().filter(|key| !REDIS_KEYS.contains(&key.as_str())) {
        errors.push(
            format!("redis.{key}"),
            format!("unknown key; accepted keys are {}", REDIS_KEYS.join(", ")),
        );
    }

    let mut redis = RedisSettings::default();
    if let Some(enabled) = map
        .get("enabled")
        .and_then(|value| bool_value("redis.enabled", value, errors))
    {
        redis.enabled = enabled;
    }
    if let Some(prefix) = map.get("keyPrefix") {
        match prefix.as_str() {
            Some(text)
                if !text.is_empty()
                    && text.len() <= 64
                    && text.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                redis.key_prefix = text.to_string();
            }
            _ => errors.push(
                "redis.keyPrefix",
                format!("expected 1 to 64 printable ASCII characters without spaces, got {prefix}"),
            ),
        }
    }
    if let Some(ttl) = map.get("ttlSeconds") {
        match ttl.as_u64().filter(|seconds| TTL_RANGE.contains(seconds)) {
            Some(seconds) => redis.ttl_seconds = seconds,
            None => errors.push(
                "redis.ttlSeconds",
                format!(
                    "expected a whole number of seconds from {} to {}, got {ttl}",
                    TTL_RANGE.start(),
                    TTL_RANGE.end()
                ),
            ),
        }
    }
    (errors.0.len() == before).then_some(redis)
}

/// Reads one of a fixed set of strings.
fn read_choice<T: Copy>(
    key: &str,
    value: &Value,
    choices: &[(&str, T)],
    errors: &mut Errors,
) -> Option<T> {
    let chosen = value
        .as_str()
        .and_then(|text| choices.iter().find(|(name, _)| *name == text))
        .map(|(_, choice)| *choice);
    if chosen.is_none() {
        let names: Vec<String> = choices
            .iter()
            .map(|(name, _)| format!("\"{name}\""))
            .collect();
        errors.push(
            key,
            format!("expected one of {}, got {value}", names.join(", ")),
        );
    }
    chosen
}

/// Reads the label key stored under `key`, if the key is present.
fn read_label_key(map: &Map<String, Value>, key: &str, errors: &mut Errors) -> Option<String> {
    map.get(key).and_then(|value| label_key(key, value, errors))
}

/// `value` as a Kubernetes label key, or a refusal of `key`.
fn label_key(key: &str, value: &Value, errors: &mut Errors) -> Option<String> {
    match value.as_str() {
        Some(text) if is_label_key(text) => Some(text.to_string()),
        _ => {
            errors.push(
                key,
                format!(
                    "expected a Kubernetes label key such as \"example.com/name\" \
                     (an optional DNS prefix and a slash, then at most 63 letters, digits, \
                     '-', '_' or '.'), got {value}"
                ),
            );
            None
        }
    }
}

/// `value` as a Kubernetes label value, or a refusal of `key`.
fn label_value(key: &str, value: &Value, errors: &mut Errors) -> Option<String> {
    match value.as_str() {
        Some(text) if is_label_value(text) => Some(text.to_string()),
        _ => {
            errors.push(
                key,
                format!(
                    "expected a Kubernetes label value (at most 63 letters, digits, '-', '_' \
                     or '.', starting and ending with a letter or digit), got {value}"
                ),
            );
            None
        }
    }
}

/// Reads `jobLabels`: a non-empty list of label keys.
fn read_job_labels(value: &Value, errors: &mut Errors) -> Option<Vec<String>> {
    let Some(items) = value.as_array().filter(|items| !items.is_empty()) else {
        errors.push(
            "jobLabels",
            format!("expected a non-empty list of label keys, got {value}"),
        );
        return None;
    };
    let before = errors.0.len();
    let labels: Vec<String> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| label_key(&format!("jobLabels[{i}]"), item, errors))
        .collect();
    (errors.0.len() == before).then_some(labels)
}

/// Reads `platform` and, for `custom`, `customPlatform`.
fn read_platform(map: &Map<String, Value>, errors: &mut Errors) -> Option<Platform> {
    let preset = match map.get("platform") {
        None => Preset::Karpenter,
        Some(value) => read_choice("platform", value, &Preset::ALL, errors)?,
    };
    let custom = map.get("customPlatform");
    match (preset, custom) {
        (Preset::Custom, Some(value)) => read_custom_platform(value, errors),
        (Preset::Custom, None) => {
            errors.push(
                "customPlatform",
                "required when platform is \"custom\": an object with capacityLabel, \
                 spotValue, and optionally onDemandValue and spotTolerations",
            );
            None
        }
        (_, Some(_)) => {
            errors.push("customPlatform", "only allowed when platform is \"custom\"");
            None
        }
        (preset, None) => preset.platform(),
    }
}

/// Reads `customPlatform`.
fn read_custom_platform(value: &Value, errors: &mut Errors) -> Option<Platform> {
    let Value::Object(map) = value else {
        errors.push("customPlatform", format!("expected an object, got {value}"));
        return None;
    };
    let before = errors.0.len();
    for key in map
        .keys()
        .filter(|key| !CUSTOM_PLATFORM_KEYS.contains(&key.as_str()))
    {
        errors.push(
            format!("customPlatform.{key}"),
            format!(
                "unknown key; accepted keys are {}",
                CUSTOM_PLATFORM_KEYS.join(", ")
            ),
        );
    }

    let required = |key: &str, errors: &mut Errors| {
        if !map.contains_key(key) {
            errors.push(format!("customPlatform.{key}"), "required");
        }
    };
    required("capacityLabel", errors);
    required("spotValue", errors);

    let label = map
        .get("capacityLabel")
        .and_then(|value| label_key("customPlatform.capacityLabel", value, errors));
    let spot = map
        .get("spotValue")
        .and_then(|value| label_value("customPlatform.spotValue", value, errors));
    let on_demand = map
        .get("onDemandValue")
        .and_then(|value| label_value("customPlatform.onDemandValue", value, errors));
    let tolerations = match map.get("spotTolerations") {
        Some(value) => read_tolerations(value, errors),
        None => Vec::new(),
    };
    if errors.0.len() > before {
        return None;
    }
    let (label, spot) = (label?, spot?);

    // Without an on-demand value, on-demand nodes are those whose label is
    // missing or is anything but the spot value.
    let on_demand = match on_demand {
        Some(value) => NodeRequirement::Equals(value),
        None => NodeRequirement::NotIn(vec![spot.clone()]),
    };
    Some(Platform {
        label,
        spot: NodeRequirement::Equals(spot),
        on_demand,
        spot_tolerations: tolerations,
    })
}

/// Reads `customPlatform.spotTolerations`: a list of Kubernetes tolerations.
fn read_tolerations(value: &Value, errors: &mut Errors) -> Vec<Value> {
    let Value::Array(items) = value else {
        errors.push(
            "customPlatform.spotTolerations",
            format!("expected a list of tolerations, got {value}"),
        );
        return Vec::new();
    };
    let mut tolerations = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("customPlatform.spotTolerations[{i}]");
        let Value::Object(fields) = item else {
            errors.push(at, format!("expected a toleration object, got {item}"));
            continue;
        };
        let before = errors.0.len();
        for (key, field) in fields {
            let at = format!("{at}.{key}");
            let valid = match key.as_str() {
                "key" => field
                    .as_str()
                    .is_some_and(|text| text.is_empty() || is_label_key(text)),
                "operator" => matches!(field.as_str(), Some("Equal" | "Exists")),
                "value" => field.as_str().is_some_and(is_label_value),
                "effect" => matches!(
                    field.as_str(),
                    Some("" | "NoSchedule" | "PreferNoSchedule" | "NoExecute")
                ),
                "tolerationSeconds" => field.is_i64(),
                _ => {
                    let accepted = TOLERATION_KEYS.join(", ");
                    errors.push(at, format!("unknown key; accepted keys are {accepted}"));
                    continue;
                }
            };
            if !valid {
                let form = match key.as_str() {
                    "key" => "a label key",
                    "operator" => "\"Equal\" or \"Exists\"",
                    "value" => "a label value",
                    "effect" => "\"NoSchedule\", \"PreferNoSchedule\" or \"NoExecute\"",
                    _ => "a whole number of seconds",
                };
                errors.push(at, format!("expected {form}, got {field}"));
            }
        }
        if errors.0.len() == before {
            check_toleration_fields(&at, fields, errors);
        }
        if errors.0.len() == before {
            tolerations.push(item.clone());
        }
    }
    tolerations
}

/// The rules Kubernetes applies across a toleration's fields, so that no
/// pod is patched with a toleration the API server would refuse.
fn check_toleration_fields(at: &str, fields: &Map<String, Value>, errors: &mut Errors) {
    let text = |key: &str| fields.get(key).and_then(Value::as_str);
    let operator = text("operator").unwrap_or("Equal");
    let effect = text("effect").unwrap_or("");

    if operator == "Exists" && text("value").is_some_and(|value| !value.is_empty()) {
        let value = &fields["value"];
        errors.push(
            format!("{at}.value"),
            format!("expected no value when operator is \"Exists\", got {value}"),
        );
    }
    if text("key").is_none_or(str::is_empty) && operator != "Exists" {
        errors.push(
            format!("{at}.operator"),
            format!("expected \"Exists\" when key is empty, got {operator:?}"),
        );
    }
    if fields.contains_key("tolerationSeconds") && effect != "NoExecute" {
        errors.push(
            format!("{at}.effect"),
            format!("expected \"NoExecute\" when tolerationSeconds is set, got {effect:?}"),
        );
    }
}

/// Whether `text` is a Kubernetes label key: an optional DNS-subdomain prefix
/// of at most 253 characters and a slash, then a name.
pub fn is_label_key(text: &str) -> bool {
    let (prefix, name) = match text.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, text),
    };
    let prefix_ok = prefix.is_none_or(|prefix| {
        prefix.len() <= 253
            && prefix.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            })
    });
    prefix_ok && !name.is_empty() && is_label_value(name)
}

/// Whether `text` is a Kubernetes label value: empty, or at most 63
/// characters of letters, digits, `-`, `_` and `.`, beginning and ending
/// with a letter or digit.
pub fn is_label_value(text: &str) -> bool {
    let bytes = text.as_bytes();
    let edge = |b: Option<&u8>| b.is_none_or(|b| b.is_ascii_alphanumeric());
    bytes.len() <= 63
        && edge(bytes.first())
        && edge(bytes.last())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    /// The message every refusal of `settings` adds up to.
    fn refusal(settings: Value) -> String {
        match Settings::from_value(&settings) {
            Ok(parsed) => panic!("settings {settings} were accepted as {parsed:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[rstest]
    #[case(json!(null))]
    #[case(json!({}))]
    fn empty_settings_are_the_defaults(#[case] settings: Value) {
        assert_eq!(Settings::from_value(&settings), Ok(Settings::default()));
    }

    #[test]
    fn defaults_are_as_documented() {
        let settings = Settings::default();
        assert_eq!(settings.default_ratio.to_string(), "0.5");
        assert_eq!(settings.spot_ratio_key, "spot-balancer.io/spot-ratio");
        assert_eq!(
            settings.job_labels,
            ["emr-containers.amazonaws.com/job.id", "spark-app-selector"]
        );
        assert_eq!(settings.executor_id_label, "spark-exec-id");
        assert_eq!(settings.role_label, "spark-role");
        assert_eq!(settings.mode, Mode::Strict);
        assert_eq!(settings.platform.label, "karpenter.sh/capacity-type");
        assert!(settings.pin_drivers);
    }

    #[test]
    fn every_key_is_read() {
        let settings = Settings::from_value(&json!({
            "defaultSpotRatio": "NIGHTLY",
            "stabilityWeights": {"NIGHTLY": 0.95, "BALANCED": 0.6},
            "spotRatioKey": "example.com/spot-share",
            "onInvalidRatio": "reject",
            "jobLabels": ["example.com/job"],
            "executorIdLabel": "example.com/executor",
            "roleLabel": "example.com/role",
            "mode": "best-effort",
            "platform": "eks-managed-node-groups",
            "pinDrivers": false,
            "redis": {"enabled": true, "keyPrefix": "sb", "ttlSeconds": 600},
            "liveCounts": "redis",
            "ratioFromDriver": true,
        }))
        .unwrap();
        assert_eq!(settings.default_ratio, Ratio::from_f64(0.95).unwrap());
        assert_eq!(settings.weights.get("BALANCED"), Ratio::from_f64(0.6));
        assert_eq!(settings.spot_ratio_key, "example.com/spot-share");
        assert_eq!(settings.on_invalid_ratio, InvalidRatioAction::Reject);
        assert_eq!(settings.job_labels, ["example.com/job"]);
        assert_eq!(settings.executor_id_label, "example.com/executor");
        assert_eq!(settings.role_label, "example.com/role");
        assert_eq!(settings.mode, Mode::BestEffort);
        assert_eq!(settings.platform.label, "eks.amazonaws.com/capacityType");
        assert!(!settings.pin_drivers);
        assert_eq!(
            settings.redis,
            RedisSettings {
                enabled: true,
                key_prefix: "sb".to_string(),
                ttl_seconds: 600,
            }
        );
        assert_eq!(settings.live_counts, LiveCountSource::Redis);
        assert!(settings.ratio_from_driver);
    }

    #[rstest]
    #[case(json!(0.25), 250_000)]
    #[case(json!(0), 0)]
    #[case(json!(1), 1_000_000)]
    #[case(json!("0.7"), 700_000)]
    #[case(json!("RELIABILITY_OVER_COST"), 200_000)]
    #[case(json!(0.1234567), 123_457)]
    fn default_ratio_takes_numbers_and_names(#[case] value: Value, #[case] millionths: u32) {
        let settings = Settings::from_value(&json!({ "defaultSpotRatio": value })).unwrap();
        assert_eq!(settings.default_ratio.millionths(), millionths);
    }

    #[test]
    fn custom_platform_without_on_demand_value_uses_not_in() {
        let settings = Settings::from_value(&json!({
            "platform": "custom",
            "customPlatform": {
                "capacityLabel": "example.com/lifecycle",
                "spotValue": "preemptible",
                "spotTolerations": [
                    {"key": "example.com/lifecycle", "operator": "Exists", "effect": "NoSchedule"}
                ],
            },
        }))
        .unwrap();
        assert_eq!(
            settings.platform,
            Platform {
                label: "example.com/lifecycle".to_string(),
                spot: NodeRequirement::Equals("preemptible".to_string()),
                on_demand: NodeRequirement::NotIn(vec!["preemptible".to_string()]),
                spot_tolerations: vec![json!(
                    {"key": "example.com/lifecycle", "operator": "Exists", "effect": "NoSchedule"}
                )],
            }
        );
    }

    #[rstest]
    #[case::not_an_object(
        json!([]),
        "invalid settings: settings: expected an object, got []"
    )]
    #[case::unknown_key(
        json!({"spotRatio": 0.5}),
        "invalid settings: spotRatio: unknown key; accepted keys are defaultSpotRatio, \
         stabilityWeights, spotRatioKey, onInvalidRatio, jobLabels, executorIdLabel, roleLabel, \
         mode, platform, customPlatform, pinDrivers, liveCounts, redis, ratioFromDriver"
    )]
    #[case::ratio_out_of_range(
        json!({"defaultSpotRatio": 1.5}),
        "invalid settings: defaultSpotRatio: expected a number from 0 to 1 or one of BALANCED, \
         COST_OVER_RELIABILITY, ON_DEMAND_ONLY, RELIABILITY_OVER_COST, got 1.5"
    )]
    #[case::ratio_unknown_name(
        json!({"defaultSpotRatio": "CHEAP"}),
        "invalid settings: defaultSpotRatio: expected a number from 0 to 1 or one of BALANCED, \
         COST_OVER_RELIABILITY, ON_DEMAND_ONLY, RELIABILITY_OVER_COST, got \"CHEAP\""
    )]
    #[case::ratio_wrong_type(
        json!({"defaultSpotRatio": true}),
        "invalid settings: defaultSpotRatio: expected a number from 0 to 1 or one of BALANCED, \
         COST_OVER_RELIABILITY, ON_DEMAND_ONLY, RELIABILITY_OVER_COST, got true"
    )]
    #[case::weight_name(
        json!({"stabilityWeights": {"cheap": 0.9}}),
        "invalid settings: stabilityWeights.cheap: expected a name of upper-case letters, digits \
         and underscores, starting with a letter"
    )]
    #[case::weight_value(
        json!({"stabilityWeights": {"CHEAP": "0.9"}}),
        "invalid settings: stabilityWeights.CHEAP: expected a number from 0 to 1, got \"0.9\""
    )]
    #[case::weights_not_an_object(
        json!({"stabilityWeights": ["CHEAP"]}),
        "invalid settings: stabilityWeights: expected an object of weight names to ratios from \
         0 to 1, got [\"CHEAP\"]"
    )]
    #[case::mode(
        json!({"mode": "fast"}),
        "invalid settings: mode: expected one of \"strict\", \"best-effort\", got \"fast\""
    )]
    #[case::invalid_ratio_action(
        json!({"onInvalidRatio": "ignore"}),
        "invalid settings: onInvalidRatio: expected one of \"use-default\", \"reject\", got \
         \"ignore\""
    )]
    #[case::platform(
        json!({"platform": "azure"}),
        "invalid settings: platform: expected one of \"karpenter\", \"eks-managed-node-groups\", \
         \"gke\", \"aks\", \"custom\", got \"azure\""
    )]
    #[case::label_key(
        json!({"executorIdLabel": "spark exec id"}),
        "invalid settings: executorIdLabel: expected a Kubernetes label key such as \
         \"example.com/name\" (an optional DNS prefix and a slash, then at most 63 letters, \
         digits, '-', '_' or '.'), got \"spark exec id\""
    )]
    #[case::job_labels_empty(
        json!({"jobLabels": []}),
        "invalid settings: jobLabels: expected a non-empty list of label keys, got []"
    )]
    #[case::job_label_item(
        json!({"jobLabels": ["spark-app-selector", 7]}),
        "invalid settings: jobLabels[1]: expected a Kubernetes label key such as \
         \"example.com/name\" (an optional DNS prefix and a slash, then at most 63 letters, \
         digits, '-', '_' or '.'), got 7"
    )]
    #[case::pin_drivers(
        json!({"pinDrivers": "yes"}),
        "invalid settings: pinDrivers: expected true or false, got \"yes\""
    )]
    #[case::custom_missing(
        json!({"platform": "custom"}),
        "invalid settings: customPlatform: required when platform is \"custom\": an object with \
         capacityLabel, spotValue, and optionally onDemandValue and spotTolerations"
    )]
    #[case::custom_not_custom(
        json!({"customPlatform": {}}),
        "invalid settings: customPlatform: only allowed when platform is \"custom\""
    )]
    #[case::custom_fields(
        json!({"platform": "custom", "customPlatform": {"label": "x", "spotValue": "-spot"}}),
        "invalid settings: customPlatform.label: unknown key; accepted keys are capacityLabel, \
         spotValue, onDemandValue, spotTolerations; customPlatform.capacityLabel: required; \
         customPlatform.spotValue: expected a Kubernetes label value (at most 63 letters, \
         digits, '-', '_' or '.', starting and ending with a letter or digit), got \"-spot\""
    )]
    #[case::toleration(
        json!({"platform": "custom", "customPlatform": {
            "capacityLabel": "lifecycle", "spotValue": "spot",
            "spotTolerations": [{"key": "lifecycle", "operator": "In", "effect": "Never"}, 3]
        }}),
        "invalid settings: customPlatform.spotTolerations[0].operator: expected \"Equal\" or \
         \"Exists\", got \"In\"; customPlatform.spotTolerations[0].effect: expected \
         \"NoSchedule\", \"PreferNoSchedule\" or \"NoExecute\", got \"Never\"; \
         customPlatform.spotTolerations[1]: expected a toleration object, got 3"
    )]
    #[case::live_counts(
        json!({"liveCounts": "etcd"}),
        "invalid settings: liveCounts: expected one of \"none\", \"redis\", \"kubernetes\", \
         got \"etcd\""
    )]
    #[case::live_counts_need_redis(
        json!({"liveCounts": "redis"}),
        "invalid settings: liveCounts: \"redis\" needs redis.enabled: true"
    )]
    #[case::redis_fields(
        json!({"redis": {"enabled": "yes", "keyPrefix": "a b", "ttlSeconds": 5, "url": "x"}}),
        "invalid settings: redis.url: unknown key; accepted keys are enabled, keyPrefix, \
         ttlSeconds; redis.enabled: expected true or false, got \"yes\"; redis.keyPrefix: \
         expected 1 to 64 printable ASCII characters without spaces, got \"a b\"; \
         redis.ttlSeconds: expected a whole number of seconds from 60 to 2592000, got 5"
    )]
    #[case::redis_not_an_object(
        json!({"redis": true}),
        "invalid settings: redis: expected an object, got true"
    )]
    #[case::ratio_from_driver(
        json!({"ratioFromDriver": 1}),
        "invalid settings: ratioFromDriver: expected true or false, got 1"
    )]
    #[case::all_at_once(
        json!({"mode": 1, "pinDrivers": null, "typo": 0}),
        "invalid settings: typo: unknown key; accepted keys are defaultSpotRatio, \
         stabilityWeights, spotRatioKey, onInvalidRatio, jobLabels, executorIdLabel, roleLabel, \
         mode, platform, customPlatform, pinDrivers, liveCounts, redis, ratioFromDriver; mode: \
         expected one of \"strict\", \"best-effort\", got 1; pinDrivers: expected true or \
         false, got null"
    )]
    fn refusals_name_the_key_and_the_form(#[case] settings: Value, #[case] message: &str) {
        assert_eq!(refusal(settings), message);
    }

    #[rstest]
    #[case("spark-exec-id", true)]
    #[case("emr-containers.amazonaws.com/job.id", true)]
    #[case("a", true)]
    #[case("Example.com/x", false)]
    #[case("/x", false)]
    #[case("example.com/", false)]
    #[case("-x", false)]
    #[case("x_", false)]
    #[case("a/b/c", false)]
    #[case("", false)]
    #[case("é", false)]
    fn label_keys_follow_kubernetes(#[case] key: &str, #[case] valid: bool) {
        assert_eq!(is_label_key(key), valid);
    }

    #[test]
    fn label_values_are_at_most_63_characters() {
        assert!(is_label_value(&"a".repeat(63)));
        assert!(!is_label_value(&"a".repeat(64)));
        assert!(is_label_value(""));
    }
}
