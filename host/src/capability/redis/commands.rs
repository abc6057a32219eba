//! The Redis command behind each operation, and the reading of its answer.
//!
//! Each operation is one command or one Lua script, and Redis runs either
//! atomically: concurrent admissions of one job never get the same
//! position and never lose a count. Every script that writes a key sets
//! its TTL in the same step, so a job's keys vanish a TTL after its last
//! write and never linger without one.

use redis::{Cmd, Value};
use serde_json::json;

use super::request::{Operation, Request};

/// `next_position`: counts one more executor and returns the count, the
/// executor's position. The first executor of a job gets 1.
const NEXT_POSITION: &str = "\
local position = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return position";

/// `record_admission`: counts one more executor on capacity `ARGV[1]` and
/// returns both counts.
const RECORD_ADMISSION: &str = "\
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('HMGET', KEYS[1], 'spot', 'on-demand')";

/// `record_deletion`: counts one executor fewer on capacity `ARGV[1]`,
/// never below zero, and returns both counts.
///
/// The deletion of an executor that was never counted (its admission was
/// missed, or the keys expired since) changes nothing and creates no key.
const RECORD_DELETION: &str = "\
if redis.call('HGET', KEYS[1], ARGV[1]) then
  if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) < 0 then
    redis.call('HSET', KEYS[1], ARGV[1], 0)
  end
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return redis.call('HMGET', KEYS[1], 'spot', 'on-demand')";

/// What an operation answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Answer {
    /// A position, 1 or more.
    Position(u64),
    /// The live counts.
    Counts {
        /// Executors counted on spot capacity.
        spot: u64,
        /// Executors counted on on-demand capacity.
        on_demand: u64,
    },
}

impl Answer {
    /// The reply the guest receives: `{"position": n}` or
    /// `{"spot": s, "onDemand": o}`.
    pub(super) fn to_json(self) -> Vec<u8> {
        let reply = match self {
            Answer::Position(position) => json!({ "position": position }),
            Answer::Counts { spot, on_demand } => json!({ "spot": spot, "onDemand": on_demand }),
        };
        reply.to_string().into_bytes()
    }
}

/// An answer from Redis that the operation cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unexpected {
    /// The value received, as the error shows it.
    pub reply: String,
    /// What the operation needs.
    pub expected: &'static str,
}

/// The command that serves `request`.
pub(super) fn command(request: &Request) -> Cmd {
    let keys = &request.keys;
    match request.operation {
        // A dry run reads the counter and writes nothing, TTL included.
        Operation::NextPosition { dry_run: true } => {
            let mut command = redis::cmd("GET");
            command.arg(&keys.position);
            command
        }
        Operation::NextPosition { dry_run: false } => script(
            NEXT_POSITION,
            &keys.position,
            &[&keys.ttl_seconds.to_string()],
        ),
        Operation::LiveCounts => {
            let mut command = redis::cmd("HMGET");
            command.arg(&keys.live).arg("spot").arg("on-demand");
            command
        }
        Operation::RecordAdmission(capacity) => script(
            RECORD_ADMISSION,
            &keys.live,
            &[capacity.field(), &keys.ttl_seconds.to_string()],
        ),
        Operation::RecordDeletion(capacity) => script(
            RECORD_DELETION,
            &keys.live,
            &[capacity.field(), &keys.ttl_seconds.to_string()],
        ),
    }
}

/// `EVAL` of `source` on one key. The source goes with every call (a few
/// hundred bytes) rather than by digest: one round trip, and nothing to
/// reload after the server restarts with an empty script cache.
fn script(source: &str, key: &str, args: &[&str]) -> Cmd {
    let mut command = redis::cmd("EVAL");
    command.arg(source).arg(1).arg(key);
    for arg in args {
        command.arg(*arg);
    }
    command
}

/// Reads the answer of `operation` from the value Redis returned.
///
/// # Errors
///
/// [`Unexpected`] when the value is not what the command returns on a key
/// the capability wrote: someone else wrote the key, or it is not Redis.
pub(super) fn answer(operation: Operation, value: Value) -> Result<Answer, Unexpected> {
    match operation {
        Operation::NextPosition { dry_run: false } => match value {
            Value::Int(position) if position >= 1 => Ok(Answer::Position(position.unsigned_abs())),
            other => Err(unexpected(&other, "a position of 1 or more")),
        },
        Operation::NextPosition { dry_run: true } => dry_run_position(value),
        Operation::LiveCounts | Operation::RecordAdmission(_) | Operation::RecordDeletion(_) => {
            counts(value)
        }
    }
}

/// The position the next `INCR` would give: the counter plus one, or 1
/// when the job has no counter yet.
fn dry_run_position(value: Value) -> Result<Answer, Unexpected> {
    let counter = match &value {
        Value::Nil => Some(0),
        Value::BulkString(bytes) => integer(bytes).filter(|&counter| counter >= 0),
        _ => None,
    };
    // At i64::MAX, `INCR` itself would refuse: there is no next position.
    match counter.and_then(|counter| counter.checked_add(1)) {
        Some(position) => Ok(Answer::Position(position.unsigned_abs())),
        None => Err(unexpected(&value, "a counter of 0 or more")),
    }
}

