//! Exemplars from a step's duration and status to its run, as real Prometheus servers store
//! them: Prometheus 3.5.3 with exemplar storage scrapes `builder_cli --repeat-every`, and
//! `/api/v1/query_exemplars` answers with the run ids (and trace ids) the runs' `run.json`
//! files hold; Prometheus 2.42 scraping the same target still ingests every series.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use test_support::{Prometheus, Tool};

const JOB: &str = r#"
name: ex
steps:
  - name: build
    run: sleep 0.2; echo built
  - name: check
    needs: [build]
    run: echo checked
profiles:
  main: {}
"#;

/// Run id -> trace id of every run.json seen so far (a `--repeat-every` run replaces the
/// previous one's output directory).
fn note_run(case: &Case, runs: &mut BTreeMap<String, String>) {
    let Ok(text) = std::fs::read_to_string(case.out.join("run.json")) else {
        return;
    };
    let Ok(m) = serde_json::from_str::<serde_json::Value>(&text) else {
        return;
    };
    if let (Some(run), Some(trace)) = (m["run_id"].as_str(), m["trace_id"].as_str()) {
        runs.insert(run.into(), trace.into());
    }
}

/// The exemplars Prometheus holds for `query` over the last hour: (series labels, exemplar
/// labels) pairs.
fn exemplars(prom: &Prometheus, query: &str) -> Vec<(serde_json::Value, serde_json::Value)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let q = test_support::urlencode(query);
    let data = prom
        .api(&format!(
            "query_exemplars?query={q}&start={}&end={}",
            now - 3600,
            now + 60
        ))
        .unwrap_or_else(|e| panic!("query_exemplars {query}: {e}"));
    let mut out = Vec::new();
    for series in data.as_array().cloned().unwrap_or_default() {
        for x in series["exemplars"].as_array().cloned().unwrap_or_default() {
            out.push((series["seriesLabels"].clone(), x["labels"].clone()));
        }
    }
    out
}

#[test]
#[ignore = "needs prometheus 3.5.3 and prometheus 2.42; run via scripts/test.sh"]
fn prometheus_stores_the_run_ids_of_step_durations_as_exemplars() {
    let case = Case::new(JOB);
    let (mut runner, port) = case.repeating_with("main", "1s", &[]);
    let config = scrape_config(port);
    let prom3 = Prometheus::start_with_args(
        Tool::PROMETHEUS3,
        &config,
        &["--enable-feature=exemplar-storage"],
        |_| {},
    );
    let prom2 = Prometheus::start(&config, |_| {});

    let mut runs = BTreeMap::new();
    let bucket = "pipeline_step_duration_seconds_bucket";
    let status = "pipeline_step_status_total";
    // Wait until Prometheus 3 holds exemplars of at least two different runs, on both steps'
    // durations and on their status counters.
    let found = prom3.wait_for("exemplars of two runs", Duration::from_secs(60), |p| {
        note_run(&case, &mut runs);
        assert!(runner.try_wait().unwrap().is_none(), "builder_cli exited");
        let durations = exemplars(p, bucket);
        let statuses = exemplars(p, status);
        let run_ids = |xs: &[(serde_json::Value, serde_json::Value)]| {
            xs.iter()
                .filter_map(|(_, l)| l["run_id"].as_str().map(String::from))
                .collect::<std::collections::BTreeSet<_>>()
        };
        let steps: std::collections::BTreeSet<_> = durations
            .iter()
            .filter_map(|(s, _)| s["step"].as_str().map(String::from))
            .collect();
        (run_ids(&durations).len() >= 2 && steps.len() == 2 && !statuses.is_empty())
            .then_some((durations, statuses))
    });
    note_run(&case, &mut runs);
    let (durations, statuses) = found;
    for (series, labels) in durations.iter().chain(&statuses) {
        let run_id = labels["run_id"]
            .as_str()
            .unwrap_or_else(|| panic!("an exemplar without run_id on {series}: {labels}"));
        let trace = runs.get(run_id).unwrap_or_else(|| {
            panic!("exemplar run_id {run_id} is in no run.json; runs seen: {runs:?}")
        });
        assert_eq!(
            labels["trace_id"].as_str(),
            Some(trace.as_str()),
            "the exemplar's trace_id is its run's ({run_id})"
        );
        assert!(
            series.get("run_id").is_none(),
            "run_id is never a series label: {series}"
        );
    }
    eprintln!(
        "{} duration and {} status exemplars, all of the {} runs seen in run.json",
        durations.len(),
        statuses.len(),
        runs.len()
    );

    // Prometheus 2.42, scraping the same target (OpenMetrics with exemplars), has the series.
    prom2.wait_for("2.42 ingests the durations", Duration::from_secs(30), |p| {
        let n = p.value(&format!("count({bucket}{{step=\"build\"}})"))?;
        (n == 17.0).then_some(())
    });
    signal(&runner, nix::sys::signal::Signal::SIGTERM);
    let status = runner.wait().unwrap();
    assert_eq!(status.code(), Some(143));
}

