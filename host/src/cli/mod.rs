//! The `spot-balancer-host` command line.
//!
//! `run` evaluates one request with the same arguments and the same output
//! as `kwctl run`; `annotate`, `push` and `pull` follow kwctl too;
//! `simulate` plays a Spark job against the policy. Each subcommand lives
//! in its own file; this one declares the parser and the error type shared
//! by the subcommands.

mod annotate;
mod pull;
mod push;
mod registry;
mod run;
mod simulate;

pub use annotate::AnnotateArgs;
pub use pull::PullArgs;
pub use push::{PushArgs, PushOutput};
pub use registry::RegistryFlags;
pub use run::RunArgs;
pub use simulate::SimulateArgs;

use clap::{Parser, Subcommand};
use thiserror::Error;

use crate::annotate::AnnotateError;
use crate::capability::CapabilityError;
use crate::policy::{EvaluationError, PolicyError};
use crate::replay::SessionError;
use crate::request::RequestError;
use crate::settings::SettingsError;
use crate::simulation::{ChartError, PlacementError, SimulationError};

/// Runs spot-balancer's policy module like Kubewarden does.
#[derive(Debug, Parser)]
#[command(name = "spot-balancer-host", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluates one admission request and prints the AdmissionResponse,
    /// like `kwctl run`.
    Run(RunArgs),

    /// Plays a Spark job's executors against the policy and reports how
    /// its live spot share follows the target.
    Simulate(SimulateArgs),

    /// Embeds the policy's metadata into its module, like `kwctl annotate`.
    Annotate(AnnotateArgs),

    /// Pushes the module to an OCI registry, like `kwctl push`.
    Push(PushArgs),

    /// Pulls a module from an OCI registry into a file, like `kwctl pull
    /// --output-path`.
    Pull(PullArgs),
}

/// Why a subcommand failed.
///
/// `main` prints the message after `Error: ` on stderr and exits with 1,
/// as kwctl does.
#[derive(Debug, Error)]
pub enum CliError {
    /// A file named on the command line cannot be read.
    #[error("failed to read {what} {path}: {source}")]
    Read {
        /// What the file was meant to hold.
        what: &'static str,
        /// The path given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The request file is not an admission request.
    #[error(transparent)]
    Request(#[from] RequestError),

    /// The settings are not an object.
    #[error(transparent)]
    Settings(#[from] SettingsError),

    /// The module cannot be loaded or instantiated.
    #[error(transparent)]
    Policy(#[from] PolicyError),

    /// The replay session cannot be loaded.
    #[error(transparent)]
    Session(#[from] SessionError),

    /// The host's capabilities could not be wired.
    #[error(transparent)]
    Capability(#[from] CapabilityError),

    /// The policy refused its settings.
    ///
    /// The text is kwctl's, byte for byte (the policy's message is quoted
    /// and escaped as Rust's `Debug` does), because scripts match on it.
    #[error("Provided settings are not valid: {:?}", message.clone().unwrap_or_default())]
    InvalidSettings {
        /// The policy's explanation, if any.
        message: Option<String>,
    },

    /// The simulation stopped.
    #[error(transparent)]
    Simulation(#[from] SimulationError),

    /// The simulation's placer could not be set up.
    #[error(transparent)]
    Placement(#[from] PlacementError),

    /// `simulate --mode redis` was given no server.
    #[error(
        "--mode redis needs --redis-url, the server the policy counts in \
         (as redis://127.0.0.1:6379)"
    )]
    RedisUrlMissing,

    /// `simulate --redis-url` was given to modes that do not use it.
    #[error(
        "--redis-url is used by --mode redis only, and --mode gave {modes}; add redis to \
         --mode or leave --redis-url out"
    )]
    RedisUrlUnused {
        /// The modes asked for, as --mode takes them.
        modes: String,
    },

    /// The simulation's chart could not be drawn.
    #[error(transparent)]
    Chart(#[from] ChartError),

    /// An output file cannot be written.
    #[error("failed to write {what} {path}: {source}")]
    Write {
        /// What the file was meant to hold.
        what: &'static str,
        /// The path given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The module did not report its protocol version.
    #[error("failed to read the module's protocol version: {0}")]
    ProtocolVersion(String),

    /// The Redis capability's configuration is refused.
    #[error(transparent)]
    Redis(#[from] crate::capability::RedisError),

    /// The module could not be annotated.
    #[error(transparent)]
    Annotate(#[from] AnnotateError),

    /// A push or a pull failed.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),

    /// `push` was given a module without metadata and no `--force`.
    ///
    /// The text is kwctl's.
    #[error("Cannot push a policy that is not annotated. Use `annotate` command or `push --force`")]
    NotAnnotated,

    /// The response cannot be written to stdout.
    #[error("failed to write the response: {0}")]
    Output(std::io::Error),
}

impl From<EvaluationError> for CliError {
    /// Keeps the policy's settings message; wraps the rest.
    fn from(error: EvaluationError) -> Self {
        match error {
            EvaluationError::InvalidSettings { message } => Self::InvalidSettings { message },
            EvaluationError::Instantiate(error) => Self::Policy(error),
        }
    }
}

impl Cli {
    /// Runs the parsed subcommand.
    ///
    /// # Errors
    ///
    /// [`CliError`] for anything that stops the subcommand.
    pub fn execute(self) -> Result<(), CliError> {
        match self.command {
            Command::Run(args) => args.execute(),
            Command::Simulate(args) => args.execute(),
            Command::Annotate(args) => args.execute(),
            Command::Push(args) => args.execute(),
            Command::Pull(args) => args.execute(),
        }
    }
}
