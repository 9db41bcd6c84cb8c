//! A native histogram for threads: per-thread shards written with plain loads and stores, no
//! atomic read-modify-write on the hot path.
//!
//! # Which native histogram to use
//!
//! - [`NativeHistogram`](crate::NativeHistogram) (and [`DynNativeHistogram`] for run-time
//!   registries): `no_std`, no heap, `const`-constructible, safe from interrupt handlers. Every
//!   observe does four atomic read-modify-writes (the hot/cold count, the sum, the bucket
//!   slot, the completing count), each a `lock`-prefixed instruction that costs tens of cycles,
//!   and threads observing at once bounce those cache lines. Firmware, interrupts, and anything
//!   without `std`.
//! - [`ShardedNativeHistogram`] (feature `std`): a thread observes into a shard of its own
//!   with plain (`Relaxed`) loads and stores only. For histograms that threads observe often;
//!   it costs memory per thread that observes it (see below) and is not async-signal-safe (a
//!   signal handler observing on a thread that is in the middle of an observe would be a second
//!   writer of the same shard: observe from handlers into a `NativeHistogram`).
//!
//! # Thread identity
//!
//! A process-wide table of 64 flags (`THREAD_SLOTS`). A thread claims a free one on its first
//! observe of any sharded native histogram (one atomic swap, once per thread) and releases it
//! in a `thread_local!` destructor when it exits. A slot is owned by at most one live thread,
//! so the shard of a slot in every histogram has one writer. The release is a `Release` store
//! after all of the dead owner's writes and the claim an `Acquire` swap that reads it, so a new
//! owner continues the shard where the old one stopped. Threads beyond the table (more than 64
//! alive at once when they first observed), and a thread whose thread-locals are being
//! destroyed, observe into the *fallback*: a [`DynNativeHistogram`] of the same configuration
//! (lock-free, four read-modify-writes per observe).
//!
//! # Shards
//!
//! A histogram has one shard per thread slot, allocated by the slot's owner on its first
//! observe (cache-line aligned and padded to whole 128-byte lines, so two threads never write
//! one line). A shard has its own schema, zero bucket, sum, classic buckets (the `+Inf`
//! bucket alone for a native-only histogram: it is the shard's count) and a hash table of up
//! to `max_buckets` native buckets (key and count in two words, linear probing). When a new
//! bucket finds the table full, the owner lowers the shard's schema by one and re-keys and
//! rebuilds its table (each bucket lies inside exactly one bucket of the lower schema), until
//! the bucket fits; at schema -4 with the table still full the count goes to the populated
//! bucket of its side nearest to its own (the zero bucket if its side has none). That is
//! client_golang's `NativeHistogramMaxBucketNumber` rule and [`NativeHistogram`]'s, applied by
//! each owner to its own shard.
//!
//! The bucket index on the owner's path does not search the table of fractions: the top 9
//! bits of the mantissa pick a cell of a 512-entry table holding the number of schema-8
//! boundaries below the cell, and one compare with the boundary that may lie inside the cell
//! (no cell holds two) finishes the schema-8 index; a coarser schema is that index shifted.
//! The tests check it against [`native_bucket_index`](crate::native_bucket_index)
//! (client_golang's numbers) at every boundary and on many values, for every schema.
//!
//! # Why a scrape is consistent
//!
//! Each shard is a seqlock written by its owner: `seq` odd (`Relaxed`), `fence(Release)`, the
//! data stored `Relaxed`, `seq` even (`Release`). A scrape reads `seq` (`Acquire`), copies the
//! shard, `fence(Acquire)`, and re-reads `seq`: when it is even and unchanged, no write of an
//! observe overlapped the copy (an overlapping writer's `seq` store would have been seen, by
//! the fence pairing), so the copy is the shard after some number of whole observes: classic
//! buckets, sum, zero bucket and native buckets of one set of observations. Otherwise it
//! retries. Against a writer that observes flat out and starves the reader, a scrape that had
//! to retry raises the shard's `scraping` flag, which the owner checks (`Relaxed`) before each
//! observe: while it is up, the owner's observes go to the fallback instead, so the shard goes
//! quiet after at most the observe in progress, and the flag is lowered once the copy is taken.
//!
//! Every observation is counted in exactly one place: the shard its thread owned (when the
//! flag was down) or the fallback. A scrape (scrapes take one lock, so they run one at a time)
//! adds up a consistent copy of every shard and a consistent snapshot of the fallback
//! (its hot/cold scheme, `histogram.rs`): each part holds a set of whole observations, so the
//! total's classic buckets, `_count`, `_sum`, zero bucket and native buckets are those of one
//! set of observations (their union), and `_count` equals the zero bucket plus the native
//! buckets plus the NaNs, as for every histogram here. It is monotonic: each part only ever
//! grows (a shard's copy is of a state at or after the previous scrape's copy, by coherence of
//! its `seq`; the fallback's snapshots are cumulative). The parts are brought to the lowest
//! schema among them (coarsening is exact: buckets nest) and, if the merged buckets pass the
//! bound, the schema goes down further until they fit (at schema -4 they are shown as they
//! are: with fewer than 132 buckets allowed, values spread over more than `16 × max_buckets`
//! powers of two can pass the bound there). Since the parts' schemas only go down and their
//! buckets only grow, the merged schema never goes up between scrapes.
//!
//! `tests/loom.rs` models an owner observing into its shard while a scrape raises the flag
//! and the owner diverts to the fallback, and a slot passed from an exiting thread to a new
//! one (a table of 2 slots); `tests/stress.rs` runs two threads observing flat out while a
//! third scrapes thousands of times.
//!
//! # Memory
//!
//! Per histogram: the fallback (`2 × max_buckets` words plus its classic buckets), 64 empty
//! shard cells (2 KiB), and, per thread slot that observed it, a shard of `16 + classic + 1 +
//! 2 × max_buckets` words rounded up to 128 bytes (2.7 KiB for 160 buckets, native only). A
//! scrape reuses its buffers: no allocation once they have grown to the data.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::atomic::{fence, spin_loop, AtomicBool, AtomicU64, Ordering};
use crate::collect::{
    Collect, HistogramValue, Kind, Metric, NativeHistogramValue, Sign, StrList, Value, Visitor,
};
use crate::histogram::bucket_index;
use crate::native::{
    coarsen, key, key_index, key_sign, native_bucket_index, DynNativeHistogram, NativeConfig,
    NativeCounts, FRACTIONS, MIN_SCHEMA,
};
use crate::Error;

