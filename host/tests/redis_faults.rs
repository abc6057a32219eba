//! The real policy module under Redis faults: the server stopped before
//! the run, killed during it, stalled past the reply timeout during it, and
//! a job key of the wrong type. In every case each pod is admitted, placed
//! by the name hash or the sequence, with warnings that name the failure,
//! and no admission waits much longer than the capability's bounds.
//!
//! The bound asserted is, per admission, the number of Redis calls it makes
//! times the connect timeout plus the reply timeout (50 ms each, the
//! defaults), plus 200 ms. A call waits at most for one connect and one
//! answer, so the product bounds the Redis part. The 200 ms covers the rest
//! on this two-core machine: a fresh instance, settings validation and
//! `validate` take a few milliseconds, but eight threads share two cores,
//! so a thread may wait for a core for several of its neighbours'
//! evaluations. A call that waited for the stalled server instead (500 ms)
//! or for an unbounded connect would exceed it.

mod redis_support;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use redis_support::admissions::{
    self, Admission, CAPACITY, DECIDED_BY, admit, create, live_key, position_key,
};
use redis_support::calls::capability;
use redis_support::server::RedisServer;
use rstest::rstest;
use spot_balancer_host::capability::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_REPLY_TIMEOUT};
use spot_balancer_host::{Dispatcher, PolicySettings};

/// The margin over the capability's bounds, justified in the file's docs.
const MARGIN: Duration = Duration::from_millis(200);

/// Threads admitting at once.
const THREADS: usize = 8;

/// Admissions made before a fault strikes mid-run, and after it.
const AROUND_THE_FAULT: usize = 16;

/// What goes wrong with Redis.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The server is gone before the first admission.
    StoppedBefore,
    /// The server is killed while admissions run.
    KilledMidRun,
    /// The server sleeps 500 ms, ten reply timeouts, while admissions run.
    Stalled,
    /// The job's keys hold another type than the capability writes.
    WrongType,
}

/// Which Redis calls the policy makes per executor.
#[derive(Debug, Clone, Copy)]
enum Use {
    /// `next_position` only.
    Positions,
    /// `next_position`, `live_counts` and `record_admission`.
    LiveCounts,
}

impl Use {
    /// The settings that make the policy use Redis this way.
    fn settings(self) -> PolicySettings {
        match self {
            Use::Positions => admissions::positions(),
            Use::LiveCounts => admissions::live_counts(),
        }
    }

    /// The Redis calls one admission makes.
    fn calls(self) -> u32 {
        match self {
            Use::Positions => 1,
            Use::LiveCounts => 3,
        }
    }
}

/// One failed Redis call, as a policy warning reports it.
#[derive(Debug)]
struct Failed {
    /// The operation that failed.
    operation: String,
    /// The capability's message.
    message: String,
}

/// Reads a warning of the policy about a failed Redis call: the operation,
/// the capability's message, and the fallback the policy names for that
/// operation. `None` for any other warning.
fn failed_call(warning: &str) -> Option<Failed> {
    let rest = warning.strip_prefix("spot-balancer: spot-balancer/redis/")?;
    let (operation, rest) =
        rest.split_once(" failed: Host error: Callback evaluation failure: ")?;
    let fallback = match operation {
        "next_position" => "; placed by a hash of its name",
        "live_counts" => "; placed by the sequence alone",
        "record_admission" => "; this executor is missing from the job's live counts",
        _ => return None,
    };
    Some(Failed {
        operation: operation.to_owned(),
        message: rest.strip_suffix(fallback)?.to_owned(),
    })
}

/// The key an operation works on.
fn key_of(operation: &str) -> String {
    match operation {
        "next_position" => position_key(),
        _ => live_key(),
    }
}

/// Whether `message` is the failure `fault` causes for `operation` on the
/// server at `address`.
fn names_the_fault(fault: Fault, address: &str, operation: &str, message: &str) -> bool {
    let key = key_of(operation);
    let refused = format!("cannot connect to redis at {address}: connection refused");
    match fault {
        Fault::StoppedBefore => message == refused,
        // Calls in flight find their connection broken, later ones are
        // refused a new one.
        Fault::KilledMidRun => {
            message == refused
                || message.starts_with(&format!(
                    "lost the connection to redis at {address} during {operation} on {key}: "
                ))
        }
        Fault::Stalled => {
            message
                == format!("redis at {address} did not answer {operation} on {key} within 50 ms")
        }
        Fault::WrongType => {
            message
                == format!(
                    "redis at {address} refused {operation} on {key}: WRONGTYPE Operation \
                     against a key holding the wrong kind of value"
                )
        }
    }
}

/// Counts admissions and tells the admitting threads when to stop.
#[derive(Default)]
struct Progress {
    /// Admissions finished.
    done: AtomicUsize,
    /// Set when the threads should stop.
    stop: AtomicBool,
}

