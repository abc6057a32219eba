//! A policy module, compiled once and evaluated many times.
//!
//! Compiling a module with wasmtime takes most of a second, instantiating a
//! compiled one well under a millisecond. So a [`Policy`] is compiled once,
//! when it is loaded, and every evaluation runs in a fresh [`Instance`], as
//! policy-server does: no state survives from one request to the next, and
//! a guest that traps cannot poison the requests after it.

use std::path::Path;
use std::sync::Arc;

use thiserror::Error;
use wasmtime_provider::{WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre};

use crate::capability::Dispatcher;
use crate::instance::{Instance, SettingsValidation};
use crate::metadata::{Metadata, MetadataError};
use crate::request::AdmissionRequest;
use crate::response::AdmissionResponse;
use crate::settings::PolicySettings;
use crate::uri::{UriError, module_path};

/// The first bytes of a binary wasm module.
const WASM_MAGIC: &[u8] = b"\0asm";

/// Why a policy could not be loaded or instantiated.
#[derive(Debug, Error)]
pub enum PolicyError {
    /// The module location is not a local path.
    #[error(transparent)]
    Uri(#[from] UriError),

    /// The module file cannot be read.
    #[error("failed to read policy module {path}: {source}")]
    Read {
        /// The file given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The module's metadata section is malformed.
    #[error("failed to read metadata of policy module {id}: {source}")]
    Metadata {
        /// The policy's id.
        id: String,
        /// What is wrong with it.
        source: MetadataError,
    },

    /// wasmtime refused the module.
    #[error("failed to compile policy module {id}: {reason}")]
    Compile {
        /// The policy's id.
        id: String,
        /// What wasmtime reported.
        reason: String,
    },

    /// A fresh instance could not be created or initialised.
    #[error("failed to instantiate policy module {id}: {reason}")]
    Instantiate {
        /// The policy's id.
        id: String,
        /// What wasmtime or waPC reported.
        reason: String,
    },
}

/// Why an evaluation produced no admission response.
#[derive(Debug, Error)]
pub enum EvaluationError {
    /// The policy refused its settings; `message` is the policy's.
    #[error("invalid settings: {}", message.as_deref().unwrap_or("the policy gave no reason"))]
    InvalidSettings {
        /// The policy's explanation, if it gave one.
        message: Option<String>,
    },

    /// No instance could be made to run the evaluation in.
    #[error(transparent)]
    Instantiate(#[from] PolicyError),
}

/// A compiled policy module and what its metadata grants it.
///
/// Cloning is cheap: the compiled code is shared, not copied, so a host
/// that evaluates one module several ways compiles it once.
#[derive(Clone)]
pub struct Policy {
    /// How the policy is named in logs: the location it was loaded from.
    id: String,
    /// The compiled module, linked with WASI and waPC, ready to instantiate.
    pre: WasmtimeEngineProviderPre,
    /// The `kwctl annotate` metadata, if the module carries it.
    metadata: Option<Metadata>,
}

impl std::fmt::Debug for Policy {
    /// Names the policy; the compiled module is opaque.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("id", &self.id)
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// Loads and compiles the module at a path or `file://` URI.
    ///
    /// # Errors
    ///
    /// [`PolicyError`] when the location is not local, the file cannot be
    /// read, or the module does not compile.
    pub fn from_uri(location: &str) -> Result<Self, PolicyError> {
        let path = module_path(location)?;
        let bytes = read_module(&path)?;
        Self::from_bytes(location, &bytes)
    }

    /// Loads and compiles the module at `path`.
    ///
    /// # Errors
    ///
    /// [`PolicyError`] when the file cannot be read or does not compile.
    pub fn from_path(path: &Path) -> Result<Self, PolicyError> {
        let bytes = read_module(path)?;
        Self::from_bytes(&path.display().to_string(), &bytes)
    }

    /// Compiles a module from its bytes, naming it `id`.
    ///
    /// The bytes may also be the wasm text format, which wasmtime compiles
    /// too (the host's tests write small guests that way); such a module
    /// has no metadata.
    ///
    /// # Errors
    ///
    /// [`PolicyError`] when the metadata section is malformed or wasmtime
    /// refuses the module.
    pub fn from_bytes(id: &str, bytes: &[u8]) -> Result<Self, PolicyError> {
        // wasmtime also compiles the text format; only a binary module can
        // carry the custom section the metadata lives in.
        let metadata = if bytes.starts_with(WASM_MAGIC) {
            Metadata::from_module(bytes).map_err(|source| PolicyError::Metadata {
                id: id.to_owned(),
                source,
            })?
        } else {
            None
        };

        // Default WASI parameters: no arguments, no environment, no
        // directories; the guest's stdout and stderr are the host's.
        let pre = WasmtimeEngineProviderBuilder::new()
            .module_bytes(bytes)
            .wasi_params(wapc::WasiParams::default())
            .build_pre()
            .map_err(|e| PolicyError::Compile {
                id: id.to_owned(),
                reason: e.to_string(),
            })?;

        Ok(Self {
            id: id.to_owned(),
            pre,
            metadata,
        })
    }

    /// The policy's id: the location it was loaded from.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The module's `kwctl annotate` metadata, if any.
    pub fn metadata(&self) -> Option<&Metadata> {
        self.metadata.as_ref()
    }

    /// Creates a fresh instance whose host calls go to `dispatcher`.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Instantiate`] when the instance cannot be created or
    /// the module's waPC initialisation fails.
    pub fn instantiate(&self, dispatcher: Arc<Dispatcher>) -> Result<Instance, PolicyError> {
        let engine = self
            .pre
            .rehydrate(None)
            .map_err(|e| PolicyError::Instantiate {
                id: self.id.clone(),
                reason: e.to_string(),
            })?;
        Instance::new(engine, dispatcher).map_err(|reason| PolicyError::Instantiate {
            id: self.id.clone(),
            reason,
        })
    }

    /// Validates `settings` in a fresh instance.
    ///
    /// # Errors
    ///
    /// [`PolicyError`] when no instance can be created.
    pub fn validate_settings(
        &self,
        dispatcher: &Arc<Dispatcher>,
        settings: &PolicySettings,
    ) -> Result<SettingsValidation, PolicyError> {
        Ok(self
            .instantiate(dispatcher.clone())?
            .validate_settings(settings))
    }

    /// Evaluates one request as `kwctl run` does, in a fresh instance:
    /// settings are validated first, then the request.
    ///
    /// A guest that traps or fails while validating the request yields a
    /// rejection with code 500, not an error: that is what the API server
    /// would receive.
    ///
    /// # Errors
    ///
    /// [`EvaluationError::InvalidSettings`] with the policy's message when
    /// it refuses the settings, or [`EvaluationError::Instantiate`].
    pub fn evaluate(
        &self,
        dispatcher: &Arc<Dispatcher>,
        settings: &PolicySettings,
        request: &AdmissionRequest,
    ) -> Result<AdmissionResponse, EvaluationError> {
        let instance = self.instantiate(dispatcher.clone())?;

        let validation = instance.validate_settings(settings);
        if !validation.valid {
            return Err(EvaluationError::InvalidSettings {
                message: validation.message,
            });
        }

        Ok(instance.validate(settings, request))
    }
}

/// Reads a module file.
fn read_module(path: &Path) -> Result<Vec<u8>, PolicyError> {
    std::fs::read(path).map_err(|source| PolicyError::Read {
        path: path.display().to_string(),
        source,
    })
}
