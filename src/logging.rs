//! The policy's logger: structured events through the SDK's drain, which
//! hands them to the host as `kubewarden/tracing/log` calls.
//!
//! A host that refuses the log call must not fail the admission, so the
//! drain's errors are dropped rather than turned into a panic by `fuse`.

use kubewarden_policy_sdk::logging::KubewardenDrain;
use slog::Drain;
use std::sync::LazyLock;

/// The root logger every module logs through.
pub static LOG: LazyLock<slog::Logger> = LazyLock::new(|| {
    slog::Logger::root(
        KubewardenDrain::default().ignore_res(),
        slog::o!("policy" => "spot-balancer"),
    )
});
