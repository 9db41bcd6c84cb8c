//! The monitoring stack against real data: the real `builder_cli` repeats a profile with a
//! failing step, Debian's Prometheus runs `monitoring/prometheus/` (only the worker's address
//! rewritten to loopback), and the recording rules, the step-failing alert and every query of
//! the Grafana dashboard are checked through Prometheus' API. The dashboard's structure is
//! checked without outside tools. Prometheus 3.5.3 with native histograms on runs the same
//! stack and also answers the native-histogram P95 rule and panel.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use test_support::{free_port, workspace_root, Prometheus, Tool};

const BIN: &str = env!("CARGO_BIN_EXE_builder_cli");

/// Core steps `compile` and `unit-tests` (the absent-data alert watches them) and a step that
/// fails on every other run, so both outcomes and a last success exist.
const JOB: &str = r#"
name: monitored
steps:
  - name: compile
    run: sleep 0.2
  - name: unit-tests
    needs: [compile]
    run: sleep 0.1
  - name: flaky
    needs: [compile]
    run: |
      n=$(cat "$COUNTER" 2>/dev/null || echo 0)
      echo $((n + 1)) > "$COUNTER"
      test $((n % 2)) -eq 0
profiles:
  nightly:
    thresholds:
      compile: 0.05s
      unit-tests: 10s
"#;

