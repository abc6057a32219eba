//! The real policy module places a job's executors, evaluated as
//! policy-server evaluates it: one compiled module, a fresh instance per
//! request. Every prefix of a job stays within one executor of its target,
//! answers repeat exactly, and a placed pod is not placed again.

mod support;

use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};
use spot_balancer_host::capability::{Dispatcher, GuestLog, KUBEWARDEN_BINDING, TRACING_NAMESPACE};
use spot_balancer_host::{AdmissionRequest, AdmissionResponse, Policy, PolicySettings};

/// The policy module, compiled once per test binary.
fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let module = support::modules::policy_module("spot-balancer");
        Policy::from_path(&module).expect("the policy compiles")
    })
}

/// A dispatcher that keeps the guest's log lines to itself.
fn dispatcher() -> Arc<Dispatcher> {
    let mut dispatcher = Dispatcher::new();
    let sink = Arc::new(Mutex::new(Vec::new()));
    dispatcher
        .register(
            KUBEWARDEN_BINDING,
            TRACING_NAMESPACE,
            GuestLog::new("spot-balancer", sink),
        )
        .expect("first registration");
    Arc::new(dispatcher)
}

/// The CREATE request of executor `id` of job `job` in `spark-jobs`.
fn executor(job: &str, id: u64) -> Value {
    json!({
        "uid": format!("{job}-{id}"),
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "spark-jobs",
        "operation": "CREATE",
        "object": {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": format!("{job}-exec-{id}"), "namespace": "spark-jobs",
                "labels": {"spark-role": "executor", "spark-app-selector": job,
                           "spark-exec-id": id.to_string()},
            },
            "spec": {"containers": [{"name": "spark-kubernetes-executor", "image": "spark:3.5.3"}]},
        },
    })
}

/// Evaluates `request` with `settings`.
fn evaluate(request: &Value, settings: &Value) -> AdmissionResponse {
    let request = AdmissionRequest::from_document(request.clone()).expect("a request");
    let settings = PolicySettings::from_json(&settings.to_string()).expect("settings");
    policy()
        .evaluate(&dispatcher(), &settings, &request)
        .expect("settings are valid")
}

/// The pod `response` stores: the request's object with the patch applied.
fn patched(request: &Value, response: &AdmissionResponse) -> Value {
    let mut pod = request["object"].clone();
    if let Some(patch) = response.decoded_patch() {
        let patch: json_patch::Patch = serde_json::from_value(patch).expect("an RFC 6902 patch");
        json_patch::patch(&mut pod, &patch).expect("the patch applies");
    }
    pod
}

#[test]
fn every_prefix_of_a_job_is_within_one_executor_of_its_target() {
    // Ratios as the policy holds them, in millionths; 1/3 is 333333.
    let ratios: [(&str, u64); 7] = [
        ("0", 0),
        ("0.1", 100_000),
        ("0.333333", 333_333),
        ("0.5", 500_000),
        ("0.7", 700_000),
        ("0.9", 900_000),
        ("1", 1_000_000),
    ];
    let jobs: Vec<_> = ratios
        .into_iter()
        .map(|(ratio, millionths)| {
            std::thread::spawn(move || {
                let job = format!("spark-prefix-{millionths}");
                let settings = json!({"defaultSpotRatio": ratio});
                let mut spot: u64 = 0;
                for id in 1..=2000 {
                    let request = executor(&job, id);
                    let response = evaluate(&request, &settings);
                    assert!(response.allowed, "{job} executor {id}: {response:?}");
                    let pod = patched(&request, &response);
                    let capacity = &pod["metadata"]["annotations"]["spot-balancer.io/capacity"];
                    let selected = &pod["spec"]["nodeSelector"]["karpenter.sh/capacity-type"];
                    assert_eq!(capacity, selected, "{job} executor {id}");
                    if capacity == "spot" {
                        spot += 1;
                    }
                    // |spot - r * id| < 1, in millionths of an executor.
                    let error = (i128::from(spot) * 1_000_000 - i128::from(millionths * id)).abs();
                    assert!(error < 1_000_000, "{job}: {spot} spot of {id}");
                }
                (ratio, spot)
            })
        })
        .collect();
    for job in jobs {
        let (ratio, spot) = job.join().expect("the job's thread");
        println!("ratio {ratio}: {spot} of 2000 executors on spot");
    }
}

#[test]
fn the_same_request_twice_gives_the_same_patch() {
    let settings = json!({"defaultSpotRatio": 0.5});
    for id in [1, 2, 3, 17, 1999] {
        let request = executor("spark-repeat", id);
        let first = evaluate(&request, &settings);
        let second = evaluate(&request, &settings);
        assert!(first.patch.is_some(), "executor {id} is placed");
        assert_eq!(first, second, "executor {id}");
    }
}

#[test]
fn a_placed_pod_evaluated_again_gets_no_patch() {
    let settings = json!({"defaultSpotRatio": 0.5});
    for (id, platform) in [
        (1, "karpenter"),
        (2, "gke"),
        (3, "aks"),
        (4, "eks-managed-node-groups"),
    ] {
        let settings =
            json!({"defaultSpotRatio": settings["defaultSpotRatio"], "platform": platform});
        let mut request = executor("spark-again", id);
        let first = evaluate(&request, &settings);
        request["object"] = patched(&request, &first);

        let second = evaluate(&request, &settings);
        assert!(second.allowed);
        assert_eq!(
            (second.patch, second.warnings),
            (None, None),
            "executor {id} on {platform}"
        );
    }
}
