//! Connections to one Redis server, every wait on them bounded.
//!
//! One capability serves every policy instance, and instances evaluate in
//! parallel, so connections are pooled: a call takes an idle connection,
//! or opens one within the connect timeout, and sends its single command
//! with the reply timeout on the socket. A call therefore takes at most
//! the connect timeout plus the reply timeout, whatever the server does.
//!
//! A connection goes back to the pool only while it is in step with the
//! server: after an answer, an error answer included. After a timeout or a
//! socket error it is dropped, since an answer may still be on its way,
//! and the next call opens a fresh one under the same bound. A socket
//! error on a pooled connection means the server went away, so the other
//! idle connections are dropped too: after a restart, the calls in flight
//! and the first call to find its connection broken fail, and the calls
//! after them reconnect.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::{Client, Cmd, Connection, Value};

use super::config::RedisConfig;
use super::error::{RedisError, millis};

/// How many idle connections are kept. Each evaluation holds one for the
/// length of a command, so this is the number of admissions served in
/// parallel without opening a connection; more are opened on demand and
/// closed after use.
const MAX_IDLE: usize = 16;

/// What happened to a command that got no usable answer.
enum Failure {
    /// The server answered with an error; the connection is in step.
    Server(String),
    /// No answer within the reply timeout.
    Timeout,
    /// The socket failed.
    Socket(String),
    /// The client could not read the answer.
    Client(String),
}

/// A pool of connections to the configured server.
pub(super) struct Connections {
    /// Opens connections to the server.
    client: Client,
    /// `host:port` or socket path, for messages.
    address: String,
    /// The bound on opening a connection.
    connect_timeout: Duration,
    /// The bound on each write and read of a command.
    reply_timeout: Duration,
    /// Connections in step with the server, ready for a command.
    idle: Mutex<Vec<Connection>>,
}

impl Connections {
    /// A pool for the server `config` names; opens nothing yet.
    ///
    /// # Errors
    ///
    /// [`RedisError::Url`] or [`RedisError::ZeroTimeout`] for a
    /// configuration the client cannot use.
    pub(super) fn new(config: &RedisConfig) -> Result<Self, RedisError> {
        let client = config.client()?;
        Ok(Self {
            address: client.get_connection_info().addr().to_string(),
            client,
            connect_timeout: config.connect_timeout,
            reply_timeout: config.reply_timeout,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The server's `host:port` or socket path.
    pub(super) fn address(&self) -> &str {
        &self.address
    }

    /// Sends `command` for `operation` on `key` and returns the answer.
    ///
    /// # Errors
    ///
    /// [`RedisError::Connect`] when no connection opens within the connect
    /// timeout, [`RedisError::Timeout`] when no answer comes within the
    /// reply timeout, [`RedisError::Disconnected`] when the socket fails,
    /// [`RedisError::Server`] when Redis answers with an error, and
    /// [`RedisError::Reply`] when the answer cannot be read.
    pub(super) fn query(
        &self,
        operation: &'static str,
        key: &str,
        command: &Cmd,
    ) -> Result<Value, RedisError> {
        let pooled = self.idle().pop();
        let reused = pooled.is_some();
        let mut connection = match pooled {
            Some(connection) => connection,
            None => self.connect()?,
        };

        let failure = match command.query::<Value>(&mut connection) {
            Ok(value) => {
                self.keep(connection);
                return Ok(value);
            }
            Err(error) => failure(&error),
        };

        // Only a connection whose last command was answered can carry the
        // next one; a dropped connection closes its socket.
        let (address, key) = (self.address.clone(), key.to_owned());
        match failure {
            Failure::Server(message) => {
                self.keep(connection);
                Err(RedisError::Server {
                    address,
                    operation,
                    key,
                    message,
                })
            }
            Failure::Timeout => Err(RedisError::Timeout {
                address,
                operation,
                key,
                timeout: millis(self.reply_timeout),
            }),
            Failure::Socket(reason) => {
                if reused {
                    let dropped = std::mem::take(&mut *self.idle());
                    tracing::debug!(address = %self.address, idle = dropped.len(),
                        "redis connection lost, dropping the idle ones");
                }
                Err(RedisError::Disconnected {
                    address,
                    operation,
                    key,
                    reason,
                })
            }
            Failure::Client(reason) => Err(RedisError::Reply {
                address,
                operation,
                key,
                reply: reason,
                expected: "a redis answer",
            }),
        }
    }

    /// Opens a connection within the connect timeout and sets the reply
    /// timeout on its socket.
    fn connect(&self) -> Result<Connection, RedisError> {
        let refuse = |reason: String| RedisError::Connect {
            address: self.address.clone(),
            reason,
        };
        let connection = self
            .client
            .get_connection_with_timeout(self.connect_timeout)
            .map_err(|error| {
                refuse(match failure(&error) {
                    Failure::Timeout => {
                        format!("no answer within {}", millis(self.connect_timeout))
                    }
                    Failure::Server(reason) | Failure::Socket(reason) | Failure::Client(reason) => {
                        reason
                    }
                })
            })?;

        // The client clears its timeouts once connected; without these a
        // stalled server would hold the admission for as long as it stalls.
        let timeout = Some(self.reply_timeout);
        connection
            .set_read_timeout(timeout)
            .and_then(|()| connection.set_write_timeout(timeout))
            .map_err(|error| refuse(format!("cannot set the reply timeout ({error})")))?;
        tracing::debug!(address = %self.address, "connected to redis");
        Ok(connection)
    }

    /// Returns a connection to the pool, or closes it when the pool is full.
    fn keep(&self, connection: Connection) {
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE {
            idle.push(connection);
        }
    }

    /// The idle connections. A panic while the lock was held cannot have
    /// left the list half-changed (push, pop and take are whole), so a
    /// poisoned lock is used as it is.
    fn idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Sorts a client error, with a lowercase reason for each kind.
fn failure(error: &redis::RedisError) -> Failure {
    if let Some(code) = error.code() {
        // Inside a script, Redis adds where the error was raised
        // (" script: <sha1>, on @user_script:1."); the operation and the key
        // say that already.
        let detail = error.detail().map(|detail| {
            detail
                .split_once(" script: ")
                .map_or(detail, |(head, _)| head)
        });
        return Failure::Server(match detail {
            Some(detail) => format!("{code} {detail}"),
            None => code.to_owned(),
        });
    }
    if error.is_timeout() {
        return Failure::Timeout;
    }
    if error.is_connection_refusal() {
        return Failure::Socket("connection refused".to_owned());
    }
    if error.is_io_error() || error.is_connection_dropped() {
        // The system's text, as "Connection reset by peer (os error 104)",
        // starts with a capital that messages here do not have.
        return Failure::Socket(lowercase_first(&error.to_string()));
    }
    Failure::Client(error.to_string())
}

/// `text` with its first letter in lowercase.
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::system_text(
        "Connection reset by peer (os error 104)",
        "connection reset by peer (os error 104)"
    )]
    #[case::already_lowercase("unexpected end of file", "unexpected end of file")]
    #[case::empty("", "")]
    fn socket_errors_start_in_lowercase(#[case] text: &str, #[case] shown: &str) {
        assert_eq!(lowercase_first(text), shown);
    }
}
