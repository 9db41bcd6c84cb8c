//! Labelled families of fixed capacity without a heap (`heapless`).
//!
//! A [`HeaplessFamily`] is the firmware's [`Family`](crate::Family): series keyed by label
//! values learned at run time (an error code, a sensor id), but with everything inline and
//! chosen at compile time: `CAP` series, `LABELS` label values per series, at most `BYTES`
//! bytes per value (a [`heapless::String`]). It is `const`-constructible, so it lives in a
//! `static`; a lookup scans the slots without allocating.
//!
//! # Overflow
//!
//! Past `CAP` series, and for a value longer than `BYTES`, [`HeaplessFamily::labels`] returns
//! the family's **overflow series**, exactly as the run-time families do: it appears in the
//! output with every label value [`OVERFLOW_LABEL_VALUE`] (`__overflow__`) as soon as it is
//! first used. [`HeaplessFamily::try_labels`] returns [`Error::CardinalityLimit`] or
//! [`Error::LabelValueTooLong`] instead.
//!
//! # Concurrency: how a series is published
//!
//! Each slot has a 32-bit state word: `0` (empty), `key` (claimed, label values being written)
//! or `key | 1` (ready). `key` is a hash of the label values with its top bit set (never 0)
//! and its low bit clear. Claimed slots always form a prefix: a slot is only claimed by a
//! writer that saw every earlier slot claimed, and a slot is never given back.
//!
//! - Lookup (the hot path, lock-free, wait-free): scan the slots in order, each state loaded
//!   with Acquire; stop at the first empty one. A ready slot with the same key has its values
//!   compared; the Acquire load that saw `ready` synchronises with the writer's Release store,
//!   so the values read are the complete ones, and they never change again.
//! - Insert (once per new label combination): scan again; claim the first empty slot with a
//!   CAS `0 -> key`, write the values, publish with a Release store of `key | 1`. A slot
//!   claimed by another writer with the *same* key may hold the same values: wait until it is
//!   ready and compare (so two threads inserting the same values concurrently never make two
//!   series: only one wins the CAS on the first empty slot, the other waits there and then
//!   finds the values). A slot with another key holds other values: skip it.
//! - Encoders read a slot only once it is ready (a claimed slot is skipped: it has no value
//!   yet) and the overflow series at the fixed index `CAP`, so series indices never move
//!   (what the chunked encoder needs to resume between chunks).
//!
//! The only wait is an insert waiting for another insert of the same key to publish. On std
//! that writer is another thread and makes progress. On single-core bare metal an interrupt
//! handler must never wait for the code it interrupted: with the `critical-section` feature
//! every insert runs inside a critical section, so no insert is ever seen half done by
//! another. Without it (e.g. a Cortex-M3 build on `unsafe-assume-single-core`), insert new
//! values from one context only (the handler, or the main loop); lookups and updates of
//! existing series are safe from both. `tests/loom.rs` model-checks concurrent inserts.

use heapless::String;

use crate::atomic::{const_fn, spin_loop, AtomicBool, AtomicU32, Ordering};
use crate::collect::{Collect, Kind, Metric, StrList, Visitor, OVERFLOW_LABEL_VALUE};
use crate::{Counter, Desc, Error, FloatCounter, Gauge, Histogram, StaticEntry};

const EMPTY: u32 = 0;
const READY: u32 = 1;

/// An `UnsafeCell` that loom can check (`with`/`with_mut` as loom's own).
#[cfg(not(loom))]
struct Cell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> Cell<T> {
    const fn new(v: T) -> Self {
        Cell(core::cell::UnsafeCell::new(v))
    }
    fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
    fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(loom)]
struct Cell<T>(loom::cell::UnsafeCell<T>);

#[cfg(loom)]
impl<T> Cell<T> {
    fn new(v: T) -> Self {
        Cell(loom::cell::UnsafeCell::new(v))
    }
    fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        self.0.with(f)
    }
    fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        self.0.with_mut(f)
    }
}

/// One series: its state word, its label values and its metric.
struct Slot<M, const LABELS: usize, const BYTES: usize> {
    state: AtomicU32,
    values: Cell<[String<BYTES>; LABELS]>,
    metric: M,
}

// SAFETY: the only non-`Sync` part is `values`. It is written by exactly one thread, the one
// whose CAS moved `state` from EMPTY to its key (no other thread can win that CAS, and a
// slot is never emptied again), and only before that thread's Release store of `key | READY`.
// Every read happens after an Acquire load of `state` saw READY, so it is ordered after all
// the writes, and no write follows. The metric is shared as `M: Sync` allows.
unsafe impl<M: Sync, const LABELS: usize, const BYTES: usize> Sync for Slot<M, LABELS, BYTES> {}

