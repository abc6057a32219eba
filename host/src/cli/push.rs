//! `spot-balancer-host push`: publishes the module to an OCI registry, with
//! the arguments and the output of `kwctl push`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::CliError;
use super::registry::RegistryFlags;
use crate::metadata::Metadata;
use crate::registry::{self, Reference};
use crate::uri::module_path;

/// How `push` reports the pushed reference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum PushOutput {
    /// `Policy successfully pushed: <reference>@<digest>`.
    #[default]
    Text,
    /// `{"immutable_ref": "<reference>@<digest>"}`.
    Json,
}

/// The arguments of `push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Pushes a module that carries no metadata, with a warning. Default:
    /// such a module is refused, as kwctl refuses it.
    #[arg(short = 'f', long)]
    pub force: bool,

    /// How the pushed reference is printed.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: PushOutput,

    /// How the registry is reached.
    #[command(flatten)]
    pub registry: RegistryFlags,

    /// The module: a path, or a `file://` URI.
    #[arg(value_name = "POLICY")]
    pub policy: String,

    /// Where to push it: `registry://host/repository:tag`; the scheme may be
    /// left out.
    #[arg(value_name = "URI")]
    pub uri: String,
}

impl PushArgs {
    /// Pushes the module and prints its immutable reference.
    ///
    /// # Errors
    ///
    /// [`CliError`] when the module cannot be read, is not annotated and
    /// `--force` is not given, or the registry refuses the push.
    pub fn execute(&self) -> Result<(), CliError> {
        let path: PathBuf = module_path(&self.policy).map_err(crate::PolicyError::from)?;
        let module = std::fs::read(&path).map_err(|source| CliError::Read {
            what: "module",
            path: path.display().to_string(),
            source,
        })?;
        let metadata =
            Metadata::from_module(&module).map_err(|source| crate::PolicyError::Metadata {
                id: path.display().to_string(),
                source,
            })?;
        let annotations = match metadata {
            Some(metadata) => registry::manifest_annotations(&metadata.annotations),
            None if self.force => {
                eprintln!("Warning: pushing a non-annotated policy!");
                Default::default()
            }
            None => return Err(CliError::NotAnnotated),
        };

        // The scheme is optional: the parser takes the reference either way.
        let reference = Reference::parse(&self.uri).map_err(registry::RegistryError::from)?;
        let digest = registry::push(&module, &annotations, &reference, &self.registry.options()?)?;
        let immutable = reference.pinned(&digest);
        tracing::info!(reference = %reference, digest, "policy pushed");

        let line = match self.output {
            PushOutput::Text => format!("Policy successfully pushed: {immutable}"),
            PushOutput::Json => serde_json::json!({ "immutable_ref": immutable }).to_string(),
        };
        writeln!(std::io::stdout().lock(), "{line}").map_err(CliError::Output)
    }
}
