//! The registry flags `push`, `pull` and `run` share with kwctl, and the
//! loading of a module from wherever its URI points.

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::policy::Policy;
use crate::registry::{self, REGISTRY_SCHEME, Reference, RegistryOptions};

/// `--sources-path` and `--docker-config-json-path`, as kwctl names them.
#[derive(Debug, Clone, Default, Args)]
pub struct RegistryFlags {
    /// kwctl's sources file: `insecure_sources` reached over plain HTTP or
    /// unchecked TLS, `source_authorities` that sign a host's certificate.
    /// Default: `~/.config/kubewarden/sources.yaml` when it exists.
    #[arg(long, value_name = "PATH")]
    pub sources_path: Option<PathBuf>,

    /// The folder holding Docker's `config.json` with registry
    /// credentials. Default: `$DOCKER_CONFIG`, else `~/.docker`.
    #[arg(long, value_name = "PATH")]
    pub docker_config_json_path: Option<PathBuf>,
}

impl RegistryFlags {
    /// The registry options these flags name.
    ///
    /// # Errors
    ///
    /// [`CliError::Registry`] when the sources file is refused.
    pub fn options(&self) -> Result<RegistryOptions, CliError> {
        Ok(RegistryOptions::from_flags(
            self.sources_path.as_deref(),
            self.docker_config_json_path.as_deref(),
        )?)
    }
}

/// Loads the module at `uri`: a path, a `file://` URI, or a
/// `registry://` reference pulled now.
///
/// # Errors
///
/// [`CliError`] when the module cannot be read, pulled or compiled.
pub fn load_policy(uri: &str, flags: &RegistryFlags) -> Result<Policy, CliError> {
    if !uri.starts_with(REGISTRY_SCHEME) {
        return Ok(Policy::from_uri(uri)?);
    }
    let reference = Reference::parse(uri).map_err(registry::RegistryError::from)?;
    let module = registry::pull(&reference, &flags.options()?)?;
    Ok(Policy::from_bytes(uri, &module)?)
}