/// How many threads own a shard at once (process-wide); the others use the fallback. Two
/// under loom, whose models use two.
pub(crate) const THREAD_SLOTS: usize = if cfg!(loom) { 2 } else { 64 };

/// Words per cache line (128 bytes: the line and its prefetched neighbour).
const WORDS: usize = 16;

/// 128 bytes that no other thread's data shares.
#[repr(align(128))]
struct Line([AtomicU64; WORDS]);

impl Line {
    fn new() -> Self {
        Line(core::array::from_fn(|_| AtomicU64::new(0)))
    }
}

/// The shard's head line: the seqlock's sequence number (odd while its owner writes).
const SEQ: usize = 0;
/// Non-zero while a scrape waits for the shard: its owner observes into the fallback.
const SCRAPING: usize = 1;
/// The shard's schema, plus 8.
const SCHEMA: usize = 2;
/// The zero bucket.
const ZERO: usize = 3;
/// The sum's bits.
const SUM: usize = 4;
/// The first classic bucket (the `+Inf` bucket last); after them the keys, then the counts.
const CLASSIC: usize = WORDS;

/// Mantissa bits of an `f64`.
const MANTISSA: u64 = (1 << 52) - 1;
/// Mantissa bits the cell table is indexed by.
const CELL_BITS: u32 = 9;

/// The mantissas of [`FRACTIONS`] (all in `[0.5, 1)`: one exponent, so mantissas order as
/// the values), and `u64::MAX` past the last.
static BOUNDARY_MANTISSAS: [u64; 257] = {
    let mut t = [u64::MAX; 257];
    let mut j = 0;
    while j < 256 {
        t[j] = FRACTIONS[j].to_bits() & MANTISSA;
        j += 1;
    }
    t
};

/// For each cell (the top [`CELL_BITS`] of a mantissa), how many schema-8 boundaries lie
/// below the cell's first mantissa.
static CELLS: [u16; 1 << CELL_BITS] = {
    let mut t = [0u16; 1 << CELL_BITS];
    let mut c = 0;
    while c < t.len() {
        let low = (c as u64) << (52 - CELL_BITS);
        let mut n = 0;
        while n < 256 && BOUNDARY_MANTISSAS[n] < low {
            n += 1;
        }
        t[c] = n as u16;
        c += 1;
    }
    t
};

/// [`native_bucket_index`] of `v` at `schema`, faster for schema > 0 and normal `v`: the
/// schema-8 index from the cell table and one compare, shifted down to `schema`.
#[inline]
pub(crate) fn fast_bucket_index(v: f64, schema: i8) -> i32 {
    let bits = v.to_bits() & !(1 << 63);
    let e = (bits >> 52) as i32;
    if schema <= 0 || e == 0 || e == 0x7ff {
        // Schema <= 0 is a shift already; subnormals, infinities and NaN are rare.
        return native_bucket_index(v, schema);
    }
    let m = bits & MANTISSA;
    let below = usize::from(CELLS[(m >> (52 - CELL_BITS)) as usize]);
    // The first boundary >= the fraction: `below`, or the one after it when the boundary
    // inside the cell (if any) is below the fraction.
    let j = below + usize::from(BOUNDARY_MANTISSAS[below] < m);
    // frexp's exponent: the fraction is in [0.5, 1).
    let exp = e - 1022;
    let index8 = j as i32 + (exp - 1) * 256;
    ((index8 - 1) >> (8 - schema)) + 1
}

/// Where the probe for key `k` starts in `n` slots (a multiply, no division).
#[inline]
fn home(k: u64, n: usize) -> usize {
    (((k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) * n as u64) >> 32) as usize
}

