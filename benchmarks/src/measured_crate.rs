//! The `measured` crate.

// measured's derives generate undocumented public items and types without `Debug`.
#![allow(missing_docs, missing_debug_implementations)]

use std::hash::BuildHasherDefault;

use lasso::{Rodeo, RodeoReader, Spur, ThreadedRodeo};
use measured::label::StaticLabelSet;
use measured::metric::histogram::Thresholds;
use measured::text::BufferedTextEncoder;
use measured::{Counter, CounterVec, FixedCardinalityLabel, Histogram, LabelGroup, MetricGroup};

use crate::{series_value, Workloads, BOUNDS, KINDS, ROUTES};

/// `measured`, with string labels interned by `lasso` (the crate's own way for string
/// values); [`KindEnum`] is its faster enum-label way, benchmarked beside it.
#[derive(Debug)]
pub struct Measured;

type Hasher = BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

/// Two string labels, each resolved through a read-only interner built from the known values.
#[derive(Clone, Copy, PartialEq, Debug, LabelGroup)]
#[label(set = RequestsSet)]
pub struct Requests<'a> {
    #[label(fixed_with = RodeoReader<Spur, Hasher>)]
    kind: &'a str,
    #[label(fixed_with = RodeoReader<Spur, Hasher>)]
    route: &'a str,
}

/// The first label as an enum (measured's fixed-cardinality labels).
#[derive(Clone, Copy, PartialEq, Debug, FixedCardinalityLabel)]
pub enum KindEnum {
    /// "user"
    User,
    /// "internal"
    Internal,
    /// "network"
    Network,
}

/// One enum label and one interned string label.
#[derive(Clone, Copy, PartialEq, Debug, LabelGroup)]
#[label(set = RequestsEnumSet)]
pub struct RequestsEnum<'a> {
    kind: KindEnum,
    #[label(fixed_with = RodeoReader<Spur, Hasher>)]
    route: &'a str,
}

/// The encode workload's one label, interned at run time.
#[derive(Clone, Copy, PartialEq, Debug, LabelGroup)]
#[label(set = KindSet)]
pub struct Kind<'a> {
    #[label(dynamic_with = ThreadedRodeo<Spur, Hasher>)]
    kind: &'a str,
}

/// The encode workload's metric group.
#[derive(MetricGroup)]
pub struct Encoded {
    /// help text
    counters: CounterVec<KindSet>,
}

fn reader(values: &[&'static str]) -> RodeoReader<Spur, Hasher> {
    let mut r = Rodeo::with_hasher(Hasher::default());
    for v in values {
        r.get_or_intern_static(v);
    }
    r.into_reader()
}

/// The enum-label variant of the labelled workload.
pub fn labelled_enum() -> CounterVec<RequestsEnumSet> {
    CounterVec::with_label_set(RequestsEnumSet {
        kind: StaticLabelSet::new(),
        route: reader(&ROUTES),
    })
}

/// One increment of the enum-label variant.
#[inline]
pub fn labelled_enum_inc(l: &CounterVec<RequestsEnumSet>, kind: KindEnum, route: &str) {
    l.inc(RequestsEnum { kind, route });
}

impl Workloads for Measured {
    const NAME: &'static str = "measured";
    type Counter = Counter;
    fn counter() -> Counter {
        Counter::new()
    }
    #[inline]
    fn inc(c: &Counter) {
        c.inc();
    }
    type Labelled = CounterVec<RequestsSet>;
    fn labelled() -> Self::Labelled {
        CounterVec::with_label_set(RequestsSet {
            kind: reader(&KINDS),
            route: reader(&ROUTES),
        })
    }
    #[inline]
    fn labelled_inc(l: &Self::Labelled, kind: &'static str, route: &'static str) {
        l.inc(Requests { kind, route });
    }
    type Histogram = Histogram<8>;
    fn histogram() -> Histogram<8> {
        Histogram::with_metadata(Thresholds::with_buckets(BOUNDS))
    }
    #[inline]
    fn observe(h: &Histogram<8>, v: f64) {
        h.observe(v);
    }
    type Registry = (Encoded, BufferedTextEncoder);
    fn registry(n: usize) -> Self::Registry {
        let m = Encoded {
            counters: CounterVec::with_label_set(KindSet {
                kind: ThreadedRodeo::with_hasher(Hasher::default()),
            }),
        };
        for i in 0..n {
            m.counters.inc(Kind {
                kind: &series_value(i),
            });
        }
        (m, BufferedTextEncoder::new())
    }
    fn encode((m, enc): &mut Self::Registry) -> usize {
        m.collect_group_into(enc).expect("encodes");
        enc.finish().len()
    }
}
