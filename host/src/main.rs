//! The `spot-balancer-host` binary: parses the command line, sets up
//! logging on stderr, runs the subcommand.
//!
//! Like kwctl, it exits with 0 on success and with 1 after printing
//! `Error: <message>` on stderr otherwise; usage errors are clap's (exit 2).

use std::process::ExitCode;

use clap::Parser;
use spot_balancer_host::cli::Cli;
use tracing_subscriber::EnvFilter;

/// Log filter when `RUST_LOG` is unset: the host's own events from `info`,
/// wasmtime's and cranelift's only from `warn`, as they are chatty.
const DEFAULT_LOG_FILTER: &str = "warn,spot_balancer_host=info";

fn main() -> ExitCode {
    let cli = Cli::parse();

    // One JSON object per line on stderr; stdout carries only results.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    match cli.execute() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error}");
            ExitCode::FAILURE
        }
    }
}
