//! What the encoders read: families of series and their values.
//!
//! Every metric type implements [`Collect`]; so does anything a user writes to produce values at
//! encode time (see [`FnCollector`](crate::FnCollector)). A registry is anything that implements
//! [`Families`]: the compile-time [`StaticRegistry`](crate::StaticRegistry) and, with `alloc`, the
//! run-time [`Registry`](crate::Registry).

use crate::{Desc, Error};

/// The type of a metric family, as written on its `# TYPE` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A monotonically increasing total (`name_total` samples).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Observations counted in fixed buckets (`_bucket`, `_sum`, `_count` samples).
    Histogram,
}

impl Kind {
    /// The word on the `# TYPE` line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One series' value at encode time.
#[derive(Clone, Copy)]
pub enum Value<'a> {
    /// An integer counter total.
    Counter(u64),
    /// A float counter total (e.g. seconds).
    CounterF64(f64),
    /// A gauge value.
    Gauge(f64),
    /// A consistent histogram snapshot.
    Histogram(&'a dyn HistogramValue),
}

impl core::fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Value::Counter(v) => f.debug_tuple("Counter").field(v).finish(),
            Value::CounterF64(v) => f.debug_tuple("CounterF64").field(v).finish(),
            Value::Gauge(v) => f.debug_tuple("Gauge").field(v).finish(),
            Value::Histogram(h) => f
                .debug_struct("Histogram")
                .field("bounds", &h.bounds())
                .field("sum", &h.sum())
                .finish_non_exhaustive(),
        }
    }
}

impl Value<'_> {
    /// The family kind this value belongs to.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Counter(_) | Value::CounterF64(_) => Kind::Counter,
            Value::Gauge(_) => Kind::Gauge,
            Value::Histogram(_) => Kind::Histogram,
        }
    }
}

/// A histogram's state as the encoders read it. All values belong to the same set of
/// observations: the encoders derive `_count` from the buckets, so `_count` always equals the
/// `+Inf` bucket.
pub trait HistogramValue {
    /// The finite upper bounds, strictly increasing (`+Inf` is implied).
    fn bounds(&self) -> &[f64];
    /// Observations in bucket `i` alone (not cumulative); `i == bounds().len()` is the `+Inf`
    /// bucket (observations above the last bound, and NaN).
    fn bucket(&self, i: usize) -> u64;
    /// The sum of all observations.
    fn sum(&self) -> f64;
    /// The number of observations (the sum of all buckets).
    fn count(&self) -> u64 {
        (0..=self.bounds().len()).map(|i| self.bucket(i)).sum()
    }
    /// The native (exponential) buckets of the same observations, when the histogram has
    /// them. A native-only histogram has no finite [`bounds`](HistogramValue::bounds): its
    /// text form is the `+Inf` bucket, `_sum` and `_count`.
    fn native(&self) -> Option<&dyn NativeHistogramValue> {
        None
    }
}

/// Which side of zero a native bucket is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sign {
    /// Observations above the zero bucket.
    Positive,
    /// Observations below the zero bucket (indexed by their absolute value).
    Negative,
}

/// A native (exponential) histogram's buckets, of the same set of observations as the
/// [`HistogramValue`] that returned it (count and sum come from there).
pub trait NativeHistogramValue {
    /// -4..=8: bucket boundaries are powers of 2^(2^-schema).
    fn schema(&self) -> i8;
    /// Observations with |v| <= this are counted in the zero bucket.
    fn zero_threshold(&self) -> f64;
    /// Observations in the zero bucket.
    fn zero_count(&self) -> u64;
    /// How many populated buckets the side has.
    fn bucket_len(&self, side: Sign) -> usize;
    /// Populated bucket `i` (0..bucket_len) of that side, in ascending bucket-index order:
    /// (bucket index, count > 0). Index k covers (base^(k-1), base^k] in absolute value, as
    /// Prometheus numbers them.
    fn bucket(&self, side: Sign, i: usize) -> (i32, u64);
}

/// A list of strings: label names or label values, borrowed from a `static` or from the heap.
#[derive(Clone, Copy, Debug)]
pub enum StrList<'a> {
    /// `&'static`-style string slices (compile-time registries).
    Borrowed(&'a [&'a str]),
    /// Owned strings of a run-time family.
    #[cfg(feature = "alloc")]
    Owned(&'a [alloc::boxed::Box<str>]),
    /// The same string `len` times (a family's overflow series).
    Repeat(&'a str, usize),
}

impl<'a> StrList<'a> {
    /// No strings.
    pub const EMPTY: StrList<'static> = StrList::Borrowed(&[]);

    /// How many strings.
    #[inline]
    pub const fn len(&self) -> usize {
        match self {
            StrList::Borrowed(s) => s.len(),
            #[cfg(feature = "alloc")]
            StrList::Owned(s) => s.len(),
            StrList::Repeat(_, n) => *n,
        }
    }

    /// True when there are none.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// String `i`; panics when out of range.
    #[inline]
    pub fn get(&self, i: usize) -> &'a str {
        match self {
            StrList::Borrowed(s) => s[i],
            #[cfg(feature = "alloc")]
            StrList::Owned(s) => &s[i],
            StrList::Repeat(v, n) => {
                assert!(i < *n, "index out of range");
                v
            }
        }
    }

    /// The strings in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }
}

