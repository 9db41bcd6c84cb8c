//! Histograms with fixed buckets and consistent snapshots.
//!
//! # The consistency scheme (Go client's hot/cold shards)
//!
//! A histogram has two *shards*, each with its bucket counters and a sum. One 64-bit word,
//! `hot_count`, holds in bit 63 which shard is *hot* and in bits 0..63 how many observations
//! have *started*.
//!
//! - `observe(v)`: `n = hot_count.fetch_add(1)` both registers the observation and tells the
//!   hot shard; the observer adds to that shard's sum, then increments its bucket (Release):
//!   the bucket increment is the observation's last write, so the buckets double as the
//!   shard's count of *completed* observations (Go's client keeps a separate `done` counter;
//!   dropping it saves one contended RMW per observation). Two counter RMWs and a float CAS,
//!   no lock: safe from interrupt handlers and many threads.
//! - A snapshot (encode) takes a small spin lock that only snapshots contend for, then
//!   flips the hot bit with one `fetch_add(1 << 63)`. The value it read says how many
//!   observations started before the flip (`count`) and which shard was hot: that shard is now
//!   *cold*. Every observation that started before the flip went to the cold shard, every later
//!   one goes to the new hot shard. The snapshot waits until the cold shard's buckets add up
//!   to `count`. Each bucket only grows while those observers finish and ends at its final
//!   value, so the loads (each Acquire, each reading the last increment of its bucket's
//!   release sequence, so every sum written before it is visible) add up to `count` exactly
//!   when every one of them has finished: then the cold shard
//!   holds exactly the first `count` observations, no writer touches it any more, and the
//!   encoder reads it in place: buckets, sum and count of one and the same set of observations.
//!   Finally it adds the cold shard into the hot one, zeroes the cold one and unlocks. So the
//!   hot shard again holds the cumulative totals for the next flip.
//!
//! The wait is bounded by the time an observer takes between its first and last RMW; the
//! observers never wait.
//!
//! A shard may carry more state written by the same observations (`ShardExt`: the native
//! buckets of `native.rs`). An observer writes it after the sum and before its bucket
//! increment, so the same Release/Acquire pairs publish it to the snapshot; the snapshot
//! reads it once the cold shard is complete and folds it into the hot shard like the buckets. `tests/loom.rs` model-checks observe-versus-snapshot and
//! `tests/stress.rs` runs it with real threads.

use crate::atomic::{const_fn, spin_loop, AtomicBool, AtomicU64, Ordering};
use crate::buckets::bounds_valid;
use crate::collect::{Collect, HistogramValue, Kind, Metric, StrList, Value, Visitor};
use crate::counter::add_f64;
use crate::Error;

const HOT_BIT: u64 = 1 << 63;

/// State a shard carries besides its classic buckets and sum, written by the same
/// observations (the native buckets of `native.rs`; `()` for a classic histogram).
pub(crate) trait ShardExt {
    /// Records `v`; called by an observer of this shard after the sum and before the bucket
    /// increment that completes the observation.
    fn record(&self, v: f64);
    /// Prepares the cold shard, complete and touched by no observer, to be read.
    fn settle(&self);
    /// What [`view`](ShardExt::view) returns: its own type per extension, so that a classic
    /// histogram's snapshot (`NoNative`) refers to no native bucket code (a firmware's flash).
    type View<'a>: crate::collect::NativeHistogramValue
    where
        Self: 'a;
    /// The native view of the settled cold shard.
    fn view(&self) -> Option<Self::View<'_>>;
    /// Adds this (cold, settled) shard's state into `hot` and clears it.
    fn fold_into(&self, hot: &Self);
}

impl ShardExt for () {
    #[inline(always)]
    fn record(&self, _: f64) {}
    fn settle(&self) {}
    type View<'a> = NoNative;
    fn view(&self) -> Option<NoNative> {
        None
    }
    fn fold_into(&self, _: &Self) {}
}

/// The native view of a classic histogram's shard, which has none: no value exists.
pub(crate) enum NoNative {}

