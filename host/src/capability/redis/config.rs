//! Where the Redis server is and how long a call may wait for it.
//!
//! The timeouts bound every admission that uses the capability: a call
//! opens a connection within the connect timeout when it has none, and
//! gets its answer within the reply timeout, or fails, so the policy falls
//! back to the sequence instead of stalling the API server.

use std::time::Duration;

use redis::{Client, IntoConnectionInfo};

use super::error::RedisError;

/// The server used when none is configured.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// The default bound on opening a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(50);

/// The default bound on waiting for an answer.
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_millis(50);

/// URL schemes the capability connects with. TLS (`rediss://`) is not
/// built into the host.
const SCHEMES: [&str; 5] = ["redis", "valkey", "unix", "redis+unix", "valkey+unix"];

/// How to reach Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// The server, as `redis://[[user]:password@]host[:port][/db]` or
    /// `unix:///path/to/socket`. Default [`DEFAULT_URL`]. A host name is
    /// resolved on each connect, outside the connect timeout; an address
    /// keeps the bound strict.
    pub url: String,
    /// How long opening a connection may take, the TCP handshake and any
    /// `AUTH` or `SELECT` together. Default [`DEFAULT_CONNECT_TIMEOUT`].
    /// Must be more than zero.
    pub connect_timeout: Duration,
    /// How long each write of a command and each read of its answer may
    /// wait. Default [`DEFAULT_REPLY_TIMEOUT`]. Must be more than zero.
    /// Answers are a few dozen bytes, read at once, so this bounds the
    /// whole answer.
    pub reply_timeout: Duration,
}

impl Default for RedisConfig {
    /// The local server on the standard port, with the default timeouts.
    fn default() -> Self {
        Self {
            url: DEFAULT_URL.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            reply_timeout: DEFAULT_REPLY_TIMEOUT,
        }
    }
}

impl RedisConfig {
    /// The default configuration for the server at `url`.
    pub fn with_url(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            ..Self::default()
        }
    }

    /// Checks the settings and builds the client that connects with them.
    /// No connection is opened.
    ///
    /// # Errors
    ///
    /// [`RedisError::ZeroTimeout`] for a zero timeout, [`RedisError::Url`]
    /// for a URL the client cannot use.
    pub(super) fn client(&self) -> Result<Client, RedisError> {
        if self.connect_timeout.is_zero() {
            return Err(RedisError::ZeroTimeout {
                setting: "connect timeout",
            });
        }
        if self.reply_timeout.is_zero() {
            return Err(RedisError::ZeroTimeout {
                setting: "reply timeout",
            });
        }

        // The URL is checked here first, so that the messages are ours and
        // lowercase; the client's own check comes after.
        let url = url::Url::parse(&self.url).map_err(|e| RedisError::Url {
            reason: e.to_string(),
        })?;
        let scheme = url.scheme();
        if !SCHEMES.contains(&scheme) {
            return Err(RedisError::Url {
                reason: format!(
                    "scheme {scheme} is not supported; accepted schemes are {}",
                    SCHEMES.join(", ")
                ),
            });
        }
        if !scheme.ends_with("unix") && url.host_str().is_none_or(str::is_empty) {
            return Err(RedisError::Url {
                reason: "it names no host".to_owned(),
            });
        }
        let database = url.path().trim_start_matches('/');
        if !scheme.ends_with("unix") && !database.is_empty() && database.parse::<u16>().is_err() {
            return Err(RedisError::Url {
                reason: format!("database {database} is not a number"),
            });
        }
        let info = url.into_connection_info().map_err(|e| RedisError::Url {
            reason: format!("the redis client refused it ({e})"),
        })?;

        // `CLIENT SETINFO` after each connect would be one more round trip
        // inside the connect timeout, for a name only `CLIENT LIST` shows.
        let settings = info.redis_settings().clone().set_skip_set_lib_name();
        Client::open(info.set_redis_settings(settings)).map_err(|e| RedisError::Url {
            reason: format!("the redis client refused it ({e})"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::tcp("redis://127.0.0.1:6379", "127.0.0.1:6379")]
    #[case::default_port("redis://cache.example", "cache.example:6379")]
    #[case::password_and_db("redis://:secret@10.0.0.7:6380/2", "10.0.0.7:6380")]
    #[case::trailing_slash("redis://127.0.0.1:6379/", "127.0.0.1:6379")]
    #[case::socket("unix:///run/redis.sock", "/run/redis.sock")]
    fn accepts_redis_urls(#[case] url: &str, #[case] address: &str) {
        let client = RedisConfig::with_url(url).client().unwrap();
        assert_eq!(client.get_connection_info().addr().to_string(), address);
    }

    #[rstest]
    #[case::not_a_url("127.0.0.1:6379", "invalid redis url: relative URL without a base")]
    #[case::tls(
        "rediss://127.0.0.1:6379",
        "invalid redis url: scheme rediss is not supported; accepted schemes are redis, \
         valkey, unix, redis+unix, valkey+unix"
    )]
    #[case::no_host("redis://:secret@/0", "invalid redis url: empty host")]
    #[case::bad_db(
        "redis://127.0.0.1/zero",
        "invalid redis url: database zero is not a number"
    )]
    fn refuses_urls_it_cannot_use(#[case] url: &str, #[case] message: &str) {
        let error = RedisConfig::with_url(url).client().unwrap_err();
        assert_eq!(error.to_string(), message);
    }

    #[rstest]
    #[case::connect(Duration::ZERO, DEFAULT_REPLY_TIMEOUT, "invalid redis connect timeout")]
    #[case::reply(DEFAULT_CONNECT_TIMEOUT, Duration::ZERO, "invalid redis reply timeout")]
    fn refuses_zero_timeouts(
        #[case] connect_timeout: Duration,
        #[case] reply_timeout: Duration,
        #[case] prefix: &str,
    ) {
        let config = RedisConfig {
            connect_timeout,
            reply_timeout,
            ..RedisConfig::default()
        };
        let error = config.client().unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{prefix}: it must be more than zero")
        );
    }

    #[test]
    fn the_default_is_the_local_server_with_50_ms_bounds() {
        let config = RedisConfig::default();
        assert_eq!(config.url, "redis://127.0.0.1:6379");
        assert_eq!(config.connect_timeout, Duration::from_millis(50));
        assert_eq!(config.reply_timeout, Duration::from_millis(50));
    }
}