/// The callback a [`Collect`] implementation calls for one series: its label values (in the
/// order of the family's label names) and its value.
pub type Visitor<'v> = dyn FnMut(StrList<'_>, Value<'_>) -> Result<(), Error> + 'v;

/// Something that holds, or produces at encode time, the series of one metric family.
///
/// Series are addressed by index so that an encoder can stop between any two series and resume
/// later (the chunked encoder). An implementation must keep the index of a series stable: new
/// series are only ever appended.
pub trait Collect: Send + Sync {
    /// How many series the family has now.
    fn series_count(&self) -> usize;
    /// Calls `visit` once with series `index`'s label values and value. An index at or past
    /// [`series_count`](Collect::series_count) is skipped (`Ok(())` without a call).
    fn collect(&self, index: usize, visit: &mut Visitor<'_>) -> Result<(), Error>;
    /// How many label values each series carries (the family's label names); 0 for a single,
    /// unlabelled metric. Registration checks it against the description.
    fn label_count(&self) -> usize {
        0
    }
    /// When series `index` started counting, in Unix seconds: OpenMetrics exposes it as the
    /// series' `_created` sample (counters and histograms only; gauges have none, and the text
    /// format 0.0.4 never shows it). A reset (the process restarted, a state file started
    /// anew) is then visible to the scraper as a new start time. The default is `None`: no
    /// `_created` line. An implementation that returns `Some` must not pre-render its lines
    /// (keep the default `write_rendered`): the encoders add the `_created` line after the
    /// series' other lines.
    fn created(&self, index: usize) -> Option<f64> {
        let _ = index;
        None
    }
    /// True when the series may carry exemplars (the encoders then ask
    /// [`exemplar`](Collect::exemplar) for each counter and bucket line in OpenMetrics). The
    /// default is `false`: plain metrics cost the encoders nothing more. An implementation
    /// that returns `true` must not pre-render its lines (keep the default `write_rendered`).
    fn has_exemplars(&self) -> bool {
        false
    }
    /// The exemplar of series `index` on line `bucket` (0 for a counter's `_total`; for a
    /// histogram the bucket's index, `bounds().len()` for `+Inf`), copied into `buf`
    /// ([`EXEMPLAR_BYTES`](crate::EXEMPLAR_BYTES) fits any), or `None`.
    fn exemplar<'b>(
        &self,
        index: usize,
        bucket: usize,
        buf: &'b mut [u8],
    ) -> Option<crate::ExemplarRef<'b>> {
        let _ = (index, bucket, buf);
        None
    }
    /// The streaming encoder's fast path: an implementation that keeps each series' sample
    /// line pre-rendered up to its value (a run-time registry's counter and gauge families)
    /// writes its first series' lines straight into `w` and returns how many series it wrote;
    /// the encoder collects the rest (if any) one by one. The default writes none. The bytes
    /// must be exactly those of the one-by-one path (the golden tests compare both encoders).
    #[doc(hidden)]
    fn write_rendered(&self, w: &mut dyn crate::encoding::Sink) -> Result<usize, Error> {
        let _ = w;
        Ok(0)
    }
}

/// The methods of [`Collect`] but `created` and `write_rendered`, forwarded to `$inner` (an
/// expression of `$this`, the implementer).
macro_rules! forward_collect {
    (|$this:ident| $inner:expr) => {
        fn series_count(&self) -> usize {
            let $this = self;
            $inner.series_count()
        }
        fn collect(&self, index: usize, visit: &mut Visitor<'_>) -> Result<(), Error> {
            let $this = self;
            $inner.collect(index, visit)
        }
        fn label_count(&self) -> usize {
            let $this = self;
            $inner.label_count()
        }
        fn has_exemplars(&self) -> bool {
            let $this = self;
            $inner.has_exemplars()
        }
        fn exemplar<'b>(
            &self,
            index: usize,
            bucket: usize,
            buf: &'b mut [u8],
        ) -> Option<crate::ExemplarRef<'b>> {
            let $this = self;
            $inner.exemplar(index, bucket, buf)
        }
    };
}

