//! The Redis capability called directly, as a policy's host calls reach
//! it, against a real `redis-server`: what it stores, how keys expire, and
//! what it answers when the server or a key is not what it expects.

mod redis_support;
mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use redis_support::calls::{call, capability, job_request, patient_capability};
use redis_support::server::RedisServer;
use rstest::rstest;
use serde_json::{Value, json};
use spot_balancer_host::capability::{RedisCapability, RedisConfig};

/// A position request for `job`, with the TTL the policy defaults to.
fn position(job: &str, dry_run: bool) -> Vec<u8> {
    job_request(job, 3600, json!({ "dryRun": dry_run }))
}

/// A counting request for `job` on `capacity`.
fn counting(job: &str, capacity: &str) -> Vec<u8> {
    job_request(job, 3600, json!({ "capacity": capacity }))
}

#[test]
fn positions_are_unique_and_gap_free_under_eight_threads() {
    // Eight threads take 25 positions each for one job at the same time;
    // the 200 positions are 1 to 200, each once, and a dry run then
    // offers 201 without taking it.
    let server = RedisServer::start();
    let capability = patient_capability(&server);

    let positions: Vec<u64> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    (0..25)
                        .map(|_| {
                            let reply = call(&capability, "next_position", &position("etl", false));
                            reply.unwrap()["position"].as_u64().unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|thread| thread.join().unwrap())
            .collect()
    });

    let unique: BTreeSet<u64> = positions.iter().copied().collect();
    assert_eq!(positions.len(), 200);
    assert_eq!(unique, (1..=200).collect());
    for _ in 0..2 {
        let dry_run = call(&capability, "next_position", &position("etl", true));
        assert_eq!(dry_run, Ok(json!({"position": 201})));
    }
    assert_eq!(
        server.query::<u64>(&["GET", "spot-balancer:spark:etl:position"]),
        200
    );
}

#[test]
fn a_dry_run_writes_nothing() {
    // A dry run on a job Redis has never seen offers position 1 and leaves
    // no key behind; on a counter someone wrote without a TTL, it offers
    // the next value and adds no TTL.
    let server = RedisServer::start();
    let capability = patient_capability(&server);

    assert_eq!(
        call(&capability, "next_position", &position("new", true)),
        Ok(json!({"position": 1}))
    );
    assert_eq!(
        server.query::<u64>(&["EXISTS", "spot-balancer:spark:new:position"]),
        0
    );

    server.query::<()>(&["SET", "spot-balancer:spark:old:position", "41"]);
    assert_eq!(
        call(&capability, "next_position", &position("old", true)),
        Ok(json!({"position": 42}))
    );
    assert_eq!(
        server.query::<i64>(&["TTL", "spot-balancer:spark:old:position"]),
        -1
    );
    assert_eq!(
        server.query::<u64>(&["GET", "spot-balancer:spark:old:position"]),
        41
    );
}

#[test]
fn live_counts_follow_admissions_and_deletions_and_stop_at_zero() {
    // One job's executors are admitted and deleted on both capacities,
    // more deletions than admissions on one of them; after each step the
    // reply, a later read and the hash itself hold the same counts, and no
    // count goes below zero.
    let server = RedisServer::start();
    let capability = patient_capability(&server);
    let steps = [
        ("record_admission", "spot", (1, 0)),
        ("record_admission", "spot", (2, 0)),
        ("record_admission", "on-demand", (2, 1)),
        ("record_deletion", "spot", (1, 1)),
        ("record_deletion", "on-demand", (1, 0)),
        ("record_deletion", "on-demand", (1, 0)),
        ("record_admission", "on-demand", (1, 1)),
        ("record_deletion", "spot", (0, 1)),
        ("record_deletion", "spot", (0, 1)),
    ];

    for (step, (operation, capacity, (spot, on_demand))) in steps.into_iter().enumerate() {
        let counts = json!({"spot": spot, "onDemand": on_demand});
        let reply = call(&capability, operation, &counting("etl", capacity));
        assert_eq!(
            reply,
            Ok(counts.clone()),
            "step {step}: {operation} {capacity}"
        );
        let read = call(
            &capability,
            "live_counts",
            &job_request("etl", 3600, json!({})),
        );
        assert_eq!(read, Ok(counts), "step {step}: live_counts");
        let stored: Vec<Option<u64>> =
            server.query(&["HMGET", "spot-balancer:spark:etl:live", "spot", "on-demand"]);
        let stored: Vec<u64> = stored.into_iter().map(Option::unwrap_or_default).collect();
        assert_eq!(stored, [spot, on_demand], "step {step}: the hash");
    }
}

