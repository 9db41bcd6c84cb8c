//! The `metrics` facade with `metrics-exporter-prometheus`' recorder.

use metrics::{with_local_recorder, Counter, Histogram};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::{create_all, series_value, Workloads, BOUNDS};

/// `metrics` + `metrics-exporter-prometheus`.
#[derive(Debug)]
pub struct Metrics;

/// A recorder with the workload's histogram buckets.
pub fn recorder() -> PrometheusRecorder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full("histogram".into()), &BOUNDS)
        .expect("valid buckets")
        .build_recorder()
}

impl Workloads for Metrics {
    const NAME: &'static str = "metrics";
    type Counter = Counter;
    fn counter() -> Counter {
        with_local_recorder(&recorder(), || metrics::counter!("counter"))
    }
    #[inline]
    fn inc(c: &Counter) {
        c.increment(1);
    }
    type Labelled = PrometheusRecorder;
    fn labelled() -> PrometheusRecorder {
        let r = recorder();
        create_all::<Self>(&r);
        r
    }
    #[inline]
    fn labelled_inc(l: &PrometheusRecorder, kind: &'static str, route: &'static str) {
        with_local_recorder(l, || {
            let labels = [("kind", kind), ("route", route)];
            metrics::counter!("requests", &labels).increment(1);
        });
    }
    type Histogram = Histogram;
    fn histogram() -> Histogram {
        with_local_recorder(&recorder(), || metrics::histogram!("histogram"))
    }
    #[inline]
    fn observe(h: &Histogram, v: f64) {
        h.record(v);
    }
    type Registry = PrometheusHandle;
    fn registry(n: usize) -> PrometheusHandle {
        let r = recorder();
        with_local_recorder(&r, || {
            metrics::describe_counter!("counters", "help text");
            for i in 0..n {
                let labels = [("kind", series_value(i))];
                metrics::counter!("counters", &labels).increment(1);
            }
        });
        r.handle()
    }
    fn encode(h: &mut PrometheusHandle) -> usize {
        h.render().len()
    }
}
