//! Issue 13's acceptance: ten one-shot runs of a job whose `deploy` step always fails, one
//! process per run and a fresh `--out` each time, through each sink a user has, read by a real
//! Prometheus loaded with monitoring/prometheus/rules unchanged:
//!
//! - the exporter with `--linger` (persistent state), scraped directly;
//! - `--metrics-textfile` (persistent state), read by a real node_exporter;
//! - `--pushgateway` (persistent state), a real Pushgateway;
//! - `--gateway-url` with a fresh `--state-dir` per run (an ephemeral runner), the real
//!   metrics-gateway with `--accept-pushes`.
//!
//! Each ends with `pipeline_step_status_total{step="deploy",status="FAIL"} == 10`,
//! `histogram_quantile(0.95, ...)` over the runs' buckets in the bucket of the step's sleep,
//! and `PipelineStepFailing` pending or firing. The four sinks run at once, each with its own
//! pipeline job name, into two Prometheus servers at once: Debian stable's 2.42 and 3.5.3.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, stderr, Case, BIN};
use test_support::{workspace_root, Prometheus, Service, Tool};

const RUNS: usize = 10;

/// The metrics-gateway binary, built beside builder_cli by `cargo test --workspace`.
fn gateway_binary() -> PathBuf {
    let p = Path::new(BIN).with_file_name("metrics-gateway");
    assert!(
        p.exists(),
        "{} is missing: build it first (`cargo build -p metrics-gateway`; `cargo test \
         --workspace` and scripts/test.sh do)",
        p.display()
    );
    p
}

/// A child process killed (SIGKILL) and reaped on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `builder_cli run-profile --profile ci` of `case` into a fresh `--out`, with `extra`.
fn run(case: &Case, i: usize, extra: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(["run-profile", "--quiet", "--profile", "ci", "--job"])
        .arg(&case.job)
        .arg("--out")
        .arg(case.path(&format!("out{i}")))
        .args(["--instance", "runner"])
        .args(extra)
        .env("BUILDER_CLI_STATE_DIR", case.path("state"))
        .env_remove("BUILDER_CLI_PROMETHEUS_PORT")
        .stdin(Stdio::null());
    c
}

fn finished(case: &Case, i: usize, extra: &[&str]) {
    let o = run(case, i, extra).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "run {i}: {}", stderr(&o));
}

/// Scrapes go at 1 s: a pause between runs lets Prometheus see the totals grow run by run,
/// as it would between real CI jobs.
fn pause() {
    std::thread::sleep(Duration::from_millis(1100));
}

