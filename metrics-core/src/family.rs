//! Labelled families whose label values arrive at run time (`alloc`).
//!
//! A [`Family`] maps label values to a metric. Looking up existing values never locks: a hash
//! of the values probes a lock-free index into an append-only list of series, so a lookup costs
//! the same with 10 or 10 000 series (keep the returned reference or an [`Arc`] handle for the
//! very hottest paths). Adding a new combination takes a short spin lock.
//!
//! # Cardinality limit
//!
//! A family holds at most `limit` series ([`DEFAULT_CARDINALITY_LIMIT`] unless set). Past it:
//!
//! - [`Family::labels`] and [`Family::handle`] return the family's **overflow series**, whose
//!   every label value is [`OVERFLOW_LABEL_VALUE`]. It appears in the output as soon as it is
//!   first used, so dashboards and alerts can see that values were folded;
//! - [`Family::try_labels`] returns [`Error::CardinalityLimit`] instead.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::append::AppendOnly;
use crate::atomic::{AtomicBool, Ordering};
use crate::collect::{Collect, Kind, Metric, StrList, Value, Visitor, OVERFLOW_LABEL_VALUE};
use crate::index::{hash_values, same_bytes, Index};
use crate::{Counter, DynHistogram, Error, FloatCounter, Gauge};

/// The default most series a labelled family holds before folding into its overflow series.
pub const DEFAULT_CARDINALITY_LIMIT: usize = 10_000;

/// A metric type a [`Family`] can hold: built from the family's shared configuration.
///
/// Usually a [`Metric`] type (its [`Metric::KIND`] is the family's kind). A member type may
/// also hold several kinds of series, the configuration picking one per family: the wasm
/// package keeps all its families as one such type, so that the module holds one copy of the
/// family code instead of one per metric type.
pub trait FamilyMember: Collect + Sized + 'static {
    /// What every series of the family shares (histogram bounds; `()` for the others).
    type Config: Send + Sync + core::fmt::Debug;
    /// A new series at zero.
    fn from_config(config: &Self::Config) -> Self;
    /// The kind of a family with this configuration (for a [`Metric`] type, its `KIND`).
    fn kind(config: &Self::Config) -> Kind;
    /// The current value of a one-line metric (counter, gauge), which lets a registered family
    /// keep its lines pre-rendered; `None` (the default) for a histogram.
    fn scalar(&self) -> Option<Value<'static>> {
        None
    }
}

impl FamilyMember for Counter {
    type Config = ();
    fn from_config(_: &()) -> Self {
        Counter::new()
    }
    fn kind(_: &()) -> Kind {
        Self::KIND
    }
    fn scalar(&self) -> Option<Value<'static>> {
        Some(Value::Counter(self.get()))
    }
}

impl FamilyMember for FloatCounter {
    type Config = ();
    fn from_config(_: &()) -> Self {
        FloatCounter::new()
    }
    fn kind(_: &()) -> Kind {
        Self::KIND
    }
    fn scalar(&self) -> Option<Value<'static>> {
        Some(Value::CounterF64(self.get()))
    }
}

impl FamilyMember for Gauge {
    type Config = ();
    fn from_config(_: &()) -> Self {
        Gauge::new()
    }
    fn kind(_: &()) -> Kind {
        Self::KIND
    }
    fn scalar(&self) -> Option<Value<'static>> {
        Some(Value::Gauge(self.get()))
    }
}

impl FamilyMember for DynHistogram {
    type Config = Arc<[f64]>;
    fn from_config(bounds: &Arc<[f64]>) -> Self {
        DynHistogram::with_shared_bounds(bounds.clone())
    }
    fn kind(_: &Arc<[f64]>) -> Kind {
        Self::KIND
    }
}

#[derive(Debug)]
struct Entry<M> {
    hash: u64,
    values: Box<[Box<str>]>,
    metric: Arc<M>,
    /// The sample line up to its value (`name_total{a="x"} `), when the family renders.
    prefix: Option<Box<str>>,
}

/// What a registered family needs to pre-render its series' lines: the sample name and the
/// label names.
#[derive(Debug)]
struct Render {
    name: Box<str>,
    suffix: &'static str,
    labels: Box<[Box<str>]>,
}