#[test]
fn concurrent_admissions_and_deletions_lose_no_count() {
    // Eight threads each admit ten spot and six on-demand executors of one
    // job, then delete five and two of them, all at once; the counts end
    // at 8 x 5 spot and 8 x 4 on-demand.
    let server = RedisServer::start();
    let capability = patient_capability(&server);
    let plan = [
        ("record_admission", "spot", 10),
        ("record_admission", "on-demand", 6),
        ("record_deletion", "spot", 5),
        ("record_deletion", "on-demand", 2),
    ];

    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for (operation, capacity, times) in plan {
                    for _ in 0..times {
                        call(&capability, operation, &counting("etl", capacity)).unwrap();
                    }
                }
            });
        }
    });

    let read = call(
        &capability,
        "live_counts",
        &job_request("etl", 3600, json!({})),
    );
    assert_eq!(read, Ok(json!({"spot": 40, "onDemand": 32})));
}

#[test]
fn deleting_an_uncounted_executor_creates_no_key() {
    // An executor whose admission Redis never saw is deleted; the counts
    // stay at zero and the job gets no key.
    let server = RedisServer::start();
    let capability = patient_capability(&server);

    let reply = call(&capability, "record_deletion", &counting("unseen", "spot"));
    assert_eq!(reply, Ok(json!({"spot": 0, "onDemand": 0})));
    assert_eq!(
        server.query::<u64>(&["EXISTS", "spot-balancer:spark:unseen:live"]),
        0
    );
}

/// Every write sets its key's TTL to `ttlSeconds`, a read sets none.
#[rstest]
#[case::position("next_position", json!({"dryRun": false}), "position", Some(600))]
#[case::admission("record_admission", json!({"capacity": "spot"}), "live", Some(600))]
#[case::deletion("record_deletion", json!({"capacity": "spot"}), "live", Some(600))]
#[case::dry_run("next_position", json!({"dryRun": true}), "position", None)]
#[case::read("live_counts", json!({}), "live", None)]
fn writes_renew_the_ttl_and_reads_leave_it(
    #[case] operation: &str,
    #[case] extra: Value,
    #[case] key: &str,
    #[case] ttl: Option<i64>,
) {
    // The job's keys exist without a TTL, as if written by hand; one call
    // with ttlSeconds 600 gives the key it touches a TTL of 600 s when it
    // writes, and leaves it without one when it reads.
    let server = RedisServer::start();
    let capability = patient_capability(&server);
    server.query::<()>(&["SET", "spot-balancer:spark:etl:position", "3"]);
    server.query::<()>(&["HSET", "spot-balancer:spark:etl:live", "spot", "2"]);

    call(&capability, operation, &job_request("etl", 600, extra)).unwrap();

    let key = format!("spot-balancer:spark:etl:{key}");
    let pttl = server.query::<i64>(&["PTTL", &key]);
    match ttl {
        // A few milliseconds may pass between the write and the check.
        Some(seconds) => assert!(
            (seconds * 1000 - 5000..=seconds * 1000).contains(&pttl),
            "PTTL of {key} is {pttl}"
        ),
        None => assert_eq!(pttl, -1, "PTTL of {key}"),
    }
}

