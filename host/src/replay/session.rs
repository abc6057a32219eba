//! A replay session: the host-capability exchanges kwctl recorded.
//!
//! `kwctl run --record-host-capabilities-interactions FILE` writes a YAML
//! list with one entry per host call the policy made:
//!
//! ```yaml
//! - type: Exchange
//!   request: |
//!     !KubernetesGetResource
//!     api_version: v1
//!     kind: Pod
//!     name: p-testing
//!     namespace: local
//!     disable_cache: true
//!   response:
//!     type: Success
//!     payload: '{"apiVersion":"v1","kind":"Pod", ...}'
//! ```
//!
//! where `request` is itself YAML text and `response` is either
//! `{type: Success, payload: <text returned to the guest>}` or
//! `{type: Error, message: <text of the host's error>}`.
//!
//! Replaying works as in kwctl: exchanges are consumed in order, one per
//! call. The n-th call is answered by the n-th exchange if its request
//! equals the recorded one, and refused otherwise; the cursor moves on
//! either way. Calls past the end are refused. The refusal texts are
//! kwctl's.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;
use thiserror::Error;

use super::CallbackRequest;

/// Refusal sent when every recorded exchange has been used.
pub const EXHAUSTED: &str = "the list of recorded responses is empty or has been exhausted";

/// Why a session file could not be loaded.
#[derive(Debug, Error)]
pub enum SessionError {
    /// The file cannot be read.
    #[error("failed to read replay session {path}: {source}")]
    Read {
        /// The file given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The file is not a list of exchanges.
    #[error("failed to parse replay session: {reason}")]
    Yaml {
        /// What the YAML parser reported.
        reason: String,
    },

    /// One exchange's `request` is not a recorded request.
    #[error("failed to parse request of exchange {index} in replay session: {reason}")]
    Request {
        /// Zero-based position of the exchange in the file.
        index: usize,
        /// What was wrong with it.
        reason: String,
    },
}

/// One entry of a session file, as kwctl serialises it.
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
enum RecordedEntry {
    /// A request and the host's answer to it.
    Exchange {
        /// The request, as YAML text.
        request: String,
        /// The answer.
        response: RecordedResponse,
    },
}

/// The host's recorded answer.
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
enum RecordedResponse {
    /// The host answered; `payload` is what the guest received.
    Success {
        /// Bytes given to the guest, as UTF-8 text.
        payload: String,
    },
    /// The host failed; `message` is its error.
    Error {
        /// The error text.
        message: String,
    },
}

/// A parsed exchange, ready to answer a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// The request the policy made when the session was recorded.
    pub request: CallbackRequest,
    /// What the host answered: the payload, or the error text.
    pub response: Result<Vec<u8>, String>,
}

/// Recorded exchanges and how many of them have been replayed.
#[derive(Debug)]
pub struct ReplaySession {
    /// Exchanges in recording order.
    exchanges: Vec<Exchange>,
    /// Index of the next exchange to replay; it may run past the end.
    cursor: AtomicUsize,
}

impl ReplaySession {
    /// A session replaying `exchanges` in order.
    pub fn new(exchanges: Vec<Exchange>) -> Self {
        Self {
            exchanges,
            cursor: AtomicUsize::new(0),
        }
    }

    /// Loads a session file written by kwctl.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the file cannot be read or parsed.
    pub fn from_path(path: &Path) -> Result<Self, SessionError> {
        let text = std::fs::read_to_string(path).map_err(|source| SessionError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&text)
    }

    /// Parses the text of a session file.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the text is not a list of exchanges or one
    /// recorded request does not parse.
    pub fn from_yaml(text: &str) -> Result<Self, SessionError> {
        let entries: Vec<RecordedEntry> =
            serde_yaml::from_str(text).map_err(|e| SessionError::Yaml {
                reason: e.to_string(),
            })?;

        let exchanges = entries
            .into_iter()
            .enumerate()
            .map(|(index, RecordedEntry::Exchange { request, response })| {
                let request = CallbackRequest::from_recorded(&request)
                    .map_err(|reason| SessionError::Request { index, reason })?;
                let response = match response {
                    RecordedResponse::Success { payload } => Ok(payload.into_bytes()),
                    RecordedResponse::Error { message } => Err(message),
                };
                Ok(Exchange { request, response })
            })
            .collect::<Result<Vec<_>, SessionError>>()?;

        Ok(Self::new(exchanges))
    }

    /// Answers the next call with the next exchange.
    ///
    /// # Errors
    ///
    /// The text returned to the guest (inside Kubewarden's "Callback
    /// evaluation failure" wrapper): the recorded error, [`EXHAUSTED`], or
    /// a mismatch naming the expected and the actual request.
    pub fn answer(&self, request: &CallbackRequest) -> Result<Vec<u8>, String> {
        let index = self.cursor.fetch_add(1, Ordering::SeqCst);
        let Some(exchange) = self.exchanges.get(index) else {
            return Err(EXHAUSTED.to_owned());
        };

        if &exchange.request != request {
            return Err(format!(
                "Replay error: unexpected request. Was expecting {}, got {} instead",
                exchange.request, request
            ));
        }
        exchange.response.clone()
    }