impl<M, const LABELS: usize, const BYTES: usize> Slot<M, LABELS, BYTES> {
    fn is_ready(&self) -> bool {
        self.state.load(Ordering::Acquire) & READY != 0
    }

    /// The stored values equal `values`. Only after an Acquire load saw this slot ready.
    fn matches(&self, values: &[&str; LABELS]) -> bool {
        self.values.with(|p| {
            // SAFETY: the caller saw READY with Acquire: the values are complete and no
            // thread writes them again (see the `Sync` impl).
            let stored = unsafe { &*p };
            stored.iter().zip(values).all(|(a, b)| a.as_str() == *b)
        })
    }

    /// Calls `f` with the stored values as string slices. Only after an Acquire load saw this
    /// slot ready.
    fn with_values<R>(&self, f: impl FnOnce(&[&str; LABELS]) -> R) -> R {
        self.values.with(|p| {
            // SAFETY: as in `matches`.
            let stored = unsafe { &*p };
            let strs: [&str; LABELS] = core::array::from_fn(|i| stored[i].as_str());
            f(&strs)
        })
    }
}

/// The key of a combination of label values: FNV-1a over the values (each followed by a
/// separator), top bit set so it is never EMPTY, low bit clear for the READY flag.
fn key_of(values: &[&str]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for v in values {
        for b in v.bytes().chain(core::iter::once(0xff)) {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    (h | 0x8000_0000) & !READY
}

/// Runs an insert: inside a critical section with the `critical-section` feature (an
/// interrupt handler then never meets a half-written slot), as is otherwise.
#[inline]
fn claiming<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(all(feature = "critical-section", not(loom)))]
    {
        critical_section::with(|_| f())
    }
    #[cfg(not(all(feature = "critical-section", not(loom))))]
    {
        f()
    }
}

/// Series of one metric type keyed by label values learned at run time, with a fixed
/// capacity: at most `CAP` series of `LABELS` values of at most `BYTES` bytes each, all inline,
/// `const`-constructible for a `static`. Members: [`Counter`], [`FloatCounter`], [`Gauge`] and
/// [`Histogram`], made by [`counters`](Self::counters), [`float_counters`](Self::float_counters),
/// [`gauges`](Self::gauges) and [`histograms`](Self::histograms).
///
/// Past `CAP` series, and for a value longer than `BYTES`, new label values are counted in the
/// overflow series (every label value `__overflow__`), like a run-time `Family`. Lookups and
/// updates never wait; a new series is claimed with one CAS and published with a Release
/// store (the argument, for threads and interrupt handlers, is at the top of
/// `src/heapless_family.rs`; `tests/loom.rs` model-checks it).
///
/// ```
/// use metrics_core::{Counter, Desc, Format, HeaplessFamily, StaticEntry, StaticRegistry};
///
/// // 4 error codes of up to 8 bytes; a fifth one goes to the overflow series.
/// static ERRORS: HeaplessFamily<Counter, 4, 1, 8> = HeaplessFamily::counters();
/// static REGISTRY: StaticRegistry = StaticRegistry::new(&[StaticEntry::heapless_family(
///     Desc::new("uart_errors", "UART errors by code.").labels(&["code"]),
///     &ERRORS,
/// )]);
///
/// ERRORS.labels(&["E12"]).inc();
/// for code in ["a", "b", "c", "d", "e"] {
///     ERRORS.labels(&[code]).inc();
/// }
/// let mut out = String::new();
/// metrics_core::encode(&REGISTRY, Format::Text, &mut out).unwrap();
/// assert!(out.contains("uart_errors_total{code=\"E12\"} 1\n"));
/// assert!(out.contains("uart_errors_total{code=\"__overflow__\"} 2\n"));
/// ```
pub struct HeaplessFamily<M, const CAP: usize, const LABELS: usize, const BYTES: usize> {
    slots: [Slot<M, LABELS, BYTES>; CAP],
    overflow: M,
    overflow_used: AtomicBool,
}

#[cfg(not(loom))]
macro_rules! slots {
    ($metric:expr) => {
        [const {
            Slot {
                state: AtomicU32::new(EMPTY),
                values: Cell::new([const { String::new() }; LABELS]),
                metric: $metric,
            }
        }; CAP]
    };
}
#[cfg(loom)]
macro_rules! slots {
    ($metric:expr) => {
        core::array::from_fn(|_| Slot {
            state: AtomicU32::new(EMPTY),
            values: Cell::new(core::array::from_fn(|_| String::new())),
            metric: $metric,
        })
    };
}

