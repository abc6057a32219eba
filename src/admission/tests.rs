//! The request path with a scripted host: what each capability answer, and
//! each failure, does to the decision, the warnings and the calls made.

use super::*;
use crate::capabilities::scripted::ScriptedHost;
use crate::decision::{CAPACITY_ANNOTATION, DECIDED_BY_ANNOTATION, POSITION_ANNOTATION};
use serde_json::json;

/// A CREATE request for executor `id` of job `spark-1` in namespace
/// `spark`, with ratio `ratio` when given.
fn executor(id: &str, ratio: Option<&str>) -> Value {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("pi-exec-{id}"), "namespace": "spark",
            "labels": {"spark-role": "executor", "spark-app-selector": "spark-1",
                       "spark-exec-id": id},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "pi-driver"}],
        },
        "spec": {"containers": [{"name": "executor", "image": "spark:3.5.3"}]},
    });
    if let Some(ratio) = ratio {
        pod["metadata"]["annotations"] = json!({"spot-balancer.io/spot-ratio": ratio});
    }
    json!({"uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
           "namespace": "spark", "operation": "CREATE", "object": pod})
}

/// `settings` parsed, or a test failure.
fn settings(settings: Value) -> Settings {
    Settings::from_value(&settings).unwrap()
}

/// The decision annotations and warnings of a mutated outcome.
fn placed(outcome: Outcome) -> (String, String, String, Vec<String>) {
    let Outcome::Mutated { object, warnings } = outcome else {
        panic!("expected a mutation, got {outcome:?}");
    };
    let annotation = |key: &str| {
        object["metadata"]["annotations"][key]
            .as_str()
            .unwrap()
            .to_string()
    };
    (
        annotation(CAPACITY_ANNOTATION),
        annotation(DECIDED_BY_ANNOTATION),
        annotation(POSITION_ANNOTATION),
        warnings,
    )
}

/// The JSON payload of the `index`th call the host saw.
fn payload(host: &ScriptedHost, index: usize) -> Value {
    host.calls.borrow()[index].1.clone()
}

