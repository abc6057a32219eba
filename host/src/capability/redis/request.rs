//! The guest's requests: which operation, on which job's keys.
//!
//! The fields are those of `docs/redis-capability.md`. A request is read
//! strictly: unknown fields, fields of another operation and a zero TTL are
//! refused with a message naming the field, so a policy and a host that
//! disagree on the contract fail loudly instead of counting wrong.

use serde::Deserialize;

use super::error::RedisError;

/// The capacities an executor is counted on; the names are the hash fields
/// of the live key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(super) enum Capacity {
    /// Spot capacity, field `spot`.
    #[serde(rename = "spot")]
    Spot,
    /// On-demand capacity, field `on-demand`.
    #[serde(rename = "on-demand")]
    OnDemand,
}

impl Capacity {
    /// The hash field counting this capacity.
    pub(super) const fn field(self) -> &'static str {
        match self {
            Capacity::Spot => "spot",
            Capacity::OnDemand => "on-demand",
        }
    }
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    /// `next_position`: the next position, or with `dry_run` the one the
    /// next call would give.
    NextPosition {
        /// Whether to read only.
        dry_run: bool,
    },
    /// `live_counts`: the live counts.
    LiveCounts,
    /// `record_admission`: one more executor on the capacity.
    RecordAdmission(Capacity),
    /// `record_deletion`: one executor fewer on the capacity, never below
    /// zero.
    RecordDeletion(Capacity),
}

impl Operation {
    /// The operation names the capability serves.
    pub(super) const NAMES: [&'static str; 4] = [
        "next_position",
        "live_counts",
        "record_admission",
        "record_deletion",
    ];

    /// The operation's name, as the guest calls it.
    pub(super) const fn name(self) -> &'static str {
        match self {
            Operation::NextPosition { .. } => "next_position",
            Operation::LiveCounts => "live_counts",
            Operation::RecordAdmission(_) => "record_admission",
            Operation::RecordDeletion(_) => "record_deletion",
        }
    }
}

/// One job's keys, and the TTL every write gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct JobKeys {
    /// `<keyPrefix>:<namespace>:<job>:position`, the position counter.
    pub position: String,
    /// `<keyPrefix>:<namespace>:<job>:live`, the live counts hash.
    pub live: String,
    /// Seconds until the keys expire after a write; at least 1.
    pub ttl_seconds: u64,
}

/// A request read from the guest's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Request {
    /// What is asked.
    pub operation: Operation,
    /// The keys it works on.
    pub keys: JobKeys,
}

impl Request {
    /// The key the operation reads or writes.
    pub(super) fn key(&self) -> &str {
        match self.operation {
            Operation::NextPosition { .. } => &self.keys.position,
            _ => &self.keys.live,
        }
    }
}

/// Every field any request may carry, as JSON names them.
#[derive(Debug, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    expecting = "a request object"
)]
struct Fields {
    /// The `redis.keyPrefix` setting.
    key_prefix: String,
    /// The pod's namespace.
    namespace: String,
    /// The job ID; empty for executors without a job label.
    job: String,
    /// The `redis.ttlSeconds` setting.
    ttl_seconds: u64,
    /// `next_position` only.
    dry_run: Option<bool>,
    /// `record_admission` and `record_deletion` only.
    capacity: Option<Capacity>,
}

/// Reads the request for the operation `name` from `payload`.
///
/// Returns `Ok(None)` when the capability has no operation of that name.
///
/// # Errors
///
/// [`RedisError::Request`] naming the field that is missing, unknown,
/// misplaced or out of range, or the parser's complaint.
pub(super) fn parse(name: &str, payload: &[u8]) -> Result<Option<Request>, RedisError> {
    let Some(&operation) = Operation::NAMES.iter().find(|&&known| known == name) else {
        return Ok(None);
    };
    let refuse = |reason: String| RedisError::Request { operation, reason };

    // An object first: serde would also fill the struct from an array of
    // its fields in order, which no caller means.
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(payload).map_err(|e| refuse(e.to_string()))?;
    let fields = Fields::deserialize(serde_json::Value::Object(object))
        .map_err(|e| refuse(e.to_string()))?;
    if fields.ttl_seconds == 0 {
        return Err(refuse("ttlSeconds must be 1 or more, got 0".to_owned()));
    }

    let operation = match (operation, fields.dry_run, fields.capacity) {
        ("next_position", Some(dry_run), None) => Operation::NextPosition { dry_run },
        ("live_counts", None, None) => Operation::LiveCounts,
        ("record_admission", None, Some(capacity)) => Operation::RecordAdmission(capacity),
        ("record_deletion", None, Some(capacity)) => Operation::RecordDeletion(capacity),
        (name, dry_run, capacity) => {
            return Err(refuse(misfit(name, dry_run.is_some(), capacity.is_some())));
        }
    };

    let job = format!("{}:{}:{}", fields.key_prefix, fields.namespace, fields.job);
    Ok(Some(Request {
        operation,
        keys: JobKeys {
            position: format!("{job}:position"),
            live: format!("{job}:live"),
            ttl_seconds: fields.ttl_seconds,
        },
    }))
}

