//! What the admission benchmark evaluates, and how.
//!
//! [`Module`] is one compiled policy with the settings it runs under,
//! validated once as policy-server validates them when it loads a policy.
//! [`Module::admit`] then pays what policy-server pays per request, and
//! nothing more: a fresh instance of the compiled module (rehydrated store,
//! waPC initialisation) and one `validate` call, the host building the
//! payload, reading the answer and, for a mutation, diffing the pod into a
//! JSON patch.
//!
//! [`Policy::evaluate`] is not used: it validates the settings again in
//! every instance, as `kwctl run` does once per run, which policy-server
//! does not do per request.

pub mod paired;
/// The `redis-server` the Redis tests run, shared rather than copied; the
/// bench only starts one and reads its URL.
#[allow(dead_code)]
#[path = "../../tests/redis_support/server.rs"]
pub mod redis_server;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use spot_balancer_host::capability::{
    ContextAwareAccess, Dispatcher, GuestLog, Kubernetes, NoCluster, RedisCapability,
    kubewarden_dispatcher,
};
use spot_balancer_host::{AdmissionRequest, AdmissionResponse, Policy, PolicySettings};

/// The file names the two modules are built to.
const POLICY_FILE: &str = "spot_balancer.wasm";
/// See [`POLICY_FILE`].
const BASELINE_FILE: &str = "baseline_policy.wasm";
/// See [`POLICY_FILE`].
const MUTATING_BASELINE_FILE: &str = "mutating_baseline_policy.wasm";

/// Variables naming another build of either module, so that builds with
/// other profiles can be compared without rebuilding the default one.
const POLICY_VARIABLE: &str = "SPOT_BALANCER_BENCH_POLICY";
/// See [`POLICY_VARIABLE`].
const BASELINE_VARIABLE: &str = "SPOT_BALANCER_BENCH_BASELINE";
/// See [`POLICY_VARIABLE`].
const MUTATING_BASELINE_VARIABLE: &str = "SPOT_BALANCER_BENCH_MUTATING_BASELINE";

/// What a request must get back for its measurement to count: a case
/// whose answer changed (a fallback taken, a mutation lost) measures
/// another path than the one it is named for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Admitted as sent, with no warning.
    Unchanged,
    /// Admitted with a patch, with no warning.
    Patched,
}

impl Expect {
    /// Whether `response` is what this case expects.
    pub fn holds(self, response: &AdmissionResponse) -> bool {
        let patched = response.patch.is_some();
        response.allowed
            && response.warnings.is_none()
            && response.status.is_none()
            && patched == (self == Expect::Patched)
    }
}

/// A compiled policy module, its settings and the host calls it may make.
pub struct Module {
    /// The compiled module.
    policy: Policy,
    /// The settings, validated once.
    settings: PolicySettings,
    /// The capabilities every instance calls.
    dispatcher: Arc<Dispatcher>,
}

impl Module {
    /// The spot-balancer module, with `settings` and, when given, the
    /// Redis capability.
    pub fn policy(settings: &str, redis: Option<RedisCapability>) -> Module {
        let path = module_path(POLICY_VARIABLE, POLICY_FILE, "spot-balancer");
        Module::load(&path, settings, redis)
    }

    /// The accept-everything baseline module, with its only settings, `{}`.
    pub fn baseline() -> Module {
        let path = module_path(BASELINE_VARIABLE, BASELINE_FILE, "baseline-policy");
        Module::load(&path, "{}", None)
    }

    /// The mutating baseline module, which annotates every pod, with its
    /// only settings, `{}`.
    pub fn mutating_baseline() -> Module {
        let path = module_path(
            MUTATING_BASELINE_VARIABLE,
            MUTATING_BASELINE_FILE,
            "mutating-baseline-policy",
        );
        Module::load(&path, "{}", None)
    }

    /// The spot-balancer module at `path`, another build of it, with
    /// `settings`.
    pub fn policy_at(path: &Path, settings: &str) -> Module {
        Module::load(path, settings, None)
    }

    /// Compiles the module at `path` and validates `settings` in one
    /// instance.
    fn load(path: &Path, settings: &str, redis: Option<RedisCapability>) -> Module {
        let policy = Policy::from_path(path)
            .unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()));
        let settings = PolicySettings::from_json(settings)
            .unwrap_or_else(|e| panic!("bench settings {settings} are not an object: {e}"));
        let dispatcher = dispatcher(redis);

        let validation = policy
            .validate_settings(&dispatcher, &settings)
            .unwrap_or_else(|e| panic!("cannot instantiate {}: {e}", path.display()));
        assert!(
            validation.valid,
            "{} refuses its bench settings: {}",
            path.display(),
            validation.message.unwrap_or_default()
        );

        Module {
            policy,
            settings,
            dispatcher,
        }
    }

    /// One request, as policy-server evaluates it: a fresh instance, then
    /// `validate`.
    pub fn admit(&self, request: &AdmissionRequest) -> AdmissionResponse {
        // Instantiating a module that instantiated when it was loaded fails
        // only when the machine runs out of memory; the bench cannot go on.
        let instance = self
            .policy
            .instantiate(self.dispatcher.clone())
            .unwrap_or_else(|e| panic!("{e}"));
        instance.validate(&self.settings, request)
    }

    /// The guest's raw answer to `request`, for measuring what the host
    /// does with it.
    pub fn answer(&self, request: &AdmissionRequest) -> Vec<u8> {
        let payload = serde_json::json!({
            "request": request.as_json(),
            "settings": self.settings.to_value(),
        });
        let instance = self
            .policy
            .instantiate(self.dispatcher.clone())
            .unwrap_or_else(|e| panic!("{e}"));
        instance
            .call("validate", payload.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("validate failed: {e}"))
    }

    /// A fresh instance, dropped unused: the part of [`admit`](Self::admit)
    /// that does not depend on the request.
    pub fn instantiate(&self) {
        let instance = self
            .policy
            .instantiate(self.dispatcher.clone())
            .unwrap_or_else(|e| panic!("{e}"));
        drop(instance);
    }
}

/// The capabilities `kwctl run` serves, logs discarded and no cluster, as
/// `host run` wires them, plus `redis` when given.
fn dispatcher(redis: Option<RedisCapability>) -> Arc<Dispatcher> {
    let logs = Arc::new(Mutex::new(std::io::sink()));
    let kubernetes = Kubernetes::new(ContextAwareAccess::Denied, Arc::new(NoCluster));
    let mut dispatcher = kubewarden_dispatcher(GuestLog::new("bench", logs), kubernetes)
        .expect("a fresh dispatcher takes Kubewarden's capabilities");
    if let Some(redis) = redis {
        redis
            .register(&mut dispatcher)
            .expect("the first registration of a pair succeeds");
    }
    Arc::new(dispatcher)
}

/// The module named by `variable`, else `file` of the workspace's
/// `wasm-release` build.
fn module_path(variable: &str, file: &str, package: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("wasm32-wasip1/wasm-release").join(file);
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build --target wasm32-wasip1 --profile \
         wasm-release -p {package}`, or run scripts/bench",
        path.display()
    );
    path
}

/// The request held by `host/benches/fixtures/<name>`.
pub fn fixture(name: &str) -> AdmissionRequest {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    AdmissionRequest::from_json(&text)
        .unwrap_or_else(|e| panic!("{} is not a request: {e}", path.display()))
}
