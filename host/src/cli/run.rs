//! `spot-balancer-host run`: one evaluation, as `kwctl run` does it.
//!
//! Arguments, output and exit status follow kwctl for the options
//! spot-balancer uses: the AdmissionResponse is printed to stdout as one
//! line of compact JSON; logs go to stderr; invalid settings print
//! `Error: Provided settings are not valid: "<message>"` on stderr and exit
//! with status 1, printing nothing on stdout.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::CliError;
use super::registry::{RegistryFlags, load_policy};
use crate::capability::{
    ContextAwareAccess, GuestLog, Kubernetes, KubernetesBackend, NoCluster, RedisCapability,
    RedisConfig, kubewarden_dispatcher,
};
use crate::replay::ReplaySession;
use crate::request::AdmissionRequest;
use crate::settings::PolicySettings;

/// Options of `run`, named as kwctl names them.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// File holding the AdmissionReview or AdmissionRequest to evaluate, as
    /// JSON; `-` reads standard input.
    #[arg(short = 'r', long, value_name = "PATH")]
    pub request_path: PathBuf,

    /// File holding the policy's settings, as YAML or JSON. Default: `{}`.
    #[arg(
        short = 's',
        long,
        value_name = "PATH",
        conflicts_with = "settings_json"
    )]
    pub settings_path: Option<PathBuf>,

    /// The policy's settings, as JSON text. Default: `{}`.
    #[arg(long, value_name = "JSON")]
    pub settings_json: Option<String>,

    /// Lets the policy read the Kubernetes kinds its metadata lists under
    /// `contextAwareResources`. Default: no reads.
    #[arg(long)]
    pub allow_context_aware: bool,

    /// Answers the policy's Kubernetes reads from this session, recorded by
    /// `kwctl run --record-host-capabilities-interactions`. Default: reads
    /// fail, as there is no cluster.
    #[arg(long, value_name = "FILE")]
    pub replay_host_capabilities_interactions: Option<PathBuf>,

    /// Serves spot-balancer's Redis capability from this server, as
    /// `redis://127.0.0.1:6379`, with 50 ms connect and reply timeouts.
    /// Not a kwctl option. Default: the capability is not served, as on a
    /// stock policy-server.
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,

    /// How a `registry://` module is pulled.
    #[command(flatten)]
    pub registry: RegistryFlags,

    /// The policy module: a path, a `file://` URI, or a `registry://`
    /// reference, pulled first.
    #[arg(value_name = "URI")]
    pub uri: String,
}

impl RunArgs {
    /// Evaluates the request and prints the response.
    ///
    /// # Errors
    ///
    /// [`CliError`] when an input cannot be read, the module cannot be
    /// loaded, or the policy refuses its settings.
    pub fn execute(self) -> Result<(), CliError> {
        // Inputs first, so that a typo fails before the slow compilation.
        let request = AdmissionRequest::from_json(&read_request(&self.request_path)?)?;
        let settings = self.settings()?;
        let session = match &self.replay_host_capabilities_interactions {
            Some(path) => Some(Arc::new(ReplaySession::from_path(path)?)),
            None => None,
        };
        let backend: Arc<dyn KubernetesBackend> = match &session {
            Some(session) => session.clone(),
            None => Arc::new(NoCluster),
        };

        let policy = load_policy(&self.uri, &self.registry)?;
        let access = ContextAwareAccess::from_metadata(self.allow_context_aware, policy.metadata());

        let mut dispatcher = kubewarden_dispatcher(
            GuestLog::stderr(policy.id()),
            Kubernetes::new(access, backend),
        )?;
        if let Some(url) = &self.redis_url {
            RedisCapability::open(&RedisConfig::with_url(url))?.register(&mut dispatcher)?;
        }

        let response = policy.evaluate(&Arc::new(dispatcher), &settings, &request)?;
        if let Some(session) = session.filter(|s| s.replayed() < s.len()) {
            // kwctl warns too: an unused exchange means the policy asked
            // less than when the session was recorded.
            tracing::warn!(
                replayed = session.replayed(),
                total = session.len(),
                "some recorded exchanges have not been replayed"
            );
        }

        // `AdmissionResponse` is plain data: serialising it cannot fail.
        let line = serde_json::to_string(&response).unwrap_or_default();
        writeln!(std::io::stdout().lock(), "{line}").map_err(CliError::Output)
    }

    /// The settings from `--settings-path` or `--settings-json`, or `{}`.
    fn settings(&self) -> Result<PolicySettings, CliError> {
        if let Some(path) = &self.settings_path {
            let text = read_file("settings file", path)?;
            return Ok(PolicySettings::from_yaml(&text)?);
        }
        match &self.settings_json {
            Some(json) => Ok(PolicySettings::from_json(json)?),
            None => Ok(PolicySettings::default()),
        }
    }
}

/// Reads the request file, or standard input for `-`.
fn read_request(path: &Path) -> Result<String, CliError> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|source| CliError::Read {
                what: "request from",
                path: "stdin".into(),
                source,
            })?;
        return Ok(text);
    }
    read_file("request file", path)
}

/// Reads a text file named on the command line.
fn read_file(what: &'static str, path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        what,
        path: path.display().to_string(),
        source,
    })
}
