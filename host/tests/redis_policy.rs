//! The real policy module takes executor positions and live counts from
//! the Redis capability, evaluated as policy-server evaluates it: one
//! compiled module, a fresh instance per request, requests in parallel.

mod redis_support;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier};

use redis_support::admissions::{
    self, Admission, CAPACITY, DECIDED_BY, POSITION, admit, create, delete, live_key, position_key,
};
use redis_support::calls::patient_capability;
use redis_support::server::RedisServer;
use serde_json::Value;

/// The capacity annotation of every admission, counted; both capacities
/// are there, unused ones at 0.
fn counted<'a>(admissions: impl IntoIterator<Item = &'a Admission>) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::from([("spot".to_owned(), 0), ("on-demand".to_owned(), 0)]);
    for admission in admissions {
        let capacity = admission.annotation(CAPACITY).expect("a placed pod");
        *counts.entry(capacity.to_owned()).or_default() += 1;
    }
    counts
}

/// The live hash as stored, missing fields as 0.
fn stored_counts(server: &RedisServer) -> BTreeMap<String, u64> {
    let stored: Vec<Option<u64>> = server.query(&["HMGET", &live_key(), "spot", "on-demand"]);
    ["spot", "on-demand"]
        .into_iter()
        .zip(stored)
        .map(|(capacity, count)| (capacity.to_owned(), count.unwrap_or_default()))
        .collect()
}

#[test]
fn concurrent_executors_without_ids_get_unique_gap_free_positions() {
    // Eight threads, released together, each admit four executors of one
    // job labelled `spark-exec-id: EXECID`; every pod is placed by the
    // Redis counter without a warning, and the 32 positions are 1 to 32.
    let server = RedisServer::start();
    let dispatcher = admissions::dispatcher(patient_capability(&server));
    let settings = admissions::positions();
    let start = Barrier::new(8);

    let admitted: Vec<Admission> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                let (dispatcher, settings, start) = (&dispatcher, &settings, &start);
                scope.spawn(move || {
                    start.wait();
                    (0..4)
                        .map(|i| {
                            admit(
                                dispatcher,
                                settings,
                                &create(&format!("exec-{thread}-{i}"), false),
                            )
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

    let mut positions = BTreeSet::new();
    for admission in &admitted {
        assert!(admission.response.allowed);
        assert_eq!(admission.warnings(), [] as [String; 0]);
        assert_eq!(admission.annotation(DECIDED_BY), Some("redis-counter"));
        let position = admission.annotation(POSITION).expect("a position");
        positions.insert(position.parse::<u64>().expect("a number"));
    }
    assert_eq!(positions, (1..=32).collect());
    assert_eq!(server.query::<u64>(&["GET", &position_key()]), 32);
}

#[test]
fn live_counts_are_exact_after_creates_deletes_and_dry_runs() {
    // Ten executors of one job are created, two more only as dry runs;
    // then four of the ten are deleted, one more only as a dry run, and a
    // pod the policy never placed is deleted too; each phase runs its
    // requests in parallel. Redis then counts exactly the six executors
    // left, by the capacity each was admitted on, and the counter has
    // handed out ten positions.
    let server = RedisServer::start();
    let dispatcher = admissions::dispatcher(patient_capability(&server));
    let settings = admissions::live_counts();
    let in_parallel = |requests: Vec<_>| -> Vec<Admission> {
        std::thread::scope(|scope| {
            let threads: Vec<_> = requests
                .iter()
                .map(|request| scope.spawn(|| admit(&dispatcher, &settings, request)))
                .collect();
            threads
                .into_iter()
                .map(|thread| thread.join().unwrap())
                .collect()
        })
    };

    let mut creates: Vec<_> = (0..10)
        .map(|i| create(&format!("exec-{i}"), false))
        .collect();
    creates.extend([create("exec-dry-0", true), create("exec-dry-1", true)]);
    let created = in_parallel(creates);
    for admission in &created {
        assert!(admission.response.allowed);
        assert_eq!(admission.warnings(), [] as [String; 0]);
    }
    let (kept, deleted) = created[..10].split_at(6);

    let unplaced: Value = create("exec-unplaced", false)
        .object()
        .cloned()
        .expect("a pod");
    let mut deletes: Vec<_> = deleted
        .iter()
        .map(|admission| delete(admission.pod.as_ref().expect("a pod"), false))
        .collect();
    deletes.push(delete(kept[0].pod.as_ref().expect("a pod"), true));
    deletes.push(delete(&unplaced, false));
    for admission in in_parallel(deletes) {
        assert!(admission.response.allowed);
        assert_eq!(admission.warnings(), [] as [String; 0]);
        assert_eq!(admission.response.patch, None);
    }

    assert_eq!(stored_counts(&server), counted(kept));
    assert_eq!(server.query::<u64>(&["GET", &position_key()]), 10);
}

#[test]
fn a_host_without_the_capability_is_the_fallback_not_a_failure() {
    // The same executor is admitted by a host whose dispatcher has no
    // Redis capability, as under a stock policy-server; the pod is placed
    // by a hash of its name with a warning, and nothing is rejected.
    let (dispatcher, _logs) = support::kubewarden_dispatcher(
        "spot-balancer",
        spot_balancer_host::capability::ContextAwareAccess::Denied,
        Arc::new(spot_balancer_host::capability::NoCluster),
    );
    let admission = admit(
        &dispatcher,
        &admissions::positions(),
        &create("exec-0", false),
    );

    assert!(admission.response.allowed);
    assert_eq!(admission.annotation(DECIDED_BY), Some("name-hash"));
    assert_eq!(
        admission.warnings(),
        [
            "spot-balancer: spot-balancer/redis/next_position failed: Host error: unknown binding: \
          spot-balancer; placed by a hash of its name"
        ]
    );
}
