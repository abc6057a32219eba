//! The `kubewarden/tracing` capability: the policy's log events.
//!
//! The Kubewarden SDK logs by sending each event to the host as a JSON
//! object (`level`, `message`, source location and the policy's own
//! fields) on `tracing/log`. The host writes it as one JSON line to its log
//! sink, stderr by default, adding a `policy` field that names the module.
//! Standard output stays reserved for the evaluation result.
//!
//! As in Kubewarden, a malformed event never fails the policy: the host
//! reports it on its own log and answers the guest with an empty payload.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::{Capability, CapabilityError};

/// Where guest log lines are written; shared by every instance.
pub type LogSink = Arc<Mutex<dyn Write + Send>>;

/// Writes the guest's log events as JSON lines.
#[derive(Clone)]
pub struct GuestLog {
    /// Added to every line as `policy`, so lines of different modules can
    /// be told apart.
    policy_id: String,
    /// Destination of the lines.
    sink: LogSink,
}

impl GuestLog {
    /// Logs to `sink`, tagging lines with `policy_id`.
    pub fn new(policy_id: &str, sink: LogSink) -> Self {
        Self {
            policy_id: policy_id.to_owned(),
            sink,
        }
    }

    /// Logs to the process's standard error.
    pub fn stderr(policy_id: &str) -> Self {
        Self::new(policy_id, Arc::new(Mutex::new(std::io::stderr())))
    }

    /// Renders one event as the line written to the sink, or `None` when
    /// the payload is not a JSON object.
    fn line(&self, payload: &[u8]) -> Option<String> {
        let Ok(Value::Object(mut event)) = serde_json::from_slice::<Value>(payload) else {
            return None;
        };
        // The guest's own fields win: a policy that logs `policy` means it.
        event
            .entry("policy")
            .or_insert_with(|| Value::String(self.policy_id.clone()));
        serde_json::to_string(&event).ok()
    }
}

impl Capability for GuestLog {
    /// Serves `log`; every other operation is unknown.
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, CapabilityError> {
        if operation != "log" {
            return Err(CapabilityError::UnknownOperation(operation.to_owned()));
        }

        match self.line(payload) {
            Some(line) => {
                // A poisoned lock only means another thread panicked while
                // writing; the sink itself is still usable.
                let mut sink = self
                    .sink
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner());
                if let Err(error) = writeln!(sink, "{line}") {
                    tracing::warn!(%error, "cannot write guest log event");
                }
            }
            None => tracing::warn!(
                payload = %String::from_utf8_lossy(payload),
                "cannot log guest event: not a JSON object"
            ),
        }
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    /// A guest log writing into a buffer the test can read.
    fn logger() -> (GuestLog, Arc<Mutex<Vec<u8>>>) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        (GuestLog::new("policy.wasm", buffer.clone()), buffer)
    }

    #[rstest]
    #[case::sdk_event(
        json!({"level": "info", "message": "decided", "line": 3, "capacity": "spot"}),
        json!({"level": "info", "message": "decided", "line": 3, "capacity": "spot",
               "policy": "policy.wasm"})
    )]
    #[case::guest_policy_field_kept(
        json!({"level": "debug", "message": "m", "policy": "mine"}),
        json!({"level": "debug", "message": "m", "policy": "mine"})
    )]
    fn writes_one_json_line_per_event(#[case] event: Value, #[case] expected: Value) {
        let (log, buffer) = logger();

        let answer = log
            .call("log", &serde_json::to_vec(&event).unwrap())
            .unwrap();

        assert!(answer.is_empty());
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert_eq!(serde_json::from_str::<Value>(lines[0]).unwrap(), expected);
    }

    #[rstest]
    #[case::not_json(b"hello".as_slice())]
    #[case::json_array(b"[1, 2]".as_slice())]
    fn malformed_events_are_dropped_without_failing_the_guest(#[case] payload: &[u8]) {
        let (log, buffer) = logger();
        assert_eq!(log.call("log", payload), Ok(Vec::new()));
        assert!(buffer.lock().unwrap().is_empty());
    }

    #[test]
    fn other_operations_are_unknown() {
        let (log, _) = logger();
        assert_eq!(
            log.call("flush", b"{}"),
            Err(CapabilityError::UnknownOperation("flush".into()))
        );
    }
}
