//! A real Prometheus (Debian's package) scrapes two exporters, one negotiating the format
//! (Prometheus 2 asks for OpenMetrics) and one forced to the text format 0.0.4, and answers
//! PromQL over its HTTP API with the values the test set.
//!
//! Needs the `prometheus` binary: `bash scripts/test.sh` installs it and runs this test.
//! Without it, the test fails (it is ignored by a plain `cargo test`).

mod common;

use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use metrics_core::Format;
use metrics_exporter_http::{Config, Exporter};
use serde_json::Value;

/// How long Prometheus may take to start and scrape.
const PATIENCE: Duration = Duration::from_secs(25);

/// A Prometheus server on a free loopback port with its own storage; killed (and its log
/// printed, if the test failed) when dropped, also while a failed test unwinds.
struct Prometheus {
    child: Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(scrape_configs: &str) -> Prometheus {
        let binary = std::env::var_os("PROMETHEUS").unwrap_or_else(|| "prometheus".into());
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n{scrape_configs}"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = dir.path().join("prometheus.log");
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(File::create(&log).unwrap()))
            .stderr(Stdio::from(
                File::options().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {binary:?} ({e}): install Debian's `prometheus` package \
                     (`bash scripts/test.sh` does), or point $PROMETHEUS at the binary"
                )
            });
        let mut p = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        p.wait_ready();
        p
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        let a = agent(Duration::from_secs(2));
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("prometheus exited with {status}: {}", self.log_text());
            }
            if let Ok(r) = a.get(format!("{}/-/ready", self.url)).call() {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "prometheus is not ready");
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The result vector of an instant query.
    fn query(&self, promql: &str) -> Vec<Value> {
        let r = reply(
            agent(Duration::from_secs(5))
                .get(format!("{}/api/v1/query", self.url))
                .query("query", promql)
                .call(),
        );
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["status"], "success", "{promql}: {v}");
        v["data"]["result"].as_array().unwrap().clone()
    }

    /// The single value `promql` returns, once it returns exactly one series.
    fn value(&self, promql: &str) -> Option<f64> {
        match &self.query(promql)[..] {
            [one] => one["value"][1].as_str().unwrap().parse().ok(),
            _ => None,
        }
    }

    /// Waits until `promql` returns one series whose value is `want`.
    fn expect(&self, promql: &str, want: f64) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let got = self.value(promql);
            if got.is_some_and(|g| (g - want).abs() <= 1e-9 * want.abs().max(1.0)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{promql}: got {got:?}, want {want}; all: {:?}",
                self.query(promql)
            );
            thread::sleep(Duration::from_millis(200));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!("--- prometheus log ---\n{}", self.log_text());
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn job(name: &str, exporter: &Exporter) -> String {
    format!(
        "  - job_name: {name}\n    static_configs:\n      - targets: ['{}']\n",
        exporter.local_addr()
    )
}

fn assert_values(p: &Prometheus, job: &str) {
    let sel = |name: &str, extra: &str| format!("{name}{{job=\"{job}\"{extra}}}");
    p.expect(&sel("up", ""), 1.0);
    p.expect(&sel("test_jobs_total", ""), 42.0);
    p.expect(&sel("test_temperature_celsius", ""), 21.5);
    p.expect(
        &sel("test_requests_total", ",method=\"GET\",code=\"200\""),
        7.0,
    );
    p.expect(
        &sel("test_requests_total", ",method=\"POST\",code=\"500\""),
        1.0,
    );
    p.expect(&sel("test_latency_seconds_count", ""), 10.0);
    p.expect(&sel("test_latency_seconds_sum", ""), 8.7);
    p.expect(&sel("test_latency_seconds_bucket", ",le=\"0.1\""), 2.0);
    p.expect(&sel("test_latency_seconds_bucket", ",le=\"0.5\""), 6.0);
    p.expect(&sel("test_latency_seconds_bucket", ",le=\"+Inf\""), 10.0);
    // Rank 5 of 10 falls in (0.1, 0.5], which holds ranks 3 to 6: 0.1 + 0.4 × 3/4.
    p.expect(
        &format!(
            "histogram_quantile(0.5, {})",
            sel("test_latency_seconds_bucket", "")
        ),
        0.4,
    );
    // Rank 9 of 10 falls in (1, 5], which holds ranks 9 and 10: 1 + 4 × 1/2.
    p.expect(
        &format!(
            "histogram_quantile(0.9, {})",
            sel("test_latency_seconds_bucket", "")
        ),
        3.0,
    );
}

#[test]
#[ignore = "needs prometheus (Debian package); run via scripts/test.sh"]
fn prometheus_scrapes_both_formats() {
    let s = sample();
    // Negotiated: Prometheus 2 prefers OpenMetrics.
    let negotiated = Exporter::start(
        Config::new("127.0.0.1", 0).self_metrics(true),
        s.registry.clone(),
    )
    .unwrap();
    // Forced to the text format 0.0.4, whatever Prometheus asks for.
    let text = Exporter::start(
        Config::new("127.0.0.1", 0)
            .force_format(Some(Format::Text))
            .self_metrics(true),
        s.registry.clone(),
    )
    .unwrap();

    let p = Prometheus::start(&(job("om", &negotiated) + &job("text", &text)));
    assert_values(&p, "om");
    assert_values(&p, "text");

    // Which format each job was served, as the exporters counted it and Prometheus stored it.
    let scrapes = |job: &str, format: &str| {
        p.value(&format!(
            "http_exporter_scrapes_total{{job=\"{job}\",format=\"{format}\",code=\"200\"}}"
        ))
    };
    let deadline = Instant::now() + PATIENCE;
    while scrapes("om", "openmetrics").unwrap_or(0.0) < 1.0
        || scrapes("text", "text").unwrap_or(0.0) < 1.0
    {
        assert!(Instant::now() < deadline, "no self metrics");
        thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(scrapes("om", "text"), Some(0.0));
    assert_eq!(scrapes("text", "openmetrics"), Some(0.0));

    // Both targets healthy, without scrape errors.
    let r = reply(
        agent(Duration::from_secs(5))
            .get(format!("{}/api/v1/targets", p.url))
            .call(),
    );
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let targets = v["data"]["activeTargets"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "{v}");
    for t in targets {
        assert_eq!(t["health"], "up", "{t}");
        assert_eq!(t["lastError"], "", "{t}");
    }

    // A value changed by the test shows up in the next scrapes.
    s.jobs.inc_by(8);
    s.temperature.set(-4.25);
    for job in ["om", "text"] {
        p.expect(&format!("test_jobs_total{{job=\"{job}\"}}"), 50.0);
        p.expect(&format!("test_temperature_celsius{{job=\"{job}\"}}"), -4.25);
    }
}