impl Progress {
    /// Waits until `count` admissions have finished in all.
    fn wait_for(&self, count: usize) {
        while self.done.load(Ordering::SeqCst) < count {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits until `more` admissions past the current count have finished.
    fn wait_for_more(&self, more: usize) {
        self.wait_for(self.done.load(Ordering::SeqCst) + more);
    }
}

/// Eight threads admit executors of one job until `orchestrate`, run on
/// this thread meanwhile, returns; then all the admissions are returned.
fn admit_while(
    dispatcher: &Arc<Dispatcher>,
    settings: &PolicySettings,
    orchestrate: impl FnOnce(&Progress),
) -> Vec<Admission> {
    let progress = Progress::default();
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|thread| {
                let progress = &progress;
                scope.spawn(move || {
                    let mut admitted = Vec::new();
                    while !progress.stop.load(Ordering::SeqCst) {
                        let name = format!("exec-{thread}-{}", admitted.len());
                        admitted.push(admit(dispatcher, settings, &create(&name, false)));
                        progress.done.fetch_add(1, Ordering::SeqCst);
                    }
                    admitted
                })
            })
            .collect();
        orchestrate(&progress);
        progress.stop.store(true, Ordering::SeqCst);
        threads
            .into_iter()
            .flat_map(|thread| thread.join().unwrap())
            .collect()
    })
}

#[rstest]
fn every_pod_is_admitted_with_a_warning_naming_the_failure(
    #[values(
        Fault::StoppedBefore,
        Fault::KilledMidRun,
        Fault::Stalled,
        Fault::WrongType
    )]
    fault: Fault,
    #[values(Use::Positions, Use::LiveCounts)] usage: Use,
) {
    // Eight threads admit executors of one job while the fault strikes:
    // before the run, or once the first sixteen admissions are in. Every
    // pod is allowed and placed; each warning is a failed Redis call that
    // names the fault, and a pod is placed by its name's hash when its
    // position call failed (live counts aside); no admission takes longer
    // than its bound.
    let mut server = RedisServer::start();
    let address = server.address();
    let dispatcher = admissions::dispatcher(capability(&server));
    let settings = usage.settings();

    // Faults before the run are in place before the first admission.
    match fault {
        Fault::StoppedBefore => server.kill(),
        Fault::WrongType => {
            server.query::<u64>(&["HSET", &position_key(), "n", "1"]);
            server.query::<()>(&["SET", &live_key(), "2"]);
        }
        Fault::KilledMidRun | Fault::Stalled => {}
    }
    let admitted = admit_while(&dispatcher, &settings, |progress| match fault {
        Fault::StoppedBefore | Fault::WrongType => progress.wait_for(2 * AROUND_THE_FAULT),
        Fault::KilledMidRun => {
            progress.wait_for(AROUND_THE_FAULT);
            server.kill();
            progress.wait_for_more(AROUND_THE_FAULT);
        }
        Fault::Stalled => {
            progress.wait_for(AROUND_THE_FAULT);
            server.stall(Duration::from_millis(500)).wait();
            progress.wait_for_more(AROUND_THE_FAULT);
        }
    });

    let bound = (DEFAULT_CONNECT_TIMEOUT + DEFAULT_REPLY_TIMEOUT) * usage.calls() + MARGIN;
    let mut with_failures = 0;
    for admission in &admitted {
        let name = admission
            .pod
            .as_ref()
            .map(|pod| pod["metadata"]["name"].clone());
        assert!(admission.response.allowed, "{name:?} was refused");
        assert!(
            admission.annotation(CAPACITY).is_some(),
            "{name:?} was not placed"
        );
        assert!(
            admission.elapsed <= bound,
            "{name:?} took {:?}, over {bound:?}",
            admission.elapsed
        );

        let failed: Vec<Failed> = admission
            .warnings()
            .iter()
            .map(|warning| failed_call(warning).unwrap_or_else(|| panic!("{name:?}: {warning}")))
            .collect();
        for Failed { operation, message } in &failed {
            assert!(
                names_the_fault(fault, &address, operation, message),
                "{name:?}: {operation} failed with {message:?}, not with {fault:?}"
            );
        }
        // The position comes from the counter or, when that call failed,
        // the name; live counts, when they could be read, may steer it.
        let failed_call = |operation: &str| failed.iter().any(|f| f.operation == operation);
        let mut bases = vec![if failed_call("next_position") {
            "name-hash"
        } else {
            "redis-counter"
        }];
        if matches!(usage, Use::LiveCounts) && !failed_call("live_counts") {
            bases.push("live-counts");
        }
        let decided_by = admission.annotation(DECIDED_BY).unwrap_or_default();
        assert!(
            bases.contains(&decided_by),
            "{name:?} decided by {decided_by}, not {bases:?}"
        );
        if matches!(fault, Fault::StoppedBefore | Fault::WrongType) {
            assert_eq!(failed.len(), usage.calls() as usize, "{name:?}: {failed:?}");
        }
        with_failures += usize::from(!failed.is_empty());
    }

    // A mid-run fault must have been felt, and after a good start.
    assert!(with_failures > 0, "no admission saw the fault");
    if matches!(fault, Fault::KilledMidRun | Fault::Stalled) {
        assert!(
            with_failures < admitted.len(),
            "no admission ran before the fault"
        );
    }

    let mut elapsed: Vec<Duration> = admitted.iter().map(|a| a.elapsed).collect();
    elapsed.sort();
    eprintln!(
        "{fault:?} with {usage:?}: {} admissions, {with_failures} with failed calls; \
         median {:?}, max {:?}, bound {bound:?}",
        admitted.len(),
        elapsed[elapsed.len() / 2],
        elapsed[elapsed.len() - 1],
    );
}