macro_rules! scalar_constructor {
    ($ty:ty, $name:ident, $what:literal) => {
        impl<const CAP: usize, const LABELS: usize, const BYTES: usize>
            HeaplessFamily<$ty, CAP, LABELS, BYTES>
        {
            const_fn! {
                #[doc = concat!("A family of ", $what, " with no series yet.")]
                pub fn $name() -> Self {
                    HeaplessFamily {
                        slots: slots!(<$ty>::new()),
                        overflow: <$ty>::new(),
                        overflow_used: AtomicBool::new(false),
                    }
                }
            }
        }
    };
}

scalar_constructor!(Counter, counters, "counters");
scalar_constructor!(FloatCounter, float_counters, "float counters");
scalar_constructor!(Gauge, gauges, "gauges");

/// Valid bounds of any length, for the slots' histograms until `new` sets the real ones (an
/// array repeat in a `const fn` cannot use the argument).
#[cfg(not(loom))]
struct Placeholder<const N: usize>;

#[cfg(not(loom))]
impl<const N: usize> Placeholder<N> {
    const BOUNDS: &'static [f64; N] = &crate::linear_buckets(1.0, 1.0);
}

impl<const N: usize, const CAP: usize, const LABELS: usize, const BYTES: usize>
    HeaplessFamily<Histogram<N>, CAP, LABELS, BYTES>
{
    const_fn! {
        /// A family of histograms over `bounds` with no series yet. Panics (a compile error
        /// in a `static`) on invalid bounds.
        pub fn histograms(bounds: &'static [f64; N]) -> Self {
            #[cfg(not(loom))]
            let mut family = HeaplessFamily {
                slots: slots!(Histogram::new(Placeholder::<N>::BOUNDS)),
                overflow: Histogram::new(bounds),
                overflow_used: AtomicBool::new(false),
            };
            #[cfg(loom)]
            let mut family = HeaplessFamily {
                slots: slots!(Histogram::new(bounds)),
                overflow: Histogram::new(bounds),
                overflow_used: AtomicBool::new(false),
            };
            let mut i = 0;
            while i < CAP {
                family.slots[i].metric = Histogram::new(bounds);
                i += 1;
            }
            family
        }
    }
}

impl<const N: usize, const CAP: usize, const LABELS: usize, const BYTES: usize>
    HeaplessFamily<crate::NativeHistogram<N>, CAP, LABELS, BYTES>
{
    const_fn! {
        /// A family of native histograms (room for `N` buckets each, starting at `schema`,
        /// zero bucket up to `zero_threshold`) with no series yet. Panics (a compile error in
        /// a `static`) as [`NativeHistogram::new`](crate::NativeHistogram::new) does.
        pub fn native_histograms(schema: i8, zero_threshold: f64) -> Self {
            let mut family = HeaplessFamily {
                slots: slots!(crate::NativeHistogram::new(0, 0.0)),
                overflow: crate::NativeHistogram::new(schema, zero_threshold),
                overflow_used: AtomicBool::new(false),
            };
            let mut i = 0;
            while i < CAP {
                family.slots[i].metric = crate::NativeHistogram::new(schema, zero_threshold);
                i += 1;
            }
            family
        }
    }
}

