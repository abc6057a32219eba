//! The simulator playing Spark jobs against real modules: the baseline,
//! which never places anything, and spot-balancer's own policy in each
//! placement mode, the Redis one against a real `redis-server`.

mod redis_support;
mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis_support::server::RedisServer;
use spot_balancer_host::capability::RedisConfig;
use spot_balancer_host::simulation::{
    DynamicAllocation, EventKind, PlacementMode, PolicyPlacer, RatioSource, Report, Scenario,
    StoredCounts, simulate,
};
use spot_balancer_host::{Policy, PolicySettings};
use support::modules::policy_module;

/// A 200-executor job at ratio 0.5 losing ten 8-executor spot nodes.
fn interrupted_job() -> Scenario {
    Scenario {
        namespace: "spark-jobs".into(),
        job: "spark-4b2c1e0f7a9d4e6b8c3a5f1d2e7b9c04".into(),
        executors: 200,
        ratio: 0.5,
        ratio_source: RatioSource::Settings,
        node_size: 8,
        interruptions: 10,
        interruption_interval: 2,
        steps: 20,
        dynamic_allocation: None,
        seed: 1,
    }
}

/// Plays `scenario` against the module of `package`.
fn play(package: &str, scenario: &Scenario) -> Report {
    play_in(package, scenario, PlacementMode::IdOnly)
}

/// Plays `scenario` against the module of `package` in `mode`.
fn play_in(package: &str, scenario: &Scenario, mode: PlacementMode) -> Report {
    play_with(package, scenario, mode, None)
}

/// Plays `scenario` against spot-balancer in the Redis mode on `server`.
fn play_on(server: &RedisServer, scenario: &Scenario) -> Report {
    // Bounds no scheduler hiccup of a loaded test machine reaches, as the
    // simulate command's own.
    let config = RedisConfig {
        connect_timeout: Duration::from_secs(2),
        reply_timeout: Duration::from_secs(2),
        ..RedisConfig::with_url(&server.url())
    };
    play_with(
        "spot-balancer",
        scenario,
        PlacementMode::Redis,
        Some(&config),
    )
}

/// Plays `scenario` against the module of `package` in `mode`, with the
/// Redis server `redis`.
fn play_with(
    package: &str,
    scenario: &Scenario,
    mode: PlacementMode,
    redis: Option<&RedisConfig>,
) -> Report {
    let policy = Policy::from_path(&policy_module(package)).unwrap();
    let discard = Arc::new(Mutex::new(std::io::sink()));
    let settings = PolicySettings::default();
    let mut placer = PolicyPlacer::new(policy, mode, scenario, settings, discard, redis).unwrap();
    simulate(scenario, &mut placer, &mut |_| {}).unwrap()
}

/// The same job under dynamic allocation: it also grows and shrinks by
/// up to 25 executors a step, releasing executors of both capacities.
fn resized_job() -> Scenario {
    Scenario {
        steps: 30,
        dynamic_allocation: Some(DynamicAllocation {
            min_executors: 120,
            max_executors: 260,
            max_change: 25,
        }),
        ..interrupted_job()
    }
}

/// Whether the live deviation is within what the live-count rule holds
/// with exact counts.
///
/// With `d` the live spot count minus `ratio × live` before an admission,
/// the rule sends the executor to spot when `d − r < −1` (raising `d` by
/// `1 − r`), on demand when `d − r > 1` (lowering it by `r`), and
/// otherwise follows the sequence, which does either. From any `d` in
/// `[−1, 2]` each admission so lands in `[−1, 2]` again; after an
/// interruption took `k` spot executors, the `k` replacements either all
/// go to spot, which restores `d`, or bring it back into the band first.
/// The band is lopsided because a sequence pick of spot at `d` just under
/// `1 + r` lands just under 2.
fn held(deviation: f64) -> bool {
    (-1.0..=2.0).contains(&deviation)
}