/// Why the operation-specific fields do not fit operation `name`: one is
/// there that `name` does not take, or one it needs is missing.
fn misfit(name: &str, has_dry_run: bool, has_capacity: bool) -> String {
    let takes_dry_run = name == "next_position";
    let takes_capacity = name.starts_with("record_");
    if has_dry_run && !takes_dry_run {
        format!("{name} takes no field `dryRun`")
    } else if has_capacity && !takes_capacity {
        format!("{name} takes no field `capacity`")
    } else if takes_dry_run {
        "missing field `dryRun`".to_owned()
    } else {
        "missing field `capacity`".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// The job fields of every request, for `spark-1` in namespace `spark`.
    const JOB: &str = r#""keyPrefix": "sb", "namespace": "spark", "job": "spark-1",
        "ttlSeconds": 600"#;

    /// A payload of the job fields and `extra`.
    fn payload(extra: &str) -> Vec<u8> {
        if extra.is_empty() {
            format!("{{{JOB}}}").into_bytes()
        } else {
            format!("{{{JOB}, {extra}}}").into_bytes()
        }
    }

    #[rstest]
    #[case("next_position", r#""dryRun": false"#, Operation::NextPosition { dry_run: false })]
    #[case("next_position", r#""dryRun": true"#, Operation::NextPosition { dry_run: true })]
    #[case("live_counts", "", Operation::LiveCounts)]
    #[case(
        "record_admission",
        r#""capacity": "spot""#,
        Operation::RecordAdmission(Capacity::Spot)
    )]
    #[case(
        "record_deletion",
        r#""capacity": "on-demand""#,
        Operation::RecordDeletion(Capacity::OnDemand)
    )]
    fn reads_each_operation(#[case] name: &str, #[case] extra: &str, #[case] expected: Operation) {
        let request = parse(name, &payload(extra)).unwrap().unwrap();
        assert_eq!(request.operation, expected);
        assert_eq!(request.operation.name(), name);
        assert_eq!(request.keys.position, "sb:spark:spark-1:position");
        assert_eq!(request.keys.live, "sb:spark:spark-1:live");
        assert_eq!(request.keys.ttl_seconds, 600);
    }

    #[test]
    fn an_executor_without_a_job_gets_the_namespace_keys() {
        let payload = br#"{"keyPrefix": "sb", "namespace": "spark", "job": "", "ttlSeconds": 60,
            "dryRun": false}"#;
        let request = parse("next_position", payload).unwrap().unwrap();
        assert_eq!(request.key(), "sb:spark::position");
    }

    #[test]
    fn an_unknown_operation_is_not_a_request() {
        assert_eq!(parse("flushall", b"{}"), Ok(None));
    }

    #[rstest]
    #[case::not_json("live_counts", b"OK".to_vec(), "expected value at line 1 column 1")]
    #[case::not_an_object(
        "live_counts",
        br#"["sb", "spark", "j", 60, null, null]"#.to_vec(),
        "invalid type: sequence, expected a map at line 1 column 0"
    )]
    #[case::missing_job(
        "live_counts",
        br#"{"keyPrefix": "sb", "namespace": "spark", "ttlSeconds": 60}"#.to_vec(),
        "missing field `job`"
    )]
    #[case::zero_ttl(
        "live_counts",
        br#"{"keyPrefix": "sb", "namespace": "spark", "job": "j", "ttlSeconds": 0}"#.to_vec(),
        "ttlSeconds must be 1 or more, got 0"
    )]
    // A TTL of the wrong type; a negative number would be worded by serde_json
    // differently when the workspace enables its arbitrary_precision feature.
    #[case::ttl_not_a_number(
        "live_counts",
        br#"{"keyPrefix": "sb", "namespace": "spark", "job": "j", "ttlSeconds": "60"}"#.to_vec(),
        "invalid type: string \"60\", expected u64"
    )]
    #[case::unknown_field(
        "live_counts",
        payload(r#""jobs": 1"#),
        "unknown field `jobs`, expected one of `keyPrefix`, `namespace`, `job`, `ttlSeconds`, \
         `dryRun`, `capacity`"
    )]
    #[case::missing_dry_run("next_position", payload(""), "missing field `dryRun`")]
    #[case::missing_capacity("record_deletion", payload(""), "missing field `capacity`")]
    #[case::unknown_capacity(
        "record_admission",
        payload(r#""capacity": "reserved""#),
        "unknown variant `reserved`, expected `spot` or `on-demand`"
    )]
    #[case::capacity_of_a_read(
        "live_counts",
        payload(r#""capacity": "spot""#),
        "live_counts takes no field `capacity`"
    )]
    #[case::dry_run_of_a_count(
        "record_admission",
        payload(r#""capacity": "spot", "dryRun": true"#),
        "record_admission takes no field `dryRun`"
    )]
    fn refuses_unreadable_requests(
        #[case] name: &str,
        #[case] payload: Vec<u8>,
        #[case] reason: &str,
    ) {
        let error = parse(name, &payload).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("unreadable {name} request: {reason}")
        );
    }
}
