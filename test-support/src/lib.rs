//! Helpers the workspace's integration tests share (a dev-dependency only).
//!
//! [`Prometheus`] runs Debian's `prometheus` (or `$PROMETHEUS`) on a free loopback port with
//! its own temporary storage, answers PromQL through the HTTP API, and is killed when dropped,
//! also when the test panics (its log is then printed).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support lives in the workspace")
        .to_path_buf()
}

/// A running Prometheus server, killed on drop.
pub struct Prometheus {
    child: Child,
    /// Its web port on 127.0.0.1.
    pub port: u16,
    /// Its config directory and storage; the config file is `prometheus.yml` in it.
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
    /// until it is ready. Panics, saying how to install it, when the binary is missing.
    pub fn start(config: &str, setup: impl FnOnce(&Path)) -> Prometheus {
        let dir = tempfile::tempdir().expect("temporary directory");
        setup(dir.path());
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let port = free_port();
        let binary = std::env::var_os("PROMETHEUS").unwrap_or_else(|| "prometheus".into());
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-lifecycle")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e}; install Debian's `prometheus` package (bash \
                     scripts/setup.sh does) or set PROMETHEUS",
                    binary.to_string_lossy()
                )
            });
        let mut p = Prometheus { child, port, dir };
        p.wait_ready();
        p
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited with {status}:\n{}", self.log());
            }
            if ureq::get(&format!("http://127.0.0.1:{}/-/ready", self.port))
                .call()
                .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready after 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Prometheus' own log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// `GET /api/v1/<path>`: the `data` member of a successful answer; an error answer is an
    /// `Err` with Prometheus' message.
    pub fn api(&self, path_and_query: &str) -> Result<Value, String> {
        let url = format!("http://127.0.0.1:{}/api/v1/{path_and_query}", self.port);
        let mut response = match ureq::get(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .call()
        {
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

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- prometheus log ---\n{}", self.log());
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
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