#[test]
fn an_executor_without_id_takes_the_redis_counter_position() {
    let host = ScriptedHost::default().reply("redis/next_position", Ok(r#"{"position": 5}"#));
    let settings = settings(json!({"redis": {"enabled": true}}));
    let outcome = review_request(&mut executor("EXECID", None), &settings, &host);

    let (_, basis, position, warnings) = placed(outcome);
    assert_eq!((basis.as_str(), position.as_str()), ("redis-counter", "5"));
    assert_eq!(warnings, Vec::<String>::new());
    assert_eq!(
        payload(&host, 0),
        json!({"keyPrefix": "spot-balancer", "namespace": "spark", "job": "spark-1",
               "ttlSeconds": 86400, "dryRun": false})
    );
}

#[test]
fn a_missing_redis_capability_falls_back_to_the_name_hash() {
    // As on a stock policy-server, which routes no custom capability.
    let host = ScriptedHost::default();
    let settings = settings(json!({"redis": {"enabled": true}}));
    let outcome = review_request(&mut executor("EXECID", None), &settings, &host);

    let (_, basis, position, warnings) = placed(outcome);
    assert_eq!(basis, "name-hash");
    assert_eq!(
        position,
        placement::position_from_name("pi-exec-EXECID").to_string()
    );
    assert_eq!(
        warnings,
        [
            "spot-balancer: spot-balancer/redis/next_position failed: no capability \
          redis/next_position; placed by a hash of its name"
        ]
    );
}

#[test]
fn without_redis_an_unusable_id_is_placed_by_name_with_a_warning() {
    let host = ScriptedHost::default();
    let outcome = review_request(&mut executor("EXECID", None), &Settings::default(), &host);

    let (_, basis, _, warnings) = placed(outcome);
    assert_eq!(basis, "name-hash");
    assert_eq!(
        warnings,
        [
            "spot-balancer: executor has spark-exec-id=\"EXECID\"; placed by a hash of its name, \
          which keeps the job at its spot ratio only on average"
        ]
    );
    assert_eq!(host.operations(), Vec::<String>::new());
}

#[test]
fn live_redis_counts_steer_a_job_back_after_an_interruption() {
    // Six executors alive, none on spot, at ratio 0.5: the next goes to spot
    // whatever the sequence says, and is counted there.
    let host = ScriptedHost::default()
        .reply("redis/live_counts", Ok(r#"{"spot": 0, "onDemand": 6}"#))
        .reply(
            "redis/record_admission",
            Ok(r#"{"spot": 1, "onDemand": 6}"#),
        );
    let settings = settings(json!({"redis": {"enabled": true}, "liveCounts": "redis"}));
    let outcome = review_request(&mut executor("7", Some("0.5")), &settings, &host);

    // Executor 7 of spark/spark-1 (phase 222342) is on-demand in the
    // sequence at 0.5, so the live counts decided.
    let (capacity, basis, position, warnings) = placed(outcome);
    assert_eq!(
        (capacity.as_str(), basis.as_str(), position.as_str()),
        ("spot", "live-counts", "7")
    );
    assert_eq!(warnings, Vec::<String>::new());
    assert_eq!(
        host.operations(),
        ["redis/live_counts", "redis/record_admission"]
    );
    assert_eq!(payload(&host, 1)["capacity"], "spot");
}

#[test]
fn balanced_live_counts_leave_the_sequence_in_charge() {
    let host = ScriptedHost::default()
        .reply("redis/live_counts", Ok(r#"{"spot": 3, "onDemand": 3}"#))
        .reply(
            "redis/record_admission",
            Ok(r#"{"spot": 4, "onDemand": 3}"#),
        );
    let settings = settings(json!({"redis": {"enabled": true}, "liveCounts": "redis"}));
    let outcome = review_request(&mut executor("7", Some("0.5")), &settings, &host);

    let (capacity, basis, _, _) = placed(outcome);
    let sequence = placement::capacity_at(
        7,
        Ratio::from_millionths(500_000).unwrap(),
        Phase::of_job("spark", "spark-1"),
    );
    assert_eq!(
        (capacity.as_str(), basis.as_str()),
        (sequence.as_str(), "executor-id")
    );
}

#[test]
fn a_dry_run_reads_but_never_writes_redis() {
    let host = ScriptedHost::default()
        .reply("redis/next_position", Ok(r#"{"position": 3}"#))
        .reply("redis/live_counts", Ok(r#"{"spot": 1, "onDemand": 1}"#));
    let settings = settings(json!({"redis": {"enabled": true}, "liveCounts": "redis"}));
    let mut request = executor("EXECID", None);
    request["dryRun"] = json!(true);
    let (_, _, position, warnings) = placed(review_request(&mut request, &settings, &host));

    assert_eq!(position, "3");
    assert_eq!(warnings, Vec::<String>::new());
    assert_eq!(
        host.operations(),
        ["redis/next_position", "redis/live_counts"]
    );
    assert_eq!(payload(&host, 0)["dryRun"], true);
}

#[test]
fn every_failed_redis_call_is_a_warning_and_the_pod_is_admitted() {
    let host = ScriptedHost::default()
        .reply("redis/live_counts", Err("timed out after 50ms"))
        .reply("redis/record_admission", Err("connection refused"));
    let settings = settings(json!({"redis": {"enabled": true}, "liveCounts": "redis"}));
    let outcome = review_request(&mut executor("2", None), &settings, &host);

    let (_, basis, _, warnings) = placed(outcome);
    assert_eq!(basis, "executor-id");
    assert_eq!(
        warnings,
        [
            "spot-balancer: spot-balancer/redis/live_counts failed: timed out after 50ms; \
             placed by the sequence alone",
            "spot-balancer: spot-balancer/redis/record_admission failed: connection refused; \
             this executor is missing from the job's live counts",
        ]
    );
}

#[test]
fn deleting_a_placed_executor_uncounts_it() {
    let host =
        ScriptedHost::default().reply("redis/record_deletion", Ok(r#"{"spot": 0, "onDemand": 2}"#));
    let settings = settings(json!({"redis": {"enabled": true}, "liveCounts": "redis"}));
    let mut request = executor("4", None);
    let mut pod = request["object"].take();
    pod["metadata"]["annotations"] = json!({"spot-balancer.io/capacity": "spot"});
    request["operation"] = json!("DELETE");
    request["oldObject"] = pod;

    let outcome = review_request(&mut request.clone(), &settings, &host);
    assert_eq!(
        outcome,
        Outcome::Unchanged {
            warnings: Vec::new()
        }
    );
    assert_eq!(host.operations(), ["redis/record_deletion"]);
    assert_eq!(payload(&host, 0)["capacity"], "spot");

    // A dry-run deletion changes no count.
    request["dryRun"] = json!(true);
    review_request(&mut request, &settings, &host);
    assert_eq!(host.operations().len(), 1);
}

#[test]
fn kubernetes_live_counts_list_the_job_and_steer() {
    let list = json!({"items": [
        {"metadata": {"annotations": {"spot-balancer.io/capacity": "spot"}}},
        {"metadata": {"annotations": {"spot-balancer.io/capacity": "spot"}}},
        {"metadata": {"annotations": {"spot-balancer.io/capacity": "spot"}}},
        {"metadata": {"annotations": {"spot-balancer.io/capacity": "spot"}}},
    ]});
    let host = ScriptedHost::default().reply(
        "kubernetes/list_resources_by_namespace",
        Ok(&list.to_string()),
    );
    let settings = settings(json!({"liveCounts": "kubernetes"}));
    let outcome = review_request(&mut executor("9", Some("0.25")), &settings, &host);

    // Four spot of four at 0.25: the target for five is 1.25, so on-demand.
    let (capacity, _, _, warnings) = placed(outcome);
    assert_eq!(capacity, "on-demand");
    assert_eq!(warnings, Vec::<String>::new());
    assert_eq!(
        payload(&host, 0)["label_selector"],
        "spark-app-selector=spark-1,spark-role=executor"
    );
}

#[test]
fn a_refused_kubernetes_capability_falls_back_to_the_sequence() {
    let host = ScriptedHost::default().reply(
        "kubernetes/list_resources_by_namespace",
        Err("policy is not context aware"),
    );
    let settings = settings(json!({"liveCounts": "kubernetes"}));
    let (_, basis, _, warnings) =
        placed(review_request(&mut executor("9", None), &settings, &host));
    assert_eq!(basis, "executor-id");
    assert_eq!(
        warnings,
        [
            "spot-balancer: kubewarden/kubernetes/list_resources_by_namespace failed: policy is \
          not context aware; placed by the sequence alone"
        ]
    );
}

#[test]
fn an_executor_without_a_ratio_takes_its_drivers() {
    let driver =
        json!({"metadata": {"annotations": {"spot-balancer.io/spot-ratio": "ON_DEMAND_ONLY"}}});
    let host = ScriptedHost::default().reply("kubernetes/get_resource", Ok(&driver.to_string()));
    let settings = settings(json!({"ratioFromDriver": true, "defaultSpotRatio": 1}));
    let outcome = review_request(&mut executor("1", None), &settings, &host);

    let Outcome::Mutated { object, .. } = outcome else {
        panic!("not mutated")
    };
    assert_eq!(
        object["metadata"]["annotations"]["spot-balancer.io/ratio"],
        "0"
    );
    assert_eq!(
        object["spec"]["nodeSelector"]["karpenter.sh/capacity-type"],
        "on-demand"
    );
    assert_eq!(payload(&host, 0)["name"], "pi-driver");
}

#[test]
fn an_invalid_driver_ratio_names_the_driver() {
    let driver = json!({"metadata": {"annotations": {"spot-balancer.io/spot-ratio": "lots"}}});
    let host = ScriptedHost::default().reply("kubernetes/get_resource", Ok(&driver.to_string()));
    let settings = settings(json!({"ratioFromDriver": true}));
    let (_, _, _, warnings) = placed(review_request(&mut executor("1", None), &settings, &host));
    assert_eq!(
        warnings,
        [
            "spot-balancer: spot-balancer.io/spot-ratio on the driver is \"lots\", expected a \
          number from 0 to 1 or one of BALANCED, COST_OVER_RELIABILITY, ON_DEMAND_ONLY, \
          RELIABILITY_OVER_COST; using the default 0.5"
        ]
    );
}

#[test]
fn the_executors_own_ratio_wins_over_the_drivers() {
    let host = ScriptedHost::default();
    let settings = settings(json!({"ratioFromDriver": true}));
    let outcome = review_request(&mut executor("1", Some("1")), &settings, &host);
    let (capacity, _, _, _) = placed(outcome);
    assert_eq!(capacity, "spot");
    assert_eq!(host.operations(), Vec::<String>::new());
}

#[test]
fn requests_that_are_not_pod_creations_make_no_calls() {
    let host = ScriptedHost::default();
    let settings = settings(json!({"redis": {"enabled": true}, "liveCounts": "redis"}));
    for (operation, kind) in [
        ("UPDATE", "Pod"),
        ("CONNECT", "Pod"),
        ("CREATE", "Deployment"),
    ] {
        let mut request = executor("EXECID", None);
        request["operation"] = json!(operation);
        request["kind"]["kind"] = json!(kind);
        let outcome = review_request(&mut request, &settings, &host);
        assert_eq!(
            outcome,
            Outcome::Unchanged {
                warnings: Vec::new()
            },
            "{operation} {kind}"
        );
    }
    assert_eq!(host.operations(), Vec::<String>::new());
}