fn dashboard() -> Value {
    let path =
        workspace_root().join("monitoring/grafana/provisioning/dashboards/pipeline_overview.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Every PromQL expression of the dashboard's panels.
fn panel_exprs(d: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push((
                p["title"].as_str().unwrap().to_string(),
                t["expr"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

/// Metric names an expression reads: identifiers followed by `{`, `[` or `)`/space that are not
/// PromQL functions, keywords or label names.
fn metric_names(expr: &str) -> BTreeSet<String> {
    const NOT_METRICS: &[&str] = &[
        "sum",
        "max",
        "min",
        "by",
        "rate",
        "increase",
        "histogram_quantile",
        "time",
        "vector",
        "or",
        "and",
        "on",
        "without",
        "avg",
        "count",
    ];
    let mut names = BTreeSet::new();
    let b = expr.as_bytes();
    let mut i = 0;
    let mut in_braces = 0;
    let mut in_quotes = false;
    while i < b.len() {
        let c = b[i];
        if c == b'"' {
            in_quotes = !in_quotes;
        }
        if in_quotes {
            i += 1;
            continue;
        }
        match c {
            b'{' => in_braces += 1,
            b'}' => in_braces -= 1,
            _ => {}
        }
        if in_braces == 0
            && (c.is_ascii_alphabetic() || c == b'_')
            && (i == 0
                || !(b[i - 1].is_ascii_alphanumeric()
                    || b[i - 1] == b'_'
                    || b[i - 1] == b':'
                    || b[i - 1] == b'$'))
        {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                i += 1;
            }
            let word = &expr[start..i];
            let next = expr[i..].trim_start().chars().next();
            let in_by = expr[..start].trim_end().ends_with('(')
                && expr[..start]
                    .trim_end()
                    .trim_end_matches('(')
                    .trim_end()
                    .ends_with("by");
            if !NOT_METRICS.contains(&word)
                && !in_by
                && next != Some('(')
                && !word.chars().all(|c| c.is_ascii_digit())
            {
                names.insert(word.to_string());
            }
            continue;
        }
        i += 1;
    }
    names.retain(|n| n.contains('_'));
    names
}

/// The families `builder_cli` exports, from a real run's `metrics.prom`.
fn exported_families() -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.yaml");
    std::fs::write(&job, JOB).unwrap();
    let out = dir.path().join("out");
    let status = Command::new(BIN)
        .args(["run-profile", "--quiet", "--profile", "nightly", "--job"])
        .arg(&job)
        .arg("--out")
        .arg(&out)
        .env("COUNTER", dir.path().join("counter"))
        .env("BUILDER_CLI_STATE_DIR", dir.path().join("state"))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "first run of the job succeeds");
    let text = std::fs::read_to_string(out.join("metrics.prom")).unwrap();
    let mut names = BTreeSet::new();
    for line in metrics_core::parse::Parser::new(&text) {
        if let metrics_core::parse::Line::Type { name, kind } = line.unwrap() {
            names.insert(name.to_string());
            match kind {
                "histogram" => {
                    for s in ["_bucket", "_sum", "_count"] {
                        names.insert(format!("{name}{s}"));
                    }
                }
                "counter" if !name.ends_with("_total") => {
                    names.insert(format!("{name}_total"));
                }
                _ => {}
            }
        }
    }
    names
}

fn recording_rule_names() -> BTreeSet<String> {
    let text = std::fs::read_to_string(
        workspace_root().join("monitoring/prometheus/rules/pipeline_recording.yml"),
    )
    .unwrap();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("- record: "))
        .map(|s| s.trim().to_string())
        .collect()
}

#[test]
fn dashboard_structure() {
    let d = dashboard();
    let uid = "prometheus";
    let provisioned = std::fs::read_to_string(
        workspace_root().join("monitoring/grafana/provisioning/datasources/prometheus.yaml"),
    )
    .unwrap();
    assert!(
        provisioned.contains(&format!("uid: {uid}")),
        "datasource uid"
    );
    let mut ids = BTreeSet::new();
    for p in d["panels"].as_array().unwrap() {
        let title = p["title"].as_str().unwrap();
        assert_eq!(p["datasource"]["uid"], uid, "panel {title}: datasource uid");
        for t in p["targets"].as_array().unwrap() {
            assert_eq!(
                t["datasource"]["uid"], uid,
                "panel {title}: target datasource uid"
            );
        }
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "panel id of {title} repeated"
        );
        let g = &p["gridPos"];
        let (x, w) = (g["x"].as_u64().unwrap(), g["w"].as_u64().unwrap());
        assert!(
            w > 0 && x + w <= 24,
            "panel {title}: x {x} + w {w} past 24 columns"
        );
        assert!(g["h"].as_u64().unwrap() > 0);
    }
    for v in d["templating"]["list"].as_array().unwrap() {
        assert_eq!(v["datasource"]["uid"], uid, "variable {}", v["name"]);
    }
    let known: BTreeSet<String> = exported_families()
        .into_iter()
        .chain(recording_rule_names())
        .collect();
    // The duration panel shows exemplars (run_id, trace_id) from the raw buckets: recording
    // rules carry none.
    let with_exemplars: Vec<&Value> = d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap())
        .filter(|t| t["exemplar"] == true)
        .collect();
    assert!(!with_exemplars.is_empty(), "no target shows exemplars");
    for t in with_exemplars {
        assert!(
            t["expr"]
                .as_str()
                .unwrap()
                .contains("pipeline_step_duration_seconds_bucket{"),
            "exemplars come from the bucket series: {t}"
        );
    }
    assert!(
        provisioned.contains("exemplarTraceIdDestinations"),
        "trace_id data link"
    );
    for (title, expr) in panel_exprs(&d) {
        let names = metric_names(&expr);
        assert!(!names.is_empty(), "panel {title}: no metric in {expr}");
        for n in names {
            assert!(
                known.contains(&n),
                "panel {title} queries {n}, which builder_cli does not export (known: {known:?})"
            );
        }
    }
}

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `monitoring/prometheus/prometheus.yml` with the worker's DNS discovery rewritten to a
/// loopback target; nothing else changed (rules load from `rules/` beside it).
fn stack_config(worker_port: u16) -> String {
    let config =
        std::fs::read_to_string(workspace_root().join("monitoring/prometheus/prometheus.yml"))
            .unwrap();
    let start = config
        .find("    dns_sd_configs:")
        .expect("dns_sd_configs in prometheus.yml");
    let end = config[start..]
        .find("refresh_interval")
        .map(|i| start + i + config[start + i..].find('\n').unwrap() + 1)
        .unwrap();
    format!(
        "{}    static_configs:\n      - targets: [\"127.0.0.1:{worker_port}\"]\n{}",
        &config[..start],
        &config[end..]
    )
}

/// Queries of the native buckets: only a Prometheus that scrapes them answers them.
fn reads_native(expr: &str) -> bool {
    expr.contains("native_p95")
}

#[test]
#[ignore = "needs prometheus (Debian package); run via scripts/test.sh"]
fn rules_alerts_and_dashboard_queries_against_a_real_prometheus() {
    check_stack(Tool::PROMETHEUS, &[], false);
}

/// Prometheus 3 with native histograms on asks for protobuf and stores the native buckets of
/// `pipeline_step_duration_seconds`; with `always_scrape_classic_histograms` (what
/// monitoring/README.md tells its users to add) the classic ones too: every rule and panel has
/// data, the native P95 included.
#[test]
#[ignore = "needs prometheus 3 (scripts/setup.sh extracts 3.5.3 from Debian forky); run via scripts/test.sh"]
fn rules_and_dashboard_with_native_histograms_on_prometheus_3() {
    check_stack(
        Tool::PROMETHEUS3,
        &["--enable-feature=native-histograms"],
        true,
    );
}