const OPENMETRICS: &str = "application/openmetrics-text;version=1.0.0";

/// The exporter's OpenMetrics carries the run's exemplar on each step's duration bucket and
/// status counter; the text format has none; `--disable-created-series` (and its environment
/// variable, as in Python's prometheus_client) leaves `_created` out.
#[test]
fn the_exporter_serves_exemplars_and_created_can_be_left_out() {
    let case = Case::new(JOB);
    let mut live = Live::start(&case, "main", &[]);
    live.wait_for_run(&case);
    let om = scrape(live.port, OPENMETRICS);
    let text = live.scrape();
    live.stop();
    let m = case.manifest();
    let (run, trace) = (
        m["run_id"].as_str().unwrap(),
        m["trace_id"].as_str().unwrap(),
    );
    let exemplar = format!("# {{run_id=\"{run}\",trace_id=\"{trace}\"}}");
    for step in ["build", "check"] {
        let status = format!("pipeline_step_status_total{{step=\"{step}\",job=\"ex\",profile=\"main\",status=\"OK\"}} 1 {exemplar} 1 ");
        assert!(om.contains(&status), "{status} in\n{om}");
        let bucket = om
            .lines()
            .filter(|l| {
                l.starts_with(&format!(
                    "pipeline_step_duration_seconds_bucket{{step=\"{step}\""
                ))
            })
            .filter(|l| l.contains(&exemplar))
            .count();
        assert_eq!(bucket, 1, "one bucket holds {step}'s exemplar:\n{om}");
    }
    assert!(om.contains("_created{"), "{om}");
    assert!(!text.contains(" # {"), "{text}");

    let by_flag: (&[&str], &[(&str, &str)]) = (&["--disable-created-series"], &[]);
    let by_env: (&[&str], &[(&str, &str)]) =
        (&[], &[("PROMETHEUS_DISABLE_CREATED_SERIES", "true")]);
    for (flag, env) in [by_flag, by_env] {
        let case = Case::new(JOB);
        let mut live = Live::start_env(&case, "main", flag, env);
        live.wait_for_run(&case);
        let om = scrape(live.port, OPENMETRICS);
        live.stop();
        assert!(!om.contains("_created"), "{flag:?} {env:?}:\n{om}");
        assert!(om.contains("pipeline_step_status_total{"), "{om}");
        assert!(om.contains(" # {run_id="), "exemplars stay: {om}");
    }
}