/// The CSV written by a comparison, as one map of column to value per
/// line.
/// Runs `spot-balancer-host simulate` with `args` on spot-balancer, writing
/// `csv` and `svg`, and returns what it printed; fails the test if the
/// command fails.
fn simulate_to(args: &[&str], csv: &std::path::Path, svg: &std::path::Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_spot-balancer-host"))
        .arg("simulate")
        .args(args)
        .arg("--csv")
        .arg(csv)
        .arg("--svg")
        .arg(svg)
        .arg(policy_module("spot-balancer"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn read_csv(path: &std::path::Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|line| {
            header
                .iter()
                .zip(line.split(','))
                .map(|(column, value)| ((*column).to_owned(), value.to_owned()))
                .collect()
        })
        .collect()
}

#[test]
fn the_baseline_places_nothing_and_every_executor_counts_as_on_demand() {
    // The baseline accepts every pod unchanged, and settings it does not
    // know are refused, so the ratio goes in the pod annotation. No
    // executor is ever on spot: interruptions find no spot node and lose
    // nothing, and the report says why.
    let scenario = Scenario {
        executors: 20,
        ratio_source: RatioSource::Annotation,
        interruptions: 2,
        steps: 4,
        ..interrupted_job()
    };

    let report = play("baseline-policy", &scenario);

    assert_eq!(
        report.outcomes.get("unmutated (counted on-demand)"),
        Some(&20)
    );
    assert!(
        report
            .rows
            .iter()
            .all(|row| row.live_spot == 0 && row.live == 20)
    );
    let interruptions: Vec<i64> = report
        .rows
        .iter()
        .filter(|r| r.event == EventKind::Interrupt)
        .map(|r| r.change)
        .collect();
    assert_eq!(interruptions, [0, 0]);
    assert_eq!(report.notes, ["admitted unchanged (first: executor 1)"]);
}

#[test]
fn spot_balancer_keeps_created_executors_within_one_of_the_target() {
    // spot-balancer places a 200-executor job at ratio 0.5 that loses ten
    // spot nodes. Every executor created, replacements included, is within
    // one executor of half the executors so far; the live share falls
    // behind, since interruptions take only spot executors and their
    // replacements follow the sequence.
    let report = play("spot-balancer", &interrupted_job());

    assert_eq!(
        report.outcomes.get("decided"),
        Some(&(report.rows.last().unwrap().created))
    );
    for row in &report.rows {
        assert!(row.created_deviation().abs() < 1.0, "{row:?}");
        assert!(row.deviation() < 1.0, "{row:?}");
    }
    let last = report.rows.last().unwrap();
    assert_eq!(last.live, 200);
    assert!(last.deviation() <= -10.0, "{last:?}");
}

#[test]
fn the_command_prints_the_table_and_writes_csv_and_svg() {
    // `simulate` runs a small interrupted job against spot-balancer and
    // writes its two files; the CSV has one line per event.
    let dir = tempfile::tempdir().unwrap();
    let (csv, svg) = (dir.path().join("run.csv"), dir.path().join("run.svg"));

    let stdout = simulate_to(
        &[
            "--executors",
            "40",
            "--interruptions",
            "3",
            "--node-size",
            "4",
        ],
        &csv,
        &svg,
    );
    assert!(stdout.contains("target spot share: 50.0%"), "{stdout}");
    assert!(stdout.contains("largest live deviation: "), "{stdout}");
    let lines = std::fs::read_to_string(&csv).unwrap().lines().count();
    assert_eq!(
        lines,
        1 + 1 + 3 * 2,
        "header, creation, three interruptions with replacements"
    );
    assert!(
        std::fs::read_to_string(&svg)
            .unwrap()
            .contains("live on spot")
    );
}

#[test]
fn an_invalid_scenario_is_refused_before_the_module_is_loaded() {
    // A ratio above one is refused, naming the option, even with a module
    // path that does not exist.
    let output = Command::new(env!("CARGO_BIN_EXE_spot-balancer-host"))
        .args(["simulate", "--ratio", "1.5", "/nonexistent/policy.wasm"])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("Error: --ratio: expected a number from 0 to 1, got 1.5"),
        "{stderr}"
    );
}

#[test]
fn kubernetes_live_counts_hold_the_live_share_after_every_replacement() {
    // The same interrupted job as the policy lists its live executors: after
    // each node's replacements the live spot count is back within about one
    // executor of the target, where ID-only placement drifts further with
    // every interruption.
    let scenario = interrupted_job();
    let live = play_in("spot-balancer", &scenario, PlacementMode::Kubernetes);
    let id_only = play("spot-balancer", &scenario);

    let after_replacements = |report: &Report| -> Vec<f64> {
        report
            .rows
            .iter()
            .filter(|row| row.event == EventKind::Replace)
            .map(|row| row.deviation().abs())
            .collect()
    };
    let live_deviations = after_replacements(&live);
    assert_eq!(live_deviations.len(), 10);
    assert!(
        live_deviations.iter().all(|&d| d <= 1.5),
        "{live_deviations:?}"
    );
    let mean = live_deviations.iter().sum::<f64>() / live_deviations.len() as f64;
    assert!(mean <= 1.0, "mean {mean}");

    let drifted = after_replacements(&id_only);
    assert!(drifted.last().is_some_and(|&d| d > 10.0), "{drifted:?}");
}

#[test]
fn redis_live_counts_hold_the_live_share_where_id_only_drifts() {
    // `simulate --redis-url`, with no --mode, plays the interrupted job
    // ID-only and with Redis live counts, side by side in one table, CSV
    // and chart. After the creation and after every node's replacements
    // the Redis mode's live spot count is within the rule's band of the
    // target, while ID-only falls further behind with every interruption.
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (csv, svg) = (dir.path().join("modes.csv"), dir.path().join("modes.svg"));

    let url = server.url();
    let stdout = simulate_to(
        &[
            "--executors",
            "200",
            "--interruptions",
            "10",
            "--interruption-interval",
            "2",
            "--node-size",
            "8",
            "--redis-url",
            &url,
        ],
        &csv,
        &svg,
    );
    assert!(stdout.contains("\nid-only:\n"), "{stdout}");
    assert!(stdout.contains("\nredis:\n"), "{stdout}");
    // The DELETE reviews brought Redis's counts down to the cluster's.
    let stored = stdout
        .lines()
        .find(|line| line.contains("counted by the policy's store at the end: "))
        .unwrap_or_default();
    assert!(stored.ends_with(", as in the cluster"), "{stdout}");

    let rows = read_csv(&csv);
    assert_eq!(rows.len(), 1 + 10 * 2, "creation, ten interruptions");
    let deviation = |row: &BTreeMap<String, String>, mode: &str| -> f64 {
        row[&format!("{mode}_deviation")].parse().unwrap()
    };
    for row in rows.iter().filter(|row| row["event"] != "interrupt") {
        assert!(held(deviation(row, "redis")), "{row:?}");
    }
    let last = rows.last().unwrap();
    assert!(deviation(last, "id_only") <= -10.0, "{last:?}");

    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.contains("id-only: live spot − target"));
    assert!(svg.contains("redis: live spot − target"));
    assert_eq!(
        server.query::<u64>(&["DBSIZE"]),
        0,
        "the run's keys are gone"
    );
}

