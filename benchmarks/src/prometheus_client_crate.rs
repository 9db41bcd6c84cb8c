//! The `prometheus-client` crate (the official Rust client of the Prometheus project).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::{create_all, series_value, Workloads, BOUNDS};

/// `prometheus-client`.
#[derive(Debug)]
pub struct PrometheusClient;

/// The two string labels, borrowed for the lookup the way the crate's own benchmarks do.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Labels {
    kind: &'static str,
    route: &'static str,
}

/// The encode workload's one label, owned.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Kind {
    kind: String,
}

impl Workloads for PrometheusClient {
    const NAME: &'static str = "prometheus_client";
    type Counter = Counter;
    fn counter() -> Counter {
        Counter::default()
    }
    #[inline]
    fn inc(c: &Counter) {
        c.inc();
    }
    type Labelled = Family<Labels, Counter>;
    fn labelled() -> Self::Labelled {
        let f = Family::default();
        create_all::<Self>(&f);
        f
    }
    #[inline]
    fn labelled_inc(l: &Self::Labelled, kind: &'static str, route: &'static str) {
        l.get_or_create(&Labels { kind, route }).inc();
    }
    type Histogram = Histogram;
    fn histogram() -> Histogram {
        Histogram::new(BOUNDS)
    }
    #[inline]
    fn observe(h: &Histogram, v: f64) {
        h.observe(v);
    }
    type Registry = (Registry, String);
    fn registry(n: usize) -> Self::Registry {
        let mut registry = Registry::default();
        let f = Family::<Kind, Counter>::default();
        registry.register("counters", "help text", f.clone());
        for i in 0..n {
            f.get_or_create(&Kind {
                kind: series_value(i),
            })
            .inc();
        }
        (registry, String::new())
    }
    fn encode((registry, out): &mut Self::Registry) -> usize {
        out.clear();
        prometheus_client::encoding::text::encode(out, registry).expect("encodes");
        out.len()
    }
    /// Its `prometheus_protobuf` feature: prost messages built, then serialized into a new
    /// `Vec` (its API returns one).
    fn encode_protobuf((registry, _): &mut Self::Registry) -> Option<usize> {
        let bytes = prometheus_client::encoding::prometheus_protobuf::encode_to_vec(registry)
            .expect("encodes");
        Some(bytes.len())
    }
}
