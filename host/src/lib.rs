//! spot-balancer's own Kubewarden-compatible host.
//!
//! This crate runs a Kubewarden waPC policy module the way `kwctl run` and
//! policy-server do, so that spot-balancer can be tested and simulated
//! without either tool:
//!
//! - [`Policy`] compiles a module once; [`Policy::evaluate`] runs one
//!   request in a fresh [`Instance`] (settings first, then `validate`) and
//!   returns the [`AdmissionResponse`] kwctl would print;
//! - [`capability`] serves the policy's host calls through a [`Dispatcher`]
//!   to which further capabilities can be registered;
//! - [`replay`] answers Kubernetes reads from a session recorded by
//!   `kwctl run --record-host-capabilities-interactions`;
//! - [`simulation`] plays a Spark job's executors against the policy.
//!
//! ```no_run
//! use std::sync::Arc;
//! use spot_balancer_host::capability::{Dispatcher, GuestLog, KUBEWARDEN_BINDING, TRACING_NAMESPACE};
//! use spot_balancer_host::{AdmissionRequest, Policy, PolicySettings};
//!
//! let policy = Policy::from_uri("policy.wasm").unwrap();
//! let mut dispatcher = Dispatcher::new();
//! dispatcher
//!     .register(KUBEWARDEN_BINDING, TRACING_NAMESPACE, GuestLog::stderr(policy.id()))
//!     .unwrap();
//! let request = AdmissionRequest::from_json(r#"{"uid": "1", "object": {}}"#).unwrap();
//! let response = policy
//!     .evaluate(&Arc::new(dispatcher), &PolicySettings::default(), &request)
//!     .unwrap();
//! println!("{}", serde_json::to_string(&response).unwrap());
//! ```

pub mod annotate;
pub mod capability;
pub mod cli;
mod instance;
pub mod metadata;
mod policy;
pub mod registry;
pub mod replay;
mod request;
mod response;
mod settings;
pub mod simulation;
mod uri;

pub use capability::Dispatcher;
pub use instance::{Instance, SettingsValidation};
pub use policy::{EvaluationError, Policy, PolicyError};
pub use request::{AdmissionRequest, RequestError};
pub use response::{
    AdmissionResponse, AdmissionStatus, INTERNAL_ERROR_CODE, MUTATION_WITHOUT_OBJECT,
    PATCH_TYPE_JSON_PATCH, ValidationResponse,
};
pub use settings::{PolicySettings, SettingsError};
pub use uri::{UriError, module_path};
