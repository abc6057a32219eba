//! `spot-balancer-host simulate`: plays a Spark job against the policy, in
//! one placement mode or several side by side.
//!
//! Every mode plays the same scenario against one compiled module. Prints
//! one table row per event and the totals on stdout, writes the same rows
//! as CSV and an SVG chart (a group of columns and a line per mode when
//! there are several), and shows a progress line on stderr while
//! executors are being placed (when stderr is a terminal).

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::CliError;
use crate::capability::{LogSink, RedisCapability, RedisConfig};
use crate::policy::Policy;
use crate::settings::PolicySettings;
use crate::simulation::{
    Comparison, DynamicAllocation, PlacementMode, PolicyPlacer, RatioSource, Scenario, simulate,
    write_comparison_svg,
};

/// Placements from which a progress line is worth showing.
const PROGRESS_FROM: u64 = 100;

/// The connect and reply timeouts of the simulator's Redis capability.
///
/// A policy host bounds Redis calls at 50 ms so that an admission never
/// waits long; the simulator is not on an API server's path, and a 50 ms
/// bound that a busy machine misses now and then would turn the run's
/// numbers into a measure of the machine. A call that still fails is
/// reported as a warning in the totals.
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);

/// Options of `simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Executors the job starts with, IDs 1 to N.
    #[arg(long, default_value_t = 200)]
    pub executors: u64,

    /// The job's spot ratio, from 0 to 1.
    #[arg(long, default_value_t = 0.5)]
    pub ratio: f64,

    /// How the ratio reaches the policy: the setting `defaultSpotRatio`, or
    /// the pod annotation `spot-balancer.io/spot-ratio`.
    #[arg(long, value_enum, default_value_t = RatioSource::Settings)]
    pub ratio_via: RatioSource,

    /// Namespace of the executor pods.
    #[arg(long, default_value = "spark-jobs")]
    pub namespace: String,

    /// The job's `spark-app-selector`.
    #[arg(long, default_value = "spark-simulated-job")]
    pub job: String,

    /// Executors per node: an interruption reclaims one spot node with up
    /// to this many executors.
    #[arg(long, default_value_t = 8)]
    pub node_size: u64,

    /// Number of spot interruptions.
    #[arg(long, default_value_t = 0)]
    pub interruptions: u64,

    /// Steps between interruptions; the first comes at this step.
    #[arg(long, default_value_t = 1, value_name = "STEPS")]
    pub interruption_interval: u64,

    /// Steps after the initial creation. Default: just enough for the
    /// interruptions, and at least 20 with dynamic allocation.
    #[arg(long)]
    pub steps: Option<u64>,

    /// Grows and shrinks the job every step, in a pattern fixed by --seed.
    #[arg(long)]
    pub dynamic_allocation: bool,

    /// Fewest executors under dynamic allocation. Default: half of --executors.
    #[arg(long, requires = "dynamic_allocation")]
    pub min_executors: Option<u64>,

    /// Most executors under dynamic allocation. Default: twice --executors.
    #[arg(long, requires = "dynamic_allocation")]
    pub max_executors: Option<u64>,

    /// Largest change of size in one step. Default: a tenth of --executors,
    /// at least 1.
    #[arg(long, requires = "dynamic_allocation")]
    pub max_change: Option<u64>,

    /// Seed of the interruptions' nodes and of dynamic allocation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Which live capability the policy may use; several (repeated, or
    /// separated by commas) play the same job side by side. Default:
    /// `id-only`, and `id-only,redis` with --redis-url.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "MODE")]
    pub mode: Vec<PlacementMode>,

    /// The Redis server of `--mode redis`, as `redis://127.0.0.1:6379`.
    /// Each run counts under a key prefix of its own and deletes its keys
    /// at the end; nothing else on the server is touched. Calls wait up to
    /// 1 s, not a policy host's 50 ms.
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,

    /// Further settings for the policy, as a JSON object. Default: `{}`.
    #[arg(long, value_name = "JSON")]
    pub settings_json: Option<String>,

    /// Where the rows are written as CSV.
    #[arg(long, default_value = "spot-balancer-simulation.csv")]
    pub csv: PathBuf,

    /// Where the chart is written as SVG.
    #[arg(long, default_value = "spot-balancer-simulation.svg")]
    pub svg: PathBuf,

    /// Where the policy's log lines go. Default: discarded.
    #[arg(long, value_name = "PATH")]
    pub guest_log: Option<PathBuf>,

    /// The policy module: a path, or a `file://` URI.
    #[arg(value_name = "URI")]
    pub uri: String,
}

