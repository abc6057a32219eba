//! Why the Redis capability could not be set up or could not serve a call.
//!
//! Every message is lowercase, ends without a period and names what failed:
//! the setting, or the operation, the key and the server's address. The
//! capability hands the text to the guest, and the policy puts it in the
//! warning the pod is admitted with, so the message is what an operator
//! reads on `kubectl apply`. A URL is never shown: it may hold a password.

use std::time::Duration;

use thiserror::Error;

/// A failure of the Redis capability.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RedisError {
    /// The configured URL is not one the capability can connect to.
    #[error("invalid redis url: {reason}")]
    Url {
        /// What is wrong with it.
        reason: String,
    },

    /// A configured timeout is zero, which the socket layer refuses.
    #[error("invalid redis {setting}: it must be more than zero")]
    ZeroTimeout {
        /// `connect timeout` or `reply timeout`.
        setting: &'static str,
    },

    /// The guest's payload is not the request the operation expects.
    #[error("unreadable {operation} request: {reason}")]
    Request {
        /// The operation called.
        operation: &'static str,
        /// What is wrong with the payload.
        reason: String,
    },

    /// No connection could be opened within the connect timeout.
    #[error("cannot connect to redis at {address}: {reason}")]
    Connect {
        /// `host:port` or socket path of the server.
        address: String,
        /// Why: `connection refused`, `no answer within 50 ms`, ...
        reason: String,
    },

    /// The server did not answer within the reply timeout.
    #[error("redis at {address} did not answer {operation} on {key} within {timeout}")]
    Timeout {
        /// `host:port` or socket path of the server.
        address: String,
        /// The operation called.
        operation: &'static str,
        /// The key the operation works on.
        key: String,
        /// The reply timeout, as `50 ms`.
        timeout: String,
    },

    /// The connection broke while the command was sent or answered.
    #[error("lost the connection to redis at {address} during {operation} on {key}: {reason}")]
    Disconnected {
        /// `host:port` or socket path of the server.
        address: String,
        /// The operation called.
        operation: &'static str,
        /// The key the operation works on.
        key: String,
        /// The socket error, as `connection reset`.
        reason: String,
    },

    /// The server answered with an error, such as `WRONGTYPE` for a key of
    /// another type; the text after the colon is the server's.
    #[error("redis at {address} refused {operation} on {key}: {message}")]
    Server {
        /// `host:port` or socket path of the server.
        address: String,
        /// The operation called.
        operation: &'static str,
        /// The key the operation works on.
        key: String,
        /// The server's error code and message.
        message: String,
    },

    /// The server answered with a value the operation cannot use.
    #[error("redis at {address} answered {operation} on {key} with {reply}, expected {expected}")]
    Reply {
        /// `host:port` or socket path of the server.
        address: String,
        /// The operation called.
        operation: &'static str,
        /// The key the operation works on.
        key: String,
        /// The value received.
        reply: String,
        /// What the operation needs.
        expected: &'static str,
    },
}

/// A duration as messages show it: `50 ms`, `0.5 ms`, `2000 ms`.
pub(super) fn millis(duration: Duration) -> String {
    format!("{} ms", duration.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::whole(Duration::from_millis(50), "50 ms")]
    #[case::fraction(Duration::from_micros(500), "0.5 ms")]
    #[case::seconds(Duration::from_secs(2), "2000 ms")]
    fn durations_are_shown_in_milliseconds(#[case] duration: Duration, #[case] shown: &str) {
        assert_eq!(millis(duration), shown);
    }
}