impl crate::collect::NativeHistogramValue for NoNative {
    fn schema(&self) -> i8 {
        match *self {}
    }
    fn zero_threshold(&self) -> f64 {
        match *self {}
    }
    fn zero_count(&self) -> u64 {
        match *self {}
    }
    fn bucket_len(&self, _: crate::collect::Sign) -> usize {
        match *self {}
    }
    fn bucket(&self, _: crate::collect::Sign, _: usize) -> (i32, u64) {
        match *self {}
    }
}

/// One shard: non-cumulative bucket counts (finite bounds), the `+Inf` bucket and the sum's
/// bits. The buckets add up to the number of completed observations.
#[derive(Debug)]
pub(crate) struct Shard<C, X = ()> {
    pub(crate) buckets: C,
    pub(crate) inf: AtomicU64,
    pub(crate) sum: AtomicU64,
    pub(crate) ext: X,
}

impl<C: AsRef<[AtomicU64]>, X> Shard<C, X> {
    /// Completed observations: the buckets' total, each read with Acquire.
    fn completed(&self) -> u64 {
        self.buckets
            .as_ref()
            .iter()
            .chain(core::iter::once(&self.inf))
            .fold(0u64, |n, b| n.wrapping_add(b.load(Ordering::Acquire)))
    }
}

/// The lock-free state shared by [`Histogram`] and [`DynHistogram`]; `C` is the bucket storage
/// (`[AtomicU64; N]` or a boxed slice).
#[derive(Debug)]
pub(crate) struct Core<C, X = ()> {
    pub(crate) hot_count: AtomicU64,
    pub(crate) shards: [Shard<C, X>; 2],
    pub(crate) snapshotting: AtomicBool,
}

impl<C: AsRef<[AtomicU64]>, X: ShardExt> Core<C, X> {
    #[inline]
    pub(crate) fn observe(&self, bounds: &[f64], v: f64) {
        // Acquire pairs with the snapshot's AcqRel flip: the zeroing of a shard that happened
        // before the flip is visible before we add to it.
        let n = self.hot_count.fetch_add(1, Ordering::Acquire);
        let shard = &self.shards[(n >> 63) as usize];
        add_f64(&shard.sum, v, Ordering::Relaxed);
        shard.ext.record(v);
        // Last, with Release: the snapshot that sees this increment sees the sum above.
        let i = bucket_index(bounds, v);
        let buckets = shard.buckets.as_ref();
        let bucket = buckets.get(i).unwrap_or(&shard.inf);
        bucket.fetch_add(1, Ordering::Release);
    }

    /// `observe` for many observations at once: `counts[i]` in bucket `i` (the last one
    /// `+Inf`), their values summing to `sum`. Registered with one `fetch_add` of their number,
    /// so a snapshot holds all of them or none: the flip's count includes them all, and it
    /// waits until every bucket increment below has landed, exactly as for one observation
    /// (each increment is a Release after the sum, so whichever the snapshot sees last, it
    /// sees the sum).
    /// `extra` writes the shard's other state for the same observations (native buckets).
    pub(crate) fn observe_counts(&self, counts: &[u64], sum: f64, extra: impl FnOnce(&X)) {
        let total = counts.iter().fold(0u64, |n, c| n.wrapping_add(*c));
        if total == 0 {
            return;
        }
        let n = self.hot_count.fetch_add(total, Ordering::Acquire);
        let shard = &self.shards[(n >> 63) as usize];
        add_f64(&shard.sum, sum, Ordering::Relaxed);
        extra(&shard.ext);
        let buckets = shard
            .buckets
            .as_ref()
            .iter()
            .chain(core::iter::once(&shard.inf));
        for (bucket, c) in buckets.zip(counts) {
            if *c != 0 {
                bucket.fetch_add(*c, Ordering::Release);
            }
        }
    }