/// Series of one metric type keyed by label values given at run time.
///
/// ```
/// # #[cfg(feature = "alloc")] {
/// use metrics_core::{Counter, Family};
/// let requests = Family::<Counter>::new(2, 100, ());
/// requests.labels(&["GET", "200"]).inc();
/// let ok = requests.handle(&["GET", "200"]); // an Arc<Counter> to keep
/// ok.inc();
/// assert_eq!(requests.labels(&["GET", "200"]).get(), 2);
/// # }
/// ```
#[derive(Debug)]
pub struct Family<M: FamilyMember> {
    label_count: usize,
    limit: usize,
    config: M::Config,
    series: AppendOnly<Entry<M>>,
    index: Index,
    overflow: Arc<M>,
    overflow_used: AtomicBool,
    render: Option<Render>,
}

impl<M: FamilyMember> Family<M> {
    /// A family whose series carry `label_count` values, holding at most `limit` series
    /// (at least 1) before it folds new values into its overflow series.
    pub fn new(label_count: usize, limit: usize, config: M::Config) -> Self {
        let overflow = Arc::new(M::from_config(&config));
        Family {
            label_count,
            limit: limit.max(1),
            config,
            series: AppendOnly::new(),
            index: Index::new(),
            overflow,
            overflow_used: AtomicBool::new(false),
            render: None,
        }
    }

    /// Makes the family keep each series' sample line pre-rendered up to its value, for the
    /// streaming encoder (one write instead of one per name, label and quote). Called by
    /// [`Registry::family`](crate::Registry::family) with the description the family is
    /// registered under, before any series exists; histogram families ignore it. Costs one
    /// heap string per series (the line's start, e.g. 30 bytes) against a scrape about four
    /// times faster.
    pub(crate) fn rendered_as(mut self, desc: &crate::Desc<'_>) -> Self {
        // Names outside the legacy set are spelled by the escaping a scrape negotiates: no
        // line can be rendered ahead for them.
        if !crate::escaping::is_legacy(desc.name())
            || !desc.label_names().iter().all(crate::escaping::is_legacy)
        {
            return self;
        }
        let probe = M::from_config(&self.config);
        if let Some(v) = probe.scalar() {
            if let Some((suffix, _)) = crate::encoding::line::scalar(&v) {
                self.render = Some(Render {
                    name: crate::exposed::base(desc.name(), M::kind(&self.config)).into(),
                    suffix,
                    labels: desc.label_names().iter().map(Box::from).collect(),
                });
            }
        }
        self
    }

    /// The series for `values`, created at zero if new; past the cardinality limit, the
    /// overflow series. Panics when the number of values differs from the family's label
    /// names (a programming error, like indexing out of bounds); see [`Family::try_labels`].
    #[inline]
    pub fn labels(&self, values: &[&str]) -> &M {
        match self.get_or_insert(values) {
            Ok(m) => m,
            Err(Error::CardinalityLimit { .. }) => self.overflow(),
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`Family::labels`], but a wrong number of values is [`Error::LabelCount`] and a new
    /// combination past the limit is [`Error::CardinalityLimit`].
    pub fn try_labels(&self, values: &[&str]) -> Result<&M, Error> {
        self.get_or_insert(values)
    }

    /// An owned handle to the series for `values` (the overflow series past the limit). Panics
    /// like [`Family::labels`].
    pub fn handle(&self, values: &[&str]) -> Arc<M> {
        match self.find(values).or_else(|| self.insert(values).ok()) {
            Some(i) => self.series.get(i).expect("published").metric.clone(),
            None => {
                self.check_count(values).unwrap_or_else(|e| panic!("{e}"));
                self.overflow_used.store(true, Ordering::Release);
                self.overflow.clone()
            }
        }
    }

    /// Series created so far (not counting the overflow series).
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// True when no series was created yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once a label combination was folded into the overflow series.
    pub fn overflowed(&self) -> bool {
        self.overflow_used.load(Ordering::Acquire)
    }

    /// The cardinality limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    fn overflow(&self) -> &M {
        self.overflow_used.store(true, Ordering::Release);
        &self.overflow
    }

    fn check_count(&self, values: &[&str]) -> Result<(), Error> {
        if values.len() != self.label_count {
            return Err(Error::LabelCount {
                expected: self.label_count,
                got: values.len(),
            });
        }
        Ok(())
    }

