//! The policy's side of the Redis capability that `spot-balancer-host`
//! serves: positions for executors without IDs, and live counts per job.
//!
//! The contract, binding `spot-balancer` and namespace `redis`, is written
//! down in `docs/redis-capability.md`; requests and replies are JSON.

use super::{CapabilityError, Host, call_json};
use crate::live::LiveCounts;
use crate::placement::Capacity;
use serde_json::{Value, json};

/// The waPC binding of the capability.
pub const BINDING: &str = "spot-balancer";
/// The waPC namespace of the capability.
pub const NAMESPACE: &str = "redis";

/// The job whose keys a call reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobKeys<'a> {
    /// The `redis.keyPrefix` setting.
    pub prefix: &'a str,
    /// The pod's namespace.
    pub namespace: &'a str,
    /// The job ID.
    pub job: &'a str,
    /// The `redis.ttlSeconds` setting: keys expire this long after the last
    /// write.
    pub ttl_seconds: u64,
}

impl JobKeys<'_> {
    /// The request fields every operation shares.
    fn request(&self) -> serde_json::Map<String, Value> {
        let mut request = serde_json::Map::new();
        request.insert("keyPrefix".into(), json!(self.prefix));
        request.insert("namespace".into(), json!(self.namespace));
        request.insert("job".into(), json!(self.job));
        request.insert("ttlSeconds".into(), json!(self.ttl_seconds));
        request
    }
}

/// The job's next executor position: 1 for the first call, then 2, 3, ...
/// With `dry_run`, the position the next call would return, changing
/// nothing.
pub fn next_position(
    host: &dyn Host,
    keys: &JobKeys,
    dry_run: bool,
) -> Result<u64, CapabilityError> {
    let mut request = keys.request();
    request.insert("dryRun".into(), json!(dry_run));
    let reply = call(host, "next_position", request)?;
    reply
        .get("position")
        .and_then(Value::as_u64)
        .filter(|&position| position >= 1)
        .ok_or_else(|| {
            unreadable(
                "next_position",
                "expected {\"position\": <1 or more>}",
                &reply,
            )
        })
}

/// The job's live executors by capacity.
pub fn live_counts(host: &dyn Host, keys: &JobKeys) -> Result<LiveCounts, CapabilityError> {
    let reply = call(host, "live_counts", keys.request())?;
    counts("live_counts", &reply)
}

/// Counts an admitted executor on `capacity`; returns the counts after.
pub fn record_admission(
    host: &dyn Host,
    keys: &JobKeys,
    capacity: Capacity,
) -> Result<LiveCounts, CapabilityError> {
    record(host, "record_admission", keys, capacity)
}

/// Uncounts a deleted executor from `capacity`, never below zero; returns
/// the counts after.
pub fn record_deletion(
    host: &dyn Host,
    keys: &JobKeys,
    capacity: Capacity,
) -> Result<LiveCounts, CapabilityError> {
    record(host, "record_deletion", keys, capacity)
}

/// Calls one of the counting operations for `capacity`.
fn record(
    host: &dyn Host,
    operation: &str,
    keys: &JobKeys,
    capacity: Capacity,
) -> Result<LiveCounts, CapabilityError> {
    let mut request = keys.request();
    request.insert("capacity".into(), json!(capacity.as_str()));
    let reply = call(host, operation, request)?;
    counts(operation, &reply)
}

/// Calls one operation of the capability.
fn call(
    host: &dyn Host,
    operation: &str,
    request: serde_json::Map<String, Value>,
) -> Result<Value, CapabilityError> {
    call_json(
        host,
        (BINDING, NAMESPACE, operation),
        &Value::Object(request),
    )
}

/// Reads a `{"spot": n, "onDemand": m}` reply.
fn counts(operation: &str, reply: &Value) -> Result<LiveCounts, CapabilityError> {
    let field = |name| reply.get(name).and_then(Value::as_u64);
    match (field("spot"), field("onDemand")) {
        (Some(spot), Some(on_demand)) => Ok(LiveCounts { spot, on_demand }),
        _ => Err(unreadable(
            operation,
            "expected {\"spot\": <count>, \"onDemand\": <count>}",
            reply,
        )),
    }
}

/// The error for a reply of the wrong shape.
fn unreadable(operation: &str, expected: &str, reply: &Value) -> CapabilityError {
    CapabilityError::Reply {
        operation: format!("{BINDING}/{NAMESPACE}/{operation}"),
        problem: format!("{expected}, got {reply}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::scripted::ScriptedHost;
    use rstest::rstest;

    const KEYS: JobKeys = JobKeys {
        prefix: "spot-balancer",
        namespace: "spark",
        job: "spark-1",
        ttl_seconds: 3600,
    };

    #[test]
    fn next_position_sends_the_job_and_reads_the_position() {
        let host = ScriptedHost::default().reply("redis/next_position", Ok(r#"{"position": 7}"#));
        assert_eq!(next_position(&host, &KEYS, true), Ok(7));
        assert_eq!(
            host.calls.borrow()[0].1,
            json!({"keyPrefix": "spot-balancer", "namespace": "spark", "job": "spark-1",
                   "ttlSeconds": 3600, "dryRun": true})
        );
    }

    #[rstest]
    #[case(
        Err("connection refused"),
        "spot-balancer/redis/next_position failed: connection refused"
    )]
    #[case(Err(""), "spot-balancer/redis/next_position failed")]
    #[case(
        Ok("{\"position\": 0}"),
        "spot-balancer/redis/next_position gave an unreadable reply: \
        expected {\"position\": <1 or more>}, got {\"position\":0}"
    )]
    #[case(
        Ok("{\"position\": \"7\"}"),
        "spot-balancer/redis/next_position gave an unreadable \
        reply: expected {\"position\": <1 or more>}, got {\"position\":\"7\"}"
    )]
    #[case(
        Ok("OK"),
        "spot-balancer/redis/next_position gave an unreadable reply: expected value \
        at line 1 column 1"
    )]
    fn failed_calls_say_what_failed(#[case] reply: Result<&str, &str>, #[case] message: &str) {
        let host = ScriptedHost::default().reply("redis/next_position", reply);
        let error = next_position(&host, &KEYS, false).unwrap_err();
        assert_eq!(error.to_string(), message);
    }

    #[test]
    fn a_host_without_the_capability_is_an_error() {
        let error = live_counts(&ScriptedHost::default(), &KEYS).unwrap_err();
        assert_eq!(
            error.to_string(),
            "spot-balancer/redis/live_counts failed: no capability redis/live_counts"
        );
    }

    #[test]
    fn counts_are_read_from_every_counting_operation() {
        let reply = Ok(r#"{"spot": 3, "onDemand": 4}"#);
        let host = ScriptedHost::default()
            .reply("redis/live_counts", reply)
            .reply("redis/record_admission", reply)
            .reply("redis/record_deletion", Ok(r#"{"spot": 3}"#));
        let expected = LiveCounts {
            spot: 3,
            on_demand: 4,
        };
        assert_eq!(live_counts(&host, &KEYS), Ok(expected));
        assert_eq!(record_admission(&host, &KEYS, Capacity::Spot), Ok(expected));
        assert!(record_deletion(&host, &KEYS, Capacity::OnDemand).is_err());
        assert_eq!(host.calls.borrow()[1].1["capacity"], "spot");
        assert_eq!(host.calls.borrow()[2].1["capacity"], "on-demand");
    }
}
