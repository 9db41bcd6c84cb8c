//! The `prometheus` crate (tikv's rust-prometheus).

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

use crate::{create_all, series_value, Workloads, BOUNDS};

/// `prometheus`.
#[derive(Debug)]
pub struct Prometheus;

impl Workloads for Prometheus {
    const NAME: &'static str = "prometheus";
    type Counter = IntCounter;
    fn counter() -> IntCounter {
        IntCounter::new("counter", "help text").expect("valid")
    }
    #[inline]
    fn inc(c: &IntCounter) {
        c.inc();
    }
    type Labelled = IntCounterVec;
    fn labelled() -> IntCounterVec {
        let v = IntCounterVec::new(Opts::new("requests", "help text"), &["kind", "route"])
            .expect("valid");
        create_all::<Self>(&v);
        v
    }
    #[inline]
    fn labelled_inc(l: &IntCounterVec, kind: &'static str, route: &'static str) {
        l.with_label_values(&[kind, route]).inc();
    }
    type Histogram = Histogram;
    fn histogram() -> Histogram {
        Histogram::with_opts(HistogramOpts::new("histogram", "help text").buckets(BOUNDS.to_vec()))
            .expect("valid")
    }
    #[inline]
    fn observe(h: &Histogram, v: f64) {
        h.observe(v);
    }
    type Registry = (Registry, String);
    fn registry(n: usize) -> Self::Registry {
        let registry = Registry::new();
        let v = IntCounterVec::new(Opts::new("counters", "help text"), &["kind"]).expect("valid");
        registry.register(Box::new(v.clone())).expect("registered");
        for i in 0..n {
            v.with_label_values(&[&series_value(i)]).inc();
        }
        (registry, String::new())
    }
    fn encode((registry, out): &mut Self::Registry) -> usize {
        out.clear();
        TextEncoder::new()
            .encode_utf8(&registry.gather(), out)
            .expect("encodes");
        out.len()
    }
}
