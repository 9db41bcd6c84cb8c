//! Native histograms end to end (issue 15, acceptance 2): Prometheus 3.5.3 with native
//! histograms on scrapes `builder_cli --repeat-every` and an HTTP exporter serving a native
//! histogram in protobuf (the exporter's own `http_exporter_scrapes_total{format="protobuf"}`
//! says so); `histogram_count` and `histogram_quantile(0.95, ...)` answer, and the quantile
//! lies within the schema's relative error (one bucket, a factor `2^(2^-schema)`) of the exact
//! 95th percentile of values the test knows: the step durations each run wrote in its run.json,
//! and the values the test observed itself. Prometheus 2.42 and 3.5.3 without the feature
//! scrape the same builder_cli and get the classic series.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use metrics_core::{NativeConfig, Registry};
use metrics_exporter_http::{Config, Exporter};
use test_support::{urlencode, Prometheus, Tool};

/// Four steps that run in parallel, sleeping different times, every 2 s.
const JOB: &str = "name: native
steps:
  - name: s1
    run: sleep 0.05
  - name: s2
    run: sleep 0.12
  - name: s3
    run: sleep 0.25
  - name: s4
    run: sleep 0.4
profiles:
  main: {}
";

/// How long the whole check may take.
const PATIENCE: Duration = Duration::from_secs(60);

/// The exact `q` quantile of `values` (nearest rank: the smallest value with at least `q` of
/// them at or below it), the one whose native bucket `histogram_quantile` interpolates in.
fn exact_quantile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[((q * v.len() as f64).ceil() as usize).max(1) - 1]
}

/// `promql` evaluated at Unix time `at` on `p`: its one value, if it returns one series.
fn value_at(p: &Prometheus, promql: &str, at: f64) -> Option<f64> {
    let data = p
        .api(&format!("query?query={}&time={at}", urlencode(promql)))
        .unwrap_or_else(|e| panic!("{promql}: {e}\n{}", p.log()));
    match data["result"].as_array()?.as_slice() {
        [one] => one["value"][1].as_str()?.parse().ok(),
        _ => None,
    }
}