    pub(crate) fn snapshot<R>(
        &self,
        bounds: &[f64],
        f: impl FnOnce(&dyn HistogramValue) -> R,
    ) -> R {
        while self
            .snapshotting
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spin_loop();
        }
        // Flip the hot shard; `n` tells how many observations started before.
        let n = self.hot_count.fetch_add(HOT_BIT, Ordering::AcqRel);
        let count = n & !HOT_BIT;
        let cold_idx = (n >> 63) as usize;
        let cold = &self.shards[cold_idx];
        let hot = &self.shards[cold_idx ^ 1];
        while cold.completed() != count {
            spin_loop();
        }
        cold.ext.settle();
        let view = ShardView {
            bounds,
            buckets: cold.buckets.as_ref(),
            inf: &cold.inf,
            sum: f64::from_bits(cold.sum.load(Ordering::Relaxed)),
            native: cold.ext.view(),
        };
        let r = f(&view as &dyn HistogramValue);
        // Fold the cold shard into the hot one and clear it for the next flip.
        for (c, h) in cold.buckets.as_ref().iter().zip(hot.buckets.as_ref()) {
            let v = c.swap(0, Ordering::Relaxed);
            if v != 0 {
                h.fetch_add(v, Ordering::Relaxed);
            }
        }
        let v = cold.inf.swap(0, Ordering::Relaxed);
        if v != 0 {
            hot.inf.fetch_add(v, Ordering::Relaxed);
        }
        let s = f64::from_bits(cold.sum.swap(0, Ordering::Relaxed));
        add_f64(&hot.sum, s, Ordering::Relaxed);
        cold.ext.fold_into(&hot.ext);
        self.snapshotting.store(false, Ordering::Release);
        r
    }
}

/// The bucket of `v`: the first bound `>= v` (Prometheus' `le`), `bounds.len()` for `+Inf`
/// and NaN.
#[inline]
pub(crate) fn bucket_index(bounds: &[f64], v: f64) -> usize {
    if v.is_nan() {
        bounds.len()
    } else if bounds.len() <= 16 {
        // Short layouts: a linear scan beats the branches of a binary search.
        let mut i = 0;
        while i < bounds.len() && v > bounds[i] {
            i += 1;
        }
        i
    } else {
        bounds.partition_point(|b| *b < v)
    }
}

/// A consistent view of one histogram, read in place while the snapshot lock is held; `V`
/// is its shards' native view ([`ShardExt::View`]).
struct ShardView<'a, V> {
    bounds: &'a [f64],
    buckets: &'a [AtomicU64],
    inf: &'a AtomicU64,
    sum: f64,
    native: Option<V>,
}

impl<V: crate::collect::NativeHistogramValue> HistogramValue for ShardView<'_, V> {
    fn bounds(&self) -> &[f64] {
        self.bounds
    }
    #[inline]
    fn bucket(&self, i: usize) -> u64 {
        match self.buckets.get(i) {
            Some(b) => b.load(Ordering::Relaxed),
            None => self.inf.load(Ordering::Relaxed),
        }
    }
    fn sum(&self) -> f64 {
        self.sum
    }
    fn native(&self) -> Option<&dyn crate::collect::NativeHistogramValue> {
        self.native
            .as_ref()
            .map(|n| n as &dyn crate::collect::NativeHistogramValue)
    }
}

macro_rules! shard {
    ($buckets:expr) => {
        shard!($buckets, ())
    };
    ($buckets:expr, $ext:expr) => {
        Shard {
            buckets: $buckets,
            inf: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            ext: $ext,
        }
    };
}
pub(crate) use shard;

#[cfg(not(loom))]
macro_rules! zeros {
    ($n:expr) => {
        [const { AtomicU64::new(0) }; $n]
    };
}
#[cfg(loom)]
macro_rules! zeros {
    ($n:expr) => {
        core::array::from_fn(|_| AtomicU64::new(0))
    };
}
pub(crate) use zeros;

