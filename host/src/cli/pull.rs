//! `spot-balancer-host pull`: fetches a module from an OCI registry into a
//! file, with the arguments of `kwctl pull`.
//!
//! kwctl keeps pulled modules in its own store unless `--output-path` is
//! given; this host has no store, so the path is required.

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use super::registry::RegistryFlags;
use crate::registry::{self, Reference};

/// The arguments of `pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Where to write the module.
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output_path: PathBuf,

    /// How the registry is reached.
    #[command(flatten)]
    pub registry: RegistryFlags,

    /// The module's reference: `registry://host/repository:tag`, or pinned
    /// with `@sha256:...`.
    #[arg(value_name = "URI")]
    pub uri: String,
}

impl PullArgs {
    /// Pulls the module and writes it to the output path.
    ///
    /// # Errors
    ///
    /// [`CliError`] when the reference is refused, the registry fails or
    /// the file cannot be written.
    pub fn execute(&self) -> Result<(), CliError> {
        let reference = Reference::parse(&self.uri).map_err(registry::RegistryError::from)?;
        let module = registry::pull(&reference, &self.registry.options()?)?;
        std::fs::write(&self.output_path, &module).map_err(|source| CliError::Write {
            what: "module",
            path: self.output_path.display().to_string(),
            source,
        })?;
        tracing::info!(
            reference = %reference,
            bytes = module.len(),
            path = %self.output_path.display(),
            "policy pulled"
        );
        Ok(())
    }
}