/// A shared collector is one: registries hold [`Arc`](alloc::sync::Arc)s, and wrappers such as
/// [`WithCreated`] can hold one.
#[cfg(feature = "alloc")]
impl<C: Collect + ?Sized> Collect for alloc::sync::Arc<C> {
    forward_collect!(|this| **this);
    fn created(&self, index: usize) -> Option<f64> {
        (**self).created(index)
    }
    fn write_rendered(&self, w: &mut dyn crate::encoding::Sink) -> Result<usize, Error> {
        (**self).write_rendered(w)
    }
}

/// A collector whose series report when they started counting: `start(index)` is series
/// `index`'s start time ([`Collect::created`]: OpenMetrics' `_created`, protobuf's
/// `created_timestamp`), everything else is `collector`'s. For a family whose series' totals
/// began at a time the process knows better than the family does, e.g. totals restored from
/// a saved state at the state's start.
///
/// ```
/// use std::sync::Arc;
/// use metrics_core::{Counter, Desc, Family, Kind, Registry, WithCreated};
///
/// let runs = Arc::new(Family::<Counter>::new(1, 100, ()));
/// let mut r = Registry::new();
/// let started = 1_700_000_000.0;
/// r.register_shared(
///     Desc::new("runs", "Runs.").labels(&["result"]),
///     Kind::Counter,
///     Arc::new(WithCreated::new(runs.clone(), move |_| Some(started))),
/// )
/// .unwrap();
/// runs.labels(&["ok"]).inc();
/// let mut om = String::new();
/// metrics_core::encode(&r, metrics_core::Format::OpenMetrics, &mut om).unwrap();
/// assert!(om.contains("runs_created{result=\"ok\"} 1700000000\n"), "{om}");
/// ```
#[derive(Debug, Clone)]
pub struct WithCreated<C, F> {
    collector: C,
    start: F,
}

impl<C, F> WithCreated<C, F>
where
    F: Fn(usize) -> Option<f64>,
{
    /// `collector` whose series `i` started at `start(i)` (Unix seconds; `None`: unknown).
    pub const fn new(collector: C, start: F) -> Self {
        WithCreated { collector, start }
    }

    /// The wrapped collector.
    pub const fn collector(&self) -> &C {
        &self.collector
    }
}

/// Pre-rendered lines carry no `_created`, so `write_rendered` is not forwarded.
impl<C, F> Collect for WithCreated<C, F>
where
    C: Collect,
    F: Fn(usize) -> Option<f64> + Send + Sync,
{
    forward_collect!(|this| this.collector);
    fn created(&self, index: usize) -> Option<f64> {
        (self.start)(index)
    }
}

/// A metric type: its kind is known from its Rust type.
pub trait Metric: Collect {
    /// The family type of this metric.
    const KIND: Kind;
}

/// One family as an encoder sees it.
#[derive(Clone, Copy)]
pub struct FamilyRef<'a> {
    /// Name, help, unit and label names.
    pub desc: Desc<'a>,
    /// The family's type.
    pub kind: Kind,
    /// Its series.
    pub metric: &'a dyn Collect,
}

impl core::fmt::Debug for FamilyRef<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FamilyRef")
            .field("desc", &self.desc)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A registry as the encoders see it: families addressed by index, in a stable order.
pub trait Families {
    /// How many families.
    fn family_count(&self) -> usize;
    /// Family `index`, or `None` past the end.
    fn family(&self, index: usize) -> Option<FamilyRef<'_>>;
}

/// The label value every label of a family's overflow series carries: once a labelled family
/// holds its cardinality limit of series, new label combinations are counted in this one
/// series, which appears in the output as e.g. `requests_total{method="__overflow__",code="__overflow__"}`.
pub const OVERFLOW_LABEL_VALUE: &str = "__overflow__";

/// Implements [`Collect`] and [`Metric`] for a metric that is one unlabelled series whose value
/// is `$value` (an expression of `$this`, the metric).
macro_rules! single_series {
    ([$($generics:tt)*] $ty:ty, $kind:expr, |$this:ident| $value:expr) => {
        impl<$($generics)*> $crate::collect::Collect for $ty {
            fn series_count(&self) -> usize {
                1
            }
            fn collect(
                &self,
                index: usize,
                visit: &mut $crate::collect::Visitor<'_>,
            ) -> Result<(), $crate::Error> {
                if index == 0 {
                    let $this = self;
                    visit($crate::collect::StrList::EMPTY, $value)?;
                }
                Ok(())
            }
        }

        impl<$($generics)*> $crate::collect::Metric for $ty {
            const KIND: $crate::collect::Kind = $kind;
        }
    };
}
pub(crate) use single_series;
