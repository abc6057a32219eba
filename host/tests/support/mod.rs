//! Helpers shared by the host's integration tests.
//!
//! Each file under `tests/` is its own crate and uses only some of these
//! helpers, hence the `dead_code` allowance: an unused helper in one test
//! crate is used by another.
#![allow(dead_code)]

pub mod guests;
pub mod modules;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use spot_balancer_host::capability::{
    ContextAwareAccess, Dispatcher, GuestLog, KUBERNETES_NAMESPACE, KUBEWARDEN_BINDING, Kubernetes,
    KubernetesBackend, TRACING_NAMESPACE,
};
use spot_balancer_host::{AdmissionRequest, Policy};

/// The baseline module, compiled once per test binary.
pub fn baseline() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        Policy::from_path(&modules::policy_module("baseline-policy")).expect("baseline compiles")
    })
}

/// Compiles a guest written in the wasm text format.
pub fn text_guest(name: &str, source: &str) -> Policy {
    Policy::from_bytes(name, source.as_bytes()).expect("guest compiles")
}

/// Path of a file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// The request held by a fixture file.
pub fn request(name: &str) -> AdmissionRequest {
    let text = std::fs::read_to_string(fixture(name)).expect("fixture exists");
    AdmissionRequest::from_json(&text).expect("fixture is a request")
}

/// A buffer collecting guest log lines.
pub type LogBuffer = Arc<Mutex<Vec<u8>>>;

/// The Kubewarden capabilities wired as `run` wires them, with guest logs
/// written to the returned buffer.
pub fn kubewarden_dispatcher(
    policy_id: &str,
    access: ContextAwareAccess,
    backend: Arc<dyn KubernetesBackend>,
) -> (Arc<Dispatcher>, LogBuffer) {
    let logs: LogBuffer = Arc::new(Mutex::new(Vec::new()));
    let mut dispatcher = Dispatcher::new();
    dispatcher
        .register(
            KUBEWARDEN_BINDING,
            TRACING_NAMESPACE,
            GuestLog::new(policy_id, logs.clone()),
        )
        .expect("first registration");
    dispatcher
        .register(
            KUBEWARDEN_BINDING,
            KUBERNETES_NAMESPACE,
            Kubernetes::new(access, backend),
        )
        .expect("first registration");
    (Arc::new(dispatcher), logs)
}
