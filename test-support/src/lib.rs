//! Helpers the workspace's integration tests share (a dev-dependency only).
//!
//! [`Service`] runs an outside server (Debian's `prometheus`, `prometheus-pushgateway`,
//! `prometheus-node-exporter`, …, each overridable through an environment variable, see
//! [`Tool`]) on a free loopback port with its own temporary directory, waits until it answers,
//! and kills it when dropped, also when the test panics (its log is then printed).
//!
//! [`Prometheus`] is such a service running a given config: it answers PromQL through the HTTP
//! API ([`Prometheus::query`], [`Prometheus::value`]) and polls for expected values
//! ([`Prometheus::expect`], [`Prometheus::wait_for`]).
//!
//! [`siege`] besieges a server process with hostile clients while scraping it, and checks
//! its threads, descriptors and memory through `/proc`.
//!
//! [`qemu`] builds the firmware examples and runs them under `qemu-system-arm`.
//!
//! [`spawn_listening`] starts a server process of the workspace and waits until its port
//! accepts connections; [`tls::Ca`] is a throwaway certificate authority of the tests.
//!
//! A missing binary is a panic (a test failure, never a skip) that names the Debian package to
//! install and the environment variable that points at another binary.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod qemu;
pub mod siege;
pub mod tls;

/// How long a [`Service`] may take to answer its readiness path.
const READY_TIMEOUT: Duration = Duration::from_secs(40);

/// How long [`Prometheus::expect`] polls for the wanted value.
const EXPECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one HTTP request to a service may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// How long [`spawn_listening`] waits for the child's port.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(20);

/// Spawns `command` and polls (every 20 ms, for at most 20 s) until something accepts TCP
/// connections on `addr`; returns the child. Panics, naming `what`, when the deadline passes
/// or the child exits first (the child is then reaped, so no zombie is left behind).
pub fn spawn_listening(
    command: &mut Command,
    addr: impl std::net::ToSocketAddrs + Copy,
    what: &str,
) -> Child {
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {what}: {e}"));
    let deadline = Instant::now() + LISTEN_TIMEOUT;
    while std::net::TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited ({status}) before it listened");
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} never listened");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// A xorshift64 generator for random fault points (kill times and the like), reproducible
/// from its seed: print the seed so a failing run can be repeated.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed` (0 is replaced by 1: xorshift would stay at 0).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// A seed from the clock (odd, so never 0).
    pub fn clock_seed() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_nanos() as u64
            | 1
    }

    /// The next number below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support lives in the workspace")
        .to_path_buf()
}

/// An HTTP client that returns 4xx/5xx answers as responses and gives up after `timeout`.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .new_agent()
}

/// An outside program the tests run: `$var` when set, else `binary` on the `PATH`, installed by
/// Debian's `package`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// The environment variable that points at another binary.
    pub var: &'static str,
    /// The binary looked up on the `PATH` when `var` is not set.
    pub binary: &'static str,
    /// The Debian package that installs `binary`.
    pub package: &'static str,
}

impl Tool {
    /// `qemu-system-arm` (`$QEMU_SYSTEM_ARM`), for the firmware examples.
    pub const QEMU_ARM: Tool = Tool {
        var: "QEMU_SYSTEM_ARM",
        binary: "qemu-system-arm",
        package: "qemu-system-arm",
    };
    /// The Prometheus server (`$PROMETHEUS`).
    pub const PROMETHEUS: Tool = Tool {
        var: "PROMETHEUS",
        binary: "prometheus",
        package: "prometheus",
    };
    /// Prometheus 3.5.3 (`$PROMETHEUS3`), from Debian's forky suite: `scripts/forky.sh`
    /// unpacks it into `.cache/forky/` and `scripts/test.sh` sets the variable.
    pub const PROMETHEUS3: Tool = Tool {
        var: "PROMETHEUS3",
        binary: "prometheus3",
        package: "prometheus` 3.5.3 package from the forky suite (`bash scripts/forky.sh` \
                  unpacks it; scripts/test.sh sets $PROMETHEUS3); not the stable suite's `prometheus",
    };
    /// VictoriaMetrics 1.145 (`$VICTORIA_METRICS`), from Debian's forky suite: unpacked by
    /// `scripts/forky.sh`, the variable set by `scripts/test.sh`.
    pub const VICTORIA_METRICS: Tool = Tool {
        var: "VICTORIA_METRICS",
        binary: "victoria-metrics",
        package: "victoria-metrics` 1.145 package from the forky suite (`bash scripts/forky.sh` \
                  unpacks it; scripts/test.sh sets $VICTORIA_METRICS); not the stable suite's `victoria-metrics",
    };
    /// `promtool` (`$PROMTOOL`), from the `prometheus` package.
    pub const PROMTOOL: Tool = Tool {
        var: "PROMTOOL",
        binary: "promtool",
        package: "prometheus",
    };
    /// The Pushgateway (`$PUSHGATEWAY`).
    pub const PUSHGATEWAY: Tool = Tool {
        var: "PUSHGATEWAY",
        binary: "prometheus-pushgateway",
        package: "prometheus-pushgateway",
    };
    /// The node exporter (`$NODE_EXPORTER`).
    pub const NODE_EXPORTER: Tool = Tool {
        var: "NODE_EXPORTER",
        binary: "prometheus-node-exporter",
        package: "prometheus-node-exporter",
    };

