//! A counter for the hottest paths: one cache line per shard, no contention between threads.
//!
//! A plain [`Counter`](crate::Counter) is one `AtomicU64`: when several cores increment it at
//! once, the cache line holding it moves between them on every increment, and each `inc` costs
//! a cross-core round trip. [`ShardedCounter`] gives each thread its own cell (threads are
//! spread round-robin over `N` cells, each alone on a 128-byte line, so neither a shared line
//! nor the adjacent-line prefetcher couples them): an `inc` stays in the core's cache. The
//! total is the sum of the cells, read at scrape time.
//!
//! Memory: `N × 128` bytes (2 KiB with the default 16 shards) against 8 bytes for a
//! `Counter`; use it for counters that many threads hit millions of times a second, and the
//! plain counter everywhere else (firmware in particular: it needs `std` for thread-locals).

use core::cell::Cell;

use crate::atomic::{AtomicU64, AtomicUsize, Ordering};
use crate::collect::single_series;
use crate::collect::{Kind, Value};

/// One cell on a line of its own.
#[derive(Debug)]
#[repr(align(128))]
struct Padded(AtomicU64);

/// A counter whose increments from different threads never contend. `N` shards (16 by
/// default); `const`-constructible for `static`s.
///
/// ```
/// use metrics_core::ShardedCounter;
/// static EVENTS: ShardedCounter = ShardedCounter::new();
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| (0..1000).for_each(|_| EVENTS.inc()));
///     }
/// });
/// assert_eq!(EVENTS.get(), 4000);
/// ```
#[derive(Debug)]
pub struct ShardedCounter<const N: usize = 16> {
    cells: [Padded; N],
}

std::thread_local! {
    /// This thread's shard, assigned on first use.
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Hands out shards round-robin, so `N` threads get `N` different cells.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

#[inline]
pub(crate) fn shard() -> usize {
    SHARD.with(|s| {
        let v = s.get();
        if v != usize::MAX {
            return v;
        }
        let v = NEXT_SHARD.fetch_add(1, Ordering::Relaxed);
        s.set(v);
        v
    })
}

impl<const N: usize> ShardedCounter<N> {
    /// A counter at zero.
    pub const fn new() -> Self {
        assert!(N > 0, "a sharded counter needs at least one shard");
        ShardedCounter {
            cells: [const { Padded(AtomicU64::new(0)) }; N],
        }
    }

    /// Adds one to this thread's cell.
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds `n` to this thread's cell.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.cells[shard() % N].0.fetch_add(n, Ordering::Relaxed);
    }

    /// The total: the sum of the cells.
    pub fn get(&self) -> u64 {
        self.cells
            .iter()
            .fold(0u64, |acc, c| acc.wrapping_add(c.0.load(Ordering::Relaxed)))
    }
}

impl<const N: usize> Default for ShardedCounter<N> {
    fn default() -> Self {
        Self::new()
    }
}

single_series!([const N: usize] ShardedCounter<N>, Kind::Counter, |c| Value::Counter(c.get()));

impl<const N: usize> crate::FamilyMember for ShardedCounter<N> {
    type Config = ();
    fn from_config(_: &()) -> Self {
        Self::new()
    }
    fn kind(_: &()) -> Kind {
        Kind::Counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_every_thread() {
        static C: ShardedCounter<4> = ShardedCounter::new();
        std::thread::scope(|s| {
            for t in 0..6u64 {
                s.spawn(move || (0..100).for_each(|_| C.inc_by(t + 1)));
            }
        });
        assert_eq!(C.get(), 100 * (1 + 2 + 3 + 4 + 5 + 6));
        assert_eq!(core::mem::size_of::<ShardedCounter<4>>(), 4 * 128);
    }

    #[test]
    fn threads_get_different_cells() {
        let c = ShardedCounter::<16>::new();
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| c.inc());
            }
        });
        let used = c
            .cells
            .iter()
            .filter(|p| p.0.load(Ordering::Relaxed) > 0)
            .count();
        assert_eq!(used, 2);
    }
}
