//! The compile-time registry: descriptions in flash, metrics in `static`s, no heap.

use crate::collect::{Collect, Families, FamilyRef, Kind, Metric, StrList, Visitor};
use crate::{Desc, Error};

/// One series of a [`StaticFamily`]: its label values and its metric.
#[derive(Debug)]
pub struct StaticSeries<M: 'static> {
    values: &'static [&'static str],
    metric: &'static M,
}

impl<M: 'static> StaticSeries<M> {
    /// A series with `values` (in the order of the family's label names).
    pub const fn new(values: &'static [&'static str], metric: &'static M) -> Self {
        StaticSeries { values, metric }
    }
}

/// A family with a fixed set of labelled series, all known at compile time.
#[derive(Debug)]
pub struct StaticFamily<M: 'static> {
    series: &'static [StaticSeries<M>],
}

impl<M: 'static> StaticFamily<M> {
    /// A family of `series`.
    pub const fn new(series: &'static [StaticSeries<M>]) -> Self {
        StaticFamily { series }
    }
}

impl<M: Metric + 'static> Collect for StaticFamily<M> {
    fn series_count(&self) -> usize {
        self.series.len()
    }
    fn collect(&self, index: usize, visit: &mut Visitor<'_>) -> Result<(), Error> {
        match self.series.get(index) {
            Some(s) => {
                let values = StrList::Borrowed(s.values);
                s.metric.collect(0, &mut |_, v| visit(values, v))
            }
            None => Ok(()),
        }
    }
    fn label_count(&self) -> usize {
        self.series.first().map_or(0, |s| s.values.len())
    }
}

impl<M: Metric + 'static> Metric for StaticFamily<M> {
    const KIND: Kind = M::KIND;
}

/// A family of a [`StaticRegistry`]: its description, kind and metric.
#[derive(Clone, Copy)]
pub struct StaticEntry {
    desc: Desc<'static>,
    kind: Kind,
    metric: &'static dyn Collect,
}

impl core::fmt::Debug for StaticEntry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StaticEntry")
            .field("desc", &self.desc)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl StaticEntry {
    /// A single unlabelled metric. Fails the build if `desc` declares labels.
    pub const fn metric<M: Metric + 'static>(desc: Desc<'static>, metric: &'static M) -> Self {
        assert!(
            desc.label_names().is_empty(),
            "an unlabelled metric's description must not declare label names"
        );
        StaticEntry {
            desc,
            kind: M::KIND,
            metric,
        }
    }

    /// A labelled family. Fails the build when a series' number of values differs from the
    /// description's label names.
    pub const fn family<M: Metric + 'static>(
        desc: Desc<'static>,
        family: &'static StaticFamily<M>,
    ) -> Self {
        let n = desc.label_names().len();
        let mut i = 0;
        while i < family.series.len() {
            assert!(
                family.series[i].values.len() == n,
                "a series has a different number of label values than the family's label names"
            );
            i += 1;
        }
        StaticEntry {
            desc,
            kind: M::KIND,
            metric: family,
        }
    }

    /// A collector: values produced at encode time, as a family of `kind` whose series carry
    /// `desc`'s label names.
    pub const fn collector(desc: Desc<'static>, kind: Kind, metric: &'static dyn Collect) -> Self {
        StaticEntry { desc, kind, metric }
    }
}

/// A registry described entirely at compile time.
///
/// ```
/// use metrics_core::{
///     Counter, Desc, Format, Gauge, Histogram, StaticEntry, StaticFamily, StaticRegistry,
///     StaticSeries, DEFAULT_BUCKETS,
/// };
///
/// static RX_OK: Counter = Counter::new();
/// static RX_ERR: Counter = Counter::new();
/// static TEMP: Gauge = Gauge::new();
/// static LATENCY: Histogram<11> = Histogram::new(&DEFAULT_BUCKETS);
/// static RX: StaticFamily<Counter> = StaticFamily::new(&[
///     StaticSeries::new(&["ok"], &RX_OK),
///     StaticSeries::new(&["error"], &RX_ERR),
/// ]);
/// static REGISTRY: StaticRegistry = StaticRegistry::new(&[
///     StaticEntry::family(Desc::new("uart_frames", "Frames received.").labels(&["result"]), &RX),
///     StaticEntry::metric(Desc::new("temperature_celsius", "Die temperature.").unit("celsius"), &TEMP),
///     StaticEntry::metric(Desc::new("isr_latency_seconds", "Interrupt latency."), &LATENCY),
/// ]);
///
/// RX_OK.inc();
/// TEMP.set(21.5);
/// let mut out = String::new();
/// metrics_core::encode(&REGISTRY, Format::OpenMetrics, &mut out).unwrap();
/// assert!(out.contains("uart_frames_total{result=\"ok\"} 1\n"));
/// assert!(out.ends_with("# EOF\n"));
/// ```
///
/// A bad name or two families exposing the same name fail the build:
///
/// ```compile_fail
/// use metrics_core::{Counter, Desc, StaticEntry, StaticRegistry};
/// static A: Counter = Counter::new();
/// static B: Counter = Counter::new();
/// static R: StaticRegistry = StaticRegistry::new(&[
///     StaticEntry::metric(Desc::new("jobs", ""), &A),
///     StaticEntry::metric(Desc::new("jobs_total", ""), &B),
/// ]);
/// ```
///
/// ```compile_fail
/// use metrics_core::{Counter, Desc, StaticEntry, StaticRegistry};
/// static A: Counter = Counter::new();
/// static R: StaticRegistry = StaticRegistry::new(&[StaticEntry::metric(Desc::new("bad-name", ""), &A)]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct StaticRegistry {
    entries: &'static [StaticEntry],
}

impl StaticRegistry {
    /// A registry of `entries`, encoded in this order. Fails the build when two entries expose
    /// the same sample name.
    pub const fn new(entries: &'static [StaticEntry]) -> Self {
        let mut i = 0;
        while i < entries.len() {
            let mut j = 0;
            while j < i {
                assert!(
                    crate::exposed::clash(
                        entries[i].desc.name(),
                        entries[i].kind,
                        entries[j].desc.name(),
                        entries[j].kind
                    )
                    .is_none(),
                    "two families of the static registry expose the same metric name"
                );
                j += 1;
            }
            i += 1;
        }
        StaticRegistry { entries }
    }
}

impl Families for StaticRegistry {
    fn family_count(&self) -> usize {
        self.entries.len()
    }

    fn family(&self, index: usize) -> Option<FamilyRef<'_>> {
        let e = self.entries.get(index)?;
        Some(FamilyRef {
            desc: e.desc,
            kind: e.kind,
            metric: e.metric,
        })
    }
}