    /// `wrk` (`$WRK`), the HTTP load generator of the exporter's load test.
    pub const WRK: Tool = Tool {
        var: "WRK",
        binary: "wrk",
        package: "wrk",
    };

    /// The binary to run: `$var`, or `binary`.
    pub fn path(&self) -> OsString {
        std::env::var_os(self.var).unwrap_or_else(|| self.binary.into())
    }

    /// A [`Command`] for [`Tool::path`].
    pub fn command(&self) -> Command {
        Command::new(self.path())
    }

    /// The panic message for a binary that cannot be run (`err`, from spawning it): which
    /// package to install, or which variable to set.
    pub fn unavailable(&self, err: &std::io::Error) -> String {
        format!(
            "cannot run {:?} ({err}): install Debian's `{}` package (`bash scripts/test.sh` \
             does, through scripts/setup.sh), or point ${} at the binary",
            self.path(),
            self.package,
            self.var
        )
    }
}

/// A server process on a free loopback port, its output logged to a file; killed when dropped
/// (its log printed if the test is panicking).
pub struct Service {
    child: Child,
    tool: Tool,
    /// Its port on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
    dir: PathBuf,
    _owned: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("binary", &self.tool.binary)
            .field("port", &self.port)
            .field("dir", &self.dir)
            .finish()
    }
}