/// Adds `by` to a word only its owner writes: a load and a store, no read-modify-write.
#[inline]
fn bump(w: &AtomicU64, by: u64) {
    w.store(
        w.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

/// One thread slot's part of a histogram, written by the slot's owner only.
struct Shard {
    lines: Box<[Line]>,
    /// Classic buckets (bounds + 1).
    classic: usize,
    /// Native bucket slots (the bound).
    slots: usize,
}

impl Shard {
    fn new(classic: usize, slots: usize, schema: i8) -> Self {
        let words = CLASSIC + classic + 2 * slots;
        let shard = Shard {
            lines: (0..words.div_ceil(WORDS)).map(|_| Line::new()).collect(),
            classic,
            slots,
        };
        shard
            .w(SCHEMA)
            .store((schema + 8) as u64, Ordering::Relaxed);
        shard
    }

    #[inline]
    fn w(&self, i: usize) -> &AtomicU64 {
        &self.lines[i / WORDS].0[i % WORDS]
    }

    #[inline]
    fn key_word(&self, i: usize) -> &AtomicU64 {
        self.w(CLASSIC + self.classic + i)
    }

    #[inline]
    fn count_word(&self, i: usize) -> &AtomicU64 {
        self.w(CLASSIC + self.classic + self.slots + i)
    }

    #[inline]
    fn schema(&self) -> i8 {
        self.w(SCHEMA).load(Ordering::Relaxed) as i8 - 8
    }

    /// One observation, by the owner: the seqlock's write section.
    #[inline]
    fn record(&self, bounds: &[f64], zero_threshold: f64, v: f64) {
        let seq = self.w(SEQ);
        let s = seq.load(Ordering::Relaxed);
        seq.store(s.wrapping_add(1), Ordering::Relaxed);
        // The odd `seq` is ordered before every data store below: a scrape that reads any of
        // them (and then fences with Acquire) sees `seq` changed.
        fence(Ordering::Release);
        bump(self.w(CLASSIC + bucket_index(bounds, v)), 1);
        let sum = self.w(SUM);
        sum.store(
            (f64::from_bits(sum.load(Ordering::Relaxed)) + v).to_bits(),
            Ordering::Relaxed,
        );
        if v.abs() <= zero_threshold {
            bump(self.w(ZERO), 1);
        } else if !v.is_nan() {
            let sign = if v > 0.0 {
                Sign::Positive
            } else {
                Sign::Negative
            };
            let schema = self.schema();
            self.insert(key(sign, schema, fast_bucket_index(v, schema)), 1);
        }
        // Publishes the data: a scrape that reads this value (Acquire) sees all of it.
        seq.store(s.wrapping_add(2), Ordering::Release);
    }

    /// Adds `c` to bucket `k` (at the shard's schema), lowering the schema while the table
    /// has no room for it.
    #[inline]
    fn insert(&self, mut k: u64, c: u64) {
        while !self.add(k, c) {
            let schema = self.schema();
            if schema <= MIN_SCHEMA {
                self.nearest(k, c);
                return;
            }
            self.reduce(schema - 1);
            k = coarsen(k, schema - 1);
        }
    }

    /// Adds `c` to `k`'s slot, or claims the first free slot on its probe; false when every
    /// slot holds another bucket.
    #[inline]
    fn add(&self, k: u64, c: u64) -> bool {
        let n = self.slots;
        let mut i = home(k, n);
        for _ in 0..n {
            let key_word = self.key_word(i);
            let x = key_word.load(Ordering::Relaxed);
            if x == k {
                bump(self.count_word(i), c);
                return true;
            }
            if x == 0 {
                key_word.store(k, Ordering::Relaxed);
                self.count_word(i).store(c, Ordering::Relaxed);
                return true;
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
        false
    }

    /// Lowers the schema to `to` and rebuilds the table with every bucket re-keyed to it
    /// (pairs that became one bucket merge, freeing slots).
    #[cold]
    #[inline(never)]
    fn reduce(&self, to: i8) {
        let mut buckets = Vec::with_capacity(self.slots);
        for i in 0..self.slots {
            let k = self.key_word(i).load(Ordering::Relaxed);
            if k != 0 {
                buckets.push((coarsen(k, to), self.count_word(i).load(Ordering::Relaxed)));
                self.key_word(i).store(0, Ordering::Relaxed);
                self.count_word(i).store(0, Ordering::Relaxed);
            }
        }
        self.w(SCHEMA).store((to + 8) as u64, Ordering::Relaxed);
        for (k, c) in buckets {
            // At most as many buckets as before: they fit.
            let added = self.add(k, c);
            debug_assert!(added);
        }
    }

    /// Schema -4 and no slot free: `c` goes to the populated bucket of `k`'s side nearest to
    /// `k`, or to the zero bucket when its side has none.
    #[cold]
    fn nearest(&self, k: u64, c: u64) {
        let mut best: Option<(usize, u32)> = None;
        for i in 0..self.slots {
            let x = self.key_word(i).load(Ordering::Relaxed);
            if x != 0 && key_sign(x) == key_sign(k) {
                let d = key_index(x).abs_diff(key_index(k));
                if best.is_none_or(|b| d < b.1) {
                    best = Some((i, d));
                }
            }
        }
        match best {
            Some((i, _)) => bump(self.count_word(i), c),
            None => bump(self.w(ZERO), c),
        }
    }

    /// A consistent copy, by a scrape: classic buckets into `classic` (replaced), native
    /// buckets appended to `buckets` as (key, count); returns schema, zero bucket and sum.
    fn read(&self, classic: &mut Vec<u64>, buckets: &mut Vec<(u64, u64)>) -> (i8, u64, f64) {
        let base = buckets.len();
        let seq = self.w(SEQ);
        let mut flagged = false;
        loop {
            let s = seq.load(Ordering::Acquire);
            if s & 1 == 0 {
                classic.clear();
                classic
                    .extend((0..self.classic).map(|i| self.w(CLASSIC + i).load(Ordering::Relaxed)));
                let schema = self.schema();
                let zero = self.w(ZERO).load(Ordering::Relaxed);
                let sum = f64::from_bits(self.w(SUM).load(Ordering::Relaxed));
                for i in 0..self.slots {
                    let k = self.key_word(i).load(Ordering::Relaxed);
                    if k != 0 {
                        buckets.push((k, self.count_word(i).load(Ordering::Relaxed)));
                    }
                }
                // Orders the copy before the re-read: if any load above saw a store of an
                // observe that began after `s`, the re-read sees that observe's odd `seq`.
                fence(Ordering::Acquire);
                if seq.load(Ordering::Relaxed) == s {
                    if flagged {
                        self.w(SCRAPING).store(0, Ordering::Relaxed);
                    }
                    return (schema, zero, sum);
                }
                buckets.truncate(base);
            }
            if !flagged {
                // The owner sends its next observes to the fallback: the shard goes quiet.
                self.w(SCRAPING).store(1, Ordering::Relaxed);
                flagged = true;
            }
            spin_loop();
        }
    }
}

/// Claims a free slot of `table` (one swap per slot tried); `None` when all are taken.
#[inline(never)]
pub(crate) fn claim_slot(table: &[AtomicBool]) -> Option<usize> {
    // Acquire pairs with the Release of the slot's previous owner: its writes to every
    // shard of the slot happen before ours.
    table
        .iter()
        .position(|c| !c.load(Ordering::Relaxed) && !c.swap(true, Ordering::Acquire))
}

/// Gives slot `i` back, after every write of its owner.
pub(crate) fn release_slot(table: &[AtomicBool], i: usize) {
    table[i].store(false, Ordering::Release);
}

#[cfg(not(loom))]
mod thread_slot {
    use super::{claim_slot, release_slot, AtomicBool, THREAD_SLOTS};
    use core::cell::Cell;

    /// The process-wide table of thread slots.
    static CLAIMED: [AtomicBool; THREAD_SLOTS] = [const { AtomicBool::new(false) }; THREAD_SLOTS];

    /// Not claimed yet.
    const UNCLAIMED: usize = usize::MAX;
    /// The table was full: this thread uses the fallback.
    const NONE_FREE: usize = usize::MAX - 1;

    /// This thread's slot; dropping it (the thread exits) releases the slot.
    struct Owner(Cell<usize>);

    impl Drop for Owner {
        fn drop(&mut self) {
            let slot = self.0.get();
            if slot < THREAD_SLOTS {
                release_slot(&CLAIMED, slot);
            }
        }
    }

    std::thread_local! {
        static OWNER: Owner = const { Owner(Cell::new(UNCLAIMED)) };
    }

    /// This thread's slot, claimed on first use; `None` when the table is full or the
    /// thread's thread-locals are being destroyed.
    #[inline]
    pub(super) fn current() -> Option<usize> {
        OWNER
            .try_with(|o| match o.0.get() {
                s if s < THREAD_SLOTS => Some(s),
                UNCLAIMED => {
                    let s = claim_slot(&CLAIMED);
                    o.0.set(s.unwrap_or(NONE_FREE));
                    s
                }
                _ => None,
            })
            .ok()
            .flatten()
    }
}

/// Under loom the models pass slots explicitly (`observe_in_slot`).
#[cfg(loom)]
mod thread_slot {
    pub(super) fn current() -> Option<usize> {
        None
    }
}

/// A scrape's buffers, kept between scrapes.
#[derive(Debug, Default)]
struct Scratch {
    /// Classic buckets, summed.
    classic: Vec<u64>,
    /// One part's classic buckets.
    part: Vec<u64>,
    /// Every part's native buckets (key, count), then merged in place.
    buckets: Vec<(u64, u64)>,
}

/// A native (and optionally classic) histogram for threads on `std`: each thread observes
/// into a shard of its own with plain loads and stores (no atomic read-modify-write), and a
/// scrape adds the shards up. The configuration is [`DynNativeHistogram`]'s
/// ([`NativeConfig`]); it is a member type of run-time [`Family`](crate::Family)s too. See the
/// module documentation of `sharded_native.rs` for when to use which native histogram; in
/// short: this one on threads, [`NativeHistogram`](crate::NativeHistogram) on firmware and
/// from interrupt or signal handlers.
///
/// ```
/// use metrics_core::{HistogramValue, NativeConfig, ShardedNativeHistogram};
/// let h = ShardedNativeHistogram::new(&NativeConfig::new(3, 160).unwrap());
/// std::thread::scope(|s| {
///     for t in 0..4 {
///         let h = &h;
///         s.spawn(move || (1..=1000).for_each(|i| h.observe(f64::from(t * 1000 + i) / 1e4)));
///     }
/// });
/// h.snapshot(|s| {
///     assert_eq!(s.count(), 4000);
///     assert_eq!(s.native().unwrap().schema(), 3);
/// });
/// ```
pub struct ShardedNativeHistogram {
    bounds: Arc<[f64]>,
    schema: i8,
    zero_threshold: f64,
    max_buckets: usize,
    shards: Box<[OnceLock<Shard>]>,
    fallback: DynNativeHistogram,
    scratch: Mutex<Scratch>,
}

impl core::fmt::Debug for ShardedNativeHistogram {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ShardedNativeHistogram")
            .field("bounds", &self.bounds)
            .field("schema", &self.schema)
            .field("zero_threshold", &self.zero_threshold)
            .field("max_buckets", &self.max_buckets)
            .finish_non_exhaustive()
    }
}

impl ShardedNativeHistogram {
    /// A histogram at zero with `config` (schema, bound on populated buckets per shard and
    /// after merging, zero threshold, classic bounds if any).
    pub fn new(config: &NativeConfig) -> Self {
        let h = ShardedNativeHistogram {
            bounds: config.bounds.clone(),
            schema: config.schema,
            zero_threshold: config.zero_threshold,
            max_buckets: config.max_buckets,
            shards: (0..THREAD_SLOTS).map(|_| OnceLock::new()).collect(),
            fallback: DynNativeHistogram::new(config),
            scratch: Mutex::new(Scratch::default()),
        };
        // Loom models the shards' seqlock, not std's `OnceLock`: allocate them up front.
        if cfg!(loom) {
            for cell in &h.shards[..] {
                let _ = cell.set(h.new_shard());
            }
        }
        h
    }

    fn new_shard(&self) -> Shard {
        Shard::new(self.bounds.len() + 1, self.max_buckets, self.schema)
    }

    /// Records one observation: into this thread's shard with plain loads and stores (the
    /// shard allocated on the thread's first observe), or into the shared lock-free fallback
    /// while a scrape waits for the shard or when this thread has no slot. No lock.
    #[inline]
    pub fn observe(&self, v: f64) {
        self.observe_in(thread_slot::current(), v);
    }

    #[inline]
    fn observe_in(&self, slot: Option<usize>, v: f64) {
        if let Some(i) = slot {
            let shard = self.shards[i].get_or_init(|| self.new_shard());
            if shard.w(SCRAPING).load(Ordering::Relaxed) == 0 {
                shard.record(&self.bounds, self.zero_threshold, v);
                return;
            }
        }
        self.fallback.observe(v);
    }

    /// Adds observations counted elsewhere (a state file), as
    /// [`DynNativeHistogram::observe_counts`] does; they go to the fallback, so a snapshot
    /// holds all of them or none.
    ///
    /// # Errors
    ///
    /// As [`DynNativeHistogram::observe_counts`].
    pub fn observe_counts(
        &self,
        counts: &[u64],
        sum: f64,
        native: &NativeCounts<'_>,
    ) -> Result<(), Error> {
        self.fallback.observe_counts(counts, sum, native)
    }

    /// Calls `f` with a consistent snapshot: every shard's copy and the fallback's snapshot,
    /// added up at the lowest schema among them (lower still if the merged buckets pass the
    /// bound). Scrapes run one at a time.
    pub fn snapshot<R>(&self, f: impl FnOnce(&dyn HistogramValue) -> R) -> R {
        let mut guard = self.scratch.lock().unwrap_or_else(PoisonError::into_inner);
        let Scratch {
            classic,
            part,
            buckets,
        } = &mut *guard;
        classic.clear();
        classic.resize(self.bounds.len() + 1, 0);
        buckets.clear();
        let (mut schema, mut zero, mut sum) = (self.schema, 0, 0.0);
        for shard in self.shards.iter().filter_map(OnceLock::get) {
            let (s, z, su) = shard.read(part, buckets);
            for (c, p) in classic.iter_mut().zip(part.iter()) {
                *c += p;
            }
            schema = schema.min(s);
            zero += z;
            sum += su;
        }
        self.fallback.snapshot(|h| {
            for (i, c) in classic.iter_mut().enumerate() {
                *c += h.bucket(i);
            }
            sum += h.sum();
            if let Some(n) = h.native() {
                schema = schema.min(n.schema());
                zero += n.zero_count();
                for side in [Sign::Positive, Sign::Negative] {
                    for i in 0..n.bucket_len(side) {
                        let (index, c) = n.bucket(side, i);
                        buckets.push((key(side, n.schema(), index), c));
                    }
                }
            }
        });
        let (schema, split) = merge(buckets, schema, self.max_buckets);
        let view = Merged {
            bounds: &self.bounds,
            classic,
            sum,
            schema,
            zero_threshold: self.zero_threshold,
            zero,
            buckets,
            split,
        };
        f(&view)
    }

    /// The number of observations (a snapshot).
    pub fn count(&self) -> u64 {
        self.snapshot(|s| s.count())
    }

    /// The sum of observations (a snapshot).
    pub fn sum(&self) -> f64 {
        self.snapshot(|s| s.sum())
    }

    /// The classic bucket bounds (empty for a native-only histogram).
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }
}

/// Brings `buckets` (key, count) to `schema` (each key is at `schema` or finer), lower while
/// more than `max` remain (down to -4), sorted with equal keys merged; returns the schema and
/// where the negative side starts.
fn merge(buckets: &mut Vec<(u64, u64)>, mut schema: i8, max: usize) -> (i8, usize) {
    loop {
        for b in buckets.iter_mut() {
            b.0 = coarsen(b.0, schema);
        }
        buckets.sort_unstable_by_key(|b| b.0);
        let mut out = 0;
        for i in 0..buckets.len() {
            if out > 0 && buckets[out - 1].0 == buckets[i].0 {
                buckets[out - 1].1 += buckets[i].1;
            } else {
                buckets[out] = buckets[i];
                out += 1;
            }
        }
        buckets.truncate(out);
        if buckets.len() <= max || schema <= MIN_SCHEMA {
            break;
        }
        schema -= 1;
    }
    // Keys sort the positive side first.
    let split = buckets.partition_point(|b| key_sign(b.0) == Sign::Positive);
    (schema, split)
}

/// A scrape's total.
struct Merged<'a> {
    bounds: &'a [f64],
    classic: &'a [u64],
    sum: f64,
    schema: i8,
    zero_threshold: f64,
    zero: u64,
    buckets: &'a [(u64, u64)],
    split: usize,
}

impl HistogramValue for Merged<'_> {
    fn bounds(&self) -> &[f64] {
        self.bounds
    }
    fn bucket(&self, i: usize) -> u64 {
        self.classic[i]
    }
    fn sum(&self) -> f64 {
        self.sum
    }
    fn native(&self) -> Option<&dyn NativeHistogramValue> {
        Some(self)
    }
}

