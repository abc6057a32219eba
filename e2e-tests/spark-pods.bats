#!/usr/bin/env bats
# Spark pods as they reach the webhook, through `kwctl run` with the default
# settings (Karpenter, strict, ratio 0.5) unless a test says otherwise.
#
# Executor picks follow the job's sequence: in namespace spark-jobs, job
# spark-4b2c1e0f7a9d4e6b8c3a5f1d2e7b9c04 has phase 974898, so at ratio 0.5
# odd executor IDs go to spot and even ones to on-demand. README.md beside
# this file lists every fixture with its job, phase and pick.

load helpers

@test "executor with a Spark ID is pinned to the capacity its ID picks" {
  # Executor 3 of a plain Spark on Kubernetes job: a spot pick.
  evaluate spark-executor-with-id
  assert_allowed true
  assert_warnings '[]'
  assert_patch spark-executor-with-id
}

@test "best-effort mode records a spot pick without pinning it" {
  # The same executor with mode best-effort: annotations only, no selector.
  evaluate spark-executor-with-id '{"mode": "best-effort"}'
  assert_allowed true
  assert_warnings '[]'
  assert_patch spark-executor-with-id--best-effort
}

@test "statefulset executor with spark-exec-id EXECID is placed by its name, with a warning" {
  # Spark's statefulset allocator labels every pod EXECID; the pod name is hashed instead.
  evaluate spark-executor-statefulset-execid
  assert_allowed true
  local warning='spot-balancer: executor has spark-exec-id="EXECID"; placed by a hash of its'
  warning+=' name, which keeps the job at its spot ratio only on average'
  assert_warning "$warning"
  assert_patch spark-executor-statefulset-execid
}

@test "driver is pinned to on-demand capacity" {
  # A driver submitted from Airflow; losing it loses the job.
  evaluate spark-driver
  assert_allowed true
  assert_warnings '[]'
  assert_patch spark-driver
}

@test "driver is left alone when pinDrivers is false" {
  # The same driver with pinDrivers off: admitted as it came.
  evaluate spark-driver '{"pinDrivers": false}'
  assert_allowed true
  assert_warnings '[]'
  assert_no_patch
}

@test "executor that selects the capacity label itself keeps its choice" {
  # The pod template already asks for on-demand through nodeSelector.
  evaluate spark-executor-own-node-selector-on-capacity-label
  assert_allowed true
  assert_warnings '[]'
  assert_no_patch
}

@test "executor that requires the capacity label in node affinity keeps its choice" {
  # The pod template requires spot capacity in a required node-affinity term.
  evaluate spark-executor-required-affinity-on-capacity-label
  assert_allowed true
  assert_warnings '[]'
  assert_no_patch
}

@test "pod outside Spark is admitted unchanged" {
  # The Spark history server, created by its ReplicaSet, has no spark-role label.
  evaluate non-spark-pod
  assert_allowed true
  assert_warnings '[]'
  assert_no_patch
}

@test "update of a running executor is admitted unchanged" {
  # Spark labels a decommissioned executor spark-exec-inactive; placement is not revisited.
  evaluate spark-executor-update
  assert_allowed true
  assert_warnings '[]'
  assert_no_patch
}

@test "deletion of an executor is admitted unchanged" {
  # The driver deletes an executor; the request has no object, only oldObject.
  evaluate spark-executor-delete
  assert_allowed true
  assert_warnings '[]'
  assert_no_patch
}

@test "dry-run creation is answered like a real one" {
  # kubectl create --dry-run=server of executor 6: an on-demand pick.
  evaluate spark-executor-dry-run-create
  assert_allowed true
  assert_warnings '[]'
  assert_patch spark-executor-dry-run-create
}

@test "ratio annotation with a number sets the job's ratio" {
  # spot-ratio 0.25 makes executor 3 an on-demand pick, where 0.5 made it spot.
  evaluate spark-executor-ratio-number
  assert_allowed true
  assert_warnings '[]'
  assert_patch spark-executor-ratio-number
}

@test "ratio annotation with a weight name uses that weight" {
  # COST_OVER_RELIABILITY is 0.8: executor 4 becomes a spot pick.
  evaluate spark-executor-ratio-weight-name
  assert_allowed true
  assert_warnings '[]'
  assert_patch spark-executor-ratio-weight-name
}

@test "a weight redefined in settings changes what the name means" {
  # stabilityWeights sets COST_OVER_RELIABILITY to 0.25: executor 4 goes back to on-demand.
  local settings='{"stabilityWeights": {"COST_OVER_RELIABILITY": 0.25}}'
  evaluate spark-executor-ratio-weight-name "$settings"
  assert_allowed true
  assert_warnings '[]'
  assert_patch spark-executor-ratio-weight-name--weight-overridden
}

@test "invalid ratio annotation falls back to the default with a warning" {
  # spot-ratio "50%" is neither a decimal nor a weight; the default 0.5 is used.
  evaluate spark-executor-ratio-invalid
  assert_allowed true
  local warning='spot-balancer: spot-balancer.io/spot-ratio on the pod is "50%", expected a'
  warning+=' number from 0 to 1 or one of BALANCED, COST_OVER_RELIABILITY, ON_DEMAND_ONLY,'
  warning+=' RELIABILITY_OVER_COST; using the default 0.5'
  assert_warning "$warning"
  assert_patch spark-executor-ratio-invalid
}

@test "invalid ratio annotation is refused when onInvalidRatio is reject" {
  # The same pod with onInvalidRatio reject: refused, naming the annotation and its value.
  evaluate spark-executor-ratio-invalid '{"onInvalidRatio": "reject"}'
  assert_allowed false
  assert_no_patch
  local message='spot-balancer: spot-balancer.io/spot-ratio on the pod is "50%", expected a'
  message+=' number from 0 to 1 or one of BALANCED, COST_OVER_RELIABILITY, ON_DEMAND_ONLY,'
  message+=' RELIABILITY_OVER_COST'
  assert_status_message "$message"
}

@test "fields unknown to Kubernetes survive and stay out of the patch" {
  # Unknown fields at four depths, with integers past 64 bits; only the decision is patched.
  evaluate spark-executor-unknown-fields
  assert_allowed true
  assert_warnings '[]'
  assert_patch spark-executor-unknown-fields
}

@test "existing node selector keys are kept and the capacity label is added" {
  # spark.kubernetes.node.selector.* set a zone and an instance type; executor 8 is on-demand.
  evaluate spark-executor-existing-node-selector-merged
  assert_allowed true
  assert_warnings '[]'
  assert_patch spark-executor-existing-node-selector-merged
}

@test "executor without a job label is balanced with its namespace, with a warning" {
  # A hand-rolled launcher left out spark-app-selector; the job key is the namespace alone.
  evaluate spark-executor-without-job-label
  assert_allowed true
  local warning='spot-balancer: executor has none of the labels'
  warning+=' emr-containers.amazonaws.com/job.id, spark-app-selector; it is balanced with the'
  warning+=' other unlabelled executors of its namespace'
  assert_warning "$warning"
  assert_patch spark-executor-without-job-label
}

@test "an executor the policy already placed is admitted unchanged" {
  # The pod the first test admits, sent again: the second pass changes nothing.
  evaluate spark-executor-already-placed
  assert_allowed true
  assert_warnings '[]'
  assert_no_patch
}