impl SimulateArgs {
    /// The scenario the options describe.
    pub fn scenario(&self) -> Scenario {
        let dynamic_allocation = self.dynamic_allocation.then(|| DynamicAllocation {
            min_executors: self.min_executors.unwrap_or(self.executors / 2),
            max_executors: self
                .max_executors
                .unwrap_or(self.executors.saturating_mul(2)),
            max_change: self.max_change.unwrap_or((self.executors / 10).max(1)),
        });
        let for_interruptions = self
            .interruptions
            .saturating_mul(self.interruption_interval);
        let steps = self.steps.unwrap_or(if self.dynamic_allocation {
            for_interruptions.max(20)
        } else {
            for_interruptions
        });

        Scenario {
            namespace: self.namespace.clone(),
            job: self.job.clone(),
            executors: self.executors,
            ratio: self.ratio,
            ratio_source: self.ratio_via,
            node_size: self.node_size,
            interruptions: self.interruptions,
            interruption_interval: self.interruption_interval,
            steps,
            dynamic_allocation,
            seed: self.seed,
        }
    }

    /// The modes to play, in order, each once.
    ///
    /// # Errors
    ///
    /// [`CliError::RedisUrlMissing`] when the redis mode is asked for
    /// without --redis-url, [`CliError::RedisUrlUnused`] when --redis-url
    /// is given to modes that do not use it.
    pub fn modes(&self) -> Result<Vec<PlacementMode>, CliError> {
        let mut modes = Vec::new();
        for &mode in &self.mode {
            if !modes.contains(&mode) {
                modes.push(mode);
            }
        }
        if modes.is_empty() {
            modes.push(PlacementMode::IdOnly);
            if self.redis_url.is_some() {
                modes.push(PlacementMode::Redis);
            }
        }

        let redis = modes.contains(&PlacementMode::Redis);
        match (&self.redis_url, redis) {
            (None, true) => Err(CliError::RedisUrlMissing),
            (Some(_), false) => Err(CliError::RedisUrlUnused {
                modes: names(&modes),
            }),
            _ => Ok(modes),
        }
    }

    /// Runs the simulation in every mode and writes the outputs.
    ///
    /// # Errors
    ///
    /// [`CliError`] when the modes, scenario or settings are invalid, the
    /// module cannot be loaded, a placement fails or an output cannot be
    /// written.
    pub fn execute(self) -> Result<(), CliError> {
        // Everything that can be refused is checked before the slow compile.
        let modes = self.modes()?;
        let scenario = self.scenario();
        scenario
            .validate()
            .map_err(|e| CliError::Simulation(e.into()))?;
        let settings = match &self.settings_json {
            Some(json) => PolicySettings::from_json(json)?,
            None => PolicySettings::default(),
        };
        let redis = self.redis_url.as_deref().map(|url| RedisConfig {
            connect_timeout: REDIS_TIMEOUT,
            reply_timeout: REDIS_TIMEOUT,
            ..RedisConfig::with_url(url)
        });
        if let Some(config) = &redis {
            // Opening checks the URL and connects to nothing.
            RedisCapability::open(config)?;
        }
        let guest_log = self.guest_log_sink()?;

        let policy = Policy::from_uri(&self.uri)?;
        // Every placer is set up before any mode plays, so that a Redis
        // server that does not answer stops the command at once.
        let mut placers = Vec::with_capacity(modes.len());
        for &mode in &modes {
            let placer = PolicyPlacer::new(
                policy.clone(),
                mode,
                &scenario,
                settings.clone(),
                guest_log.clone(),
                redis.as_ref(),
            )?;
            placers.push((mode, placer));
        }

        let mut comparison = Comparison::new();
        for (mode, mut placer) in placers {
            let progress = self.progress(&scenario, mode);
            let report = simulate(&scenario, &mut placer, &mut |placed| {
                progress.set_position(placed)
            })
            .map_err(CliError::Simulation)?;
            progress.finish_and_clear();
            comparison.push(mode, report);
        }

        std::fs::write(&self.csv, comparison.to_csv()).map_err(|source| CliError::Write {
            what: "csv",
            path: self.csv.display().to_string(),
            source,
        })?;
        // With several modes the legend names them, and the title stays
        // short enough to fit the chart.
        let mut title = format!(
            "{}/{}: ratio {}, {} executors, {} interruptions of nodes of {}",
            scenario.namespace,
            scenario.job,
            scenario.ratio,
            scenario.executors,
            scenario.interruptions,
            scenario.node_size,
        );
        if let [mode] = modes.as_slice() {
            title.push_str(&format!(", mode {mode}"));
        }
        write_comparison_svg(&comparison, &title, &self.svg)?;

        let mut stdout = std::io::stdout().lock();
        write!(stdout, "{}", comparison.to_table()).map_err(CliError::Output)?;
        writeln!(
            stdout,
            "wrote {} and {}",
            self.csv.display(),
            self.svg.display()
        )
        .map_err(CliError::Output)
    }