/// Asserts that `estimate` is within one bucket of schema `schema` of `exact`.
fn within_schema_error(what: &str, estimate: f64, exact: f64, schema: i32) {
    let base = 2f64.powf(2f64.powi(-schema));
    let ratio = estimate / exact;
    assert!(
        ratio <= base && ratio >= 1.0 / base,
        "{what}: histogram_quantile {estimate} vs exact {exact}: ratio {ratio} outside \
         1/{base}..{base} (schema {schema})"
    );
    eprintln!("{what}: estimate {estimate}, exact {exact}, ratio {ratio:.4} (bound {base:.4})");
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
#[ignore = "needs prometheus 3 (scripts/setup.sh extracts 3.5.3 from Debian forky) and prometheus 2.42 (Debian package); run via scripts/test.sh"]
fn prometheus_3_reads_native_histograms_of_builder_cli_and_the_exporter() {
    // An HTTP exporter with our native histogram, observed with values the test knows.
    let mut registry = Registry::new();
    let latency = registry
        .native_histogram(
            "test_native_latency_seconds",
            "Known values.",
            &NativeConfig::new(3, 160).unwrap(),
        )
        .unwrap();
    let known: Vec<f64> = (0..1000).map(|i| 0.001 * 1.0093f64.powi(i)).collect();
    for v in &known {
        latency.observe(*v);
    }
    let exporter = Exporter::start(
        Config::new("127.0.0.1", 0).self_metrics(true),
        Arc::new(registry),
    )
    .unwrap();

    // builder_cli repeating the job, its exporter on a free port.
    let case = Case::new(JOB);
    let (child, port) = case.repeating("main", "2s");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _child = Kill(child);
    // Every run's durations from its run.json (a run every 2 s, polled every 20 ms from now
    // on, so that none is missed), by run id.
    let runs: Arc<Mutex<BTreeMap<String, Vec<f64>>>> = Arc::default();
    let reading = Arc::new(AtomicBool::new(true));
    let reader = {
        let (runs, reading, path) = (runs.clone(), reading.clone(), case.out.join("run.json"));
        std::thread::spawn(move || {
            while reading.load(Ordering::Relaxed) {
                if let Some(m) = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                {
                    let id = m["run_id"].as_str().unwrap().to_string();
                    let d: Vec<f64> = m["steps"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s["duration_seconds"].as_f64().unwrap())
                        .collect();
                    assert_eq!(d.len(), 4, "{m}");
                    runs.lock().unwrap().entry(id).or_insert(d);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let builder = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  \
         - job_name: builder\n    honor_labels: true\n    static_configs:\n      \
         - targets: ['127.0.0.1:{port}']\n"
    );
    let config = format!(
        "{builder}  - job_name: exporter\n    static_configs:\n      - targets: ['{}']\n",
        exporter.local_addr()
    );
    let native = Prometheus::start_with_args(
        Tool::PROMETHEUS3,
        &config,
        &["--enable-feature=native-histograms"],
        |_| {},
    );
    // These two scrape builder_cli only: the exporter's scrapes are the native one's.
    let classic2 = Prometheus::start(&builder, |_| {});
    let classic3 = Prometheus::start_tool(Tool::PROMETHEUS3, &builder, |_| {});

    // The exporter: protobuf negotiated, and the quantile of the known values.
    native.wait_for("protobuf scrapes", PATIENCE, |p| {
        let q = "http_exporter_scrapes_total{job=\"exporter\",format=\"protobuf\",code=\"200\"}";
        p.value(q).filter(|v| *v >= 2.0)
    });
    assert_eq!(
        native.value("sum(http_exporter_scrapes_total{job=\"exporter\",format!=\"protobuf\"})"),
        Some(0.0),
        "only protobuf scrapes"
    );
    let h = "test_native_latency_seconds{job=\"exporter\"}";
    native.expect(&format!("histogram_count({h})"), known.len() as f64);
    let estimate = native
        .value(&format!("histogram_quantile(0.95, {h})"))
        .expect("histogram_quantile answers");
    let schema = latency.snapshot(|s| s.native().unwrap().schema());
    assert_eq!(
        schema, 3,
        "1000 values over 13 powers of two fit 160 buckets"
    );
    within_schema_error("exporter", estimate, exact_quantile(&known, 0.95), 3);

    // builder_cli: polled until Prometheus holds exactly the runs read, at least three.
    let all = "sum(pipeline_step_duration_seconds{job=\"native\",profile=\"main\"})";
    let start = Instant::now();
    let (count, estimate, durations) = loop {
        let (n, durations): (usize, Vec<f64>) = {
            let r = runs.lock().unwrap();
            (r.len(), r.values().flatten().copied().collect())
        };
        assert!(
            start.elapsed() < PATIENCE,
            "Prometheus never held exactly the {n} runs read\n{}",
            native.log()
        );
        if n >= 3 {
            let at = now();
            let count = value_at(&native, &format!("histogram_count({all})"), at);
            if count == Some(durations.len() as f64) {
                let q = value_at(&native, &format!("histogram_quantile(0.95, {all})"), at);
                break (count, q, durations);
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    reading.store(false, Ordering::Relaxed);
    reader.join().unwrap();
    let runs = runs.lock().unwrap();
    eprintln!("{} runs, {count:?} durations in Prometheus", runs.len());
    let estimate = estimate.expect("histogram_quantile answers for builder_cli");
    within_schema_error("builder_cli", estimate, exact_quantile(&durations, 0.95), 3);

    // Without native histograms: the classic series, and no native one.
    for (name, p) in [
        ("2.42", &classic2),
        ("3.5.3 without the feature", &classic3),
    ] {
        let c = "pipeline_step_duration_seconds_count{job=\"native\",step=\"s4\"}";
        p.wait_for(&format!("classic series on {name}"), PATIENCE, |p| {
            p.value(c).filter(|v| *v >= 1.0)
        });
        let b = "pipeline_step_duration_seconds_bucket{job=\"native\",step=\"s4\",le=\"+Inf\"}";
        assert!(p.value(b).is_some_and(|v| v >= 1.0), "{name}: {b}");
        let n = p.query(&format!("histogram_count({all})")).unwrap();
        assert!(n.is_empty(), "{name} holds native histograms: {n:?}");
    }
}