/// The two counts of an `HMGET key spot on-demand`; a missing field is 0.
fn counts(value: Value) -> Result<Answer, Unexpected> {
    const EXPECTED: &str = "two counts of 0 or more";
    let count = |field: &Value| match field {
        Value::Nil => Some(0),
        Value::BulkString(bytes) => integer(bytes).and_then(|n| u64::try_from(n).ok()),
        _ => None,
    };
    match &value {
        Value::Array(fields) => match fields.as_slice() {
            [spot, on_demand] => match (count(spot), count(on_demand)) {
                (Some(spot), Some(on_demand)) => Ok(Answer::Counts { spot, on_demand }),
                _ => Err(unexpected(&value, EXPECTED)),
            },
            _ => Err(unexpected(&value, EXPECTED)),
        },
        _ => Err(unexpected(&value, EXPECTED)),
    }
}

/// The integer a Redis string holds, as `INCR` and `HINCRBY` read it.
fn integer(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// The error for `value` when `expected` was needed.
fn unexpected(value: &Value, expected: &'static str) -> Unexpected {
    Unexpected {
        reply: shown(value),
        expected,
    }
}

/// A value as error messages show it: `nil`, `7`, `"text"`, `[nil, "3"]`.
fn shown(value: &Value) -> String {
    match value {
        Value::Nil => "nil".to_owned(),
        Value::Int(n) => n.to_string(),
        Value::BulkString(bytes) => {
            format!("\"{}\"", String::from_utf8_lossy(bytes).escape_debug())
        }
        Value::SimpleString(text) => text.clone(),
        Value::Okay => "OK".to_owned(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(shown).collect();
            format!("[{}]", items.join(", "))
        }
        // Other RESP3 types never answer these commands; the client's
        // rendering is enough to tell what came.
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::redis::request::Capacity;
    use rstest::rstest;

    /// A bulk string holding `text`.
    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    /// The answers of the four operations, in the order Redis gives them.
    #[rstest]
    #[case::first_position(Operation::NextPosition { dry_run: false }, Value::Int(1),
        Answer::Position(1))]
    #[case::dry_run_of_a_new_job(Operation::NextPosition { dry_run: true }, Value::Nil,
        Answer::Position(1))]
    #[case::dry_run_after_seven(Operation::NextPosition { dry_run: true }, bulk("7"),
        Answer::Position(8))]
    #[case::no_counts_yet(Operation::LiveCounts, Value::Array(vec![Value::Nil, Value::Nil]),
        Answer::Counts { spot: 0, on_demand: 0 })]
    #[case::one_capacity_counted(Operation::RecordAdmission(Capacity::Spot),
        Value::Array(vec![bulk("3"), Value::Nil]), Answer::Counts { spot: 3, on_demand: 0 })]
    #[case::both_counted(Operation::RecordDeletion(Capacity::OnDemand),
        Value::Array(vec![bulk("0"), bulk("12")]), Answer::Counts { spot: 0, on_demand: 12 })]
    fn reads_answers(#[case] operation: Operation, #[case] value: Value, #[case] answer: Answer) {
        assert_eq!(super::answer(operation, value), Ok(answer));
    }

    #[rstest]
    #[case::zero_position(Operation::NextPosition { dry_run: false }, Value::Int(0), "0",
        "a position of 1 or more")]
    #[case::text_counter(Operation::NextPosition { dry_run: true }, bulk("seven"),
        "\"seven\"", "a counter of 0 or more")]
    #[case::negative_counter(Operation::NextPosition { dry_run: true }, bulk("-2"), "\"-2\"",
        "a counter of 0 or more")]
    #[case::counter_at_the_limit(Operation::NextPosition { dry_run: true },
        bulk("9223372036854775807"), "\"9223372036854775807\"", "a counter of 0 or more")]
    #[case::negative_count(Operation::LiveCounts, Value::Array(vec![bulk("-1"), Value::Nil]),
        "[\"-1\", nil]", "two counts of 0 or more")]
    #[case::one_field(Operation::LiveCounts, Value::Array(vec![bulk("1")]), "[\"1\"]",
        "two counts of 0 or more")]
    #[case::not_an_array(
        Operation::RecordAdmission(Capacity::Spot),
        Value::Okay,
        "OK",
        "two counts of 0 or more"
    )]
    fn refuses_answers_it_cannot_use(
        #[case] operation: Operation,
        #[case] value: Value,
        #[case] reply: &str,
        #[case] expected: &str,
    ) {
        let error = super::answer(operation, value).unwrap_err();
        assert_eq!((error.reply.as_str(), error.expected), (reply, expected));
    }

    #[rstest]
    #[case::position(Answer::Position(4), r#"{"position":4}"#)]
    #[case::counts(Answer::Counts { spot: 2, on_demand: 5 }, r#"{"spot":2,"onDemand":5}"#)]
    fn replies_in_the_contract_s_json(#[case] answer: Answer, #[case] json: &str) {
        let reply: serde_json::Value = serde_json::from_slice(&answer.to_json()).unwrap();
        assert_eq!(
            reply,
            serde_json::from_str::<serde_json::Value>(json).unwrap()
        );
    }
}