/// What [`Histogram`] and `DynHistogram` share: the hot path, snapshots and `Collect`, over
/// their `bounds` and `core` fields.
macro_rules! histogram_api {
    ([$($generics:tt)*] $ty:ty) => {
        impl<$($generics)*> $ty {
            /// Records one observation. Lock-free, no allocation, safe from interrupt handlers.
            #[inline]
            pub fn observe(&self, v: f64) {
                self.core.observe(&self.bounds[..], v);
            }

            /// Calls `f` with a consistent snapshot.
            pub fn snapshot<R>(&self, f: impl FnOnce(&dyn HistogramValue) -> R) -> R {
                self.core.snapshot(&self.bounds[..], |v| f(v))
            }

            /// The number of observations (a snapshot).
            pub fn count(&self) -> u64 {
                self.snapshot(|s| s.count())
            }

            /// The sum of observations (a snapshot).
            pub fn sum(&self) -> f64 {
                self.snapshot(|s| s.sum())
            }
        }

        impl<$($generics)*> Collect for $ty {
            fn series_count(&self) -> usize {
                1
            }
            fn collect(&self, index: usize, visit: &mut Visitor<'_>) -> Result<(), Error> {
                if index != 0 {
                    return Ok(());
                }
                self.snapshot(|v| visit(StrList::EMPTY, Value::Histogram(v)))
            }
        }

        impl<$($generics)*> Metric for $ty {
            const KIND: Kind = Kind::Histogram;
        }
    };
}
pub(crate) use histogram_api;

/// `observe_counts` of the classic histograms (a native one restores its native buckets too).
macro_rules! classic_restore {
    ([$($generics:tt)*] $ty:ty) => {
        impl<$($generics)*> $ty {
            /// Adds observations counted elsewhere, as if each had been observed here:
            /// `counts[i]` observations in bucket `i` alone (not cumulative; the last count is
            /// the `+Inf` bucket's, so there is one more count than finite bounds), whose
            /// values add up to `sum`. Restores a histogram saved earlier (a state file that
            /// outlives the process) or merges another's snapshot. Lock-free; a snapshot holds
            /// all of them or none. No counts (all zero) add nothing, `sum` included.
            ///
            /// # Errors
            ///
            /// [`Error::BucketCount`] when `counts` does not have one count per bucket.
            pub fn observe_counts(&self, counts: &[u64], sum: f64) -> Result<(), Error> {
                let expected = self.bounds.len() + 1;
                if counts.len() != expected {
                    return Err(Error::BucketCount {
                        expected,
                        got: counts.len(),
                    });
                }
                self.core.observe_counts(counts, sum, |_| ());
                Ok(())
            }
        }
    };
}

/// A histogram with `N` finite bucket bounds in `'static` memory (flash on firmware), all state
/// inline: `const`-constructible for `static`s, no heap.
///
/// ```
/// use metrics_core::{Histogram, DEFAULT_BUCKETS};
/// static LATENCY: Histogram<11> = Histogram::new(&DEFAULT_BUCKETS);
/// LATENCY.observe(0.042);
/// assert_eq!(LATENCY.count(), 1);
/// ```
#[derive(Debug)]
pub struct Histogram<const N: usize> {
    bounds: &'static [f64; N],
    core: Core<[AtomicU64; N]>,
}

impl<const N: usize> Core<[AtomicU64; N]> {
    const_fn! {
        /// Both shards at zero, the first one hot.
        pub(crate) fn new() -> Self {
            Core {
                hot_count: AtomicU64::new(0),
                shards: [shard!(zeros!(N)), shard!(zeros!(N))],
                snapshotting: AtomicBool::new(false),
            }
        }
    }
}

impl<const N: usize> Histogram<N> {
    const_fn! {
        /// A histogram over `bounds` (strictly increasing, finite, `+Inf` implied). Panics (a
        /// compile error in a `static`) on invalid bounds.
        pub fn new(bounds: &'static [f64; N]) -> Self {
            assert!(bounds_valid(bounds), "histogram bounds must be finite, strictly increasing and non-empty");
            Histogram {
                bounds,
                core: Core::new(),
            }
        }
    }

    /// The finite bucket bounds.
    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }
}

histogram_api!([const N: usize] Histogram<N>);
classic_restore!([const N: usize] Histogram<N>);

#[cfg(feature = "alloc")]
pub use dynamic::DynHistogram;

#[cfg(feature = "alloc")]
mod dynamic {
    use super::*;
    use alloc::boxed::Box;
    use alloc::sync::Arc;

    /// A histogram whose bounds are chosen at run time (run-time registries, WASM). Same
    /// scheme and guarantees as [`Histogram`]; bounds are shared by an `Arc`, so the series of
    /// a labelled family share one copy.
    #[derive(Debug)]
    pub struct DynHistogram {
        bounds: Arc<[f64]>,
        core: Core<Box<[AtomicU64]>>,
    }