    #[inline]
    fn get_or_insert(&self, values: &[&str]) -> Result<&M, Error> {
        if let Some(e) = self.find_entry(values) {
            return Ok(&e.metric);
        }
        let i = self.insert(values)?;
        Ok(&self.series.get(i).expect("published").metric)
    }

    /// Index of the series with exactly `values` (a miss may be a series being added right
    /// now: the insert path looks again under the lock).
    #[inline]
    fn find(&self, values: &[&str]) -> Option<usize> {
        let h = hash_values(values);
        self.index.find(h, |i| {
            self.series
                .get(i)
                .is_some_and(|e| e.hash == h && same(&e.values, values))
        })
    }

    /// The series with exactly `values`, as [`Family::find`] but keeping the entry the probe
    /// matched instead of looking it up again (the labelled hot path).
    #[inline]
    fn find_entry(&self, values: &[&str]) -> Option<&Entry<M>> {
        let h = hash_values(values);
        let mut found = None;
        self.index.find(h, |i| {
            found = self
                .series
                .get(i)
                .filter(|e| e.hash == h && same(&e.values, values));
            found.is_some()
        })?;
        found
    }

    #[cold]
    fn insert(&self, values: &[&str]) -> Result<usize, Error> {
        self.check_count(values)?;
        let mut found = None;
        let h = hash_values(values);
        let appended = self.series.append_with(|list| {
            // Another thread may have added the same values while we waited for the lock; the
            // index is complete for the lock holder.
            let hash_of = |i: usize| list.get(i).map_or(0, |e| e.hash);
            if let Some(i) = self.index.find(h, |i| {
                list.get(i)
                    .is_some_and(|e| e.hash == h && same(&e.values, values))
            }) {
                found = Some(i);
                return Err(None);
            }
            if list.len() >= self.limit {
                return Err(Some(Error::CardinalityLimit { limit: self.limit }));
            }
            // Indexed before it is published: a reader that meets the index first sees no
            // series yet and takes this (locked) path, which then finds it.
            self.index.insert(h, list.len(), hash_of);
            Ok(Entry {
                hash: h,
                values: values.iter().map(|v| Box::from(*v)).collect(),
                metric: Arc::new(M::from_config(&self.config)),
                prefix: self.render.as_ref().map(|r| r.prefix(values)),
            })
        });
        match appended {
            Ok(i) => Ok(i),
            Err(None) => Ok(found.expect("set with Err(None)")),
            Err(Some(e)) => Err(e),
        }
    }

    /// The label values of every series, in creation order (for tests and tooling).
    pub fn label_values(&self) -> Vec<Vec<&str>> {
        self.series
            .iter()
            .map(|e| e.values.iter().map(|v| &**v).collect())
            .collect()
    }
}

#[inline]
fn same(stored: &[Box<str>], values: &[&str]) -> bool {
    stored.len() == values.len()
        && stored
            .iter()
            .zip(values)
            .all(|(a, b)| same_bytes(a.as_bytes(), b.as_bytes()))
}

impl Render {
    /// The start of the sample line of the series with `values`, as the encoder spells it.
    fn prefix(&self, values: &[&str]) -> Box<str> {
        let mut line = alloc::string::String::new();
        // On wasm32 through the encoder's `dyn Sink`, so that a module holds one copy of
        // `write_prefix` (see `encode`).
        #[cfg(target_arch = "wasm32")]
        let w: &mut dyn crate::encoding::Sink = &mut crate::encoding::sink::SinkOf(&mut line);
        #[cfg(not(target_arch = "wasm32"))]
        let w = &mut line;
        // Writing into a String cannot fail.
        let _ = crate::encoding::line::write_prefix(
            w,
            &self.name,
            self.suffix,
            StrList::Owned(&self.labels),
            StrList::Borrowed(values),
            None,
            crate::escaping::Names::PLAIN,
        );
        line.into_boxed_str()
    }
}

impl<M: FamilyMember> Collect for Family<M> {
    fn write_rendered(&self, w: &mut dyn crate::encoding::Sink) -> Result<usize, Error> {
        if self.render.is_none() {
            return Ok(0);
        }
        let mut n = 0;
        for e in self.series.iter() {
            let (Some(prefix), Some(value)) = (&e.prefix, e.metric.scalar()) else {
                break;
            };
            let Some((_, num)) = crate::encoding::line::scalar(&value) else {
                break;
            };
            w.write_str(prefix)?;
            crate::encoding::line::write_num_line(w, num)?;
            n += 1;
        }
        Ok(n)
    }