#[test]
fn redis_deletions_count_the_job_down_to_the_cluster() {
    // The resized job loses spot nodes and releases executors of both
    // capacities. Every executor that leaves goes through the policy as a
    // DELETE review, none with a warning, and at the end the counts Redis
    // keeps are the simulated cluster's, executor for executor.
    let server = RedisServer::start();
    let report = play_on(&server, &resized_job());

    let left: i64 = report
        .rows
        .iter()
        .filter(|row| matches!(row.event, EventKind::Interrupt | EventKind::Shrink))
        .map(|row| -row.change)
        .sum();
    assert!(
        report.rows.iter().any(|row| row.event == EventKind::Shrink),
        "the job shrinks"
    );
    assert_eq!(report.deletions, left as u64);
    assert_eq!((report.warned_placements, report.warned_deletions), (0, 0));
    assert_eq!(report.notes, [] as [String; 0]);
    let last = report.rows.last().unwrap();
    assert_eq!(
        report.stored,
        Some(StoredCounts {
            spot: last.live_spot,
            on_demand: last.live - last.live_spot
        })
    );
    assert_eq!(
        server.query::<u64>(&["DBSIZE"]),
        0,
        "the run's keys are gone"
    );
}

#[test]
fn redis_and_kubernetes_live_counts_place_alike() {
    // Counting admissions and deletions in Redis and listing the live pods
    // give the policy the same exact numbers before every admission, so
    // the two modes place the resized job identically, row for row.
    let server = RedisServer::start();
    let scenario = resized_job();

    let redis = play_on(&server, &scenario);
    let kubernetes = play_in("spot-balancer", &scenario, PlacementMode::Kubernetes);

    assert_eq!(redis.rows, kubernetes.rows);
}

#[test]
fn every_redis_run_counts_under_keys_of_its_own() {
    // A job of the same name is already counted on the server under the
    // policy's default prefix, far off its ratio. Two runs of the
    // interrupted job neither read nor touch it: both place exactly alike,
    // and the job's key is left as it was, the only key on the server.
    let server = RedisServer::start();
    let scenario = interrupted_job();
    let key = format!("spot-balancer:{}:{}:live", scenario.namespace, scenario.job);
    server.query::<u64>(&["HSET", &key, "spot", "150", "on-demand", "3"]);

    let first = play_on(&server, &scenario);
    let second = play_on(&server, &scenario);

    assert_eq!(first.rows, second.rows);
    assert!(
        first
            .rows
            .iter()
            .filter(|row| row.event != EventKind::Interrupt)
            .all(|row| held(row.deviation()))
    );
    let untouched: Vec<u64> = server.query(&["HMGET", &key, "spot", "on-demand"]);
    assert_eq!(untouched, [150, 3]);
    assert_eq!(server.query::<u64>(&["DBSIZE"]), 1);
}

#[test]
fn the_redis_mode_without_a_url_is_refused_naming_the_flag() {
    // --mode redis needs a server; the refusal names --redis-url and comes
    // before the module, which does not exist here, is loaded.
    let output = Command::new(env!("CARGO_BIN_EXE_spot-balancer-host"))
        .args([
            "simulate",
            "--mode",
            "id-only,redis",
            "/nonexistent/policy.wasm",
        ])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr,
        "Error: --mode redis needs --redis-url, the server the policy counts in \
         (as redis://127.0.0.1:6379)\n"
    );
}
