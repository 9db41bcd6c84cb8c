//! metrics-core.

use metrics_core::{encode_to_vec, Counter, Desc, Family, Format, Histogram, Registry};

use crate::{create_all, series_value, Workloads, BOUNDS, KINDS};

static BOUNDS_STATIC: [f64; 8] = BOUNDS;

/// metrics-core.
#[derive(Debug)]
pub struct Ours;

impl Workloads for Ours {
    const NAME: &'static str = "ours";
    type Counter = Counter;
    fn counter() -> Counter {
        Counter::new()
    }
    #[inline]
    fn inc(c: &Counter) {
        c.inc();
    }
    type Labelled = Family<Counter>;
    fn labelled() -> Family<Counter> {
        let f = Family::new(2, 100, ());
        create_all::<Self>(&f);
        assert_eq!(f.len(), KINDS.len() * 6);
        f
    }
    #[inline]
    fn labelled_inc(l: &Family<Counter>, kind: &'static str, route: &'static str) {
        l.labels(&[kind, route]).inc();
    }
    type Histogram = Histogram<8>;
    fn histogram() -> Histogram<8> {
        Histogram::new(&BOUNDS_STATIC)
    }
    #[inline]
    fn observe(h: &Histogram<8>, v: f64) {
        h.observe(v);
    }
    type Registry = (Registry, Vec<u8>);
    fn registry(n: usize) -> Self::Registry {
        let mut registry = Registry::new();
        let desc = Desc::try_new("counters", "help text")
            .and_then(|d| d.try_labels(&["kind"]))
            .expect("valid names");
        let family = registry
            .family::<Counter>(desc, (), Some(n + 1))
            .expect("registered");
        for i in 0..n {
            family.labels(&[&series_value(i)]).inc();
        }
        (registry, Vec::new())
    }
    fn encode((registry, out): &mut Self::Registry) -> usize {
        out.clear();
        encode_to_vec(registry, Format::Text, out).expect("encodes");
        out.len()
    }
    fn encode_protobuf((registry, out): &mut Self::Registry) -> Option<usize> {
        out.clear();
        encode_to_vec(registry, Format::Protobuf, out).expect("encodes");
        Some(out.len())
    }
}
