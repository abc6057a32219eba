//! `spot-balancer-host annotate`: embeds the policy's metadata into its
//! module, with the arguments of `kwctl annotate`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::CliError;
use crate::annotate::annotate;
use crate::capability::Dispatcher;
use crate::policy::Policy;

/// The arguments of `annotate`.
#[derive(Debug, Args)]
pub struct AnnotateArgs {
    /// The metadata file, YAML, as `policy-metadata.yml`.
    #[arg(short = 'm', long = "metadata-path", value_name = "PATH")]
    pub metadata_path: PathBuf,

    /// A file whose text becomes the policy's usage annotation, as the
    /// README. Default: none.
    #[arg(short = 'u', long = "usage-path", value_name = "PATH")]
    pub usage_path: Option<PathBuf>,

    /// Where to write the annotated module.
    #[arg(short = 'o', long = "output-path", value_name = "PATH")]
    pub output_path: PathBuf,

    /// The module to annotate.
    #[arg(value_name = "WASM")]
    pub module: PathBuf,
}

impl AnnotateArgs {
    /// Writes the annotated module.
    ///
    /// # Errors
    ///
    /// [`CliError`] when a file cannot be read or written, the module does
    /// not load or answer its protocol version, or the metadata is invalid.
    pub fn execute(&self) -> Result<(), CliError> {
        let read = |what: &'static str, path: &PathBuf| {
            std::fs::read(path).map_err(|source| CliError::Read {
                what,
                path: path.display().to_string(),
                source,
            })
        };
        let module = read("module", &self.module)?;
        let metadata =
            String::from_utf8_lossy(&read("metadata", &self.metadata_path)?).into_owned();
        let usage = match &self.usage_path {
            Some(path) => Some(String::from_utf8_lossy(&read("usage", path)?).into_owned()),
            None => None,
        };

        // As kwctl does, the protocol version is the one the module reports.
        let policy = Policy::from_bytes(&self.module.display().to_string(), &module)?;
        let instance = policy.instantiate(Arc::new(Dispatcher::new()))?;
        let version = instance
            .protocol_version()
            .map_err(CliError::ProtocolVersion)?;

        let annotated = annotate(&module, &metadata, usage.as_deref(), &version)?;
        std::fs::write(&self.output_path, annotated).map_err(|source| CliError::Write {
            what: "annotated module",
            path: self.output_path.display().to_string(),
            source,
        })
    }
}
