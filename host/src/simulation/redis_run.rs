//! The Redis side of one simulated run: keys of its own, the settings that
//! point the policy at them, the counts at the end, and the cleanup.
//!
//! The policy keeps a job's live counts under
//! `<keyPrefix>:<namespace>:<job>:live` (see `docs/redis-capability.md`).
//! A second run of the same scenario on the same server would find the
//! first run's counts there and steer by them, so every run gets a key
//! prefix no other run has: the settings' `redis.keyPrefix` (or the
//! policy's default) followed by `:sim-` and 16 hex digits drawn from the
//! clock, the process and a counter. The job and its namespace stay those
//! of the scenario, since the job keys the placement sequence and every
//! mode must play the same one.
//!
//! Only the run's two keys are ever written or deleted; nothing else on
//! the server is touched. If a run stops early, its keys expire a TTL
//! after its last admission (ten minutes unless the settings say).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::placement::{PlacementError, StoredCounts};
use super::random::SplitMix64;
use super::scenario::Scenario;
use crate::capability::{Capability, CapabilityError, RedisCapability, RedisConfig};

/// The key prefix when the settings name none: the policy's default.
const DEFAULT_PREFIX: &str = "spot-balancer";

/// The longest `redis.keyPrefix` the policy accepts.
const MAX_PREFIX: usize = 64;

/// `redis.ttlSeconds` when the settings give none: long enough for any
/// run, since every admission renews it, short enough that an aborted
/// run's keys soon go.
const RUN_TTL_SECONDS: u64 = 600;

/// Runs started by this process, so that two started in the same clock
/// tick still differ.
static RUNS: AtomicU64 = AtomicU64::new(0);

/// One run's keys on one server.
pub struct RedisRun {
    /// The capability the policy calls, shared with the dispatcher.
    capability: Arc<RedisCapability>,
    /// How the server is reached, for the cleanup's own connection.
    config: RedisConfig,
    /// The run's `redis.keyPrefix`.
    prefix: String,
    /// The run's `redis.ttlSeconds`.
    ttl_seconds: u64,
    /// The job's namespace.
    namespace: String,
    /// The job.
    job: String,
}

impl RedisRun {
    /// Opens a run of `scenario` on the server of `config`, and points
    /// `settings` at it: `redis.enabled`, the run's `redis.keyPrefix`, a
    /// `redis.ttlSeconds` unless one is set, and `liveCounts: redis`.
    ///
    /// # Errors
    ///
    /// [`PlacementError::RedisConfig`] for a configuration the capability
    /// refuses.
    pub fn open(
        config: &RedisConfig,
        scenario: &Scenario,
        settings: &mut Map<String, Value>,
    ) -> Result<Self, PlacementError> {
        let capability = Arc::new(RedisCapability::open(config)?);

        let mut redis = match settings.remove("redis") {
            Some(Value::Object(redis)) => redis,
            _ => Map::new(),
        };
        let base = redis
            .get("keyPrefix")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_PREFIX);
        let prefix = run_prefix(base, run_token());
        let ttl_seconds = match redis.get("ttlSeconds").and_then(Value::as_u64) {
            Some(seconds) => seconds,
            None => {
                redis.insert("ttlSeconds".into(), Value::from(RUN_TTL_SECONDS));
                RUN_TTL_SECONDS
            }
        };
        redis.insert("enabled".into(), Value::Bool(true));
        redis.insert("keyPrefix".into(), Value::from(prefix.as_str()));
        settings.insert("redis".into(), Value::Object(redis));
        settings.insert("liveCounts".into(), Value::from("redis"));

