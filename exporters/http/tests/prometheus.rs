//! A real Prometheus (Debian's package) scrapes two exporters, one negotiating the format
//! (Prometheus 2 asks for OpenMetrics) and one forced to the text format 0.0.4, and answers
//! PromQL over its HTTP API with the values the test set.
//!
//! Needs the `prometheus` binary: `bash scripts/test.sh` installs it and runs this test.
//! Without it, the test fails (it is ignored by a plain `cargo test`).

mod common;

use std::time::Duration;

use common::*;
use metrics_core::Format;
use metrics_exporter_http::{Config, Exporter};
use test_support::Prometheus;

/// How long Prometheus may take to scrape the exporters' self metrics.
const PATIENCE: Duration = Duration::from_secs(25);

/// Prometheus scraping every second, with `scrape_configs` (YAML list items).
fn start_prometheus(scrape_configs: &str) -> Prometheus {
    Prometheus::start(
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n{scrape_configs}"
        ),
        |_| {},
    )
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

    let p = start_prometheus(&(job("om", &negotiated) + &job("text", &text)));
    assert_values(&p, "om");
    assert_values(&p, "text");

    // Which format each job was served, as the exporters counted it and Prometheus stored it.
    let scrapes = |job: &str, format: &str| {
        p.value(&format!(
            "http_exporter_scrapes_total{{job=\"{job}\",format=\"{format}\",code=\"200\"}}"
        ))
    };
    p.wait_for("self metrics", PATIENCE, |_| {
        (scrapes("om", "openmetrics").unwrap_or(0.0) >= 1.0
            && scrapes("text", "text").unwrap_or(0.0) >= 1.0)
            .then_some(())
    });
    assert_eq!(scrapes("om", "text"), Some(0.0));
    assert_eq!(scrapes("text", "openmetrics"), Some(0.0));

    // Both targets healthy, without scrape errors.
    let v = p.api("targets").expect("targets");
    let targets = v["activeTargets"].as_array().unwrap();
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