    /// The sink for the policy's logs: a file, or nowhere.
    fn guest_log_sink(&self) -> Result<LogSink, CliError> {
        match &self.guest_log {
            None => Ok(Arc::new(Mutex::new(std::io::sink()))),
            Some(path) => {
                let file = std::fs::File::create(path).map_err(|source| CliError::Write {
                    what: "guest log",
                    path: path.display().to_string(),
                    source,
                })?;
                Ok(Arc::new(Mutex::new(file)))
            }
        }
    }

    /// A progress line on stderr for long runs, naming `mode`; hidden
    /// otherwise, and by indicatif itself when stderr is not a terminal.
    fn progress(&self, scenario: &Scenario, mode: PlacementMode) -> ProgressBar {
        let expected = scenario
            .executors
            .saturating_add(scenario.interruptions.saturating_mul(scenario.node_size));
        if expected < PROGRESS_FROM {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} {msg}: {pos} executors placed ({per_sec}, {elapsed})",
        ) {
            bar.set_style(style);
        }
        bar.set_message(mode.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }
}

/// The modes' names, separated by commas, as --mode takes them.
fn names(modes: &[PlacementMode]) -> String {
    let names: Vec<String> = modes.iter().map(PlacementMode::to_string).collect();
    names.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use rstest::rstest;

    /// Parses `simulate` options.
    fn parse(args: &[&str]) -> SimulateArgs {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: SimulateArgs,
        }
        let argv = std::iter::once("simulate")
            .chain(args.iter().copied())
            .chain(["policy.wasm"]);
        Wrapper::try_parse_from(argv).unwrap().args
    }

    #[rstest]
    #[case::defaults(&[], 200, 0, None)]
    #[case::interruptions(&["--interruptions", "5", "--interruption-interval", "3"], 200, 15, None)]
    #[case::dynamic(
        &["--executors", "50", "--dynamic-allocation"],
        50,
        20,
        Some(DynamicAllocation { min_executors: 25, max_executors: 100, max_change: 5 })
    )]
    #[case::explicit_steps(&["--steps", "40", "--interruptions", "2"], 200, 40, None)]
    fn options_describe_the_scenario(
        #[case] args: &[&str],
        #[case] executors: u64,
        #[case] steps: u64,
        #[case] dynamic: Option<DynamicAllocation>,
    ) {
        let scenario = parse(args).scenario();
        assert_eq!(
            (
                scenario.executors,
                scenario.steps,
                scenario.dynamic_allocation
            ),
            (executors, steps, dynamic)
        );
        assert_eq!(scenario.validate(), Ok(()));
    }

    #[rstest]
    #[case::default(&[], "id-only")]
    #[case::default_with_redis(&["--redis-url", "redis://127.0.0.1:1"], "id-only,redis")]
    #[case::one(&["--mode", "kubernetes"], "kubernetes")]
    #[case::comma_list(&["--mode", "id-only,kubernetes"], "id-only,kubernetes")]
    #[case::repeated(&["--mode", "kubernetes", "--mode", "id-only"], "kubernetes,id-only")]
    #[case::duplicates(&["--mode", "id-only,id-only", "--mode", "id-only"], "id-only")]
    #[case::redis(
        &["--mode", "redis,id-only", "--redis-url", "redis://127.0.0.1:1"],
        "redis,id-only"
    )]
    fn modes_are_played_in_the_order_given(#[case] args: &[&str], #[case] modes: &str) {
        assert_eq!(names(&parse(args).modes().unwrap()), modes);
    }

    #[rstest]
    #[case::redis_without_url(
        &["--mode", "id-only,redis"],
        "--mode redis needs --redis-url, the server the policy counts in \
         (as redis://127.0.0.1:6379)"
    )]
    #[case::url_without_redis(
        &["--mode", "kubernetes", "--redis-url", "redis://127.0.0.1:1"],
        "--redis-url is used by --mode redis only, and --mode gave kubernetes; add redis to \
         --mode or leave --redis-url out"
    )]
    fn redis_mode_and_url_go_together(#[case] args: &[&str], #[case] message: &str) {
        assert_eq!(parse(args).modes().unwrap_err().to_string(), message);
    }
}
