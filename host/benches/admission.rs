//! What one admission costs under policy-server, for spot-balancer and for
//! two baselines built with the same SDK, so that the policy's own cost
//! reads as a ratio measured in the same run.
//!
//! Each module is compiled once; every iteration is one request in a fresh
//! instance (see `support`). The baselines are `benches/baseline-policy`,
//! which accepts everything, and `benches/mutating-baseline-policy`, which
//! adds one annotation to every pod: the floor for any mutating policy. Each
//! spot-balancer case runs right after the baselines on the same request,
//! so that they are measured under the same load:
//!
//! - `*_instance`: a fresh instance, dropped unused; the fixed part of
//!   every request;
//! - `*_non_spark_pod`: a web pod, which spot-balancer passes through;
//! - `*_small_executor`: a small Spark executor, which it mutates;
//! - `*_large_executor`: an executor with eight containers, hundreds of
//!   environment variables and dozens of volumes, which it mutates;
//! - `host_patch_*`: the host's part of a mutation alone, natively: reading
//!   spot-balancer's answer and diffing the pod into a JSON patch, which
//!   Kubewarden's protocol makes the host pay for any mutating policy;
//! - `policy_small_executor_redis_live`: the small executor with live
//!   counts from the Redis capability (two round trips to a local
//!   `redis-server` the bench starts);
//! - `variant_<name>_small_executor`: the small executor on other builds
//!   of spot-balancer, named in `SPOT_BALANCER_BENCH_VARIANTS` as
//!   `name=path,name=path`, to compare release profiles.
//!
//! With `SPOT_BALANCER_BENCH_PAIRED` naming a file, the run ends with
//! ratios measured in pairs (see `support::paired`), the two modules taking
//! turns on the same request, written to that file one pair a line.
//!
//! Every answer is checked: a case whose request took another path (a
//! fallback, a lost mutation) fails instead of measuring it.
//! `scripts/bench` builds the modules, runs this and writes
//! `BENCHMARKS.md`.

mod support;

use std::cell::Cell;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use spot_balancer_host::capability::{RedisCapability, RedisConfig};
use spot_balancer_host::{AdmissionRequest, AdmissionResponse, ValidationResponse};
use support::paired::{self, Side};
use support::redis_server::RedisServer;
use support::{Expect, Module, fixture};

/// The file paired ratios are written to; none are measured without it.
const PAIRED_VARIABLE: &str = "SPOT_BALANCER_BENCH_PAIRED";

/// Other builds of spot-balancer to measure, as `name=path,name=path`.
const VARIANTS_VARIABLE: &str = "SPOT_BALANCER_BENCH_VARIANTS";

/// The settings of the Redis live mode.
const REDIS_LIVE_SETTINGS: &str = r#"{"redis": {"enabled": true}, "liveCounts": "redis"}"#;

/// Measures `module` admitting `request`, and fails the bench if any
/// answer is not what `expect` says.
fn admission(
    c: &mut Criterion,
    name: &str,
    module: &Module,
    request: &AdmissionRequest,
    expect: Expect,
) {
    let answered = module.admit(request);
    assert!(
        expect.holds(&answered),
        "{name}: expected {expect:?}, got {answered:?}"
    );

    let unexpected = Cell::new(0_u64);
    c.bench_function(name, |b| {
        b.iter(|| {
            let response = module.admit(request);
            if !expect.holds(&response) {
                unexpected.set(unexpected.get() + 1);
            }
            response
        });
    });
    assert_eq!(
        unexpected.get(),
        0,
        "{name}: some requests were not answered {expect:?}"
    );
}

/// The cases without Redis.
fn admissions(c: &mut Criterion) {
    let baseline = Module::baseline();
    let mutating_baseline = Module::mutating_baseline();
    let policy = Module::policy("{}", None);

    c.bench_function("baseline_instance", |b| b.iter(|| baseline.instantiate()));
    c.bench_function("policy_instance", |b| b.iter(|| policy.instantiate()));

    let non_spark = fixture("non-spark-pod-create.json");
    admission(
        c,
        "baseline_non_spark_pod",
        &baseline,
        &non_spark,
        Expect::Unchanged,
    );
    admission(
        c,
        "policy_non_spark_pod",
        &policy,
        &non_spark,
        Expect::Unchanged,
    );

    for (size, file) in [
        ("small", "executor-small-create.json"),
        ("large", "executor-large-create.json"),
    ] {
        let executor = fixture(file);
        let case = |module: &str| format!("{module}_{size}_executor");
        admission(
            c,
            &case("baseline"),
            &baseline,
            &executor,
            Expect::Unchanged,
        );
        admission(
            c,
            &case("mutating_baseline"),
            &mutating_baseline,
            &executor,
            Expect::Patched,
        );
        admission(c, &case("policy"), &policy, &executor, Expect::Patched);
        host_patch(c, &case("host_patch"), &policy, &executor);
        if size == "small" {
            profile_variants(c, &executor);
        }
    }
}