/// Prometheus 3's own `Accept` header (UTF-8 names allowed).
const PROMETHEUS3_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// `--otel-names`: the OpenTelemetry CI/CD families beside the seed's, quoted for a scraper
/// that allows UTF-8 names (and the Content-Type says so), underscore-escaped for one that
/// names no escaping; the run id is an exemplar, never a label.
#[test]
fn otel_names_are_served_quoted_or_escaped_as_negotiated() {
    let case = Case::new(JOB);
    let mut live = Live::start(&case, "main", &["--otel-names"]);
    live.wait_for_run(&case);
    let utf8 = test_support::agent(Duration::from_secs(10))
        .get(&format!("http://127.0.0.1:{}/metrics", live.port))
        .header("Accept", PROMETHEUS3_ACCEPT)
        .call()
        .unwrap();
    let content_type = utf8
        .headers()
        .get("Content-Type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let utf8 = utf8.into_body().read_to_string().unwrap();
    let plain = scrape(live.port, "text/plain;version=0.0.4");
    live.stop();
    let m = case.manifest();
    let run = m["run_id"].as_str().unwrap();
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8"
    );
    let labels = "{\"cicd.pipeline.run.duration_bucket\",\"cicd.pipeline.name\"=\"ex\",\"cicd.pipeline.run.state\"=\"executing\",\"cicd.pipeline.result\"=\"success\",\"error.type\"=\"\",profile=\"main\",le=";
    assert!(
        utf8.contains(&format!("{labels}\"+Inf\"}} 1\n")),
        "{labels} in\n{utf8}"
    );
    let with_run = utf8
        .lines()
        .filter(|l| l.starts_with(labels) && l.contains(&format!(" # {{run_id=\"{run}\",")))
        .count();
    assert_eq!(with_run, 1, "one bucket holds the run's exemplar:\n{utf8}");
    assert!(
        utf8.contains("# TYPE \"cicd.pipeline.run.errors\" counter\n"),
        "{utf8}"
    );
    assert!(utf8.contains("{\"cicd.pipeline.run.active\",\"cicd.pipeline.name\"=\"ex\",\"cicd.pipeline.run.state\"=\"executing\",profile=\"main\"} 0\n"), "{utf8}");
    assert!(
        utf8.contains("pipeline_step_duration_seconds_bucket{"),
        "the seed's families stay"
    );
    assert!(
        plain.contains("cicd_pipeline_run_duration_bucket{cicd_pipeline_name=\"ex\",cicd_pipeline_run_state=\"executing\",cicd_pipeline_result=\"success\",error_type=\"\",profile=\"main\",le=\"+Inf\"} 1\n"),
        "{plain}"
    );
    for l in utf8.lines().filter(|l| l.starts_with("{\"cicd.")) {
        let series = l.split(" # ").next().unwrap();
        assert!(!series.contains(run), "run_id is never a label: {l}");
    }
}

/// Prometheus 3.5.3 stores the OpenTelemetry names as they are and answers
/// `{"cicd.pipeline.run.duration_bucket"}` with the run ids as exemplars; Prometheus 2.42,
/// scraping the same target, gets the underscore-escaped names.
#[test]
#[ignore = "needs prometheus 3.5.3 and prometheus 2.42; run via scripts/test.sh"]
fn prometheus_3_reads_the_otel_names_and_2_42_the_escaped_ones() {
    let case = Case::new(JOB);
    let (mut runner, port) = case.repeating_with("main", "1s", &["--otel-names"]);
    let config = scrape_config(port);
    let prom3 = Prometheus::start_with_args(
        Tool::PROMETHEUS3,
        &config,
        &["--enable-feature=exemplar-storage"],
        |_| {},
    );
    let prom2 = Prometheus::start(&config, |_| {});
    let mut runs = BTreeMap::new();
    let q = "{\"cicd.pipeline.run.duration_bucket\",le=\"+Inf\"}";
    prom3.wait_for(
        "the OpenTelemetry names in 3.5.3",
        Duration::from_secs(60),
        |p| {
            note_run(&case, &mut runs);
            assert!(runner.try_wait().unwrap().is_none(), "builder_cli exited");
            let r = p.query(q).ok()?;
            let series = r.first()?;
            (series["metric"]["cicd.pipeline.name"] == "ex").then_some(())
        },
    );
    let found = prom3.wait_for(
        "exemplars on the run durations",
        Duration::from_secs(30),
        |p| {
            note_run(&case, &mut runs);
            let xs = exemplars(p, "{\"cicd.pipeline.run.duration_bucket\"}");
            (!xs.is_empty()).then_some(xs)
        },
    );
    note_run(&case, &mut runs);
    for (series, labels) in &found {
        let run = labels["run_id"].as_str().unwrap();
        assert!(runs.contains_key(run), "{run} not in run.json's {runs:?}");
        assert!(series.get("run_id").is_none(), "{series}");
    }
    prom2.wait_for(
        "2.42: underscore-escaped names",
        Duration::from_secs(30),
        |p| {
            let v =
                p.value("count(cicd_pipeline_run_duration_bucket{cicd_pipeline_name=\"ex\"})")?;
            (v >= 1.0).then_some(())
        },
    );
    eprintln!(
        "3.5.3: {q} answers, {} exemplars; 2.42: cicd_pipeline_run_duration_bucket answers",
        found.len()
    );
    signal(&runner, nix::sys::signal::Signal::SIGTERM);
    assert_eq!(runner.wait().unwrap().code(), Some(143));
}
