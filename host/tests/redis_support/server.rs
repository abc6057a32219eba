//! A real `redis-server` for the tests of the Redis capability.
//!
//! [`RedisServer::start`] runs `redis-server` on a free port of 127.0.0.1,
//! with no persistence, in a scratch directory, and returns once it answers
//! `PING`. Dropping the server kills it, also when a test fails, so no
//! server outlives its test. `DEBUG` is enabled for local connections, for
//! the tests that stall the server on purpose.

use std::io::Write;
use std::net::TcpListener;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first `PING`.
const STARTUP: Duration = Duration::from_secs(10);

/// How many ports are tried before giving up: another process may take a
/// free port between the probe and the server's bind.
const PORT_ATTEMPTS: usize = 5;

/// A `redis-server` process owned by one test.
pub struct RedisServer {
    /// The process; `None` once killed.
    child: Option<Child>,
    /// The port it listens on, on 127.0.0.1.
    port: u16,
    /// Its working directory and log, removed with the server.
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server and waits until it answers `PING`.
    ///
    /// Panics when `redis-server` cannot be run or never answers: the test
    /// cannot go on without it.
    pub fn start() -> Self {
        let mut last_log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let mut server = RedisServer {
                child: None,
                port: free_port(),
                dir: tempfile::tempdir().expect("a scratch directory"),
            };
            server.spawn();
            if server.wait_for_ping() {
                return server;
            }
            last_log = server.log();
            server.kill();
        }
        panic!("redis-server did not start on any of {PORT_ATTEMPTS} ports:\n{last_log}");
    }

    /// Kills the server and starts a new, empty one on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
        assert!(
            self.wait_for_ping(),
            "redis-server did not restart on port {}:\n{}",
            self.port,
            self.log()
        );
    }

    /// Stalls the server for `duration` with `DEBUG SLEEP`, sent on a
    /// connection of its own, and returns once the server has stopped
    /// answering. The stall ends by itself.
    pub fn stall(&self, duration: Duration) -> Stall {
        let seconds = format!("{}", duration.as_secs_f64());
        let command = format!(
            "*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n${}\r\n{seconds}\r\n",
            seconds.len()
        );
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("a stall connection");
        stream
            .write_all(command.as_bytes())
            .expect("DEBUG SLEEP is sent");
        let until = Instant::now() + duration;

        // The server reads the command at its next turn of the event loop;
        // a probe that gets no answer shows that turn has come.
        while Instant::now() < until {
            let probe = redis::Client::open(self.url())
                .and_then(|client| client.get_connection_with_timeout(Duration::from_millis(20)))
                .and_then(|mut connection| {
                    connection.set_read_timeout(Some(Duration::from_millis(20)))?;
                    redis::cmd("PING").query::<String>(&mut connection)
                });
            if probe.is_err_and(|error| error.is_timeout()) {
                return Stall {
                    _stream: stream,
                    until,
                };
            }
        }
        panic!("DEBUG SLEEP never stalled the server:\n{}", self.log());
    }

    /// Starts `redis-server` on the server's port, logging to its
    /// directory.
    fn spawn(&mut self) {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("a log file");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--enable-debug-command", "local"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (apt-get install redis-server)");
        self.child = Some(child);
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's `host:port`, as capability messages name it.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A connection of the test's own, to look at keys or stall the server.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|client| client.get_connection_with_timeout(Duration::from_secs(2)))
            .expect("the test server accepts connections")
    }

    /// Runs one command on a fresh connection and returns its answer.
    pub fn query<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command
            .query(&mut self.connection())
            .unwrap_or_else(|e| panic!("{args:?} failed: {e}"))
    }

    /// Kills the server with SIGKILL and waits until it is gone; its port
    /// then refuses connections.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the server process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Where the server logs.
    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Polls `PING` until it answers, the process exits, or [`STARTUP`]
    /// passes.
    fn wait_for_ping(&mut self) -> bool {
        let deadline = Instant::now() + STARTUP;
        while Instant::now() < deadline && self.is_running() {
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

/// A server stalled by `DEBUG SLEEP`, until [`Stall::until`].
pub struct Stall {
    /// The connection the sleep was sent on, kept open for its answer.
    _stream: TcpStream,
    /// When the server answers again.
    pub until: Instant,
}

impl Stall {
    /// Waits until the server answers again.
    pub fn wait(self) {
        std::thread::sleep(self.until.saturating_duration_since(Instant::now()));
    }
}

impl Drop for RedisServer {
    /// Kills the server, so that a failing test leaves none behind.
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port of 127.0.0.1 free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on 127.0.0.1")
}
