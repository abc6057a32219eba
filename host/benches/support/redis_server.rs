//! A `redis-server` of the bench's own, on a free port of 127.0.0.1.
//!
//! The server keeps nothing on disk and lives in a scratch directory; it
//! is killed when the [`RedisServer`] is dropped, so a bench that panics
//! leaves no server behind.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to answer its first `PING`.
const STARTUP: Duration = Duration::from_secs(10);

/// How many free ports are tried: another process may bind the port
/// between the probe and the server's own bind.
const PORT_ATTEMPTS: usize = 5;

/// A running `redis-server`.
pub struct RedisServer {
    /// The process.
    child: Child,
    /// Its port on 127.0.0.1.
    port: u16,
    /// Its working directory, removed with it.
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server and returns once it answers `PING`.
    ///
    /// Panics when `redis-server` cannot be run or never answers.
    pub fn start() -> RedisServer {
        for _ in 0..PORT_ATTEMPTS {
            let dir = tempfile::tempdir().expect("a scratch directory");
            let port = free_port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server runs (apt-get install redis-server)");
            let mut server = RedisServer {
                child,
                port,
                _dir: dir,
            };
            if server.wait_for_ping() {
                return server;
            }
        }
        panic!("redis-server did not start on any of {PORT_ATTEMPTS} ports");
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Polls `PING` until the server answers, exits, or [`STARTUP`] passes.
    fn wait_for_ping(&mut self) -> bool {
        let deadline = Instant::now() + STARTUP;
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            let pong = redis::Client::open(self.url())
                .and_then(|client| client.get_connection_with_timeout(Duration::from_millis(200)))
                .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection));
            if pong.is_ok_and(|pong| pong == "PONG") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for RedisServer {
    /// Kills the server and waits for it, so that its port is free again.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on 127.0.0.1")
}