/// Measures what the host does with `module`'s answer to `request`: parse
/// it and diff the mutated pod into a patch.
fn host_patch(c: &mut Criterion, name: &str, module: &Module, request: &AdmissionRequest) {
    let answer = module.answer(request);
    let patch = |answer: &[u8]| {
        let response: ValidationResponse =
            serde_json::from_slice(answer).expect("the policy answers a ValidationResponse");
        AdmissionResponse::from_validation(request.uid(), request.object(), response)
    };
    assert!(
        patch(&answer).patch.is_some(),
        "{name}: the answer has no patch"
    );
    c.bench_function(name, |b| b.iter(|| patch(&answer)));
}

/// The small executor on the builds named in [`VARIANTS_VARIABLE`], right
/// after the shipped build, so that they are measured under the same load.
fn profile_variants(c: &mut Criterion, small: &AdmissionRequest) {
    for (name, path) in variants() {
        let module = Module::policy_at(Path::new(&path), "{}");
        let case = format!("variant_{name}_small_executor");
        admission(c, &case, &module, small, Expect::Patched);
    }
}

/// Ratios measured in pairs, written to the file [`PAIRED_VARIABLE`] names
/// as lines of `<pair> <median> <first quartile> <third quartile>`.
fn paired_ratios(_: &mut Criterion) {
    let Some(path) = std::env::var_os(PAIRED_VARIABLE) else {
        return;
    };
    let baseline = Module::baseline();
    let mutating_baseline = Module::mutating_baseline();
    let policy = Module::policy("{}", None);
    let side = |module, expect| Side { module, expect };
    let (baseline, mutating_baseline, policy) = (
        side(&baseline, Expect::Unchanged),
        side(&mutating_baseline, Expect::Patched),
        side(&policy, Expect::Patched),
    );

    let mut pairs = vec![(
        "policy_non_spark_pod/baseline".to_owned(),
        paired::ratio(
            &baseline,
            &side(policy.module, Expect::Unchanged),
            &fixture("non-spark-pod-create.json"),
        ),
    )];
    for (size, file) in [
        ("small", "executor-small-create.json"),
        ("large", "executor-large-create.json"),
    ] {
        let executor = fixture(file);
        let name = |first: &str, second: &str| format!("{second}_{size}_executor/{first}");
        pairs.extend([
            (
                name("baseline", "mutating_baseline"),
                paired::ratio(&baseline, &mutating_baseline, &executor),
            ),
            (
                name("baseline", "policy"),
                paired::ratio(&baseline, &policy, &executor),
            ),
            (
                name("mutating_baseline", "policy"),
                paired::ratio(&mutating_baseline, &policy, &executor),
            ),
        ]);
    }

    let small = fixture("executor-small-create.json");
    for (name, path) in variants() {
        let module = Module::policy_at(Path::new(&path), "{}");
        let variant = Side {
            module: &module,
            expect: Expect::Patched,
        };
        pairs.push((
            format!("variant_{name}_small_executor/policy"),
            paired::ratio(&policy, &variant, &small),
        ));
    }

    let lines: String = pairs
        .iter()
        .map(|(name, ratio)| {
            format!(
                "{name} {:.4} {:.4} {:.4}\n",
                ratio.median, ratio.lower, ratio.upper
            )
        })
        .collect();
    std::fs::write(&path, lines).unwrap_or_else(|e| panic!("cannot write {path:?}: {e}"));
}

/// The builds named in [`VARIANTS_VARIABLE`], as names and paths.
fn variants() -> Vec<(String, String)> {
    let Some(variants) = std::env::var_os(VARIANTS_VARIABLE) else {
        return Vec::new();
    };
    variants
        .to_string_lossy()
        .split(',')
        .filter(|variant| !variant.is_empty())
        .map(|variant| {
            let (name, path) = variant
                .split_once('=')
                .unwrap_or_else(|| panic!("{VARIANTS_VARIABLE}: {variant} is not name=path"));
            (name.to_owned(), path.to_owned())
        })
        .collect()
}

/// The Redis live mode against a server of the bench's own.
fn redis_live(c: &mut Criterion) {
    let server = RedisServer::start();
    // Bounds no scheduler hiccup reaches on a shared machine: a call that
    // timed out would take the fallback and fail the case.
    let config = RedisConfig {
        connect_timeout: Duration::from_secs(2),
        reply_timeout: Duration::from_secs(2),
        ..RedisConfig::with_url(&server.url())
    };
    let redis = RedisCapability::open(&config).expect("a local redis url is valid");
    let policy = Module::policy(REDIS_LIVE_SETTINGS, Some(redis));

    let small = fixture("executor-small-create.json");
    admission(
        c,
        "policy_small_executor_redis_live",
        &policy,
        &small,
        Expect::Patched,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
    targets = admissions, redis_live, paired_ratios
}
criterion_main!(benches);
