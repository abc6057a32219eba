//! Capabilities on a test server and the requests sent to them directly,
//! without a policy in between.

use std::time::Duration;

use serde_json::{Value, json};
use spot_balancer_host::capability::{Capability, RedisCapability, RedisConfig};

use super::server::RedisServer;

/// A capability on `server` with the default 50 ms bounds, as a host runs
/// it.
pub fn capability(server: &RedisServer) -> RedisCapability {
    RedisCapability::open(&RedisConfig::with_url(&server.url())).expect("a valid url")
}

/// A capability on `server` with bounds no scheduler hiccup reaches, for
/// the tests of what the server stores: on two cores shared by eight
/// threads and a build, a 50 ms reply timeout can pass by chance, and a
/// timed-out `INCR` leaves a gap that is no fault of the script.
pub fn patient_capability(server: &RedisServer) -> RedisCapability {
    let config = RedisConfig {
        connect_timeout: Duration::from_secs(2),
        reply_timeout: Duration::from_secs(2),
        ..RedisConfig::with_url(&server.url())
    };
    RedisCapability::open(&config).expect("a valid url")
}

/// The request fields naming job `job` of namespace `spark`, with
/// `extra` added.
pub fn job_request(job: &str, ttl_seconds: u64, extra: Value) -> Vec<u8> {
    let mut request = json!({
        "keyPrefix": "spot-balancer",
        "namespace": "spark",
        "job": job,
        "ttlSeconds": ttl_seconds,
    });
    if let (Some(request), Value::Object(extra)) = (request.as_object_mut(), extra) {
        request.extend(extra);
    }
    request.to_string().into_bytes()
}

/// Calls `operation` with `payload` and parses the JSON reply, or returns
/// the error's message.
pub fn call(capability: &dyn Capability, operation: &str, payload: &[u8]) -> Result<Value, String> {
    capability
        .call(operation, payload)
        .map(|reply| serde_json::from_slice(&reply).expect("replies are JSON"))
        .map_err(|error| error.to_string())
}