impl<M, const CAP: usize, const LABELS: usize, const BYTES: usize>
    HeaplessFamily<M, CAP, LABELS, BYTES>
{
    /// The series for `values`, created at zero if new; past the capacity, or for a value
    /// longer than `BYTES`, the overflow series (label values `__overflow__`). No allocation;
    /// a lookup is a scan of at most `CAP` slots.
    #[inline]
    pub fn labels(&self, values: &[&str; LABELS]) -> &M {
        match self.try_labels(values) {
            Ok(m) => m,
            Err(_) => self.overflow(),
        }
    }

    /// Like [`HeaplessFamily::labels`], but [`Error::CardinalityLimit`] when the family is
    /// full and the values are new, [`Error::LabelValueTooLong`] when a new value is longer
    /// than `BYTES`.
    pub fn try_labels(&self, values: &[&str; LABELS]) -> Result<&M, Error> {
        let key = key_of(values);
        if let Some(m) = self.get_keyed(values, key) {
            return Ok(m);
        }
        if values.iter().any(|v| v.len() > BYTES) {
            return Err(Error::LabelValueTooLong { capacity: BYTES });
        }
        self.insert(values, key)
            .ok_or(Error::CardinalityLimit { limit: CAP })
    }

    /// The series for `values` if it exists (never creates one).
    pub fn get(&self, values: &[&str; LABELS]) -> Option<&M> {
        self.get_keyed(values, key_of(values))
    }

    /// Series created so far (claimed slots; the overflow series not counted).
    pub fn len(&self) -> usize {
        self.slots
            .iter()
            .take_while(|s| s.state.load(Ordering::Acquire) != EMPTY)
            .count()
    }

    /// True when no series was created yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most series the family holds (`CAP`).
    pub const fn capacity(&self) -> usize {
        CAP
    }

    /// True once label values were folded into the overflow series.
    pub fn overflowed(&self) -> bool {
        self.overflow_used.load(Ordering::Acquire)
    }

    /// Calls `f` with the label values and metric of every published series, in creation
    /// order (for tests and tooling).
    pub fn for_each(&self, mut f: impl FnMut(&[&str; LABELS], &M)) {
        for slot in &self.slots {
            if slot.is_ready() {
                slot.with_values(|v| f(v, &slot.metric));
            }
        }
    }

    fn overflow(&self) -> &M {
        if !self.overflow_used.load(Ordering::Relaxed) {
            self.overflow_used.store(true, Ordering::Release);
        }
        &self.overflow
    }

    #[inline]
    fn get_keyed(&self, values: &[&str; LABELS], key: u32) -> Option<&M> {
        for slot in &self.slots {
            let s = slot.state.load(Ordering::Acquire);
            if s == EMPTY {
                return None;
            }
            if s == key | READY && slot.matches(values) {
                return Some(&slot.metric);
            }
        }
        None
    }

    #[cold]
    fn insert(&self, values: &[&str; LABELS], key: u32) -> Option<&M> {
        claiming(|| {
            for slot in &self.slots {
                let mut s = slot.state.load(Ordering::Acquire);
                loop {
                    if s == EMPTY {
                        match slot.state.compare_exchange(
                            EMPTY,
                            key,
                            Ordering::Acquire,
                            Ordering::Acquire,
                        ) {
                            Ok(_) => {
                                slot.values.with_mut(|p| {
                                    // SAFETY: our CAS claimed the slot: no other thread
                                    // reads or writes its values until the Release below.
                                    let stored = unsafe { &mut *p };
                                    for (dst, v) in stored.iter_mut().zip(values) {
                                        dst.clear();
                                        // Fits: every value was checked against BYTES.
                                        let _ = dst.push_str(v);
                                    }
                                });
                                slot.state.store(key | READY, Ordering::Release);
                                return Some(&slot.metric);
                            }
                            Err(now) => {
                                s = now;
                                continue;
                            }
                        }
                    }
                    if s & !READY != key {
                        break; // other values: the next slot
                    }
                    if s & READY == 0 {
                        // The same key, being written: it may be our values.
                        spin_loop();
                        s = slot.state.load(Ordering::Acquire);
                        continue;
                    }
                    if slot.matches(values) {
                        return Some(&slot.metric);
                    }
                    break;
                }
            }
            None
        })
    }
}

impl<M, const CAP: usize, const LABELS: usize, const BYTES: usize> core::fmt::Debug
    for HeaplessFamily<M, CAP, LABELS, BYTES>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HeaplessFamily")
            .field("len", &self.len())
            .field("capacity", &CAP)
            .field("labels", &LABELS)
            .field("bytes_per_value", &BYTES)
            .field("overflowed", &self.overflowed())
            .finish_non_exhaustive()
    }
}

impl<M: Metric, const CAP: usize, const LABELS: usize, const BYTES: usize> Collect
    for HeaplessFamily<M, CAP, LABELS, BYTES>
{
    fn series_count(&self) -> usize {
        if self.overflowed() {
            CAP + 1
        } else {
            self.len()
        }
    }

    fn collect(&self, index: usize, visit: &mut Visitor<'_>) -> Result<(), Error> {
        if let Some(slot) = self.slots.get(index) {
            if !slot.is_ready() {
                return Ok(()); // claimed, not yet published: no value to show
            }
            return slot.with_values(|values| {
                let values = StrList::Borrowed(values);
                slot.metric.collect(0, &mut |_, v| visit(values, v))
            });
        }
        if index == CAP && self.overflowed() {
            let values = StrList::Repeat(OVERFLOW_LABEL_VALUE, LABELS);
            return self.overflow.collect(0, &mut |_, v| visit(values, v));
        }
        Ok(())
    }

    fn label_count(&self) -> usize {
        LABELS
    }
}

impl<M: Metric, const CAP: usize, const LABELS: usize, const BYTES: usize> Metric
    for HeaplessFamily<M, CAP, LABELS, BYTES>
{
    const KIND: Kind = M::KIND;
}

