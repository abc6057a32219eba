# Helpers for the spot-balancer e2e suite, loaded by every .bats file.
#
# The suite drives `kwctl run` (or any host with the same arguments and
# output, such as `spot-balancer-host run`) and reads its answer with jq:
#
#   KWCTL   the command to run; default `kwctl` from PATH
#   POLICY  the policy module; default `policy.wasm` at the repository root
#
# Relative paths in both are taken from the repository root, so the suite
# runs the same from any directory.

bats_require_minimum_version 1.5.0

REPO_ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
FIXTURES="$BATS_TEST_DIRNAME/fixtures"
EXPECTED="$BATS_TEST_DIRNAME/expected"

# Resolves a path given relative to the repository root.
from_root() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    */*) printf '%s\n' "$REPO_ROOT/$1" ;;
    # A bare name is a file at the root when there is one, else a command.
    *) if [ -e "$REPO_ROOT/$1" ]; then printf '%s\n' "$REPO_ROOT/$1"; else printf '%s\n' "$1"; fi ;;
  esac
}

KWCTL_BIN="$(from_root "${KWCTL:-kwctl}")"
POLICY_FILE="$(from_root "${POLICY:-policy.wasm}")"

# Evaluates fixture $1 with the settings JSON $2 (default `{}`) and keeps
# the AdmissionResponse in $response. The run must succeed.
evaluate() {
  local fixture="$FIXTURES/$1.json"
  local settings="${2:-}"
  [ -n "$settings" ] || settings='{}'
  run --separate-stderr "$KWCTL_BIN" run \
    --request-path "$fixture" \
    --settings-json "$settings" \
    "$POLICY_FILE"
  if [ "$status" -ne 0 ]; then
    echo "kwctl run failed with status $status" >&2
    echo "stderr: $stderr" >&2
    return 1
  fi
  response="$output"
  local uid
  uid="$(jq -r '.request.uid' "$fixture")"
  assert_json '.uid' "\"$uid\""
}

# Asserts that jq filter $1 on the response gives the JSON $2.
assert_json() {
  local actual expected
  actual="$(jq -cS "$1" <<<"$response")"
  expected="$(jq -cS . <<<"$2")"
  if [ "$actual" != "$expected" ]; then
    echo "$1: expected $expected" >&2
    echo "$1: actual   $actual" >&2
    echo "response: $response" >&2
    return 1
  fi
}

# Asserts the response's `allowed`.
assert_allowed() {
  assert_json '.allowed' "$1"
}

# Asserts the exact warnings, given as a JSON list; `[]` for none, which
# kwctl shows as `null` or leaves out.
assert_warnings() {
  assert_json '.warnings // []' "$1"
}

# Asserts that the response carries exactly one warning, the text $1.
assert_warning() {
  assert_json '.warnings // []' "$(jq -cn --arg warning "$1" '[$warning]')"
}

# Asserts that the response's status message is the text $1.
assert_status_message() {
  assert_json '.status.message' "$(jq -cn --arg message "$1" '$message')"
}

# Asserts that the response carries no patch.
assert_no_patch() {
  assert_json '.patch // null' 'null'
  assert_json '.patchType // null' 'null'
}

# Asserts that the response's patch, decoded, holds exactly the operations
# of expected/$1.patch.json, compared as a list sorted by path.
assert_patch() {
  local expected_file="$EXPECTED/$1.patch.json"
  assert_json '.patchType' '"JSONPatch"'
  local actual expected
  actual="$(jq -r '.patch' <<<"$response" | base64 -d | jq -cS 'sort_by(.path)')"
  expected="$(jq -cS 'sort_by(.path)' "$expected_file")"
  if [ "$actual" != "$expected" ]; then
    echo "patch differs from $expected_file" >&2
    diff <(jq -S . <<<"$expected") <(jq -S . <<<"$actual") >&2 || true
    return 1
  fi
}

# Runs fixture $1 with the settings JSON $2, which the policy must refuse
# with message $3: kwctl then exits non-zero, prints no response and says
#   Error: Provided settings are not valid: "<message>"
# on stderr, the message quoted and escaped as Rust's `{:?}` shows it.
assert_settings_refused() {
  run --separate-stderr "$KWCTL_BIN" run \
    --request-path "$FIXTURES/$1.json" \
    --settings-json "$2" \
    "$POLICY_FILE"
  local quoted="${3//\\/\\\\}"
  quoted="${quoted//\"/\\\"}"
  local line="Error: Provided settings are not valid: \"$quoted\""
  if [ "$status" -eq 0 ] || [ -n "$output" ] || ! grep -Fxq -- "$line" <<<"$stderr"; then
    echo "status: $status" >&2
    echo "stdout: $output" >&2
    echo "stderr: $stderr" >&2
    echo "wanted on stderr: $line" >&2
    return 1
  fi
}