    impl DynHistogram {
        /// A histogram over `bounds` (a trailing `+Inf` is accepted and dropped).
        pub fn new(bounds: &[f64]) -> Result<Self, Error> {
            Ok(Self::with_shared_bounds(
                crate::buckets::validate_buckets(bounds)?.into(),
            ))
        }

        /// A histogram sharing already validated bounds.
        pub(crate) fn with_shared_bounds(bounds: Arc<[f64]>) -> Self {
            let mk = || {
                (0..bounds.len())
                    .map(|_| AtomicU64::new(0))
                    .collect::<Box<[_]>>()
            };
            DynHistogram {
                core: Core {
                    hot_count: AtomicU64::new(0),
                    shards: [shard!(mk()), shard!(mk())],
                    snapshotting: AtomicBool::new(false),
                },
                bounds,
            }
        }

        /// The finite bucket bounds.
        pub fn bounds(&self) -> &[f64] {
            &self.bounds
        }

        pub(crate) fn shared_bounds(&self) -> Arc<[f64]> {
            self.bounds.clone()
        }
    }

    histogram_api!([] DynHistogram);
    classic_restore!([] DynHistogram);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::DEFAULT_BUCKETS;

    fn cumulative(h: &dyn HistogramValue) -> ([u64; 12], u64, f64) {
        let mut out = [0; 12];
        let mut acc = 0;
        for (i, o) in out.iter_mut().enumerate() {
            acc += h.bucket(i);
            *o = acc;
        }
        (out, h.count(), h.sum())
    }

    #[test]
    fn buckets_follow_le() {
        static H: Histogram<11> = Histogram::new(&DEFAULT_BUCKETS);
        for v in [0.005, 0.0051, 1.0, 10.0, 11.0, f64::NAN, -1.0] {
            H.observe(v);
        }
        let (cum, count, sum) = H.snapshot(cumulative);
        // -1 and 0.005 in the first bucket (le 0.005), 0.0051 in le=0.01, 1.0 in le=1, 10 in
        // le=10, 11 and NaN in +Inf.
        assert_eq!(cum, [2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 5, 7]);
        assert_eq!(count, 7);
        assert!(sum.is_nan());
    }

    #[test]
    fn snapshots_repeat_and_accumulate() {
        let h = Histogram::new(&[1.0, 2.0]);
        h.observe(0.5);
        assert_eq!(h.count(), 1);
        assert_eq!(h.count(), 1, "a second snapshot sees the same totals");
        h.observe(1.5);
        h.observe(3.0);
        assert_eq!(h.count(), 3);
        assert_eq!(h.sum(), 5.0);
        h.snapshot(|s| {
            assert_eq!((s.bucket(0), s.bucket(1), s.bucket(2)), (1, 1, 1));
        });
    }

    #[test]
    fn long_layouts_use_binary_search() {
        const B: [f64; 40] = crate::linear_buckets(1.0, 1.0);
        let h = Histogram::new(&B);
        for v in [0.5, 1.0, 1.5, 40.0, 40.5, f64::NAN] {
            h.observe(v);
        }
        h.snapshot(|s| {
            assert_eq!(s.bucket(0), 2);
            assert_eq!(s.bucket(1), 1);
            assert_eq!(s.bucket(39), 1);
            assert_eq!(s.bucket(40), 2);
        });
        assert_eq!(bucket_index(&B, 2.5), linear_index(&B, 2.5));
    }

    fn linear_index(b: &[f64], v: f64) -> usize {
        b.iter().position(|x| v <= *x).unwrap_or(b.len())
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn dynamic_histogram() {
        assert_eq!(DynHistogram::new(&[]).unwrap_err(), Error::InvalidBuckets);
        assert_eq!(
            DynHistogram::new(&[2.0, 1.0]).unwrap_err(),
            Error::InvalidBuckets
        );
        let h = DynHistogram::new(&[1.0, f64::INFINITY]).unwrap();
        assert_eq!(h.bounds(), &[1.0]);
        h.observe(0.5);
        h.observe(2.0);
        assert_eq!(h.count(), 2);
        assert_eq!(h.sum(), 2.5);
    }
}