impl StaticEntry {
    /// A fixed-capacity family whose label values arrive at run time. Fails the build when
    /// the description's label names are not `LABELS`.
    pub const fn heapless_family<
        M: Metric + 'static,
        const CAP: usize,
        const LABELS: usize,
        const BYTES: usize,
    >(
        desc: Desc<'static>,
        family: &'static HeaplessFamily<M, CAP, LABELS, BYTES>,
    ) -> Self {
        assert!(
            desc.label_names().len() == LABELS,
            "the family's number of label values differs from the description's label names"
        );
        StaticEntry::collector(desc, M::KIND, family)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::vec::Vec;

    static STATIC: HeaplessFamily<Counter, 3, 2, 4> = HeaplessFamily::counters();

    #[test]
    fn a_static_family() {
        STATIC.labels(&["GET", "200"]).inc();
        STATIC.labels(&["GET", "200"]).inc();
        STATIC.labels(&["PUT", "500"]).inc();
        assert_eq!(STATIC.len(), 2);
        assert_eq!(STATIC.get(&["GET", "200"]).map(Counter::get), Some(2));
        assert!(STATIC.get(&["GET", "404"]).is_none());
        let mut seen = Vec::new();
        STATIC.for_each(|v, c| seen.push(std::format!("{}/{}={}", v[0], v[1], c.get())));
        assert_eq!(seen, ["GET/200=2", "PUT/500=1"]);
    }

    #[test]
    fn overflow_past_capacity_and_length() {
        let f: HeaplessFamily<Gauge, 2, 1, 3> = HeaplessFamily::gauges();
        f.labels(&["a"]).inc();
        f.labels(&["b"]).inc();
        assert_eq!(f.series_count(), 2);
        assert!(!f.overflowed());
        assert_eq!(
            f.try_labels(&["c"]).unwrap_err(),
            Error::CardinalityLimit { limit: 2 }
        );
        assert!(!f.overflowed(), "try_labels does not fold");
        f.labels(&["c"]).inc();
        f.labels(&["d"]).inc();
        assert!(f.overflowed());
        assert_eq!(f.series_count(), 3);
        assert_eq!(f.overflow.get(), 2.0);
        assert_eq!(
            f.labels(&["a"]).get(),
            1.0,
            "existing series still reachable"
        );

        let g: HeaplessFamily<Counter, 4, 1, 3> = HeaplessFamily::counters();
        assert_eq!(
            g.try_labels(&["long"]).unwrap_err(),
            Error::LabelValueTooLong { capacity: 3 }
        );
        g.labels(&["long"]).inc();
        assert!(g.overflowed() && g.is_empty());
        assert_eq!(g.series_count(), 5);
        let mut seen = Vec::new();
        for i in 0..g.series_count() {
            g.collect(i, &mut |l, v| {
                seen.push((l.get(0).len(), matches!(v, crate::Value::Counter(1))));
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(seen, [(OVERFLOW_LABEL_VALUE.len(), true)]);
    }

    #[test]
    fn histogram_members() {
        static H: HeaplessFamily<Histogram<2>, 2, 1, 8> = HeaplessFamily::histograms(&[1.0, 2.0]);
        H.labels(&["s1"]).observe(0.5);
        H.labels(&["s1"]).observe(3.0);
        H.labels(&["s2"]).observe(1.5);
        assert_eq!(H.labels(&["s1"]).count(), 2);
        assert_eq!(H.labels(&["s1"]).bounds(), &[1.0, 2.0]);
        assert_eq!(H.labels(&["s2"]).sum(), 1.5);
    }

    #[test]
    fn concurrent_inserts_and_increments() {
        const THREADS: usize = 4;
        const ROUNDS: usize = if cfg!(miri) { 50 } else { 20_000 };
        const VALUES: usize = 12;
        let f: Arc<HeaplessFamily<Counter, 10, 1, 4>> = Arc::new(HeaplessFamily::counters());
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let f = f.clone();
                std::thread::spawn(move || {
                    for i in 0..ROUNDS {
                        let v = std::format!("v{}", (i + t) % VALUES);
                        f.labels(&[&v]).inc();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(f.len(), 10);
        let mut names = Vec::new();
        let mut total = 0;
        f.for_each(|v, c| {
            names.push(std::string::String::from(v[0]));
            total += c.get();
        });
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 10, "no value twice: {names:?}");
        assert!(f.overflowed());
        total += f.overflow.get();
        assert_eq!(total, (THREADS * ROUNDS) as u64);
    }
}
