//! builder_cli against the real monitoring tools: `promtool check metrics`, Python
//! `prometheus_client` (text and strict OpenMetrics), Debian's `prometheus-pushgateway`,
//! `prometheus-node-exporter` (textfile collector) and `prometheus` (PromQL over `--repeat-every`).
//!
//! Ignored by plain `cargo test`; `scripts/test.sh` runs them with `--include-ignored`, where a
//! missing tool fails the test. Binaries can be overridden with `$PROMTOOL`, `$PYTHON`,
//! `$PUSHGATEWAY`, `$NODE_EXPORTER`, `$PROMETHEUS`.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use test_support::{workspace_root, Prometheus, Service, Tool};

const MIXED: &str = r#"
name: stack
steps:
  - name: good
    run: sleep 0.3; echo good
  - name: bad
    run: echo "failing on purpose" >&2; exit 1
    allow_failure: true
  - name: quoted
    needs: [good]
    run: echo quoted
profiles:
  main:
    thresholds:
      good: 1s
      quoted: 250ms
"#;

fn expected_json(samples: &Samples) -> String {
    let list: Vec<serde_json::Value> = samples
        .iter()
        .map(|(series, v)| {
            let (name, labels) = split_series(series);
            let labels: serde_json::Map<String, serde_json::Value> = labels
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::from(v)))
                .collect();
            let value = if v.is_infinite() {
                serde_json::Value::from("+Inf")
            } else {
                serde_json::Value::from(*v)
            };
            serde_json::json!({"name": name, "labels": labels, "value": value})
        })
        .collect();
    serde_json::to_string_pretty(&list).unwrap()
}

fn promtool_clean(file: &Path) {
    let out = Tool::PROMTOOL
        .command()
        .args(["check", "metrics"])
        .stdin(File::open(file).unwrap())
        .output()
        .unwrap_or_else(|e| panic!("{}", Tool::PROMTOOL.unavailable(&e)));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.trim().is_empty(),
        "promtool check metrics {}: {}\n{text}",
        file.display(),
        out.status
    );
}

fn python_parses(format: &str, file: &Path, samples: &Samples) {
    let json = file.with_extension("expected.json");
    std::fs::write(&json, expected_json(samples)).unwrap();
    let python = std::env::var_os("PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    let out = Command::new(&python)
        .arg(workspace_root().join("scripts/check_exposition.py"))
        .arg(format)
        .arg(file)
        .arg(&json)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {python:?} ({e}): run scripts/setup.sh or set $PYTHON")
        });
    assert!(
        out.status.success(),
        "prometheus_client {format} on {}:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs promtool (Debian prometheus) and python prometheus_client; run via scripts/test.sh"]
fn scraped_output_passes_promtool_and_prometheus_client() {
    let case = Case::new(MIXED);
    let mut live = Live::start(&case, "main", &[]);
    live.wait_for_run(&case);
    let text = scrape(live.port, "text/plain;version=0.0.4");
    let om = scrape(
        live.port,
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
    );
    let (code, _, _) = live.stop();
    assert_eq!(code, 0);
    assert!(om.ends_with("# EOF\n"));
    let m = case.manifest();
    let text_samples = parse(&text);
    assert_metrics_match(&text_samples, &m);

    let dir = case.dir.path();
    let text_file = dir.join("scrape.txt");
    std::fs::write(&text_file, &text).unwrap();
    promtool_clean(&text_file);
    promtool_clean(&case.out.join("metrics.prom"));
    python_parses("text", &text_file, &text_samples);
    python_parses("text", &case.out.join("metrics.prom"), &case.metrics_file());
    let om_file = dir.join("scrape.om");
    std::fs::write(&om_file, &om).unwrap();
    let om_samples = parse(&om);
    // The pipeline values are the same in both formats.
    for (k, v) in text_samples.iter() {
        if k.starts_with("pipeline_") && !k.contains("le=") {
            assert_eq!(om_samples.get(k), Some(v), "{k}");
        }
    }
    python_parses("openmetrics", &om_file, &om_samples);
}