/// The stack's rules, alerts and dashboard queries on `tool` started with `args`; `native`:
/// it scrapes native histograms (else the native queries must be valid and empty).
fn check_stack(tool: Tool, args: &[&str], native: bool) {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.yaml");
    std::fs::write(&job, JOB).unwrap();
    let port = free_port();
    let worker = Worker(
        Command::new(BIN)
            .args([
                "run-profile",
                "--quiet",
                "--profile",
                "nightly",
                "--repeat-every",
                "1s",
            ])
            .arg("--job")
            .arg(&job)
            .arg("--out")
            .arg(dir.path().join("out"))
            .args(["--prometheus-address", "127.0.0.1", "--prometheus-port"])
            .arg(port.to_string())
            .env("COUNTER", dir.path().join("counter"))
            .env("BUILDER_CLI_STATE_DIR", dir.path().join("state"))
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut config = stack_config(port);
    if native {
        config = config.replacen(
            "    honor_labels: true\n",
            "    honor_labels: true\n    always_scrape_classic_histograms: true\n",
            1,
        );
    }
    let prometheus = Prometheus::start_with_args(tool, &config, args, |d| {
        copy_dir(
            &workspace_root().join("monitoring/prometheus/rules"),
            &d.join("rules"),
        )
    });

    // The target is up (15 s scrape interval, as in the stack).
    prometheus.wait_for("the worker target up", Duration::from_secs(60), |p| {
        let r = p.query("up{job=\"pipeline-worker\"}").ok()?;
        (r.first()?["value"][1] == "1").then_some(())
    });
    // The recording rules have values (they need two scrapes of the histogram).
    for rule in recording_rule_names() {
        if reads_native(&rule) && !native {
            continue;
        }
        prometheus.wait_for(
            &format!("recording rule {rule}"),
            Duration::from_secs(90),
            |p| {
                let r = p.query(&format!("{rule}{{step=\"compile\"}}")).ok()?;
                let v: f64 = r.first()?["value"][1].as_str()?.parse().ok()?;
                v.is_finite().then_some(())
            },
        );
    }
    // The step-failing alert is pending or firing for the flaky step.
    let state = prometheus.wait_for("PipelineStepFailing", Duration::from_secs(90), |p| {
        let alerts = p.api("alerts").ok()?;
        alerts["alerts"].as_array()?.iter().find_map(|a| {
            (a["labels"]["alertname"] == "PipelineStepFailing" && a["labels"]["step"] == "flaky")
                .then(|| a["state"].as_str().unwrap_or("").to_string())
        })
    });
    assert!(state == "pending" || state == "firing", "{state}");

    // Every panel query, template variables substituted, is valid PromQL and returns data.
    let d = dashboard();
    for (title, expr) in panel_exprs(&d) {
        let q = expr
            .replace("$job", "monitored")
            .replace("$profile", "nightly")
            .replace("$step", ".*");
        if reads_native(&q) && !native {
            // Valid PromQL, and nothing: this Prometheus has only the classic buckets.
            let r = prometheus
                .query(&q)
                .unwrap_or_else(|e| panic!("panel {title}: {q}: {e}"));
            assert!(
                r.is_empty(),
                "panel {title}: {q} answers without native buckets: {r:?}"
            );
            continue;
        }
        let result = prometheus.wait_for(
            &format!("data for panel {title}: {q}"),
            Duration::from_secs(60),
            |p| match p.query(&q) {
                Err(e) => panic!("panel {title}: invalid PromQL {q}: {e}"),
                Ok(r) if !r.is_empty() => Some(r),
                Ok(_) => None,
            },
        );
        assert!(!result.is_empty());
    }
    // The variables' queries answer too.
    for v in d["templating"]["list"].as_array().unwrap() {
        let q = v["query"]["query"].as_str().unwrap();
        let inner = q
            .strip_prefix("label_values(")
            .unwrap()
            .strip_suffix(')')
            .unwrap();
        let (selector, label) = inner.rsplit_once(',').unwrap();
        let selector = selector
            .replace("$job", "monitored")
            .replace("$profile", "nightly");
        let values = prometheus
            .api(&format!(
                "label/{}/values?match[]={}",
                label.trim(),
                test_support::urlencode(&selector)
            ))
            .unwrap();
        assert!(
            !values.as_array().unwrap().is_empty(),
            "variable {}: no values",
            v["name"]
        );
    }
    drop(worker);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
    }
}