#[test]
fn a_job_s_keys_expire_a_ttl_after_its_last_write() {
    // A job takes two positions and counts one executor with a TTL of one
    // second, then goes quiet; both keys are gone within Redis's expiry
    // cycle, and the job's next executor is position 1 again.
    let server = RedisServer::start();
    let capability = patient_capability(&server);
    let ttl_one = |extra| job_request("short", 1, extra);
    call(
        &capability,
        "next_position",
        &ttl_one(json!({"dryRun": false})),
    )
    .unwrap();
    call(
        &capability,
        "next_position",
        &ttl_one(json!({"dryRun": false})),
    )
    .unwrap();
    call(
        &capability,
        "record_admission",
        &ttl_one(json!({"capacity": "spot"})),
    )
    .unwrap();

    // A key lives its TTL, then at most one active expiry cycle more; the
    // probes use SCAN-free EXISTS, which also expires lazily.
    let started = Instant::now();
    let keys = [
        "spot-balancer:spark:short:position",
        "spot-balancer:spark:short:live",
    ];
    while server.query::<u64>(&["EXISTS", keys[0], keys[1]]) > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "keys still there after 3 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "keys gone before their TTL"
    );

    let reply = call(
        &capability,
        "next_position",
        &ttl_one(json!({"dryRun": false})),
    );
    assert_eq!(reply, Ok(json!({"position": 1})));
}

/// A key of the wrong type, or a value no operation wrote, is an error
/// naming the operation, the key and the server's complaint.
#[rstest]
#[case::position_is_a_hash("next_position", json!({"dryRun": false}),
    &["HSET", "spot-balancer:spark:etl:position", "n", "1"],
    "refused next_position on spot-balancer:spark:etl:position: WRONGTYPE Operation against a \
     key holding the wrong kind of value")]
#[case::dry_run_position_is_a_hash("next_position", json!({"dryRun": true}),
    &["HSET", "spot-balancer:spark:etl:position", "n", "1"],
    "refused next_position on spot-balancer:spark:etl:position: WRONGTYPE Operation against a \
     key holding the wrong kind of value")]
#[case::live_is_a_string("live_counts", json!({}),
    &["SET", "spot-balancer:spark:etl:live", "2"],
    "refused live_counts on spot-balancer:spark:etl:live: WRONGTYPE Operation against a key \
     holding the wrong kind of value")]
#[case::admission_on_a_list("record_admission", json!({"capacity": "spot"}),
    &["RPUSH", "spot-balancer:spark:etl:live", "x"],
    "refused record_admission on spot-balancer:spark:etl:live: WRONGTYPE Operation against a \
     key holding the wrong kind of value")]
#[case::deletion_on_a_string("record_deletion", json!({"capacity": "on-demand"}),
    &["SET", "spot-balancer:spark:etl:live", "2"],
    "refused record_deletion on spot-balancer:spark:etl:live: WRONGTYPE Operation against a \
     key holding the wrong kind of value")]
#[case::position_is_text("next_position", json!({"dryRun": false}),
    &["SET", "spot-balancer:spark:etl:position", "seven"],
    "refused next_position on spot-balancer:spark:etl:position: ERR value is not an integer \
     or out of range")]
#[case::dry_run_position_is_text("next_position", json!({"dryRun": true}),
    &["SET", "spot-balancer:spark:etl:position", "seven"],
    "answered next_position on spot-balancer:spark:etl:position with \"seven\", expected a \
     counter of 0 or more")]
#[case::count_is_text("live_counts", json!({}),
    &["HSET", "spot-balancer:spark:etl:live", "on-demand", "many"],
    "answered live_counts on spot-balancer:spark:etl:live with [nil, \"many\"], expected two \
     counts of 0 or more")]