#[test]
#[ignore = "needs prometheus (2.42 and 3.5.3 from scripts/forky.sh), prometheus-pushgateway, prometheus-node-exporter (Debian packages) and the metrics-gateway binary; run via scripts/test.sh"]
fn ten_one_shot_runs_count_ten_through_every_sink() {
    let linger_port = free_port();
    let textdir = tempfile::tempdir().unwrap();
    let ne_dir = textdir.path().to_path_buf();
    let node_exporter = Service::start(Tool::NODE_EXPORTER, "/metrics", move |port, _| {
        [
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--collector.disable-defaults".into(),
            "--collector.textfile".into(),
            format!("--collector.textfile.directory={}", ne_dir.display()),
        ]
    });
    let pushgateway = Service::start(Tool::PUSHGATEWAY, "/-/ready", |port, _| {
        [format!("--web.listen-address=127.0.0.1:{port}")]
    });
    let gw_dir = tempfile::tempdir().unwrap();
    let gw_port = free_port();
    let gateway = Killed(
        Command::new(gateway_binary())
            .arg("--accept-pushes")
            .arg("--push-state-file")
            .arg(gw_dir.path().join("pushes.json"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{gw_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let gw_url = format!("http://127.0.0.1:{gw_port}");
    common::wait_until(Duration::from_secs(20), || {
        ureq::get(&format!("{gw_url}/metrics")).call().ok()
    });

    let target = |name: &str, addr: String| {
        format!(
            "  - job_name: {name}\n    honor_labels: true\n    static_configs:\n      - targets: [\"{addr}\"]\n"
        )
    };
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n  - rules/pipeline_recording.yml\n  - rules/pipeline_alerts.yml\n\
         scrape_configs:\n{}{}{}{}",
        target("linger", format!("127.0.0.1:{linger_port}")),
        target("textfile", format!("127.0.0.1:{}", node_exporter.port)),
        target("pushgateway", format!("127.0.0.1:{}", pushgateway.port)),
        target("gateway", format!("127.0.0.1:{gw_port}")),
    );
    let rules = |dir: &Path| {
        let rules = dir.join("rules");
        std::fs::create_dir(&rules).unwrap();
        for f in ["pipeline_recording.yml", "pipeline_alerts.yml"] {
            std::fs::copy(
                workspace_root().join("monitoring/prometheus/rules").join(f),
                rules.join(f),
            )
            .unwrap();
        }
    };
    // Debian stable's 2.42 and the 3.5.3 users run, scraping the same targets.
    let servers = [
        ("2.42", Prometheus::start(&config, rules)),
        (
            "3.5.3",
            Prometheus::start_tool(Tool::PROMETHEUS3, &config, rules),
        ),
    ];

    let started = Instant::now();
    let pg_url = pushgateway.url("");
    let textfile = textdir.path().join("pipeline.prom");
    let (linger_last, ()) = std::thread::scope(|s| {
        // The exporter, lingering 2 s after each run so that Prometheus scrapes it; the last
        // run stays up until the checks are done.
        let linger = s.spawn(|| {
            let case = Case::new(&common::failing_deploy_job("oneshot-linger"));
            let port = linger_port.to_string();
            for i in 0..RUNS - 1 {
                let ex = [
                    "--prometheus-address",
                    "127.0.0.1",
                    "--prometheus-port",
                    &port,
                ];
                finished(&case, i, &[&ex[..], &["--linger", "2s"]].concat());
            }
            let last = run(
                &case,
                RUNS - 1,
                &[
                    "--prometheus-address",
                    "127.0.0.1",
                    "--prometheus-port",
                    &port,
                    "--linger",
                    "5m",
                ],
            )
            .spawn()
            .unwrap();
            (Killed(last), case)
        });
        s.spawn(|| {
            let case = Case::new(&common::failing_deploy_job("oneshot-textfile"));
            for i in 0..RUNS {
                finished(
                    &case,
                    i,
                    &["--metrics-textfile", textfile.to_str().unwrap()],
                );
                pause();
            }
            let case = Case::new(&common::failing_deploy_job("oneshot-pushgateway"));
            for i in 0..RUNS {
                finished(&case, i, &["--pushgateway", &pg_url]);
                pause();
            }
        });
        s.spawn(|| {
            let case = Case::new(&common::failing_deploy_job("oneshot-gateway"));
            for i in 0..RUNS {
                // An ephemeral runner: nothing of the last run's state.
                let fresh = case.path(&format!("state{i}"));
                finished(
                    &case,
                    i,
                    &[
                        "--gateway-url",
                        &gw_url,
                        "--state-dir",
                        fresh.to_str().unwrap(),
                    ],
                );
                pause();
            }
        });
        (linger.join().unwrap(), ())
    });
    eprintln!("40 runs through 4 sinks in {:?}", started.elapsed());

    for (version, prometheus) in &servers {
        check(version, prometheus);
    }
    drop(linger_last);
    drop(gateway);
}

/// The totals, the P95 and the alert of each sink's job, in one Prometheus.
fn check(version: &str, prometheus: &Prometheus) {
    for sink in ["linger", "textfile", "pushgateway", "gateway"] {
        let sink = &format!("{sink} (Prometheus {version})");
        let job = format!("oneshot-{}", sink.split(' ').next().unwrap());
        prometheus.expect(
            &format!(
                "sum(pipeline_step_status_total{{job=\"{job}\",step=\"deploy\",status=\"FAIL\"}})"
            ),
            RUNS as f64,
        );
        // Every run's observation, in the bucket of a 0.3 s sleep: (0.25, 0.5].
        let q = format!(
            "histogram_quantile(0.95, sum by (le) (rate(pipeline_step_duration_seconds_bucket{{job=\"{job}\",step=\"deploy\"}}[2m])))"
        );
        let p95 = prometheus.wait_for(&q, Duration::from_secs(30), |p| p.value(&q));
        assert!(p95 > 0.25 && p95 <= 0.5, "{sink}: {q} = {p95}");
        let alert =
            format!("ALERTS{{alertname=\"PipelineStepFailing\",job=\"{job}\",step=\"deploy\"}}");
        let state = prometheus.wait_for(&alert, Duration::from_secs(30), |p| {
            let r = p.query(&alert).ok()?;
            r.first()
                .and_then(|s| s["metric"]["alertstate"].as_str().map(String::from))
        });
        assert!(state == "pending" || state == "firing", "{sink}: {state}");
        // The recording rule the dashboard's P95 panel reads has a value too.
        let rec = format!(
            "job_profile_step:pipeline_step_duration_seconds:p95{{job=\"{job}\",step=\"deploy\"}}"
        );
        prometheus.wait_for(&rec, Duration::from_secs(30), |p| p.value(&rec));
    }
}