    /// How many calls have been answered (or refused) so far.
    pub fn replayed(&self) -> usize {
        self.cursor.load(Ordering::SeqCst)
    }

    /// How many exchanges the session holds.
    pub fn len(&self) -> usize {
        self.exchanges.len()
    }

    /// Whether the session holds no exchange.
    pub fn is_empty(&self) -> bool {
        self.exchanges.is_empty()
    }

    /// Starts over from the first exchange, to replay the session again.
    pub fn reset(&self) {
        self.cursor.store(0, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    /// A session of two exchanges: a successful list, then a failed get.
    const SESSION: &str = r#"
- type: Exchange
  request: |
    !KubernetesListResourceNamespace
    api_version: v1
    kind: Pod
    namespace: spark
    label_selector: spark-app-selector=job-1
    field_selector: null
  response:
    type: Success
    payload: '{"apiVersion":"v1","kind":"PodList","items":[]}'
- type: Exchange
  request: |
    !KubernetesGetResource
    api_version: v1
    kind: Node
    name: node-1
    namespace: null
    disable_cache: false
  response:
    type: Error
    message: 'nodes "node-1" not found'
"#;

    /// The live form of the first recorded request.
    fn list_pods() -> CallbackRequest {
        CallbackRequest::new(
            "KubernetesListResourceNamespace",
            json!({"api_version": "v1", "kind": "Pod", "namespace": "spark",
                   "label_selector": "spark-app-selector=job-1", "field_masks": null}),
        )
    }

    /// The live form of the second recorded request.
    fn get_node() -> CallbackRequest {
        CallbackRequest::new(
            "KubernetesGetResource",
            json!({"api_version": "v1", "kind": "Node", "name": "node-1",
                   "disable_cache": false}),
        )
    }

    #[test]
    fn replays_exchanges_in_order() {
        let session = ReplaySession::from_yaml(SESSION).unwrap();
        assert_eq!(session.len(), 2);

        assert_eq!(
            session.answer(&list_pods()),
            Ok(br#"{"apiVersion":"v1","kind":"PodList","items":[]}"#.to_vec())
        );
        assert_eq!(
            session.answer(&get_node()),
            Err(r#"nodes "node-1" not found"#.into())
        );
        assert_eq!(session.answer(&list_pods()), Err(EXHAUSTED.into()));
        assert_eq!(session.replayed(), 3);
    }

    #[test]
    fn a_request_out_of_order_is_refused_and_still_consumes_its_exchange() {
        let session = ReplaySession::from_yaml(SESSION).unwrap();

        let error = session.answer(&get_node()).unwrap_err();
        assert!(
            error.starts_with(
                "Replay error: unexpected request. Was expecting KubernetesListResourceNamespace"
            ),
            "{error}"
        );
        assert!(
            error.ends_with(&format!("got {} instead", get_node())),
            "{error}"
        );

        // kwctl moves on after a mismatch: the second exchange is next.
        assert_eq!(
            session.answer(&get_node()),
            Err(r#"nodes "node-1" not found"#.into())
        );
    }

    #[test]
    fn reset_replays_from_the_start() {
        let session = ReplaySession::from_yaml(SESSION).unwrap();
        session.answer(&list_pods()).unwrap();
        session.reset();
        assert!(session.answer(&list_pods()).is_ok());
    }

    #[rstest]
    #[case::empty_list("[]\n", 0)]
    #[case::one_exchange(
        "- type: Exchange\n  request: \"!DNSLookupHost\\nhost: example.com\\n\"\n  \
         response:\n    type: Success\n    payload: '[]'\n",
        1
    )]
    fn loads_sessions(#[case] text: &str, #[case] len: usize) {
        assert_eq!(ReplaySession::from_yaml(text).unwrap().len(), len);
    }

    #[rstest]
    #[case::not_a_list(
        "type: Exchange\n",
        "failed to parse replay session: invalid type: map, expected a sequence"
    )]
    #[case::unknown_entry_type(
        "- type: Note\n",
        "failed to parse replay session: .[0].type: unknown variant `Note`, expected `Exchange`"
    )]
    #[case::untagged_request(
        "- type: Exchange\n  request: \"kind: Pod\"\n  response:\n    type: Error\n    message: x\n",
        "failed to parse request of exchange 0 in replay session: \
         expected a request tagged with its kind, like !KubernetesGetResource"
    )]
    fn refuses_malformed_sessions(#[case] text: &str, #[case] message: &str) {
        let error = ReplaySession::from_yaml(text).unwrap_err().to_string();
        assert!(error.starts_with(message), "{error}");
    }

    #[test]
    fn an_empty_session_refuses_every_call() {
        let session = ReplaySession::new(Vec::new());
        assert!(session.is_empty());
        assert_eq!(session.answer(&list_pods()), Err(EXHAUSTED.into()));
    }
}
