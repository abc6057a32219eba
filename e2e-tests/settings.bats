#!/usr/bin/env bats
# Settings the policy refuses. kwctl validates settings before it evaluates
# anything: on a refusal it prints no response, exits non-zero and writes
#   Error: Provided settings are not valid: "<the policy's message>"
# on stderr. Each message names the key and the form it accepts.
#
# Where one document holds several mistakes, the policy reports them in a
# fixed order of keys, whatever order the host passes the keys in.

load helpers

@test "an unknown key is refused with the list of accepted keys" {
  # A misspelt defaultSpotRatio must not silently leave the default in force.
  local message='invalid settings: spotRatio: unknown key; accepted keys are defaultSpotRatio,'
  message+=' stabilityWeights, spotRatioKey, onInvalidRatio, jobLabels, executorIdLabel,'
  message+=' roleLabel, mode, platform, customPlatform, pinDrivers, liveCounts, redis,'
  message+=' ratioFromDriver'
  assert_settings_refused spark-executor-with-id '{"spotRatio": 0.5}' "$message"
}

@test "a default ratio above one is refused with the accepted forms" {
  # Ratios are shares of executors, from 0 to 1, or a weight name.
  local message='invalid settings: defaultSpotRatio: expected a number from 0 to 1 or one of'
  message+=' BALANCED, COST_OVER_RELIABILITY, ON_DEMAND_ONLY, RELIABILITY_OVER_COST, got 1.5'
  assert_settings_refused spark-executor-with-id '{"defaultSpotRatio": 1.5}' "$message"
}

@test "an unknown mode is refused with the modes there are" {
  # Only strict and best-effort exist.
  assert_settings_refused spark-executor-with-id '{"mode": "fast"}' \
    'invalid settings: mode: expected one of "strict", "best-effort", got "fast"'
}

@test "an unknown platform is refused with the presets there are" {
  # AKS is spelt aks.
  local message='invalid settings: platform: expected one of "karpenter",'
  message+=' "eks-managed-node-groups", "gke", "aks", "custom", got "azure"'
  assert_settings_refused spark-executor-with-id '{"platform": "azure"}' "$message"
}

@test "platform custom without customPlatform is refused" {
  # A custom platform has no label or values unless customPlatform gives them.
  local message='invalid settings: customPlatform: required when platform is "custom": an'
  message+=' object with capacityLabel, spotValue, and optionally onDemandValue and'
  message+=' spotTolerations'
  assert_settings_refused spark-executor-with-id '{"platform": "custom"}' "$message"
}

@test "customPlatform refusals name each nested key" {
  # capacityLabel is missing and spotValue is not a label value: both are reported.
  local settings='{"customPlatform": {"spotValue": "-spot"}, "platform": "custom"}'
  local message='invalid settings: customPlatform.capacityLabel: required;'
  message+=" customPlatform.spotValue: expected a Kubernetes label value (at most 63 letters,"
  message+=" digits, '-', '_' or '.', starting and ending with a letter or digit), got \"-spot\""
  assert_settings_refused spark-executor-with-id "$settings" "$message"
}

@test "a bad weight name is refused with the form of a name" {
  # Weight names are upper case, so they never read as numbers or as each other.
  local message='invalid settings: stabilityWeights.cheap: expected a name of upper-case'
  message+=' letters, digits and underscores, starting with a letter'
  assert_settings_refused spark-executor-with-id '{"stabilityWeights": {"cheap": 0.9}}' \
    "$message"
}

@test "every mistake in one document is reported at once" {
  # A mode of the wrong type and a null pinDrivers, in one message.
  local message='invalid settings: mode: expected one of "strict", "best-effort", got 1;'
  message+=' pinDrivers: expected true or false, got null'
  assert_settings_refused spark-executor-with-id '{"mode": 1, "pinDrivers": null}' "$message"
}

@test "redis live counts without the redis capability enabled are refused" {
  # liveCounts redis needs redis.enabled, or no count could ever be read.
  assert_settings_refused spark-executor-with-id '{"liveCounts": "redis"}' \
    'invalid settings: liveCounts: "redis" needs redis.enabled: true'
}

@test "valid settings for every key are accepted" {
  # A document using each key at once evaluates normally: executor 3 is a spot pick.
  local settings
  settings="$(jq -c . <<'JSON'
{
  "customPlatform": {"capacityLabel": "node.example.com/lifecycle", "spotValue": "preemptible"},
  "defaultSpotRatio": "BALANCED",
  "executorIdLabel": "spark-exec-id",
  "jobLabels": ["emr-containers.amazonaws.com/job.id", "spark-app-selector"],
  "liveCounts": "none",
  "mode": "strict",
  "onInvalidRatio": "use-default",
  "pinDrivers": true,
  "platform": "custom",
  "ratioFromDriver": false,
  "redis": {"enabled": false},
  "roleLabel": "spark-role",
  "spotRatioKey": "spot-balancer.io/spot-ratio",
  "stabilityWeights": {"NIGHTLY": 0.9}
}
JSON
)"
  evaluate spark-executor-with-id "$settings"
  assert_allowed true
  assert_warnings '[]'
  local selector='.patch | @base64d | fromjson | map(select(.path == "/spec/nodeSelector"))'
  assert_json "$selector | .[0].value" '{"node.example.com/lifecycle": "preemptible"}'
}