    fn series_count(&self) -> usize {
        self.series.len() + usize::from(self.overflowed())
    }

    fn collect(&self, index: usize, visit: &mut Visitor<'_>) -> Result<(), Error> {
        if let Some(e) = self.series.get(index) {
            let values = StrList::Owned(&e.values);
            return e.metric.collect(0, &mut |_, v| visit(values, v));
        }
        if index == self.series.len() && self.overflowed() {
            let values = StrList::Repeat(OVERFLOW_LABEL_VALUE, self.label_count);
            return self.overflow.collect(0, &mut |_, v| visit(values, v));
        }
        Ok(())
    }

    fn label_count(&self) -> usize {
        self.label_count
    }

    fn has_exemplars(&self) -> bool {
        self.overflow.has_exemplars()
    }

    fn exemplar<'b>(
        &self,
        index: usize,
        bucket: usize,
        buf: &'b mut [u8],
    ) -> Option<crate::ExemplarRef<'b>> {
        if let Some(e) = self.series.get(index) {
            return e.metric.exemplar(0, bucket, buf);
        }
        if index == self.series.len() && self.overflowed() {
            return self.overflow.exemplar(0, bucket, buf);
        }
        None
    }
}

impl<M: FamilyMember + Metric> Metric for Family<M> {
    const KIND: Kind = M::KIND;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_values_same_series() {
        let f = Family::<Counter>::new(2, 10, ());
        f.labels(&["a", "b"]).inc();
        f.labels(&["a", "b"]).inc();
        f.labels(&["a", "c"]).inc();
        assert_eq!(f.len(), 2);
        assert_eq!(f.labels(&["a", "b"]).get(), 2);
        assert_eq!(f.label_values(), [["a", "b"], ["a", "c"]]);
    }

    #[test]
    fn wrong_label_count() {
        let f = Family::<Gauge>::new(1, 10, ());
        assert_eq!(
            f.try_labels(&["a", "b"]).unwrap_err(),
            Error::LabelCount {
                expected: 1,
                got: 2
            }
        );
    }

    #[test]
    #[should_panic(expected = "wrong number of label values")]
    fn labels_panics_on_wrong_count() {
        let f = Family::<Gauge>::new(1, 10, ());
        f.labels(&[]);
    }

    #[test]
    fn overflow_series_past_the_limit() {
        let f = Family::<Counter>::new(1, 2, ());
        f.labels(&["a"]).inc();
        f.labels(&["b"]).inc();
        assert!(!f.overflowed());
        assert_eq!(f.series_count(), 2);
        assert_eq!(
            f.try_labels(&["c"]).unwrap_err(),
            Error::CardinalityLimit { limit: 2 }
        );
        assert!(!f.overflowed(), "try_labels does not fold");
        f.labels(&["c"]).inc();
        f.handle(&["d"]).inc();
        assert!(f.overflowed());
        assert_eq!(f.len(), 2);
        assert_eq!(f.series_count(), 3);
        assert_eq!(f.labels(&["a"]).get(), 1, "existing series still reachable");
        let mut seen = Vec::new();
        f.collect(2, &mut |labels, v| {
            seen.push((alloc::string::String::from(labels.get(0)), v.kind()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [(OVERFLOW_LABEL_VALUE.into(), Kind::Counter)]);
        assert_eq!(f.overflow.get(), 2);
    }

    /// Small under miri, which checks the append list's `unsafe` under concurrent inserts.
    #[test]
    fn concurrent_inserts_never_duplicate() {
        extern crate std;
        const ROUNDS: usize = if cfg!(miri) { 40 } else { 200 };
        const VALUES: usize = if cfg!(miri) { 20 } else { 50 };
        let f = Arc::new(Family::<Counter>::new(1, 1000, ()));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let f = f.clone();
                std::thread::spawn(move || {
                    for i in 0..ROUNDS {
                        let v = alloc::format!("v{}", i % VALUES);
                        f.labels(&[&v]).inc();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(f.len(), VALUES);
        let total: u64 = (0..VALUES)
            .map(|i| f.labels(&[&alloc::format!("v{i}")]).get())
            .sum();
        assert_eq!(total, 2 * ROUNDS as u64);
    }
}
