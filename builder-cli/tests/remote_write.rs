//! `--remote-write`: ten one-shot runs of a job whose deploy step always fails, each writing
//! the totals (the state file) at its end to Prometheus 3.5.3's receiver with both protocol
//! versions, and to VictoriaMetrics (1.0): each answers the FAIL total of 10 and a P95 in the
//! deploy step's bucket over the runs.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{stderr, Case};
use test_support::{Prometheus, Service, Tool};

const RUNS: usize = 10;

/// A Prometheus-compatible query API: the value of `promql` when it returns one series.
fn value(base: &str, promql: &str) -> Option<f64> {
    let url = format!(
        "{base}/api/v1/query?query={}",
        test_support::urlencode(promql)
    );
    let body = ureq::get(&url)
        .call()
        .ok()?
        .body_mut()
        .read_to_string()
        .ok()?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let result = v["data"]["result"].as_array()?;
    match &result[..] {
        [one] => one["value"][1].as_str()?.parse().ok(),
        _ => None,
    }
}

fn wait_value(what: &str, base: &str, promql: &str, ok: impl Fn(f64) -> bool) -> f64 {
    let mut last = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        last = value(base, promql);
        if let Some(v) = last.filter(|v| ok(*v)) {
            return v;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("{what}: {promql} = {last:?}");
}

#[test]
#[ignore = "needs prometheus 3.5.3 and victoria-metrics (scripts/forky.sh); run via scripts/test.sh"]
fn ten_runs_written_to_prometheus_3_both_versions_and_to_victoria_metrics() {
    let prometheus = Prometheus::start_with_args(
        Tool::PROMETHEUS3,
        "global:\n  scrape_interval: 15s\n",
        &[
            "--web.enable-remote-write-receiver",
            "--web.remote-write-receiver.accepted-protobuf-messages=prometheus.WriteRequest",
            "--web.remote-write-receiver.accepted-protobuf-messages=io.prometheus.write.v2.Request",
        ],
        |_| {},
    );
    let vm = Service::start(Tool::VICTORIA_METRICS, "/health", |port, dir| {
        [
            format!("-httpListenAddr=127.0.0.1:{port}"),
            format!("-storageDataPath={}", dir.join("vm").display()),
            // Answer queries about samples just written (the default hides the last 30 s).
            "-search.latencyOffset=0s".into(),
            "-search.disableCache".into(),
        ]
    });
    let prom_write = format!("{}/api/v1/write", prometheus.url());
    let vm_write = vm.url("/api/v1/write");
    // Three pipeline jobs, each with its own state: v1 and v2 to Prometheus, v1 to VM.
    let sinks = [
        ("written-v1", "1", prom_write.as_str()),
        ("written-v2", "2", prom_write.as_str()),
        ("written-vm", "1", vm_write.as_str()),
    ];
    let cases: Vec<Case> = sinks
        .iter()
        .map(|(name, _, _)| Case::new(&common::failing_deploy_job(name)))
        .collect();
    for i in 0..RUNS {
        for (case, (name, version, url)) in cases.iter().zip(sinks) {
            let o = case
                .command(
                    "ci",
                    &[
                        "--quiet",
                        "--force",
                        "--remote-write",
                        url,
                        "--remote-write-version",
                        version,
                    ],
                )
                .stdout(Stdio::null())
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(1), "run {i} {name}: {}", stderr(&o));
            assert!(stderr(&o).is_empty(), "run {i} {name}: {}", stderr(&o));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let p = prometheus.url();
    let v = vm.url("");
    for (what, base, job) in [
        (
            "prometheus 3.5.3, Remote-Write 1.0",
            p.as_str(),
            "written-v1",
        ),
        (
            "prometheus 3.5.3, Remote-Write 2.0",
            p.as_str(),
            "written-v2",
        ),
        (
            "victoria-metrics, Remote-Write 1.0",
            v.as_str(),
            "written-vm",
        ),
    ] {
        let total = wait_value(
            what,
            base,
            &format!("pipeline_step_status_total{{job=\"{job}\",step=\"deploy\",status=\"FAIL\"}}"),
            |v| v == RUNS as f64,
        );
        assert_eq!(total, RUNS as f64);
        // Every run's observation, in the bucket of a 0.3 s sleep: (0.25, 0.5].
        let q = wait_value(
            what,
            base,
            &format!(
                "histogram_quantile(0.95, sum by (le) (increase(pipeline_step_duration_seconds_bucket{{job=\"{job}\",step=\"deploy\"}}[5m])))"
            ),
            |v| v > 0.0,
        );
        assert!(q > 0.25 && q <= 0.5, "{what}: P95 {q}");
    }
}
