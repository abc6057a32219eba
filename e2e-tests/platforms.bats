#!/usr/bin/env bats
# One spot pick and one on-demand pick for every platform preset, through
# `kwctl run`. The pods already carry tolerations, node selectors and
# affinity terms of their own, so each patch shows the merge.
#
# The EMR on EKS job 0000000354qk4dg2h1m (namespace emr-analytics, phase
# 138816) and the Spark operator job in data-platform (phase 45366) put even
# executor IDs on spot at ratio 0.5; the Spark on Kubernetes job in
# spark-jobs (phase 974898) puts odd ones there.

load helpers

# Keys in alphabetical order: kwctl passes settings on in that order.
CUSTOM="$(jq -c . <<'JSON'
{
  "customPlatform": {
    "capacityLabel": "node.example.com/lifecycle",
    "spotTolerations": [
      {"effect": "NoSchedule", "key": "node.example.com/lifecycle", "operator": "Equal",
       "value": "preemptible"}
    ],
    "spotValue": "preemptible"
  },
  "platform": "custom"
}
JSON
)"

@test "karpenter: spot pick is a capacity-type selector" {
  # EMR on EKS executor 2 on Karpenter (or EKS Auto Mode).
  evaluate karpenter-spot-pick '{"platform": "karpenter"}'
  assert_allowed true
  assert_warnings '[]'
  assert_patch karpenter-spot-pick
}

@test "karpenter: on-demand pick is a capacity-type selector" {
  # EMR on EKS executor 3 of the same job.
  evaluate karpenter-on-demand-pick '{"platform": "karpenter"}'
  assert_allowed true
  assert_warnings '[]'
  assert_patch karpenter-on-demand-pick
}

@test "eks-managed-node-groups: spot pick joins the pod's own selector" {
  # EMR on EKS executor 4, which already selects amd64 nodes.
  evaluate eks-managed-node-groups-spot-pick '{"platform": "eks-managed-node-groups"}'
  assert_allowed true
  assert_warnings '[]'
  assert_patch eks-managed-node-groups-spot-pick
}

@test "eks-managed-node-groups: on-demand pick joins the pod's own selector" {
  # EMR on EKS executor 5, which already selects amd64 nodes.
  evaluate eks-managed-node-groups-on-demand-pick '{"platform": "eks-managed-node-groups"}'
  assert_allowed true
  assert_warnings '[]'
  assert_patch eks-managed-node-groups-on-demand-pick
}

@test "gke: spot pick selects spot nodes and tolerates their taint" {
  # Spark operator executor 2, with a toleration and affinity terms of its own.
  evaluate gke-spot-pick '{"platform": "gke"}'
  assert_allowed true
  assert_warnings '[]'
  assert_patch gke-spot-pick
}

@test "gke: best-effort spot pick only tolerates the spot taint" {
  # The same executor in best-effort mode: no selector, the toleration still added.
  evaluate gke-spot-pick '{"platform": "gke", "mode": "best-effort"}'
  assert_allowed true
  assert_warnings '[]'
  assert_patch gke-spot-pick--best-effort
}

@test "gke: on-demand pick requires the spot label absent in every term" {
  # Spark operator executor 3: each of its two required node-affinity terms gains it.
  evaluate gke-on-demand-pick '{"platform": "gke"}'
  assert_allowed true
  assert_warnings '[]'
  assert_patch gke-on-demand-pick
}

@test "aks: spot pick selects spot pools and tolerates their taint" {
  # Spark on Kubernetes executor 1, which already tolerates a workload taint.
  evaluate aks-spot-pick '{"platform": "aks"}'
  assert_allowed true
  assert_warnings '[]'
  assert_patch aks-spot-pick
}

@test "aks: on-demand pick adds a required term beside the pod's preferences" {
  # Spark on Kubernetes executor 10, with preferred node affinity and pod anti-affinity.
  evaluate aks-on-demand-pick '{"platform": "aks"}'
  assert_allowed true
  assert_warnings '[]'
  assert_patch aks-on-demand-pick
}

@test "custom: spot pick uses the configured label, value and toleration" {
  # Spark operator executor 6 on a platform whose spot nodes are lifecycle=preemptible.
  evaluate custom-spot-pick "$CUSTOM"
  assert_allowed true
  assert_warnings '[]'
  assert_patch custom-spot-pick
}

@test "custom: on-demand pick without onDemandValue requires NotIn the spot value" {
  # Spark operator executor 5; a matchFields-only term gains matchExpressions too.
  evaluate custom-on-demand-pick "$CUSTOM"
  assert_allowed true
  assert_warnings '[]'
  assert_patch custom-on-demand-pick
}
