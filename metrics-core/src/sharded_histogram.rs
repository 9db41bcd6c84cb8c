//! A histogram for the hottest paths: one hot/cold pair per thread, no contention.
//!
//! A [`Histogram`](crate::Histogram)'s observations all update one pair of shards: when several
//! cores observe at once, the lines holding its start counter, sum and buckets move between
//! them on every observation. [`ShardedHistogram`] gives each thread its own [`Histogram`]-style
//! core (threads spread round-robin over `S` cores, each on its own 128-byte lines, the same
//! assignment [`ShardedCounter`](crate::ShardedCounter) uses), so an observation stays in its
//! core's cache.
//!
//! A snapshot takes a consistent snapshot of every core in turn (each by the hot/cold scheme
//! of `histogram.rs`) and adds them up: the buckets, `_count` and `_sum` it reports are those
//! of one set of observations (the union of each core's set), so `_count` equals the `+Inf`
//! bucket and `_sum` belongs to the same observations, as for the plain histogram.
//!
//! Memory: `S` cores of `2 × (N + 2) × 8` bytes plus 16, each rounded up to 128 bytes (about
//! 4 KiB for 8 buckets and the default 16 cores), against one core for a `Histogram`. Use it
//! for histograms many threads observe millions of times a second; it needs `std` (a
//! thread-local picks the core), so firmware keeps the plain one.

use crate::atomic::AtomicU64;
use crate::buckets::bounds_valid;
use crate::collect::{Collect, HistogramValue, Kind, Metric, StrList, Value, Visitor};
use crate::histogram::Core;
use crate::sharded::shard;
use crate::Error;

/// One core on lines of its own.
#[derive(Debug)]
#[repr(align(128))]
struct Padded<const N: usize>(Core<[AtomicU64; N]>);

/// A histogram whose observations from different threads never contend: `N` finite bounds in
/// `'static` memory, `S` per-thread cores (16 by default); `const`-constructible.
///
/// ```
/// use metrics_core::{ShardedHistogram, DEFAULT_BUCKETS};
/// static LATENCY: ShardedHistogram<11> = ShardedHistogram::new(&DEFAULT_BUCKETS);
/// std::thread::scope(|s| {
///     for t in 0..4 {
///         s.spawn(move || (0..1000).for_each(|i| LATENCY.observe(f64::from(t * 1000 + i) / 1e4)));
///     }
/// });
/// assert_eq!(LATENCY.count(), 4000);
/// ```
#[derive(Debug)]
pub struct ShardedHistogram<const N: usize, const S: usize = 16> {
    bounds: &'static [f64; N],
    cores: [Padded<N>; S],
}

/// The sum of every core's snapshot.
struct Merged<'a, const N: usize> {
    bounds: &'a [f64],
    buckets: [u64; N],
    inf: u64,
    sum: f64,
}

impl<const N: usize> HistogramValue for Merged<'_, N> {
    fn bounds(&self) -> &[f64] {
        self.bounds
    }
    fn bucket(&self, i: usize) -> u64 {
        self.buckets.get(i).copied().unwrap_or(self.inf)
    }
    fn sum(&self) -> f64 {
        self.sum
    }
}

impl<const N: usize, const S: usize> ShardedHistogram<N, S> {
    /// A histogram over `bounds` (strictly increasing, finite, `+Inf` implied). Panics (a
    /// compile error in a `static`) on invalid bounds.
    pub const fn new(bounds: &'static [f64; N]) -> Self {
        assert!(
            bounds_valid(bounds),
            "histogram bounds must be finite, strictly increasing and non-empty"
        );
        assert!(S > 0, "a sharded histogram needs at least one core");
        ShardedHistogram {
            bounds,
            cores: [const { Padded(Core::new()) }; S],
        }
    }

    /// Records one observation in this thread's core. Lock-free, no allocation.
    #[inline]
    pub fn observe(&self, v: f64) {
        self.cores[shard() % S].0.observe(&self.bounds[..], v);
    }

    /// Calls `f` with a consistent snapshot: every core's, added up.
    pub fn snapshot<R>(&self, f: impl FnOnce(&dyn HistogramValue) -> R) -> R {
        let mut m = Merged {
            bounds: &self.bounds[..],
            buckets: [0; N],
            inf: 0,
            sum: 0.0,
        };
        for core in &self.cores {
            core.0.snapshot(&self.bounds[..], |v| {
                for (i, b) in m.buckets.iter_mut().enumerate() {
                    *b += v.bucket(i);
                }
                m.inf += v.bucket(N);
                m.sum += v.sum();
            });
        }
        f(&m)
    }

    /// The number of observations (a snapshot).
    pub fn count(&self) -> u64 {
        self.snapshot(|s| s.count())
    }

    /// The sum of observations (a snapshot).
    pub fn sum(&self) -> f64 {
        self.snapshot(|s| s.sum())
    }

    /// The finite bucket bounds.
    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }
}

impl<const N: usize, const S: usize> Collect for ShardedHistogram<N, S> {
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

impl<const N: usize, const S: usize> Metric for ShardedHistogram<N, S> {
    const KIND: Kind = Kind::Histogram;
}

#[cfg(test)]
mod tests {
    use super::*;

    static BOUNDS: [f64; 3] = [1.0, 2.0, 4.0];

    #[test]
    fn adds_up_every_thread_consistently() {
        let h = ShardedHistogram::<3, 4>::new(&BOUNDS);
        // Small under miri, which checks the interleavings rather than the volume.
        let (n, snapshots): (u32, usize) = if cfg!(miri) { (20, 5) } else { (500, 200) };
        std::thread::scope(|s| {
            for t in 0..6 {
                let h = &h;
                s.spawn(move || (0..n).for_each(|i| h.observe(f64::from((t + i) % 6))));
            }
            // Snapshots while they observe: always one set of observations.
            for _ in 0..snapshots {
                h.snapshot(|v| {
                    let buckets: std::vec::Vec<u64> = (0..=3).map(|i| v.bucket(i)).collect();
                    let count: u64 = buckets.iter().sum();
                    // Values are whole numbers 0..=5: the sum follows from the buckets except
                    // within a bucket, so check it is within the buckets' bounds.
                    let lo =
                        buckets[1] as f64 * 2.0 + buckets[2] as f64 * 3.0 + buckets[3] as f64 * 5.0;
                    let hi = buckets[0] as f64
                        + buckets[1] as f64 * 2.0
                        + buckets[2] as f64 * 4.0
                        + buckets[3] as f64 * 5.0;
                    assert!(
                        v.sum() >= lo && v.sum() <= hi,
                        "sum {} outside [{lo}, {hi}] for {count} observations",
                        v.sum()
                    );
                });
            }
        });
        assert_eq!(h.count(), 6 * u64::from(n));
        // Each thread observes `(t + i) % 6` for `i < n`: the total is known exactly.
        let per_thread: f64 = (0..6)
            .map(|t| (0..n).map(|i| f64::from((t + i) % 6)).sum::<f64>())
            .sum();
        assert_eq!(h.sum(), per_thread);
    }
}
