//! Issue 17, acceptance 2: the gateway remote-writes two QEMU firmware devices (the set-up of
//! `tests/qemu.rs`) to Prometheus 3.5.3's receiver (Remote-Write 2.0) and to VictoriaMetrics
//! (1.0); both backends are stopped for 30 s and started again on the same port and storage.
//! Nothing queued during the outage is lost: in each backend the gateway's own
//! `gateway_remote_write_requests_queued_total{target}` (page k carries k) has every value
//! from 0 on, each once, in timestamp order, and at every page of the outage where a device
//! was up its `firmware_ticks_total` sample is there; the gateway's counters say what was
//! retried, and that nothing was dropped or refused.
//!
//! Needs qemu-system-arm, the thumbv6m/thumbv7m targets, $PROMETHEUS3 and $VICTORIA_METRICS:
//! `bash scripts/test.sh` sets them up and runs this test.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use test_support::qemu::{firmware, Qemu};
use test_support::Tool;

/// A backend process on a fixed port and storage directory, stopped and started again.
struct Backend {
    name: &'static str,
    tool: Tool,
    port: u16,
    ready: &'static str,
    args: Vec<String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Backend {
    fn prometheus() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let port = test_support::free_port();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 15s\n").unwrap();
        let args = vec![
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--web.enable-remote-write-receiver".into(),
            "--web.remote-write-receiver.accepted-protobuf-messages=prometheus.WriteRequest".into(),
            "--web.remote-write-receiver.accepted-protobuf-messages=io.prometheus.write.v2.Request"
                .into(),
        ];
        Backend::start("prometheus", Tool::PROMETHEUS3, port, "/-/ready", args, dir)
    }

    fn victoria_metrics() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let port = test_support::free_port();
        let args = vec![
            format!("-httpListenAddr=127.0.0.1:{port}"),
            format!("-storageDataPath={}", dir.path().join("vm").display()),
            // Answer queries about samples just written (the default hides the last 30 s).
            "-search.latencyOffset=0s".into(),
            "-search.disableCache".into(),
        ];
        Backend::start(
            "victoria",
            Tool::VICTORIA_METRICS,
            port,
            "/health",
            args,
            dir,
        )
    }

    fn start(
        name: &'static str,
        tool: Tool,
        port: u16,
        ready: &'static str,
        args: Vec<String>,
        dir: tempfile::TempDir,
    ) -> Backend {
        let mut b = Backend {
            name,
            tool,
            port,
            ready,
            args,
            dir,
            child: None,
        };
        b.run();
        b
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("{}.log", self.name))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Starts the process (again) and waits until it is ready.
    fn run(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let child = self
            .tool
            .command()
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{}", self.tool.unavailable(&e)));
        self.child = Some(child);
        let agent = test_support::agent(Duration::from_secs(2));
        let url = self.url(self.ready);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("{} exited with {status}:\n{}", self.name, self.log());
            }
            if agent.get(&url).call().is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready:\n{}",
                self.name,
                self.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM (a clean shutdown, as a restart by an operator) and waits for the exit.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The raw samples of every series `selector` matches over the last `range`, by series
    /// (its labels as JSON text): (timestamp in ms, value), in time order.
    fn samples(&self, selector: &str, range: &str) -> BTreeMap<String, Vec<(i64, f64)>> {
        let q = test_support::urlencode(&format!("{selector}[{range}]"));
        let url = self.url(&format!("/api/v1/query?query={q}"));
        let mut r = test_support::agent(Duration::from_secs(10))
            .get(&url)
            .call()
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let body = r.body_mut().read_to_string().unwrap();
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(v["status"], "success", "{url}: {body}");
        let mut out = BTreeMap::new();
        for s in v["data"]["result"].as_array().cloned().unwrap_or_default() {
            let values = s["values"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|p| {
                    let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
                    (t, p[1].as_str().unwrap().parse::<f64>().unwrap())
                })
                .collect();
            out.insert(s["metric"].to_string(), values);
        }
        out
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if thread::panicking() {
            eprintln!("--- {} log ---\n{}", self.name, self.log());
        }
    }
}

