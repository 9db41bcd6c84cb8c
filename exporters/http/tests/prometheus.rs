//! A real Prometheus (Debian's package) scrapes two exporters, one negotiating the format
//! (Prometheus 2 asks for OpenMetrics) and one forced to the text format 0.0.4, and answers
//! PromQL over its HTTP API with the values the test set. Prometheus 3.5.3 with native
//! histograms on scrapes the protobuf exposition, native histograms included.
//!
//! Needs the `prometheus` binary: `bash scripts/test.sh` installs it and runs this test.
//! Without it, the test fails (it is ignored by a plain `cargo test`).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use metrics_core::{
    Collect, Desc, Format, HistogramValue, Kind, NativeHistogramValue, Registry, Sign, StrList,
    Value, Visitor,
};
use metrics_exporter_http::{Config, Exporter};
use test_support::{Prometheus, Tool};

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

/// A native histogram snapshot with fixed buckets (schema 0: bucket `k` is `(2^(k-1), 2^k]`).
struct Native {
    zero_threshold: f64,
    zero_count: u64,
    positive: &'static [(i32, u64)],
    negative: &'static [(i32, u64)],
    sum: f64,
}

impl Native {
    fn count(&self) -> u64 {
        let buckets = self.positive.iter().chain(self.negative).map(|b| b.1);
        self.zero_count + buckets.sum::<u64>()
    }
}

impl HistogramValue for Native {
    fn bounds(&self) -> &[f64] {
        &[]
    }
    fn bucket(&self, _: usize) -> u64 {
        self.count()
    }
    fn sum(&self) -> f64 {
        self.sum
    }
    fn native(&self) -> Option<&dyn NativeHistogramValue> {
        Some(self)
    }
}

impl NativeHistogramValue for Native {
    fn schema(&self) -> i8 {
        0
    }
    fn zero_threshold(&self) -> f64 {
        self.zero_threshold
    }
    fn zero_count(&self) -> u64 {
        self.zero_count
    }
    fn bucket_len(&self, side: Sign) -> usize {
        match side {
            Sign::Positive => self.positive.len(),
            Sign::Negative => self.negative.len(),
        }
    }
    fn bucket(&self, side: Sign, i: usize) -> (i32, u64) {
        match side {
            Sign::Positive => self.positive[i],
            Sign::Negative => self.negative[i],
        }
    }
}

/// Three native histograms (label `case`): with a gap between populated buckets, with both
/// signs and a zero bucket, and with nothing observed yet.
struct NativeFamily([(&'static str, Native); 3]);

impl Collect for NativeFamily {
    fn series_count(&self) -> usize {
        self.0.len()
    }
    fn collect(&self, index: usize, visit: &mut Visitor<'_>) -> Result<(), metrics_core::Error> {
        if let Some((case, h)) = self.0.get(index) {
            visit(StrList::Borrowed(&[case]), Value::Histogram(h))?;
        }
        Ok(())
    }
    fn label_count(&self) -> usize {
        1
    }
}

#[test]
#[ignore = "needs prometheus 3 (scripts/setup.sh extracts 3.5.3 from Debian forky); run via scripts/test.sh"]
fn prometheus_3_scrapes_protobuf() {
    let s = sample();
    // Negotiated: Prometheus 3 with native histograms on asks for protobuf first.
    let pb = Exporter::start(
        Config::new("127.0.0.1", 0).self_metrics(true),
        s.registry.clone(),
    )
    .unwrap();
    let mut natives = Registry::new();
    natives
        .register_shared(
            Desc::new("test_rpc_seconds", "Native only.").labels(&["case"]),
            Kind::Histogram,
            Arc::new(NativeFamily([
                (
                    "gap",
                    Native {
                        zero_threshold: 0.0,
                        zero_count: 0,
                        positive: &[(-1, 1), (0, 2), (3, 1)],
                        negative: &[],
                        sum: 6.5,
                    },
                ),
                (
                    "signs",
                    Native {
                        zero_threshold: 0.001,
                        zero_count: 2,
                        positive: &[(1, 4)],
                        negative: &[(0, 2)],
                        sum: 4.5,
                    },
                ),
                (
                    "empty",
                    Native {
                        zero_threshold: 0.0,
                        zero_count: 0,
                        positive: &[],
                        negative: &[],
                        sum: 0.0,
                    },
                ),
            ])),
        )
        .unwrap();
    let native = Exporter::start(Config::new("127.0.0.1", 0), Arc::new(natives)).unwrap();

    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{}{}",
        job("pb", &pb),
        job("native", &native)
    );
    let p = Prometheus::start_with_args(
        Tool::PROMETHEUS3,
        &config,
        &["--enable-feature=native-histograms"],
        |_| {},
    );
    // Every value of the classic registry arrives through protobuf.
    assert_values(&p, "pb");
    let scrapes = |format: &str| {
        p.value(&format!(
            "http_exporter_scrapes_total{{job=\"pb\",format=\"{format}\",code=\"200\"}}"
        ))
    };
    p.wait_for("self metrics", PATIENCE, |_| {
        (scrapes("protobuf").unwrap_or(0.0) >= 1.0).then_some(())
    });
    assert_eq!(scrapes("openmetrics"), Some(0.0));
    assert_eq!(scrapes("text"), Some(0.0));

    // The native buckets as Prometheus reads them: bucket k of schema 0 is (2^(k-1), 2^k].
    let h = |case: &str| format!("test_rpc_seconds{{job=\"native\",case=\"{case}\"}}");
    p.expect(&format!("histogram_count({})", h("gap")), 4.0);
    p.expect(&format!("histogram_sum({})", h("gap")), 6.5);
    // (0.25, 0.5] and (0.5, 1] hold 3 of 4; (4, 8] after the gap the last one.
    p.expect(&format!("histogram_fraction(0, 1, {})", h("gap")), 0.75);
    p.expect(&format!("histogram_fraction(4, 8, {})", h("gap")), 0.25);
    p.expect(&format!("histogram_count({})", h("signs")), 8.0);
    p.expect(
        &format!("histogram_fraction(-1, -0.5, {})", h("signs")),
        0.25,
    );
    p.expect(&format!("histogram_fraction(1, 2, {})", h("signs")), 0.5);
    // Nothing observed yet, and still a native histogram (the no-op span).
    p.expect(&format!("histogram_count({})", h("empty")), 0.0);

    let v = p.api("targets").expect("targets");
    for t in v["activeTargets"].as_array().unwrap() {
        assert_eq!(t["health"], "up", "{t}");
        assert_eq!(t["lastError"], "", "{t}");
    }
}
