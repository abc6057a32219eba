//! Admissions through the real policy module, with the Redis capability
//! wired as a host wires it.
//!
//! The module is spot-balancer's `wasm-release` build, found or built by
//! the host's `support::modules`, and compiled once per test binary. The
//! requests are the executor of `redis_fixtures/`, which Spark's
//! statefulset allocator labels `spark-exec-id: EXECID`, renamed per pod.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use spot_balancer_host::capability::{
    ContextAwareAccess, Dispatcher, GuestLog, Kubernetes, NoCluster, RedisCapability,
    kubewarden_dispatcher,
};
use spot_balancer_host::{AdmissionRequest, AdmissionResponse, Policy, PolicySettings};

use crate::support::modules::policy_module;

/// The job of the fixture executor (its `spark-app-selector`).
pub const JOB: &str = "spark-3c9d2e1f0a4b4c5d8e7f6a5b4c3d2e1f";

/// The namespace of the fixture executor.
pub const NAMESPACE: &str = "spark-jobs";

/// The annotations the policy writes its decision to.
pub const CAPACITY: &str = "spot-balancer.io/capacity";
/// See [`CAPACITY`].
pub const POSITION: &str = "spot-balancer.io/position";
/// See [`CAPACITY`].
pub const DECIDED_BY: &str = "spot-balancer.io/decided-by";

/// The Redis key of the fixture job's position counter.
pub fn position_key() -> String {
    format!("spot-balancer:{NAMESPACE}:{JOB}:position")
}

/// The Redis key of the fixture job's live counts.
pub fn live_key() -> String {
    format!("spot-balancer:{NAMESPACE}:{JOB}:live")
}

/// The policy module, compiled once.
pub fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        Policy::from_path(&policy_module("spot-balancer")).expect("the policy compiles")
    })
}

/// Settings that take positions from Redis.
pub fn positions() -> PolicySettings {
    PolicySettings::from_json(r#"{"redis": {"enabled": true}}"#).expect("settings are JSON")
}

/// Settings that take positions and live counts from Redis.
pub fn live_counts() -> PolicySettings {
    PolicySettings::from_json(r#"{"redis": {"enabled": true}, "liveCounts": "redis"}"#)
        .expect("settings are JSON")
}

/// A dispatcher serving the Kubewarden logging and Kubernetes capabilities
/// as `run` does (logs discarded, no cluster) and `redis`.
pub fn dispatcher(redis: RedisCapability) -> Arc<Dispatcher> {
    let logs = Arc::new(Mutex::new(std::io::sink()));
    let kubernetes = Kubernetes::new(ContextAwareAccess::Denied, Arc::new(NoCluster));
    let mut dispatcher = kubewarden_dispatcher(GuestLog::new("spot-balancer", logs), kubernetes)
        .expect("first registration");
    redis.register(&mut dispatcher).expect("first registration");
    Arc::new(dispatcher)
}

/// The fixture's CREATE of an executor without an ID.
fn create_fixture() -> Value {
    static FIXTURE: OnceLock<Value> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/redis_fixtures/executor-without-id-create.json");
            let text = std::fs::read_to_string(path).expect("the fixture exists");
            serde_json::from_str(&text).expect("the fixture is JSON")
        })
        .clone()
}

/// The CREATE of executor pod `name`, a dry run or not.
pub fn create(name: &str, dry_run: bool) -> AdmissionRequest {
    let mut request = create_fixture();
    request["uid"] = json!(format!("uid-create-{name}"));
    request["name"] = json!(name);
    request["object"]["metadata"]["name"] = json!(name);
    request["dryRun"] = json!(dry_run);
    AdmissionRequest::from_document(request).expect("a request")
}

/// The DELETE of `pod`, as the API server sends it: the pod as admitted
/// under `oldObject`, no `object`.
pub fn delete(pod: &Value, dry_run: bool) -> AdmissionRequest {
    let mut request = create_fixture();
    let name = pod["metadata"]["name"].clone();
    request["uid"] = json!(format!("uid-delete-{}", name.as_str().unwrap_or_default()));
    request["name"] = name;
    request["operation"] = json!("DELETE");
    request["object"] = Value::Null;
    request["oldObject"] = pod.clone();
    request["dryRun"] = json!(dry_run);
    request["options"] = json!({"apiVersion": "meta.k8s.io/v1", "kind": "DeleteOptions"});
    AdmissionRequest::from_document(request).expect("a request")
}

/// One evaluation and how long it took.
pub struct Admission {
    /// The request's object with the response's patch applied: the pod as
    /// the API server would store it. `None` for a DELETE.
    pub pod: Option<Value>,
    /// The response.
    pub response: AdmissionResponse,
    /// Wall time of the evaluation: a fresh instance, settings, validate.
    pub elapsed: Duration,
}

impl Admission {
    /// The pod's annotation `key`, if admitted with it.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.pod
            .as_ref()?
            .pointer(&format!("/metadata/annotations/{}", key.replace('/', "~1")))?
            .as_str()
    }

    /// The response's warnings, none when it has none.
    pub fn warnings(&self) -> &[String] {
        self.response.warnings.as_deref().unwrap_or_default()
    }
}

/// Evaluates `request` and applies the patch to its object.
pub fn admit(
    dispatcher: &Arc<Dispatcher>,
    settings: &PolicySettings,
    request: &AdmissionRequest,
) -> Admission {
    // The first call compiles the module; that is not the admission's time.
    let policy = policy();
    let started = Instant::now();
    let response = policy
        .evaluate(dispatcher, settings, request)
        .expect("the policy evaluates");
    let elapsed = started.elapsed();

    let pod = request.object().map(|object| {
        let mut pod = object.clone();
        if let Some(patch) = response.decoded_patch() {
            let patch: json_patch::Patch = serde_json::from_value(patch).expect("a JSON patch");
            json_patch::patch(&mut pod, &patch).expect("the patch applies");
        }
        pod
    });
    Admission {
        pod,
        response,
        elapsed,
    }
}