        Ok(Self {
            capability,
            config: config.clone(),
            prefix,
            ttl_seconds,
            namespace: scenario.namespace.clone(),
            job: scenario.job.clone(),
        })
    }

    /// The capability, to register with the policy's dispatcher.
    pub fn capability(&self) -> Arc<dyn Capability> {
        self.capability.clone()
    }

    /// The run's key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The job's live counts as Redis holds them, read through the
    /// capability as the policy reads them.
    ///
    /// # Errors
    ///
    /// [`PlacementError::RedisCounts`] when the server cannot be reached
    /// or answers something else.
    pub fn counts(&self) -> Result<StoredCounts, PlacementError> {
        /// The capability's `live_counts` reply.
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Reply {
            /// Executors counted on spot.
            spot: u64,
            /// Executors counted on on-demand.
            on_demand: u64,
        }

        let request = json!({
            "keyPrefix": self.prefix,
            "namespace": self.namespace,
            "job": self.job,
            "ttlSeconds": self.ttl_seconds,
        });
        let reply = self
            .capability
            .call("live_counts", request.to_string().as_bytes())
            .map_err(|error| {
                // The guest's wording ("Callback evaluation failure: ...")
                // says nothing to the user; the backend's message does.
                PlacementError::RedisCounts(match error {
                    CapabilityError::Callback(message) => message,
                    other => other.to_string(),
                })
            })?;
        let reply: Reply = serde_json::from_slice(&reply)
            .map_err(|e| PlacementError::RedisCounts(format!("unreadable reply: {e}")))?;
        Ok(StoredCounts {
            spot: reply.spot,
            on_demand: reply.on_demand,
        })
    }

    /// Deletes the run's two keys, on a connection of its own bounded by
    /// the configuration's timeouts; returns how many existed.
    ///
    /// # Errors
    ///
    /// The client's error when the server cannot be reached or refuses.
    pub fn delete_keys(&self) -> Result<u64, redis::RedisError> {
        let client = redis::Client::open(self.config.url.as_str())?;
        let mut connection = client.get_connection_with_timeout(self.config.connect_timeout)?;
        connection.set_read_timeout(Some(self.config.reply_timeout))?;
        connection.set_write_timeout(Some(self.config.reply_timeout))?;
        let key =
            |suffix: &str| format!("{}:{}:{}:{suffix}", self.prefix, self.namespace, self.job);
        redis::cmd("DEL")
            .arg(key("position"))
            .arg(key("live"))
            .query(&mut connection)
    }
}

/// 64 bits no other run draws: the clock, the process and this process's
/// run count, mixed.
fn run_token() -> u64 {
    // A clock before 1970 only loses the clock's part of the mix.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let seed = nanos ^ u64::from(std::process::id()).rotate_left(32) ^ run.rotate_left(48);
    SplitMix64::new(seed).next_u64()
}

/// `<base>:sim-<token>`, with `base` cut short so the whole fits the
/// policy's 64 characters.
fn run_prefix(base: &str, token: u64) -> String {
    let suffix = format!(":sim-{token:016x}");
    let room = MAX_PREFIX.saturating_sub(suffix.len());
    // Cut by characters, not bytes: a prefix the policy will refuse anyway
    // must still not split a character here.
    let base: String = base.chars().take(room).collect();
    format!("{base}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulation::scenario::tests::scenario;
    use rstest::rstest;

    #[rstest]
    #[case::default_base(DEFAULT_PREFIX, 0xab, "spot-balancer:sim-00000000000000ab")]
    #[case::user_base("sb-prod", u64::MAX, "sb-prod:sim-ffffffffffffffff")]
    #[case::long_base(&"p".repeat(64), 1, &format!("{}:sim-0000000000000001", "p".repeat(43)))]
    #[case::multibyte_base(&"é".repeat(60), 1, &format!("{}:sim-0000000000000001", "é".repeat(43)))]
    fn prefixes_fit_the_policy_limit(#[case] base: &str, #[case] token: u64, #[case] want: &str) {
        let prefix = run_prefix(base, token);
        assert_eq!(prefix, want);
        assert!(prefix.chars().count() <= MAX_PREFIX);
    }

    #[test]
    fn every_run_draws_its_own_token() {
        let tokens: std::collections::BTreeSet<u64> = (0..1000).map(|_| run_token()).collect();
        assert_eq!(tokens.len(), 1000);
    }

    #[test]
    fn settings_point_the_policy_at_the_run() {
        let mut settings = serde_json::from_value::<Map<String, Value>>(json!({
            "defaultSpotRatio": 0.5,
            "redis": {"keyPrefix": "sb"},
            "liveCounts": "none",
        }))
        .unwrap();
        let run = RedisRun::open(&RedisConfig::default(), &scenario(), &mut settings).unwrap();

        assert!(run.prefix().starts_with("sb:sim-"), "{}", run.prefix());
        assert_eq!(
            Value::Object(settings),
            json!({
                "defaultSpotRatio": 0.5,
                "redis": {"enabled": true, "keyPrefix": run.prefix(), "ttlSeconds": 600},
                "liveCounts": "redis",
            })
        );
    }

    #[test]
    fn a_ttl_in_the_settings_is_kept() {
        let mut settings =
            serde_json::from_value::<Map<String, Value>>(json!({"redis": {"ttlSeconds": 3600}}))
                .unwrap();
        let run = RedisRun::open(&RedisConfig::default(), &scenario(), &mut settings).unwrap();
        assert_eq!(run.ttl_seconds, 3600);
        assert_eq!(settings["redis"]["ttlSeconds"], 3600);
    }
}