#[test]
#[ignore = "needs prometheus-pushgateway (Debian package); run via scripts/test.sh"]
fn pushgateway_holds_the_pushed_run() {
    let pg = Service::start(Tool::PUSHGATEWAY, "/-/ready", |port, _| {
        [format!("--web.listen-address=127.0.0.1:{port}")]
    });
    let pg_url = pg.url("");
    let case = Case::new(MIXED);
    // An instance with a `/` and a space: sent base64-encoded.
    let o = case.run(
        "main",
        &[
            "--quiet",
            "--pushgateway",
            &pg_url,
            "--push-instance",
            "ci/runner 1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let m = case.manifest();

    let groups: serde_json::Value = serde_json::from_str(&pg.get("/api/v1/metrics")).unwrap();
    let groups = groups["data"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{groups:?}");
    let key = &groups[0]["labels"];
    assert_eq!(key["job"], "stack");
    assert_eq!(key["instance"], "ci/runner 1");

    // What the Pushgateway serves carries the grouping key and the run's values.
    let served = parse(&pg.get("/metrics"));
    let run_id = m["run_id"].as_str().unwrap();
    let info = format!(
        "pipeline_run_info{{instance=\"ci/runner 1\",job=\"stack\",profile=\"main\",run_id=\"{run_id}\"}}"
    );
    assert_eq!(served.get(&info), Some(&1.0), "{info} not in {served:#?}");
    let bad = "pipeline_step_status_total{instance=\"ci/runner 1\",job=\"stack\",profile=\"main\",status=\"FAIL\",step=\"bad\"}";
    assert_eq!(served.get(bad), Some(&1.0));
    let good = step(&m, "good");
    let last = "pipeline_step_last_duration_seconds{instance=\"ci/runner 1\",job=\"stack\",profile=\"main\",step=\"good\"}";
    assert_eq!(served.get(last), good["duration_seconds"].as_f64().as_ref());
}

#[test]
#[ignore = "needs prometheus-node-exporter (Debian package); run via scripts/test.sh"]
fn node_exporter_textfile_collector_reads_the_file() {
    let case = Case::new(MIXED);
    let textdir = case.path("textfile");
    std::fs::create_dir(&textdir).unwrap();
    let file = textdir.join("pipeline.prom");
    let o = case.run(
        "main",
        &["--quiet", "--metrics-textfile", file.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        std::fs::read_to_string(case.out.join("metrics.prom")).unwrap()
    );
    let dir = textdir.clone();
    let ne = Service::start(Tool::NODE_EXPORTER, "/metrics", move |port, _| {
        [
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--collector.disable-defaults".into(),
            "--collector.textfile".into(),
            format!("--collector.textfile.directory={}", dir.display()),
        ]
    });
    let served = parse(&ne.get("/metrics"));
    assert_eq!(
        served.get("node_textfile_scrape_error"),
        Some(&0.0),
        "{served:#?}"
    );
    let m = case.manifest();
    assert_metrics_match(&served, &m);
}

/// Prometheus' histogram_quantile over cumulative buckets (le -> count), for the check.
fn quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    let total = buckets.last().unwrap().1;
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, c) in buckets {
        if c >= rank {
            if le.is_infinite() {
                return prev.0;
            }
            return prev.0 + (le - prev.0) * (rank - prev.1) / (c - prev.1);
        }
        prev = (le, c);
    }
    f64::NAN
}

#[test]
#[ignore = "needs prometheus (Debian package); run via scripts/test.sh"]
fn prometheus_scrapes_repeat_every_and_answers_promql() {
    let case = Case::new(MIXED);
    let (mut runner, port) = case.repeating_with("main", "2s", &[]);
    let prom = Prometheus::start(&scrape_config(port), |_| {});
    let fail_q = "sum(pipeline_step_status_total{status=\"FAIL\",step=\"bad\"})";
    let p95_q = "histogram_quantile(0.95, sum by (le) (pipeline_step_duration_seconds_bucket{step=\"good\"}))";
    let deadline = Instant::now() + Duration::from_secs(90);
    let runs_seen = loop {
        // What the runs produced, from the runner itself; stable for 2 s between runs.
        let ours = parse(&scrape(port, "text/plain;version=0.0.4"));
        let l = "job=\"stack\",profile=\"main\"";
        let fails = ours
            .get(&format!(
                "pipeline_step_status_total{{step=\"bad\",{l},status=\"FAIL\"}}"
            ))
            .copied()
            .unwrap_or(0.0);
        let mut buckets: Vec<(f64, f64)> = ours
            .iter()
            .filter_map(|(k, v)| {
                let (name, labels) = split_series(k);
                let has = |n: &str, val: &str| labels.iter().any(|(a, b)| a == n && b == val);
                if name != "pipeline_step_duration_seconds_bucket" || !has("step", "good") {
                    return None;
                }
                let le = &labels.iter().find(|(a, _)| a == "le")?.1;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                Some((le, *v))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        if fails >= 3.0 {
            let want_p95 = quantile(0.95, &buckets);
            let got_fail = prom.value(fail_q);
            let got_p95 = prom.value(p95_q);
            let again = parse(&scrape(port, "text/plain;version=0.0.4"));
            let stable = again.get(&format!(
                "pipeline_step_status_total{{step=\"bad\",{l},status=\"FAIL\"}}"
            )) == Some(&fails);
            if stable
                && got_fail == Some(fails)
                && got_p95.is_some_and(|g| (g - want_p95).abs() < 1e-9)
            {
                break fails;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus: FAIL {got_fail:?} vs {fails}, p95 {got_p95:?} vs {want_p95}"
            );
        }
        assert!(Instant::now() < deadline, "fewer than 3 runs in time");
        assert!(runner.try_wait().unwrap().is_none(), "builder_cli exited");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(runs_seen >= 3.0);
    // pipeline_run_info follows the current run: one series.
    assert_eq!(prom.value("count(pipeline_run_info)"), Some(1.0));
    signal(&runner, nix::sys::signal::Signal::SIGTERM);
    let status = runner.wait().unwrap();
    assert_eq!(status.code(), Some(143));
}
