#!/usr/bin/env bats
# Live counts from the Kubernetes capability: the policy lists the job's
# executors and steers the new one when the job is off its ratio. The
# cluster is a session in kwctl's replay format, so the same cases run with
# kwctl and with spot-balancer-host. Context-aware reads need the module's
# metadata, so these cases run the annotated module.

load helpers

ANNOTATED_POLICY_FILE="$(from_root "${ANNOTATED_POLICY:-annotated-policy.wasm}")"
SESSIONS="$BATS_TEST_DIRNAME/sessions"

# Evaluates fixture $1 with settings $2, answering the policy's Kubernetes
# reads from session $3; keeps the AdmissionResponse in $response.
evaluate_in_cluster() {
  run --separate-stderr "$KWCTL_BIN" run \
    --request-path "$FIXTURES/$1.json" \
    --settings-json "$2" \
    --allow-context-aware \
    --replay-host-capabilities-interactions "$SESSIONS/$3.yml" \
    "$ANNOTATED_POLICY_FILE"
  if [ "$status" -ne 0 ]; then
    echo "kwctl run failed with status $status" >&2
    echo "stderr: $stderr" >&2
    return 1
  fi
  response="$output"
}

@test "a job on target leaves the sequence in charge" {
  # One spot and one on-demand executor live; a finished and a terminating
  # one do not count. Executor 3's sequence pick, on-demand, stands.
  evaluate_in_cluster karpenter-on-demand-pick '{"liveCounts": "kubernetes"}' \
    live-executors-balanced
  assert_allowed true
  assert_warnings '[]'
  assert_patch karpenter-on-demand-pick
}

@test "a job short of spot after an interruption gets the next executor on spot" {
  # Six on-demand executors live and none on spot, at ratio 0.5: the live
  # counts override the sequence's on-demand pick.
  evaluate_in_cluster karpenter-on-demand-pick '{"liveCounts": "kubernetes"}' \
    live-executors-spot-short
  assert_allowed true
  assert_warnings '[]'
  # Its expected patch lies beside the session, out of the native tests'
  # table, which plays no cluster.
  EXPECTED="$SESSIONS" assert_patch live-executors-spot-short
}

@test "a refused pod list falls back to the sequence with a warning" {
  # The policy server's service account may not list pods.
  evaluate_in_cluster karpenter-on-demand-pick '{"liveCounts": "kubernetes"}' \
    live-executors-forbidden
  assert_allowed true
  assert_patch karpenter-on-demand-pick
  local warning
  warning="$(jq -r '.warnings[0]' <<<"$response")"
  [[ "$warning" == "spot-balancer: kubewarden/kubernetes/list_resources_by_namespace failed: "* ]]
  [[ "$warning" == *'pods is forbidden: User "system:serviceaccount:kubewarden:policy-server"'* ]]
  [[ "$warning" == *"; placed by the sequence alone" ]]
  assert_json '.warnings | length' 1
}

@test "without --allow-context-aware the list is refused and the sequence decides" {
  # The same cluster, but the operator did not let the policy read it.
  run --separate-stderr "$KWCTL_BIN" run \
    --request-path "$FIXTURES/karpenter-on-demand-pick.json" \
    --settings-json '{"liveCounts": "kubernetes"}' \
    --replay-host-capabilities-interactions "$SESSIONS/live-executors-spot-short.yml" \
    "$ANNOTATED_POLICY_FILE"
  [ "$status" -eq 0 ]
  response="$output"
  assert_allowed true
  assert_patch karpenter-on-demand-pick
  assert_json '.warnings | length' 1
}