impl Service {
    /// Starts `tool` in a fresh temporary directory (removed on drop) and waits until
    /// `GET ready_path` answers 200. `args` gets the free port it is to listen on and the
    /// directory, and returns the command line's arguments.
    ///
    /// Panics, naming the package to install, when the binary cannot be run; panics with its log
    /// when it exits or is not ready within 40 s.
    pub fn start<I, S>(tool: Tool, ready_path: &str, args: impl FnOnce(u16, &Path) -> I) -> Service
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut s = Service::spawn(tool, dir.path(), args);
        s._owned = Some(dir);
        s.wait_ready(ready_path);
        s
    }

    /// As [`Service::start`], in `dir`, which the caller keeps until the service is dropped.
    /// The log is `<binary>.log` in it.
    pub fn start_in<I, S>(
        tool: Tool,
        dir: &Path,
        ready_path: &str,
        args: impl FnOnce(u16, &Path) -> I,
    ) -> Service
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut s = Service::spawn(tool, dir, args);
        s.wait_ready(ready_path);
        s
    }

    fn spawn<I, S>(tool: Tool, dir: &Path, args: impl FnOnce(u16, &Path) -> I) -> Service
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let port = free_port();
        let log = dir.join(format!("{}.log", tool.binary));
        let out = File::create(&log).expect("log file");
        let child = tool
            .command()
            .args(args(port, dir))
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("{}", tool.unavailable(&e)));
        Service {
            child,
            tool,
            port,
            log,
            dir: dir.to_path_buf(),
            _owned: None,
        }
    }

    fn wait_ready(&mut self, ready_path: &str) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let client = agent(Duration::from_secs(2));
        let url = self.url(ready_path);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited with {status}:\n{}", self.tool.binary, self.log());
            }
            if client.get(&url).call().is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready ({url}) after {READY_TIMEOUT:?}:\n{}",
                self.tool.binary,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:<port><path>`; `path` is empty or starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The directory it runs in (config, storage, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `GET <path>`: the body of a 200 answer; panics on anything else.
    pub fn get(&self, path: &str) -> String {
        let url = self.url(path);
        let mut r = agent(REQUEST_TIMEOUT)
            .get(&url)
            .call()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let body = r
            .body_mut()
            .read_to_string()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_eq!(r.status(), 200, "GET {url}: {body}");
        body
    }

    /// Its log (stdout and stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- {} log ---\n{}", self.tool.binary, self.log());
        }
    }
}

/// A running Prometheus server ([`Tool::PROMETHEUS`] or [`Tool::PROMETHEUS3`]), killed on drop.
pub struct Prometheus {
    // Declared first: the process is killed before `dir` is removed.
    service: Service,
    /// Its web port on 127.0.0.1.
    pub port: u16,
    /// Its config directory and storage; the config file is `prometheus.yml` in it, the log
    /// `prometheus.log`.
    pub dir: tempfile::TempDir,
}

impl std::fmt::Debug for Prometheus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prometheus")
            .field("port", &self.port)
            .finish()
    }
}

impl Prometheus {
    /// Starts Prometheus on `config` (YAML text written as `prometheus.yml` in a fresh
    /// directory, after `setup` has had the chance to put rule files beside it) and waits
    /// until `/-/ready` answers. Panics, saying how to install it, when the binary is missing.
    pub fn start(config: &str, setup: impl FnOnce(&Path)) -> Prometheus {
        Prometheus::start_tool(Tool::PROMETHEUS, config, setup)
    }

    /// As [`Prometheus::start`], with another Prometheus binary (e.g. [`Tool::PROMETHEUS3`]).
    pub fn start_tool(tool: Tool, config: &str, setup: impl FnOnce(&Path)) -> Prometheus {
        Prometheus::start_with_args(tool, config, &[], setup)
    }

    /// As [`Prometheus::start_tool`], with more command-line flags (e.g.
    /// `--web.enable-remote-write-receiver`).
    pub fn start_with_args(
        tool: Tool,
        config: &str,
        extra: &[&str],
        setup: impl FnOnce(&Path),
    ) -> Prometheus {
        let dir = tempfile::tempdir().expect("temporary directory");
        setup(dir.path());
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let service = Service::start_in(tool, dir.path(), "/-/ready", |port, dir| {
            [
                format!("--config.file={}", config_path.display()),
                format!("--storage.tsdb.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--web.enable-lifecycle".to_string(),
            ]
            .into_iter()
            .chain(extra.iter().map(|a| a.to_string()))
        });
        Prometheus {
            port: service.port,
            service,
            dir,
        }
    }

    /// `http://127.0.0.1:<port>`, the base of its web UI and API.
    pub fn url(&self) -> String {
        self.service.url("")
    }

    /// Prometheus' own log so far.
    pub fn log(&self) -> String {
        self.service.log()
    }

    /// `GET /api/v1/<path>`: the `data` member of a successful answer; an error answer is an
    /// `Err` with Prometheus' message.
    pub fn api(&self, path_and_query: &str) -> Result<Value, String> {
        let url = self.service.url(&format!("/api/v1/{path_and_query}"));
        let mut response = match agent(REQUEST_TIMEOUT).get(&url).call() {
            Ok(r) => r,
            Err(e) => return Err(format!("{url}: {e}")),
        };
        let mut body = String::new();
        response
            .body_mut()
            .as_reader()
            .read_to_string(&mut body)
            .map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if v["status"] == "success" {
            Ok(v["data"].clone())
        } else {
            Err(format!("{}: {}", v["errorType"], v["error"]))
        }
    }

    /// Evaluates `promql` now: the result vector (an error answer is an `Err`).
    pub fn query(&self, promql: &str) -> Result<Vec<Value>, String> {
        let q = urlencode(promql);
        let data = self.api(&format!("query?query={q}"))?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// The value of `promql` now when it returns exactly one series; `None` while it returns
    /// none or several. Panics (with Prometheus' log) when the query fails.
    pub fn value(&self, promql: &str) -> Option<f64> {
        let result = self
            .query(promql)
            .unwrap_or_else(|e| panic!("{promql}: {e}\nprometheus log:\n{}", self.log()));
        match &result[..] {
            [one] => one["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// Polls `promql` every 200 ms until it returns one series whose value is `want` (relative
    /// tolerance 1e-9, absolute below 1), for at most 30 s; then panics with what it returned
    /// and Prometheus' log.
    pub fn expect(&self, promql: &str, want: f64) {
        let deadline = Instant::now() + EXPECT_TIMEOUT;
        loop {
            let got = self.value(promql);
            if got.is_some_and(|g| (g - want).abs() <= 1e-9 * want.abs().max(1.0)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{promql}: got {got:?}, want {want}; all: {:?}\nprometheus log:\n{}",
                self.query(promql),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Polls `check` every 250 ms until it returns `Some`, for at most `timeout`; panics with
    /// `what` and Prometheus' log when it never does.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&Prometheus) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}\nprometheus log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// Percent-encodes a query parameter value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}