fn keys_of_the_wrong_kind_are_errors_that_say_so(
    #[case] operation: &str,
    #[case] extra: Value,
    #[case] setup: &[&str],
    #[case] failure: &str,
) {
    // Someone else wrote the job's key first; the call fails with the
    // server's or the capability's reason, and the connection stays
    // usable: a call on another job right after succeeds.
    let server = RedisServer::start();
    let capability = patient_capability(&server);
    server.query::<redis::Value>(setup);

    let error = call(&capability, operation, &job_request("etl", 3600, extra));
    let expected = format!(
        "Callback evaluation failure: redis at {} {failure}",
        server.address()
    );
    assert_eq!(error, Err(expected));
    assert_eq!(
        call(&capability, "next_position", &position("other", false)),
        Ok(json!({"position": 1}))
    );
}

#[test]
fn a_stopped_server_is_a_connect_error_and_a_restarted_one_is_used_again() {
    // The capability has a pooled connection when the server is killed:
    // the next call finds it broken, the one after is refused a new one;
    // once the server is back on its port, calls succeed again without
    // anything done to the capability.
    let mut server = RedisServer::start();
    let capability = capability(&server);
    let address = server.address();
    assert_eq!(
        call(&capability, "next_position", &position("etl", false)),
        Ok(json!({"position": 1}))
    );

    server.kill();
    let lost = call(&capability, "next_position", &position("etl", false)).unwrap_err();
    let lost_prefix = format!(
        "Callback evaluation failure: lost the connection to redis at {address} during \
         next_position on spot-balancer:spark:etl:position: "
    );
    assert!(lost.starts_with(&lost_prefix), "{lost}");
    let refused = call(&capability, "next_position", &position("etl", false));
    assert_eq!(
        refused,
        Err(format!(
            "Callback evaluation failure: cannot connect to redis at {address}: connection refused"
        ))
    );

    server.restart();
    assert_eq!(
        call(&capability, "next_position", &position("etl", false)),
        Ok(json!({"position": 1}))
    );
}

#[test]
fn a_stalled_server_is_a_timeout_within_the_bound() {
    // The server sleeps for half a second; a call with the default 50 ms
    // reply timeout fails with a timeout naming the operation and the key,
    // long before the server wakes, and calls succeed once it has.
    let server = RedisServer::start();
    let capability = capability(&server);
    call(&capability, "next_position", &position("etl", false)).unwrap();

    let stall = server.stall(Duration::from_millis(500));
    let started = Instant::now();
    let error = call(&capability, "next_position", &position("etl", false)).unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(
        error,
        format!(
            "Callback evaluation failure: redis at {} did not answer next_position on \
             spot-balancer:spark:etl:position within 50 ms",
            server.address()
        )
    );
    // 50 ms of timeout, and a margin for a thread woken late on a busy
    // two-core machine; the stall is ten times the timeout, so a call
    // that waited for the server could not pass.
    assert!(
        elapsed < Duration::from_millis(250),
        "the call took {elapsed:?}"
    );

    stall.wait();
    assert!(call(&capability, "next_position", &position("etl", false)).is_ok());
}

#[test]
fn a_connect_to_a_stalled_server_is_bounded_by_the_connect_timeout() {
    // The server sleeps for half a second and the capability, which has no
    // connection yet, must authenticate on connecting; the TCP handshake
    // succeeds but AUTH gets no answer, and the call fails after the 50 ms
    // connect timeout with a connect error.
    let server = RedisServer::start();
    let url = server.url().replace("redis://", "redis://:secret@");
    let capability = RedisCapability::open(&RedisConfig::with_url(&url)).unwrap();

    let stall = server.stall(Duration::from_millis(500));
    let started = Instant::now();
    let error = call(&capability, "next_position", &position("etl", false));
    let elapsed = started.elapsed();
    assert_eq!(
        error,
        Err(format!(
            "Callback evaluation failure: cannot connect to redis at {}: no answer within 50 ms",
            server.address()
        ))
    );
    // As for the reply timeout above: 50 ms and the same margin.
    assert!(
        elapsed < Duration::from_millis(250),
        "the call took {elapsed:?}"
    );
    stall.wait();
}