impl NativeHistogramValue for Merged<'_> {
    fn schema(&self) -> i8 {
        self.schema
    }
    fn zero_threshold(&self) -> f64 {
        self.zero_threshold
    }
    fn zero_count(&self) -> u64 {
        self.zero
    }
    fn bucket_len(&self, side: Sign) -> usize {
        match side {
            Sign::Positive => self.split,
            Sign::Negative => self.buckets.len() - self.split,
        }
    }
    fn bucket(&self, side: Sign, i: usize) -> (i32, u64) {
        let at = match side {
            Sign::Positive => i,
            Sign::Negative => self.split + i,
        };
        let (k, c) = self.buckets[at];
        (key_index(k), c)
    }
}

impl Collect for ShardedNativeHistogram {
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

impl Metric for ShardedNativeHistogram {
    const KIND: Kind = Kind::Histogram;
}

impl crate::FamilyMember for ShardedNativeHistogram {
    type Config = NativeConfig;
    fn from_config(config: &NativeConfig) -> Self {
        ShardedNativeHistogram::new(config)
    }
    fn kind(_: &NativeConfig) -> Kind {
        Kind::Histogram
    }
}

impl crate::RunTimeHistogram for ShardedNativeHistogram {
    #[inline]
    fn observe(&self, v: f64) {
        ShardedNativeHistogram::observe(self, v);
    }
    fn bounds(&self) -> &[f64] {
        ShardedNativeHistogram::bounds(self)
    }
}

/// What the loom models drive directly: a slot table of their own and explicit slots.
#[cfg(loom)]
impl ShardedNativeHistogram {
    /// `observe` as the owner of `slot` (`None`: a thread without one).
    #[doc(hidden)]
    pub fn observe_in_slot(&self, slot: Option<usize>, v: f64) {
        self.observe_in(slot, v);
    }
}

/// Claims a free slot of a model's table (loom only).
#[cfg(loom)]
#[doc(hidden)]
pub fn claim_thread_slot(table: &[AtomicBool]) -> Option<usize> {
    claim_slot(table)
}

/// Releases a model's slot (loom only).
#[cfg(loom)]
#[doc(hidden)]
pub fn release_thread_slot(table: &[AtomicBool], i: usize) {
    release_slot(table, i);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::DEFAULT_NATIVE_ZERO_THRESHOLD;
    use std::vec;

    /// Everything a snapshot shows: classic buckets, sum, schema, zero bucket, native buckets.
    #[derive(Debug, PartialEq)]
    struct Seen {
        classic: Vec<u64>,
        /// The sum's bits (NaN equals NaN).
        sum: u64,
        schema: i8,
        zero: u64,
        buckets: Vec<(Sign, i32, u64)>,
    }

    fn seen(h: &dyn HistogramValue) -> Seen {
        let n = h.native().expect("native buckets");
        let mut buckets = Vec::new();
        for side in [Sign::Positive, Sign::Negative] {
            for i in 0..n.bucket_len(side) {
                let (index, c) = n.bucket(side, i);
                assert!(c > 0);
                assert!(
                    i == 0 || n.bucket(side, i - 1).0 < index,
                    "ascending indices"
                );
                buckets.push((side, index, c));
            }
        }
        Seen {
            classic: (0..=h.bounds().len()).map(|i| h.bucket(i)).collect(),
            // Every NaN alike: its sign and payload are not specified (miri varies them).
            sum: if h.sum().is_nan() {
                f64::NAN.to_bits()
            } else {
                h.sum().to_bits()
            },
            schema: n.schema(),
            zero: n.zero_count(),
            buckets,
        }
    }

    /// xorshift64*: reproducible inputs.
    fn rng(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    #[test]
    fn no_cell_holds_two_boundaries() {
        let cell = |m: u64| m >> (52 - CELL_BITS);
        for j in 1..256 {
            assert_ne!(
                cell(BOUNDARY_MANTISSAS[j - 1]),
                cell(BOUNDARY_MANTISSAS[j]),
                "boundaries {} and {j} share a cell",
                j - 1
            );
        }
    }

    #[test]
    fn fast_index_agrees_with_client_golang_numbers() {
        let check = |v: f64| {
            for schema in -4..=8i8 {
                assert_eq!(
                    fast_bucket_index(v, schema),
                    native_bucket_index(v, schema),
                    "{v:e} ({:#x}) at schema {schema}",
                    v.to_bits()
                );
            }
        };
        // Every schema-8 boundary (which includes every coarser schema's), one ulp either
        // side, in powers of two across the range.
        let exps: &[i32] = if cfg!(miri) {
            &[-1, 0, 3]
        } else {
            &[-1050, -1022, -500, -20, -1, 0, 1, 7, 100, 1023]
        };
        for &e in exps {
            for f in FRACTIONS {
                // 2^e in two steps: `powi` of a large negative `e` underflows to 0.
                let b = f * 2f64.powi(e / 2) * 2f64.powi(e - e / 2);
                for v in [
                    b,
                    f64::from_bits(b.to_bits() - 1),
                    f64::from_bits(b.to_bits() + 1),
                ] {
                    check(v);
                    check(-v);
                }
            }
        }
        // Random bit patterns (every exponent, subnormals, infinities, NaN) and random values
        // near 1.
        let n = if cfg!(miri) { 200 } else { 200_000 };
        let mut state = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..n {
            let bits = rng(&mut state);
            check(f64::from_bits(bits));
            check(f64::from_bits(bits >> 12 | 1023 << 52));
        }
        for v in [
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::MAX,
            f64::INFINITY,
            1.0,
            0.5,
            2.0,
        ] {
            check(v);
        }
    }

    #[test]
    fn same_buckets_as_the_lock_free_histogram() {
        let config = NativeConfig::new(3, 160)
            .unwrap()
            .classic(&crate::DEFAULT_BUCKETS)
            .unwrap();
        let ours = ShardedNativeHistogram::new(&config);
        let reference = DynNativeHistogram::new(&config);
        let mut values = vec![
            0.0,
            1e-40,
            -1e-45,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::from_bits(1),
            2.0,
            -2.0,
            0.25,
        ];
        let mut state = 7;
        for _ in 0..if cfg!(miri) { 50 } else { 5000 } {
            let r = rng(&mut state);
            values.push((r % 100_000) as f64 / 1e4 - 1.0);
        }
        for &v in &values {
            ours.observe(v);
            reference.observe(v);
        }
        let a = ours.snapshot(seen);
        assert_eq!(a, reference.snapshot(seen));
        assert_eq!(a.schema, 3);
        assert_eq!(ours.count(), values.len() as u64);
        // NaN counts in `_count` and the `+Inf` bucket, in no native bucket.
        ours.observe(f64::NAN);
        ours.snapshot(|s| {
            let n = seen(s);
            assert!(f64::from_bits(n.sum).is_nan());
            assert_eq!(*n.classic.last().unwrap(), a.classic.last().unwrap() + 1);
            assert_eq!((n.zero, n.buckets), (a.zero, a.buckets));
        });
    }

    #[test]
    fn resolution_drops_when_buckets_run_out() {
        // 20 powers of two at schema 3 is 160 buckets; room for 6: schema -2 (as the lock-free
        // histogram's test).
        let config = NativeConfig::new(3, 6)
            .unwrap()
            .zero_threshold(0.0)
            .unwrap();
        let h = ShardedNativeHistogram::new(&config);
        let reference = DynNativeHistogram::new(&config);
        let n = if cfg!(miri) { 40 } else { 400 };
        for i in 0..n {
            let v = 2f64.powf(-10.0 + 20.0 * f64::from(i) / f64::from(n));
            h.observe(v);
            reference.observe(v);
        }
        let s = h.snapshot(seen);
        assert_eq!(s.schema, -2);
        assert!(s.buckets.len() <= 6);
        assert_eq!(s, reference.snapshot(seen));
    }

    #[test]
    fn at_the_lowest_schema_counts_go_to_the_nearest_bucket() {
        let config = NativeConfig::new(-4, 2)
            .unwrap()
            .zero_threshold(0.0)
            .unwrap();
        let h = ShardedNativeHistogram::new(&config);
        for v in [1.0, 1e10, 1e300, -5.0] {
            h.observe(v);
        }
        let s = h.snapshot(seen);
        assert_eq!(s.buckets, [(Sign::Positive, 0, 1), (Sign::Positive, 3, 2)]);
        assert_eq!((s.zero, s.schema, s.classic[0]), (1, -4, 4));
    }

    #[test]
    fn parts_merge_at_the_lowest_schema_and_within_the_bound() {
        let config = NativeConfig::new(2, 4).unwrap();
        let h = ShardedNativeHistogram::new(&config);
        h.observe(1.5); // bucket 3 at schema 2, in this thread's shard
                        // Restored counts go to the fallback, at schema 0.
        let saved = NativeCounts {
            schema: 0,
            zero_count: 0,
            positive: &[(3, 2)],
            negative: &[],
        };
        h.observe_counts(&[2], 10.0, &saved).unwrap();
        let s = h.snapshot(seen);
        assert_eq!(s.schema, 0);
        assert_eq!(s.buckets, [(Sign::Positive, 1, 1), (Sign::Positive, 3, 2)]);
        assert_eq!((s.classic[0], f64::from_bits(s.sum)), (3, 11.5));
        // Another thread's shard (four buckets at schema 2, within the bound): with the
        // others, buckets -1, 1, 3, 5 and 7 at schema 0 pass the bound of 4, and so do five
        // at schema -1, so the merge goes down to -2 (buckets 0, 1, 2).
        std::thread::scope(|sc| {
            sc.spawn(|| {
                for v in [0.3, 6.0, 20.0, 100.0] {
                    h.observe(v);
                }
            });
        });
        let s = h.snapshot(seen);
        assert_eq!(s.schema, -2);
        assert_eq!(
            s.buckets,
            [
                (Sign::Positive, 0, 1),
                (Sign::Positive, 1, 4),
                (Sign::Positive, 2, 2)
            ]
        );
        assert_eq!(s.classic[0], 7);
    }

    #[test]
    fn slots_are_claimed_once_and_passed_on() {
        let table: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
        assert_eq!(claim_slot(&table), Some(0));
        assert_eq!(claim_slot(&table), Some(1));
        assert_eq!(claim_slot(&table), None);
        release_slot(&table, 0);
        assert_eq!(claim_slot(&table), Some(0));
        // A thread keeps its slot across histograms and gives it back when it exits.
        let slot = std::thread::spawn(|| (thread_slot::current(), thread_slot::current()))
            .join()
            .unwrap();
        assert!(slot.0.is_some());
        assert_eq!(slot.0, slot.1);
    }

    #[test]
    fn threads_observe_while_scrapes_read() {
        let config = NativeConfig::new(4, 20).unwrap().classic(&[1.0]).unwrap();
        let h = ShardedNativeHistogram::new(&config);
        let per: u32 = if cfg!(miri) { 20 } else { 20_000 };
        let mut last = 0;
        std::thread::scope(|sc| {
            let workers: Vec<_> = (0..2)
                .map(|t| {
                    let h = &h;
                    sc.spawn(move || {
                        for i in 0..per {
                            let v = f64::from(i % 101 + 1) * if t == 0 { 0.01 } else { -100.0 };
                            h.observe(v);
                        }
                    })
                })
                .collect();
            while !workers.iter().all(|w| w.is_finished()) {
                let s = h.snapshot(seen);
                let count: u64 = s.classic.iter().sum();
                let native: u64 = s.buckets.iter().map(|b| b.2).sum::<u64>() + s.zero;
                assert_eq!(count, native, "{s:?}");
                assert!(count >= last, "went back from {last} to {count}");
                assert!(s.buckets.len() <= 20);
                last = count;
            }
        });
        let s = h.snapshot(seen);
        assert_eq!(s.classic.iter().sum::<u64>(), 2 * u64::from(per));
        // Thread 0's values are at most 1.01: all but those of 1.01 in the first bucket.
        let pos: u64 = s
            .buckets
            .iter()
            .filter(|b| b.0 == Sign::Positive)
            .map(|b| b.2)
            .sum();
        assert_eq!(pos, u64::from(per));
        let expected_sum: f64 = (0..per).map(|i| f64::from(i % 101 + 1) * 0.01).sum::<f64>()
            + (0..per)
                .map(|i| f64::from(i % 101 + 1) * -100.0)
                .sum::<f64>();
        assert!((f64::from_bits(s.sum) - expected_sum).abs() <= expected_sum.abs() * 1e-9);
    }

    #[test]
    fn families_of_sharded_native_histograms() {
        let config = NativeConfig::new(1, 10)
            .unwrap()
            .zero_threshold(DEFAULT_NATIVE_ZERO_THRESHOLD)
            .unwrap();
        let f = crate::Family::<ShardedNativeHistogram>::new(1, 10, config);
        f.labels(&["a"]).observe(3.0);
        f.labels(&["b"]).observe(-3.0);
        f.labels(&["a"])
            .snapshot(|s| assert_eq!(seen(s).buckets, [(Sign::Positive, 4, 1)]));
        f.labels(&["b"])
            .snapshot(|s| assert_eq!(seen(s).buckets, [(Sign::Negative, 4, 1)]));
    }
}