/// One `/metrics` value of the gateway's own Remote-Write metrics for `target`.
fn own(g: &Gateway, metric: &str, target: &str, url: &str) -> f64 {
    let (_, text) = get(&g.url("/metrics"));
    value(&text, metric, &format!("target=\"{target}\",url=\"{url}\""))
        .unwrap_or_else(|| panic!("no {metric} for {target}:\n{text}"))
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(250));
    }
}

const INTERVAL_S: f64 = 2.0;
const OUTAGE: Duration = Duration::from_secs(30);
const DEVICES: [&str; 2] = ["lm3s6965evb", "microbit"];

#[test]
#[ignore = "needs qemu-system-arm, prometheus 3.5.3 and victoria-metrics; run via scripts/test.sh"]
fn qemu_devices_remote_written_to_prometheus_3_and_victoria_metrics_across_a_30s_outage() {
    let m3 = firmware("fw-lm3s6965evb", "thumbv7m-none-eabi");
    let m0 = firmware("fw-microbit", "thumbv6m-none-eabi");
    let (p3, p0) = (test_support::free_port(), test_support::free_port());
    let _q3 = Qemu::start("lm3s6965evb", &m3, p3);
    let _q0 = Qemu::start("microbit", &m0, p0);
    let mut backends = [Backend::prometheus(), Backend::victoria_metrics()];
    let urls: Vec<String> = backends.iter().map(|b| b.url("/api/v1/write")).collect();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.yaml");
    std::fs::write(
        &config,
        format!(
            "timeout: 400ms
retries: 0
devices:
  - name: lm3s6965evb
    address: tcp://127.0.0.1:{p3}
  - name: microbit
    address: tcp://127.0.0.1:{p0}
remote_write:
  - url: {}
    name: prometheus
    protocol_version: 2
    interval: {INTERVAL_S}s
    external_labels: {{site: test-site}}
    queue: {{min_backoff: 200ms, max_backoff: 2s}}
  - url: {}
    name: victoria
    protocol_version: 1
    interval: {INTERVAL_S}s
    external_labels: {{site: test-site}}
    queue: {{min_backoff: 200ms, max_backoff: 2s}}
",
            urls[0], urls[1]
        ),
    )
    .unwrap();
    let g = Gateway::start(&["--config", config.to_str().unwrap()]);
    let targets = ["prometheus", "victoria"];
    let marker = "gateway_remote_write_requests_queued_total";

    // Written before the outage.
    for (b, t) in backends.iter().zip(targets) {
        wait_until(
            &format!("three pages in {}", b.name),
            Duration::from_secs(60),
            || {
                b.samples(&format!("{marker}{{target=\"{t}\"}}"), "10m")
                    .values()
                    .next()
                    .is_some_and(|v| v.len() >= 3)
            },
        );
    }

    // The outage: both backends down for 30 s, then started on the same port and storage.
    let t_stop = unix_now();
    for b in &mut backends {
        b.stop();
    }
    for (t, u) in targets.iter().zip(&urls) {
        wait_until(&format!("{t}: retries"), Duration::from_secs(20), || {
            own(&g, "gateway_remote_write_requests_retried_total", t, u) > 0.0
        });
    }
    let elapsed = Duration::from_secs_f64(unix_now() - t_stop);
    thread::sleep(OUTAGE.saturating_sub(elapsed));
    let queued_during: Vec<f64> = targets
        .iter()
        .zip(&urls)
        .map(|(t, u)| own(&g, "gateway_remote_write_queue_requests", t, u))
        .collect();
    let t_start = unix_now();
    for b in &mut backends {
        b.run();
    }
    // Drained: everything queued before the restart has been sent.
    for (t, u) in targets.iter().zip(&urls) {
        let queued = own(&g, "gateway_remote_write_requests_queued_total", t, u);
        wait_until(
            &format!("{t}: the backlog sent"),
            Duration::from_secs(60),
            || own(&g, "gateway_remote_write_requests_sent_total", t, u) >= queued,
        );
    }

    // ... and searchable (VictoriaMetrics makes what it took searchable within seconds).
    for ((b, t), u) in backends.iter().zip(targets).zip(&urls) {
        let sent = own(&g, "gateway_remote_write_requests_sent_total", t, u) as usize;
        wait_until(
            &format!("{} pages in {}", sent, b.name),
            Duration::from_secs(60),
            || {
                b.samples(&format!("{marker}{{target=\"{t}\"}}"), "15m")
                    .values()
                    .next()
                    .is_some_and(|v| v.len() >= sent)
            },
        );
    }

    let window = |t: i64| t >= (t_stop * 1000.0) as i64 && t <= (t_start * 1000.0) as i64;
    for ((b, t), u) in backends.iter().zip(targets).zip(&urls) {
        // Every page, once, in order: the k-th page carries k.
        let pages = b.samples(&format!("{marker}{{target=\"{t}\"}}"), "15m");
        assert_eq!(pages.len(), 1, "{}: {pages:?}", b.name);
        let pages = pages.into_values().next().unwrap();
        for (k, (_, v)) in pages.iter().enumerate() {
            assert_eq!(
                *v, k as f64,
                "{}: page {k} missing or twice: {pages:?}",
                b.name
            );
        }
        let in_outage: Vec<i64> = pages.iter().map(|p| p.0).filter(|t| window(*t)).collect();
        let expected = (OUTAGE.as_secs_f64() / INTERVAL_S) as usize - 2;
        assert!(
            in_outage.len() >= expected,
            "{}: {} pages written during the outage, want at least {expected}: {pages:?}",
            b.name,
            in_outage.len()
        );
        // Every device's counter sample of those pages, wherever the device was up.
        for d in DEVICES {
            let up = b.samples(&format!("gateway_device_up{{device=\"{d}\"}}"), "15m");
            let up: BTreeSet<i64> = up
                .values()
                .flatten()
                .filter(|(t, v)| window(*t) && *v == 1.0)
                .map(|(t, _)| *t)
                .collect();
            let ticks = b.samples(&format!("firmware_ticks_total{{device=\"{d}\"}}"), "15m");
            assert_eq!(ticks.len(), 1, "{} {d}: {ticks:?}", b.name);
            let ticks = ticks.into_values().next().unwrap();
            assert!(
                ticks.windows(2).all(|w| w[0].1 <= w[1].1),
                "{} {d}: the counter went down: {ticks:?}",
                b.name
            );
            let tick_times: BTreeSet<i64> =
                ticks.iter().map(|p| p.0).filter(|t| window(*t)).collect();
            assert_eq!(
                tick_times, up,
                "{} {d}: the counter's samples of the outage",
                b.name
            );
            assert!(
                up.len() * 2 >= in_outage.len(),
                "{} {d}: up in {} of {} pages of the outage",
                b.name,
                up.len(),
                in_outage.len()
            );
            eprintln!(
                "{}: {d}: {} of {} pages of the outage with its counter ({} samples in all)",
                b.name,
                tick_times.len(),
                in_outage.len(),
                ticks.len()
            );
        }
        // The gateway's own account.
        let m = |what: &str| own(&g, &format!("gateway_remote_write_{what}"), t, u);
        assert!(m("samples_retried_total") > 0.0, "{t}");
        assert!(m("requests_retried_total") > 0.0, "{t}");
        assert_eq!(m("samples_dropped_total"), 0.0, "{t}");
        assert_eq!(m("samples_failed_total"), 0.0, "{t}");
        assert!(m("last_success_timestamp_seconds") >= t_start, "{t}");
        eprintln!(
            "{t}: {} pages in the backend, {} written during the outage, {} requests queued at \
             its end, {} requests retried, 0 dropped, 0 failed",
            pages.len(),
            in_outage.len(),
            queued_during[targets.iter().position(|x| *x == t).unwrap()],
            m("requests_retried_total")
        );
    }
    let log = g.log_with("is sending again");
    for t in targets {
        assert!(
            log.contains(&format!("remote write to `{t}` is failing")),
            "{log}"
        );
    }
}
