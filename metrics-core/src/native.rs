//! Native (exponential) histograms: buckets whose boundaries are powers of
//! `2^(2^-schema)`, kept sparse in a fixed number of slots, with resolution reduced when the
//! slots run out.
//!
//! # Buckets
//!
//! A positive observation `v` above the zero threshold falls into bucket `k` when
//! `base^(k-1) < v <= base^k`, `base = 2^(2^-schema)`; a negative one into bucket `k` of the
//! negative side by its absolute value; `|v| <= zero_threshold` into the zero bucket; NaN into
//! none (it counts in `_count` and makes `_sum` NaN, as in client_golang). The index is
//! computed as client_golang and Prometheus do ([`native_bucket_index`]): `frexp` and a
//! search of the fraction in the table of `2^(j/2^schema - 1)` for schema > 0, the exponent
//! (one less for an exact power of two) divided up for schema <= 0; `±Inf` one bucket past
//! `±f64::MAX`'s.
//!
//! # Storage: a fixed table of slots
//!
//! Each shard of the hot/cold scheme (`histogram.rs`) holds `N` slots, one `u64` each: a
//! bucket's key (side, schema, index: 25 bits) and its count (39 bits) in one word, so that a
//! count only ever changes together with a check of its key (one CAS). A bucket lives in the
//! first free or matching slot of a linear probe from its key's hash; a count that would pass
//! 39 bits (5.5·10^11) continues in a second slot of the same key. `N` is the bound on the
//! number of populated buckets, both sides together (client_golang's
//! `NativeHistogramMaxBucketNumber`). The zero bucket has its own counter. No heap: a
//! [`NativeHistogram`] is `const`-constructible into a `static` (`N` slots × 2 shards × 8 bytes
//! plus the classic buckets, if any). We chose a sparse hash table over a dense window of
//! indices because a window has to move (and copy) when the data drift, while a table does not
//! care where the populated buckets are.
//!
//! # Resolution reduced when the slots run out
//!
//! When an observer's bucket has no slot and every slot holds another bucket, it first
//! compacts the table at the current schema (finishing a reduction another thread may have
//! begun): every slot is re-keyed to its bucket at that schema (each bucket lies inside
//! exactly one bucket of a lower schema, `((k - 1) >> 1) + 1` one step down, so a count is
//! never in a wrong bucket), then every slot is taken out and added to another slot of the
//! same key if there is one (merging a pair, freeing a slot) or back on its probe. If its
//! bucket still finds no slot, it lowers the shard's schema by one (one CAS; whoever wins,
//! the schema is lower) and retries, compacting at the lower schema. Like client_golang: the schema only goes down, by one per
//! step, until the buckets fit (we do not widen the zero bucket or reset). The resolution of
//! what was already counted drops with it: a snapshot shows all buckets at the lowest schema in
//! the shard. In the single case where even schema -4 does not fit (values spread over more
//! than `16·N` powers of two), the count goes to the populated bucket of its side nearest to its
//! own (the zero bucket if its side has none): the only loss of resolution beyond the schema.
//!
//! # Why this is lock-free and the snapshot consistent
//!
//! Every change to a slot is one CAS of the whole word (key and count), so an observer never
//! adds to a slot that was re-keyed or emptied since it looked at it: its CAS fails and it looks
//! again. Re-keying only coarsens, so a count is always inside its key's bucket. Counts taken out
//! for merging are added back by the same observer before its observation completes. All of it
//! happens inside an observation of the hot/cold scheme (after the sum, before the classic
//! bucket increment that completes it, Release), so the snapshot, which waits until the cold
//! shard's completed observations equal the flip's count (Acquire), sees every slot write of
//! exactly those observations, and no observer touches the cold shard while it reads it. The
//! snapshot then re-keys the cold shard to its lowest schema, sorts it and merges equal keys in
//! place (it is exclusive), reads it, adds it to the hot shard (lowering the hot shard's schema
//! to it first, so new observations agree) and clears it. Any step of an observer can fail
//! only because another thread's step succeeded, and the schema goes down at most twelve
//! times, so observers never wait for each other: lock-free, no allocation, interrupt-safe.
//! `tests/loom.rs` models observe-versus-snapshot with a table small enough to reduce,
//! `tests/stress.rs` runs it with real threads.

use core::cell::Cell;

use crate::atomic::{const_fn, AtomicBool, AtomicU64, Ordering};
use crate::buckets::bounds_valid;
use crate::collect::{
    Collect, HistogramValue, Kind, Metric, NativeHistogramValue, Sign, StrList, Value, Visitor,
};
use crate::histogram::{histogram_api, shard, zeros, Core, Shard, ShardExt};
use crate::Error;

/// client_golang's default zero threshold, `2^-128`: observations with `|v|` at or below it
/// count in the zero bucket.
pub const DEFAULT_NATIVE_ZERO_THRESHOLD: f64 = 2.938735877055719e-39;

/// The lowest schema (base `2^16`).
pub(crate) const MIN_SCHEMA: i8 = -4;
/// The highest schema (base `2^(1/256)`).
const MAX_SCHEMA: i8 = 8;

/// `2^(j/256 - 1)` for `j` in `0..256`, the fractions the buckets of schema 8 start at: the
/// numbers of client_golang's `nativeHistogramBounds[8]` (which are not all the nearest
/// doubles to the real values; the same numbers give the same bucket for every `f64`). Schema
/// `s > 0` uses every `2^(8-s)`-th of them (client_golang's table for `s`, number for number).
pub(crate) static FRACTIONS: [f64; 256] = [
    0.5,
    0.5013556375251013,
    0.5027149505564014,
    0.5040779490592088,
    0.5054446430258502,
    0.5068150424757447,
    0.5081891574554764,
    0.509566998038869,
    0.5109485743270583,
    0.5123338964485679,
    0.5137229745593818,
    0.5151158188430205,
    0.5165124395106142,
    0.5179128468009786,
    0.5193170509806894,
    0.520725062344158,
    0.5221368912137069,
    0.5235525479396449,
    0.5249720429003435,
    0.526395386502313,
    0.5278225891802786,
    0.5292536613972564,
    0.5306886136446309,
    0.5321274564422321,
    0.5335702003384117,
    0.5350168559101208,
    0.5364674337629877,
    0.5379219445313954,
    0.5393803988785598,
    0.5408428074966075,
    0.5423091811066545,
    0.5437795304588847,
    0.5452538663326288,
    0.5467321995364429,
    0.5482145409081883,
    0.549700901315111,
    0.5511912916539204,
    0.5526857228508706,
    0.5541842058618393,
    0.5556867516724088,
    0.5571933712979462,
    0.5587040757836845,
    0.5602188762048033,
    0.5617377836665098,
    0.5632608093041209,
    0.564787964283144,
    0.5663192597993595,
    0.5678547070789026,
    0.5693943173783458,
    0.5709381019847808,
    0.572486072215902,
    0.5740382394200894,
    0.5755946149764913,
    0.5771552102951081,
    0.5787200368168754,
    0.5802891060137493,
    0.5818624293887887,
    0.5834400184762408,
    0.585021884841625,
    0.5866080400818185,
    0.5881984958251406,
    0.5897932637314379,
    0.5913923554921704,
    0.5929957828304968,
    0.5946035575013605,
    0.5962156912915756,
    0.5978321960199137,
    0.5994530835371903,
    0.6010783657263515,
    0.6027080545025619,
    0.6043421618132907,
    0.6059806996384005,
    0.6076236799902344,
    0.6092711149137041,
    0.6109230164863786,
    0.6125793968185725,
    0.6142402680534349,
    0.6159056423670379,
    0.6175755319684665,
    0.6192499490999082,
    0.620928906036742,
    0.622612415087629,
    0.6243004885946023,
    0.6259931389331581,
    0.6276903785123455,
    0.6293922197748583,
    0.6310986751971253,
    0.6328097572894031,
    0.6345254785958666,
    0.6362458516947014,
    0.637970889198196,
    0.6397006037528346,
    0.6414350080393891,
    0.6431741147730128,
    0.6449179367033329,
    0.6466664866145447,
    0.6484197773255048,
    0.6501778216898253,
    0.6519406325959679,
    0.6537082229673385,
    0.6554806057623822,
    0.6572577939746774,
    0.659039800633032,
    0.6608266388015788,
    0.6626183215798706,
    0.6644148621029772,
    0.6662162735415805,
    0.6680225691020727,
    0.6698337620266515,
    0.6716498655934177,
    0.6734708931164728,
    0.6752968579460171,
    0.6771277734684463,
    0.6789636531064505,
    0.6808045103191123,
    0.6826503586020058,
    0.6845012114872953,
    0.6863570825438342,
    0.688217985377265,
    0.690083933630119,
    0.6919549409819159,
    0.6938310211492645,
    0.6957121878859629,
    0.6975984549830999,
    0.6994898362691555,
    0.7013863456101023,
    0.7032879969095076,
    0.7051948041086352,
    0.7071067811865475,
    0.7090239421602076,
    0.7109463010845827,
    0.7128738720527471,
    0.7148066691959849,
    0.7167447066838943,
    0.718687998724491,
    0.7206365595643126,
    0.7225904034885232,
    0.7245495448210174,
    0.7265139979245261,
    0.7284837772007218,
    0.7304588970903234,
    0.7324393720732029,
    0.7344252166684908,
    0.7364164454346837,
    0.7384130729697496,
    0.7404151139112358,
    0.7424225829363761,
    0.7444354947621984,
    0.7464538641456323,
    0.7484777058836176,
    0.7505070348132126,
    0.7525418658117031,
    0.7545822137967112,
    0.7566280937263048,
    0.7586795205991071,
    0.7607365094544071,
    0.762799075372269,
    0.7648672334736434,
    0.7669409989204777,
    0.7690203869158282,
    0.7711054127039704,
    0.7731960915705107,
    0.7752924388424999,
    0.7773944698885442,
    0.7795022001189185,
    0.7816156449856788,
    0.7837348199827764,
    0.7858597406461707,
    0.7879904225539431,
    0.7901268813264122,
    0.7922691326262467,
    0.7944171921585818,
    0.7965710756711334,
    0.7987307989543135,
    0.8008963778413465,
    0.8030678282083853,
    0.805245165974627,
    0.8074284071024302,
    0.8096175675974316,
    0.8118126635086642,
    0.8140137109286738,
    0.8162207259936375,
    0.8184337248834821,
    0.820652723822003,
    0.8228777390769823,
    0.8251087869603088,
    0.8273458838280969,
    0.8295890460808079,
    0.8318382901633681,
    0.8340936325652911,
    0.8363550898207981,
    0.8386226785089391,
    0.8408964152537144,
    0.8431763167241966,
    0.8454623996346523,
    0.8477546807446661,
    0.8500531768592616,
    0.8523579048290255,
    0.8546688815502312,
    0.8569861239649629,
    0.8593096490612387,
    0.8616394738731368,
    0.8639756154809185,
    0.8663180910111553,
    0.8686669176368529,
    0.871022112577578,
    0.8733836930995842,
    0.8757516765159389,
    0.8781260801866495,
    0.8805069215187917,
    0.8828942179666361,
    0.8852879870317771,
    0.8876882462632604,
    0.890095013257712,
    0.8925083056594671,
    0.8949281411607002,
    0.8973545375015533,
    0.8997875124702672,
    0.9022270839033115,
    0.9046732696855155,
    0.9071260877501991,
    0.909585556079304,
    0.9120516927035263,
    0.9145245157024483,
    0.9170040432046711,
    0.9194902933879467,
    0.9219832844793128,
    0.9244830347552253,
    0.9269895625416926,
    0.92950288621441,
    0.9320230241988943,
    0.9345499949706191,
    0.9370838170551498,
    0.93962450902828,
    0.9421720895161669,
    0.9447265771954693,
    0.9472879907934827,
    0.9498563490882775,
    0.9524316709088368,
    0.9550139751351947,
    0.9576032806985735,
    0.9601996065815236,
    0.9628029718180622,
    0.9654133954938133,
    0.9680308967461471,
    0.9706554947643201,
    0.9732872087896164,
    0.9759260581154889,
    0.9785720620876999,
    0.9812252401044634,
    0.9838856116165875,
    0.9865531961276168,
    0.9892280131939752,
    0.9919100824251095,
    0.9945994234836328,
    0.9972960560854698,
];

/// `x = frac · 2^exp` with `frac` in `[0.5, 1)`, for finite `x > 0` (Go's `math.Frexp`).
#[inline]
fn frexp(x: f64) -> (f64, i32) {
    let (x, scale) = if x.to_bits() >> 52 == 0 {
        // Subnormal: scale into the normal range first.
        (x * 18_446_744_073_709_551_616.0, 64)
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i32;
    let frac = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (frac, e - 1022 - scale)
}

/// The index of the native bucket of `v` (by its absolute value) at `schema` (-4..=8), as
/// client_golang and Prometheus number them: bucket `k` holds `base^(k-1) < |v| <= base^k`,
/// `base = 2^(2^-schema)`. `±Inf` is one bucket past `f64::MAX`'s. For `v` that is 0 or NaN
/// (which no bucket holds: the zero bucket and the count take them) the result means nothing.
///
/// ```
/// use metrics_core::native_bucket_index;
/// assert_eq!(native_bucket_index(1.0, 0), 0); // (0.5, 1]
/// assert_eq!(native_bucket_index(1.5, 0), 1); // (1, 2]
/// assert_eq!(native_bucket_index(-3.0, 1), 4); // (2^1.5, 4], base 2^(1/2)
/// assert_eq!(native_bucket_index(0.001, 3), -79);
/// ```
pub fn native_bucket_index(v: f64, schema: i8) -> i32 {
    let v = v.abs();
    let (v, inf) = if v == f64::INFINITY {
        (f64::MAX, 1)
    } else {
        (v, 0)
    };
    if v.is_nan() || v == 0.0 {
        return 0;
    }
    let (frac, exp) = frexp(v);
    let key = if schema > 0 {
        let shift = (8 - schema) as u32;
        let len = 1usize << schema;
        // The first fraction >= frac (Go's sort.SearchFloat64s).
        let (mut lo, mut hi) = (0, len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if FRACTIONS[mid << shift] < frac {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo as i32 + (exp - 1) * len as i32
    } else {
        // (2^(exp-1), 2^exp] is bucket exp of schema 0; an exact power of two (frac 0.5)
        // belongs to the bucket below. Schema s < 0 joins 2^-s of them: ceil(key / 2^-s).
        let key = if frac == 0.5 { exp - 1 } else { exp };
        let shift = (-schema) as u32;
        (key + (1 << shift) - 1) >> shift
    };
    key + inf
}

/// Bits of a slot's count; the key is above them.
const COUNT_BITS: u32 = 39;
/// The largest count a slot holds.
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;
/// Added to an index to store it in 20 bits (schema 8 indices of finite `f64`s and `±Inf`
/// stay within `±2^19`).
const INDEX_BIAS: i32 = 1 << 19;

/// A bucket's key: side (bit 24), schema + 5 (bits 20..24, never 0, so an empty slot is 0) and
/// the biased index (bits 0..20). Within one schema and side, keys order as indices do, and
/// the positive side sorts first.
pub(crate) fn key(sign: Sign, schema: i8, index: i32) -> u64 {
    let neg = u64::from(sign == Sign::Negative);
    (neg << 24) | (((schema + 5) as u64) << 20) | ((index + INDEX_BIAS) as u64 & 0xf_ffff)
}

pub(crate) fn key_sign(k: u64) -> Sign {
    if k >> 24 & 1 == 1 {
        Sign::Negative
    } else {
        Sign::Positive
    }
}

pub(crate) fn key_schema(k: u64) -> i8 {
    ((k >> 20) & 0xf) as i8 - 5
}

pub(crate) fn key_index(k: u64) -> i32 {
    (k & 0xf_ffff) as i32 - INDEX_BIAS
}

/// The key of the bucket at `schema` that holds bucket `k` (unchanged when `k` is at `schema`
/// or coarser): Prometheus' `((index - 1) >> (from - to)) + 1`.
#[inline]
pub(crate) fn coarsen(k: u64, schema: i8) -> u64 {
    let from = key_schema(k);
    if from <= schema {
        return k;
    }
    let index = ((key_index(k) - 1) >> (from - schema)) + 1;
    key(key_sign(k), schema, index)
}

fn slot_key(w: u64) -> u64 {
    w >> COUNT_BITS
}

fn slot_count(w: u64) -> u64 {
    w & COUNT_MAX
}

fn slot(k: u64, count: u64) -> u64 {
    (k << COUNT_BITS) | count
}

/// Re-keys the bucket in `s` to `schema` if it is finer, keeping its count.
fn rekey(s: &AtomicU64, schema: i8) {
    let mut w = s.load(Ordering::Relaxed);
    while w != 0 && key_schema(slot_key(w)) > schema {
        let new = slot(coarsen(slot_key(w), schema), slot_count(w));
        match s.compare_exchange_weak(w, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(x) => w = x,
        }
    }
}

/// Where the probe for key `k` starts in `n` slots.
fn home(k: u64, n: usize) -> usize {
    (k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize % n
}

/// The schema as stored in a shard: `schema + 8`, so that lower is smaller.
const fn enc(schema: i8) -> u64 {
    (schema + 8) as u64
}

/// The native half of one shard: the current schema, the zero bucket and the slots.
#[derive(Debug)]
pub(crate) struct NativeShard<S> {
    schema: AtomicU64,
    zero: AtomicU64,
    zero_threshold: f64,
    slots: S,
}

impl<S> NativeShard<S> {
    const_fn! {
        pub(crate) fn new(schema: i8, zero_threshold: f64, slots: S) -> Self {
            NativeShard {
                schema: AtomicU64::new(enc(schema)),
                zero: AtomicU64::new(0),
                zero_threshold,
                slots,
            }
        }
    }
}

impl<S: AsRef<[AtomicU64]>> NativeShard<S> {
    fn schema(&self) -> i8 {
        self.schema.load(Ordering::Relaxed) as i8 - 8
    }

    /// Lowers the schema to `schema` unless it is lower already.
    fn lower_schema(&self, schema: i8) {
        let mut cur = self.schema.load(Ordering::Relaxed);
        while cur > enc(schema) {
            match self.schema.compare_exchange_weak(
                cur,
                enc(schema),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(x) => cur = x,
            }
        }
    }

    /// Adds `count` (any size) to bucket `k`.
    fn insert_many(&self, k: u64, mut count: u64) {
        while count > 0 {
            let c = count.min(COUNT_MAX);
            self.insert(k, c);
            count -= c;
        }
    }

    /// Adds `c <= COUNT_MAX` to bucket `k` (coarsened to the current schema), reducing the
    /// resolution while no slot is free.
    #[inline]
    fn insert(&self, k: u64, c: u64) {
        // The hot path: the bucket has a slot, or a free one on its probe.
        if !self.add(coarsen(k, self.schema()), c) {
            self.insert_full(k, c);
        }
    }

    /// [`insert`](Self::insert) when the table had no room: compact, reduce, retry.
    #[cold]
    #[inline(never)]
    fn insert_full(&self, mut k: u64, c: u64) {
        loop {
            k = coarsen(k, self.schema());
            if self.add(k, c) {
                return;
            }
            // No slot: first finish any reduction to the current schema that another thread
            // has begun (re-key, merge pairs), and try again; only then lower the schema.
            let s = self.schema();
            self.compact(s);
            k = coarsen(k, self.schema());
            if self.add(k, c) {
                return;
            }
            if s <= MIN_SCHEMA {
                self.nearest(k, c);
                return;
            }
            // Whoever wins, the schema is lower now.
            let _ = self.schema.compare_exchange(
                enc(s),
                enc(s - 1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Adds `c` to the slot of `k` on `k`'s probe, claiming the first free slot if it has
    /// none. False when every slot holds another bucket (or a full count).
    #[inline]
    fn add(&self, k: u64, c: u64) -> bool {
        let slots = self.slots.as_ref();
        let n = slots.len();
        let mut i = home(k, n);
        for _ in 0..n {
            let s = &slots[i];
            let mut w = s.load(Ordering::Relaxed);
            loop {
                let new = if w == 0 {
                    slot(k, c)
                } else if slot_key(w) == k && slot_count(w) + c <= COUNT_MAX {
                    w + c
                } else {
                    break;
                };
                match s.compare_exchange_weak(w, new, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => {
                        // Claimed with a key computed before the schema went down: coarsen it.
                        if w == 0 {
                            rekey(s, self.schema());
                        }
                        return true;
                    }
                    Err(x) => w = x,
                }
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
        false
    }

    /// Brings every slot to schema `s` or coarser and merges slots of equal keys (pairs that
    /// became one bucket), freeing slots.
    #[cold]
    fn compact(&self, s: i8) {
        let slots = self.slots.as_ref();
        // Re-key in place: each count stays inside its (now coarser) bucket.
        for slot_ in slots {
            rekey(slot_, s);
        }
        // Merge: take each slot out and add it to another slot of its key if there is one
        // (freeing this one), else back on its probe.
        for (i, slot_) in slots.iter().enumerate() {
            let w = slot_.swap(0, Ordering::Relaxed);
            if w != 0 && !self.merge(i, slot_key(w), slot_count(w)) {
                self.insert(slot_key(w), slot_count(w));
            }
        }
    }

    /// Adds `c` to a slot other than `skip` that holds key `k` and has room.
    fn merge(&self, skip: usize, k: u64, c: u64) -> bool {
        for (i, s) in self.slots.as_ref().iter().enumerate() {
            if i == skip {
                continue;
            }
            let mut w = s.load(Ordering::Relaxed);
            while w != 0 && slot_key(w) == k && slot_count(w) + c <= COUNT_MAX {
                match s.compare_exchange_weak(w, w + c, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => return true,
                    Err(x) => w = x,
                }
            }
        }
        false
    }

    /// Schema -4 and no slot free: `c` goes to the populated bucket of `k`'s side nearest to
    /// `k`, or to the zero bucket when its side has none.
    #[cold]
    fn nearest(&self, k: u64, c: u64) {
        let slots = self.slots.as_ref();
        loop {
            let mut best: Option<(usize, u64, u32)> = None;
            for (i, s) in slots.iter().enumerate() {
                let w = s.load(Ordering::Relaxed);
                let sk = slot_key(w);
                if w != 0 && key_sign(sk) == key_sign(k) && slot_count(w) + c <= COUNT_MAX {
                    let d = key_index(sk).abs_diff(key_index(k));
                    if best.is_none_or(|b| d < b.2) {
                        best = Some((i, w, d));
                    }
                }
            }
            let Some((i, w, _)) = best else {
                self.zero.fetch_add(c, Ordering::Relaxed);
                return;
            };
            if slots[i]
                .compare_exchange(w, w + c, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }

    /// Counts `counts` restored from elsewhere (`observe_counts`).
    fn restore(&self, counts: &NativeCounts<'_>) {
        self.lower_schema(counts.schema);
        if counts.zero_count != 0 {
            self.zero.fetch_add(counts.zero_count, Ordering::Relaxed);
        }
        for (sign, side) in [
            (Sign::Positive, counts.positive),
            (Sign::Negative, counts.negative),
        ] {
            for &(index, c) in side {
                self.insert_many(key(sign, counts.schema, index), c);
            }
        }
    }
}

impl<S: AsRef<[AtomicU64]>> ShardExt for NativeShard<S> {
    #[inline]
    fn record(&self, v: f64) {
        if v.is_nan() {
            return;
        }
        if v.abs() <= self.zero_threshold {
            self.zero.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let sign = if v > 0.0 {
            Sign::Positive
        } else {
            Sign::Negative
        };
        let s = self.schema();
        self.insert(key(sign, s, native_bucket_index(v, s)), 1);
    }

    fn settle(&self) {
        let slots = self.slots.as_ref();
        let mut target = self.schema();
        for s in slots {
            let w = s.load(Ordering::Relaxed);
            if w != 0 {
                target = target.min(key_schema(slot_key(w)));
            }
        }
        self.schema.store(enc(target), Ordering::Relaxed);
        for s in slots {
            let w = s.load(Ordering::Relaxed);
            if w != 0 {
                s.store(
                    slot(coarsen(slot_key(w), target), slot_count(w)),
                    Ordering::Relaxed,
                );
            }
        }
        // Shell sort by key, empty slots last (0 - 1 wraps to the largest).
        let order = |w: u64| w.wrapping_sub(1);
        for gap in [57, 23, 10, 4, 1] {
            for i in gap..slots.len() {
                let w = slots[i].load(Ordering::Relaxed);
                let mut j = i;
                while j >= gap && order(slots[j - gap].load(Ordering::Relaxed)) > order(w) {
                    slots[j].store(slots[j - gap].load(Ordering::Relaxed), Ordering::Relaxed);
                    j -= gap;
                }
                slots[j].store(w, Ordering::Relaxed);
            }
        }
        // Merge equal keys where the sum fits a slot.
        let mut out = 0;
        for i in 0..slots.len() {
            let w = slots[i].load(Ordering::Relaxed);
            if w == 0 {
                break;
            }
            if out > 0 {
                let p = slots[out - 1].load(Ordering::Relaxed);
                if slot_key(p) == slot_key(w) && slot_count(p) + slot_count(w) <= COUNT_MAX {
                    slots[out - 1].store(p + slot_count(w), Ordering::Relaxed);
                    continue;
                }
            }
            slots[out].store(w, Ordering::Relaxed);
            out += 1;
        }
        for s in &slots[out..] {
            s.store(0, Ordering::Relaxed);
        }
    }

    type View<'a>
        = NativeView<'a>
    where
        S: 'a;
    fn view(&self) -> Option<NativeView<'_>> {
        let slots = self.slots.as_ref();
        let end = slots
            .iter()
            .position(|s| s.load(Ordering::Relaxed) == 0)
            .unwrap_or(slots.len());
        let split = slots[..end]
            .iter()
            .position(|s| key_sign(slot_key(s.load(Ordering::Relaxed))) == Sign::Negative)
            .unwrap_or(end);
        Some(NativeView {
            schema: self.schema(),
            zero_threshold: self.zero_threshold,
            zero: self.zero.load(Ordering::Relaxed),
            slots,
            split,
            end,
            cursor: Cell::new((Sign::Positive, 0, 0)),
        })
    }

    fn fold_into(&self, hot: &Self) {
        hot.lower_schema(self.schema());
        for s in self.slots.as_ref() {
            let w = s.swap(0, Ordering::Relaxed);
            if w != 0 {
                hot.insert(slot_key(w), slot_count(w));
            }
        }
        let z = self.zero.swap(0, Ordering::Relaxed);
        if z != 0 {
            hot.zero.fetch_add(z, Ordering::Relaxed);
        }
        self.schema
            .store(hot.schema.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// The native buckets of a settled cold shard: slots sorted by key, positive side in
/// `0..split`, negative in `split..end`; equal keys adjacent (a count past 39 bits).
pub(crate) struct NativeView<'a> {
    schema: i8,
    zero_threshold: f64,
    zero: u64,
    slots: &'a [AtomicU64],
    split: usize,
    end: usize,
    /// (side, bucket, its first slot) of the last bucket read: encoders read in order.
    cursor: Cell<(Sign, usize, usize)>,
}

impl NativeView<'_> {
    fn range(&self, side: Sign) -> (usize, usize) {
        match side {
            Sign::Positive => (0, self.split),
            Sign::Negative => (self.split, self.end),
        }
    }

    fn key_at(&self, i: usize) -> u64 {
        slot_key(self.slots[i].load(Ordering::Relaxed))
    }

    /// The first slot after the run of equal keys that starts at `pos`.
    fn run_end(&self, pos: usize, hi: usize) -> usize {
        let k = self.key_at(pos);
        let mut p = pos + 1;
        while p < hi && self.key_at(p) == k {
            p += 1;
        }
        p
    }
}

impl NativeHistogramValue for NativeView<'_> {
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
        let (lo, hi) = self.range(side);
        let (mut n, mut pos) = (0, lo);
        while pos < hi {
            pos = self.run_end(pos, hi);
            n += 1;
        }
        n
    }
    fn bucket(&self, side: Sign, i: usize) -> (i32, u64) {
        let (lo, hi) = self.range(side);
        let (mut run, mut pos) = match self.cursor.get() {
            (s, r, p) if s == side && r <= i => (r, p),
            _ => (0, lo),
        };
        while run < i && pos < hi {
            pos = self.run_end(pos, hi);
            run += 1;
        }
        assert!(pos < hi, "native bucket {i} out of range");
        self.cursor.set((side, run, pos));
        let count = (pos..self.run_end(pos, hi))
            .map(|p| slot_count(self.slots[p].load(Ordering::Relaxed)))
            .sum();
        (key_index(self.key_at(pos)), count)
    }
}

/// Native buckets counted elsewhere (a state file), for `observe_counts` of a native
/// histogram: the schema they are at, the zero bucket and each side's populated buckets as
/// `(index, count)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NativeCounts<'a> {
    /// The schema of the indices (-4..=8).
    pub schema: i8,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// `(index, count)` of the positive side.
    pub positive: &'a [(i32, u64)],
    /// `(index, count)` of the negative side.
    pub negative: &'a [(i32, u64)],
}

impl NativeCounts<'_> {
    /// No native buckets.
    pub const EMPTY: NativeCounts<'static> = NativeCounts {
        schema: MAX_SCHEMA,
        zero_count: 0,
        positive: &[],
        negative: &[],
    };

    /// Checks the schema and indices, and that they count at most `total` observations.
    fn check(&self, total: u64) -> Result<(), Error> {
        let mut n = self.zero_count;
        let ok_schema = (MIN_SCHEMA..=MAX_SCHEMA).contains(&self.schema);
        let mut ok = ok_schema;
        for &(index, c) in self.positive.iter().chain(self.negative) {
            ok &= index.unsigned_abs() < INDEX_BIAS as u32;
            n = n.saturating_add(c);
        }
        if !ok || n > total {
            return Err(Error::InvalidNative);
        }
        Ok(())
    }
}

/// Checks a native histogram's parameters (a `const` check for `static`s).
const fn config_valid(schema: i8, zero_threshold: f64, max_buckets: usize) -> bool {
    schema >= MIN_SCHEMA
        && schema <= MAX_SCHEMA
        && zero_threshold >= 0.0
        && zero_threshold < f64::INFINITY
        && max_buckets > 0
}

/// `observe_counts` of the native histograms: classic counts, sum and native buckets of the
/// same observations.
macro_rules! native_restore {
    ([$($generics:tt)*] $ty:ty) => {
        impl<$($generics)*> $ty {
            /// Adds observations counted elsewhere (a state file, another histogram's
            /// snapshot), as if each had been observed here: `counts[i]` in classic bucket `i`
            /// alone (one more count than finite bounds: the last is `+Inf`'s; a native-only
            /// histogram has just that one), their values summing to `sum`, and `native`, the
            /// same observations' native buckets (coarsened to this histogram's schema if
            /// finer). Lock-free; a snapshot holds all of them or none.
            ///
            /// # Errors
            ///
            /// [`Error::BucketCount`] when `counts` does not have one count per classic
            /// bucket; [`Error::InvalidNative`] when `native` has a schema outside -4..=8, an
            /// index out of range, or counts more observations than `counts`.
            pub fn observe_counts(
                &self,
                counts: &[u64],
                sum: f64,
                native: &NativeCounts<'_>,
            ) -> Result<(), Error> {
                let expected = self.bounds.len() + 1;
                if counts.len() != expected {
                    return Err(Error::BucketCount {
                        expected,
                        got: counts.len(),
                    });
                }
                native.check(counts.iter().fold(0u64, |n, c| n.saturating_add(*c)))?;
                self.core
                    .observe_counts(counts, sum, |ext| ext.restore(native));
                Ok(())
            }
        }
    };
}

/// A native histogram with room for `N` populated buckets, and optionally `B` classic
/// buckets too (a Prometheus that does not ask for protobuf reads those), all state inline:
/// `const`-constructible for `static`s, no heap.
///
/// ```
/// use metrics_core::{HistogramValue, NativeHistogram, DEFAULT_BUCKETS, DEFAULT_NATIVE_ZERO_THRESHOLD};
/// // Native only: schema 3 (8 buckets per power of two), at most 40 buckets.
/// static LATENCY: NativeHistogram<40> = NativeHistogram::new(3, DEFAULT_NATIVE_ZERO_THRESHOLD);
/// // Native and classic.
/// static BOTH: NativeHistogram<40, 11> =
///     NativeHistogram::with_classic(&DEFAULT_BUCKETS, 3, DEFAULT_NATIVE_ZERO_THRESHOLD);
/// LATENCY.observe(0.042);
/// BOTH.observe(0.042);
/// BOTH.snapshot(|s| {
///     let n = s.native().unwrap();
///     assert_eq!((n.schema(), n.bucket(metrics_core::Sign::Positive, 0)), (3, (-36, 1)));
///     assert_eq!(s.count(), 1);
/// });
/// ```
#[derive(Debug)]
pub struct NativeHistogram<const N: usize, const B: usize = 0> {
    bounds: &'static [f64; B],
    core: Core<[AtomicU64; B], NativeShard<[AtomicU64; N]>>,
}

impl<const N: usize> NativeHistogram<N, 0> {
    const_fn! {
        /// A native-only histogram starting at `schema` (-4..=8; it goes down when more than
        /// `N` buckets would be populated) with the zero bucket holding `|v| <=
        /// zero_threshold` ([`DEFAULT_NATIVE_ZERO_THRESHOLD`] is client_golang's). Panics (a
        /// compile error in a `static`) on a schema out of range, a negative or infinite
        /// threshold, or `N == 0`.
        pub fn new(schema: i8, zero_threshold: f64) -> Self {
            Self::build(&[], schema, zero_threshold)
        }
    }
}

impl<const N: usize, const B: usize> NativeHistogram<N, B> {
    const_fn! {
        /// A native histogram that keeps classic buckets over `bounds` too (strictly
        /// increasing, finite, `+Inf` implied); panics as [`NativeHistogram::new`] and on
        /// invalid bounds.
        pub fn with_classic(bounds: &'static [f64; B], schema: i8, zero_threshold: f64) -> Self {
            assert!(bounds_valid(bounds), "histogram bounds must be finite, strictly increasing and non-empty");
            Self::build(bounds, schema, zero_threshold)
        }
    }

    const_fn! {
        fn build(bounds: &'static [f64; B], schema: i8, zero_threshold: f64) -> Self {
            assert!(
                config_valid(schema, zero_threshold, N),
                "native histogram: schema must be -4..=8, the zero threshold finite and >= 0, and N > 0"
            );
            NativeHistogram {
                bounds,
                core: Core {
                    hot_count: AtomicU64::new(0),
                    shards: [
                        shard!(zeros!(B), NativeShard::new(schema, zero_threshold, zeros!(N))),
                        shard!(zeros!(B), NativeShard::new(schema, zero_threshold, zeros!(N))),
                    ],
                    snapshotting: AtomicBool::new(false),
                },
            }
        }
    }

    /// The classic bucket bounds (empty for a native-only histogram).
    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }
}

histogram_api!([const N: usize, const B: usize] NativeHistogram<N, B>);
native_restore!([const N: usize, const B: usize] NativeHistogram<N, B>);

#[cfg(feature = "alloc")]
pub use dynamic::{DynNativeHistogram, NativeConfig};

#[cfg(feature = "alloc")]
mod dynamic {
    use super::*;
    use alloc::boxed::Box;
    use alloc::sync::Arc;

    /// What the series of a native histogram family share: schema, zero threshold, the bound
    /// on populated buckets and the classic bounds (none for native-only).
    #[derive(Clone, Debug)]
    pub struct NativeConfig {
        pub(crate) schema: i8,
        pub(crate) zero_threshold: f64,
        pub(crate) max_buckets: usize,
        pub(crate) bounds: Arc<[f64]>,
    }

    impl NativeConfig {
        /// Native-only buckets starting at `schema` (-4..=8), at most `max_buckets` populated
        /// (both sides; client_golang's `NativeHistogramMaxBucketNumber`, e.g. 160), the
        /// zero threshold [`DEFAULT_NATIVE_ZERO_THRESHOLD`].
        ///
        /// # Errors
        ///
        /// [`Error::InvalidNative`] for a schema out of range or `max_buckets == 0`.
        pub fn new(schema: i8, max_buckets: usize) -> Result<Self, Error> {
            if !config_valid(schema, DEFAULT_NATIVE_ZERO_THRESHOLD, max_buckets) {
                return Err(Error::InvalidNative);
            }
            Ok(NativeConfig {
                schema,
                zero_threshold: DEFAULT_NATIVE_ZERO_THRESHOLD,
                max_buckets,
                bounds: Arc::from(&[][..]),
            })
        }

        /// The same with another zero threshold.
        ///
        /// # Errors
        ///
        /// [`Error::InvalidNative`] for a negative, NaN or infinite threshold.
        pub fn zero_threshold(mut self, zero_threshold: f64) -> Result<Self, Error> {
            if !config_valid(self.schema, zero_threshold, self.max_buckets) {
                return Err(Error::InvalidNative);
            }
            self.zero_threshold = zero_threshold;
            Ok(self)
        }

        /// The same with classic buckets over `bounds` too (a trailing `+Inf` is dropped).
        ///
        /// # Errors
        ///
        /// [`Error::InvalidBuckets`] for bounds that are empty, not increasing or NaN.
        pub fn classic(mut self, bounds: &[f64]) -> Result<Self, Error> {
            self.bounds = crate::buckets::validate_buckets(bounds)?.into();
            Ok(self)
        }
    }

    /// A native (and optionally classic) histogram configured at run time (run-time
    /// registries): the scheme of [`NativeHistogram`] over heap slots.
    #[derive(Debug)]
    pub struct DynNativeHistogram {
        bounds: Arc<[f64]>,
        core: Core<Box<[AtomicU64]>, NativeShard<Box<[AtomicU64]>>>,
    }

    impl DynNativeHistogram {
        /// A histogram at zero with `config`.
        pub fn new(config: &NativeConfig) -> Self {
            let zeros = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect::<Box<[_]>>();
            let mk = || {
                shard!(
                    zeros(config.bounds.len()),
                    NativeShard::new(
                        config.schema,
                        config.zero_threshold,
                        zeros(config.max_buckets)
                    )
                )
            };
            DynNativeHistogram {
                bounds: config.bounds.clone(),
                core: Core {
                    hot_count: AtomicU64::new(0),
                    shards: [mk(), mk()],
                    snapshotting: AtomicBool::new(false),
                },
            }
        }

        /// The classic bucket bounds (empty for a native-only histogram).
        pub fn bounds(&self) -> &[f64] {
            &self.bounds
        }
    }

    histogram_api!([] DynNativeHistogram);
    native_restore!([] DynNativeHistogram);

    impl crate::FamilyMember for DynNativeHistogram {
        type Config = NativeConfig;
        fn from_config(config: &NativeConfig) -> Self {
            DynNativeHistogram::new(config)
        }
        fn kind(_: &NativeConfig) -> Kind {
            Kind::Histogram
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    /// Every populated bucket of a snapshot: (side, index, count), zero count, schema.
    type Native = (Vec<(Sign, i32, u64)>, u64, i8);

    fn native(h: &dyn HistogramValue) -> Native {
        let n = h.native().expect("native buckets");
        let mut out = Vec::new();
        for side in [Sign::Positive, Sign::Negative] {
            let mut last = None;
            for i in 0..n.bucket_len(side) {
                let (index, count) = n.bucket(side, i);
                assert!(count > 0);
                assert!(last.is_none_or(|l| l < index), "ascending indices");
                last = Some(index);
                out.push((side, index, count));
            }
        }
        (out, n.zero_count(), n.schema())
    }

    /// What observing `values` gives at `schema` with the default zero threshold.
    fn expected(values: &[f64], schema: i8) -> Native {
        let mut out: Vec<(Sign, i32, u64)> = Vec::new();
        let mut zero = 0;
        for &v in values {
            if v.is_nan() {
                continue;
            }
            if v.abs() <= DEFAULT_NATIVE_ZERO_THRESHOLD {
                zero += 1;
                continue;
            }
            let side = if v > 0.0 {
                Sign::Positive
            } else {
                Sign::Negative
            };
            let index = native_bucket_index(v, schema);
            match out.iter_mut().find(|b| b.0 == side && b.1 == index) {
                Some(b) => b.2 += 1,
                None => out.push((side, index, 1)),
            }
        }
        out.sort_by_key(|b| (b.0 == Sign::Negative, b.1));
        (out, zero, schema)
    }

    #[test]
    fn index_follows_prometheus_boundaries() {
        // Exact powers of two belong to the bucket below (upper bounds are inclusive).
        assert_eq!(native_bucket_index(2.0, 0), 1);
        assert_eq!(native_bucket_index(2.000_000_000_000_000_4, 0), 2);
        assert_eq!(native_bucket_index(0.5, 0), -1);
        assert_eq!(native_bucket_index(4.0, -1), 1);
        assert_eq!(native_bucket_index(4.000_000_000_000_001, -1), 2);
        assert_eq!(native_bucket_index(0.0625, -1), -2);
        assert_eq!(native_bucket_index(1.0, -4), 0);
        assert_eq!(native_bucket_index(65536.0, -4), 1);
        assert_eq!(native_bucket_index(65537.0, -4), 2);
        // Schema > 0: a table fraction times two is the upper bound of bucket j.
        for schema in 1..=8i8 {
            let len = 1i32 << schema;
            for j in 0..len {
                let bound = FRACTIONS[(j as usize) << (8 - schema)] * 2.0;
                assert_eq!(
                    native_bucket_index(bound, schema),
                    j,
                    "schema {schema} j {j}"
                );
                let above = f64::from_bits(bound.to_bits() + 1);
                assert_eq!(native_bucket_index(above, schema), j + 1);
                // The same in another power of two.
                assert_eq!(native_bucket_index(bound * 1024.0, schema), j + 10 * len);
            }
        }
        // Subnormals, the largest finite value and infinity.
        assert_eq!(native_bucket_index(f64::from_bits(1), 0), -1074);
        assert_eq!(native_bucket_index(f64::MAX, 0), 1024);
        assert_eq!(native_bucket_index(f64::INFINITY, 0), 1025);
        assert_eq!(native_bucket_index(f64::NEG_INFINITY, 8), 262_145);
        assert_eq!(native_bucket_index(f64::from_bits(1), 8), -274_944);
    }

    #[test]
    fn index_agrees_with_log2_away_from_boundaries() {
        let step = if cfg!(miri) { 0.37 } else { 0.0137 };
        let mut x = -30.0;
        while x < 30.0 {
            let v = 2f64.powf(x);
            for schema in -4..=8i8 {
                let exact = x * f64::from(1u32 << (schema + 4)) / 16.0;
                // Skip values within rounding of a boundary.
                if (exact - exact.round()).abs() > 1e-6 {
                    assert_eq!(
                        native_bucket_index(v, schema),
                        exact.ceil() as i32,
                        "{v} {schema}"
                    );
                }
            }
            x += step;
        }
    }

    #[test]
    fn keys_round_trip_and_coarsen() {
        for (sign, schema, index) in [
            (Sign::Positive, 8, 262_145),
            (Sign::Negative, 8, -274_944),
            (Sign::Positive, -4, 0),
            (Sign::Negative, 3, -79),
        ] {
            let k = key(sign, schema, index);
            assert_ne!(k, 0);
            assert_eq!(
                (key_sign(k), key_schema(k), key_index(k)),
                (sign, schema, index)
            );
        }
        // Bucket 5 of schema 1, (2^2, 2^2.5], lies in bucket 3 of schema 0, (2^2, 2^3].
        assert_eq!(
            coarsen(key(Sign::Positive, 1, 5), 0),
            key(Sign::Positive, 0, 3)
        );
        assert_eq!(
            coarsen(key(Sign::Negative, 2, -3), 0),
            key(Sign::Negative, 0, 0)
        );
        for v in [0.001, 0.3, 1.0, 7.5, 1e9] {
            for from in -3..=8i8 {
                for to in -4..from {
                    let k = key(Sign::Positive, from, native_bucket_index(v, from));
                    assert_eq!(
                        coarsen(k, to),
                        key(Sign::Positive, to, native_bucket_index(v, to)),
                        "{v} {from}->{to}"
                    );
                }
            }
        }
    }

    const VALUES: [f64; 12] = [
        0.001,
        0.0011,
        0.042,
        1.0,
        1.0,
        -2.5,
        0.0,
        1e-40,
        -1e-45,
        300.0,
        f64::INFINITY,
        f64::NAN,
    ];

    #[test]
    fn observations_land_in_their_buckets() {
        static H: NativeHistogram<32> = NativeHistogram::new(3, DEFAULT_NATIVE_ZERO_THRESHOLD);
        for v in VALUES {
            H.observe(v);
        }
        H.snapshot(|s| {
            assert!(s.bounds().is_empty());
            assert_eq!(s.count(), 12, "NaN counts");
            assert!(s.sum().is_nan());
            assert_eq!(native(s), expected(&VALUES, 3));
            let n = s.native().unwrap();
            assert_eq!(n.zero_threshold(), DEFAULT_NATIVE_ZERO_THRESHOLD);
            // Every observation but NaN is in a native bucket.
            let (b, zero, _) = native(s);
            assert_eq!(b.iter().map(|b| b.2).sum::<u64>() + zero, 11);
        });
        // Snapshots accumulate.
        H.observe(0.042);
        H.snapshot(|s| {
            assert_eq!(s.count(), 13);
            assert!(native(s).0.contains(&(Sign::Positive, -36, 2)));
        });
    }

    #[test]
    fn classic_and_native_together() {
        static H: NativeHistogram<16, 11> = NativeHistogram::with_classic(
            &crate::DEFAULT_BUCKETS,
            0,
            DEFAULT_NATIVE_ZERO_THRESHOLD,
        );
        for v in [0.003, 0.2, 0.2, 4.0, 20.0] {
            H.observe(v);
        }
        H.snapshot(|s| {
            assert_eq!(s.bounds().len(), 11);
            assert_eq!(
                (s.bucket(0), s.bucket(5), s.bucket(9), s.bucket(11)),
                (1, 2, 1, 1)
            );
            assert_eq!(s.count(), 5);
            assert_eq!(native(s), expected(&[0.003, 0.2, 0.2, 4.0, 20.0], 0));
        });
    }

    #[test]
    fn resolution_drops_when_buckets_run_out() {
        // Values over 2^-10..2^10: 20 powers of two, 160 buckets at schema 3, but room for 6.
        let h = NativeHistogram::<6>::new(3, 0.0);
        let mut values = Vec::new();
        let n = if cfg!(miri) { 40 } else { 400 };
        for i in 0..n {
            let v = 2f64.powf(-10.0 + 20.0 * f64::from(i) / f64::from(n));
            values.push(v);
            h.observe(v);
        }
        h.snapshot(|s| {
            let (b, zero, schema) = native(s);
            assert!(b.len() <= 6, "{b:?}");
            assert_eq!(zero, 0);
            // The coarsest schema at which 20 powers of two need at most 6 buckets is -2
            // (4 powers of two each: 5 or 6 buckets).
            assert_eq!(schema, -2);
            assert_eq!(native(s), expected(&values, -2));
        });
        // New observations use the reduced schema.
        h.observe(1.0);
        h.snapshot(|s| assert_eq!(native(s).2, -2));
    }

    #[test]
    fn at_the_lowest_schema_counts_go_to_the_nearest_bucket() {
        let h = NativeHistogram::<2>::new(-4, 0.0);
        for v in [1.0, 1e10, 1e300, -5.0] {
            h.observe(v);
        }
        h.snapshot(|s| {
            let (b, zero, schema) = native(s);
            assert_eq!(schema, -4);
            // 1e300 (bucket 63) went to 1e10's bucket (3); -5 has no bucket on its side.
            assert_eq!(b, [(Sign::Positive, 0, 1), (Sign::Positive, 3, 2)]);
            assert_eq!(zero, 1);
            assert_eq!(s.count(), 4);
        });
    }

    #[test]
    fn observe_counts_restores_native_buckets() {
        static H: NativeHistogram<8, 2> =
            NativeHistogram::with_classic(&[1.0, 2.0], 2, DEFAULT_NATIVE_ZERO_THRESHOLD);
        H.observe(1.5);
        // Saved at schema 3 (finer): coarsened to 2.
        let saved = NativeCounts {
            schema: 3,
            zero_count: 1,
            positive: &[(1, 2), (2, 1)],
            negative: &[(0, 1)],
        };
        assert_eq!(
            H.observe_counts(&[1, 1], 0.0, &saved),
            Err(Error::BucketCount {
                expected: 3,
                got: 2
            })
        );
        assert_eq!(
            H.observe_counts(&[1, 1, 1], 0.0, &saved),
            Err(Error::InvalidNative)
        );
        let bad = NativeCounts {
            schema: 9,
            ..NativeCounts::EMPTY
        };
        assert_eq!(
            H.observe_counts(&[1, 0, 0], 0.0, &bad),
            Err(Error::InvalidNative)
        );
        H.observe_counts(&[3, 1, 1], 7.0, &saved).unwrap();
        H.snapshot(|s| {
            assert_eq!(s.count(), 6);
            assert_eq!(s.sum(), 8.5);
            let (b, zero, schema) = native(s);
            assert_eq!(schema, 2);
            assert_eq!(zero, 1);
            // 1.5 is bucket 3 at schema 2; saved (3,1),(3,2) -> 1, (3,0) -> 0 (negative).
            assert_eq!(
                b,
                [
                    (Sign::Positive, 1, 3),
                    (Sign::Positive, 3, 1),
                    (Sign::Negative, 0, 1)
                ]
            );
        });
        // Saved at a coarser schema: the histogram goes down to it.
        let coarse = NativeCounts {
            schema: 0,
            zero_count: 0,
            positive: &[(5, 2)],
            negative: &[],
        };
        H.observe_counts(&[0, 0, 2], 40.0, &coarse).unwrap();
        H.observe(1.5);
        H.snapshot(|s| {
            let (b, _, schema) = native(s);
            assert_eq!(schema, 0);
            assert_eq!(b[..2], [(Sign::Positive, 1, 5), (Sign::Positive, 5, 2)]);
        });
    }

    #[test]
    fn counts_past_a_slot_continue_in_another() {
        let h = NativeHistogram::<4>::new(0, 0.0);
        let big = COUNT_MAX + 5;
        let saved = NativeCounts {
            schema: 0,
            zero_count: 0,
            positive: &[(1, big)],
            negative: &[],
        };
        h.observe_counts(&[big], 0.0, &saved).unwrap();
        h.observe(1.5);
        h.snapshot(|s| assert_eq!(native(s).0, [(Sign::Positive, 1, big + 1)]));
        h.snapshot(|s| assert_eq!(native(s).0, [(Sign::Positive, 1, big + 1)]));
    }

    #[test]
    #[cfg(feature = "alloc")]
    fn run_time_histograms_and_families() {
        assert_eq!(NativeConfig::new(9, 10).unwrap_err(), Error::InvalidNative);
        assert_eq!(NativeConfig::new(0, 0).unwrap_err(), Error::InvalidNative);
        let c = NativeConfig::new(1, 10).unwrap();
        assert_eq!(
            c.clone().zero_threshold(-1.0).unwrap_err(),
            Error::InvalidNative
        );
        let c = c.zero_threshold(0.01).unwrap().classic(&[1.0]).unwrap();
        let f = crate::Family::<DynNativeHistogram>::new(1, 10, c);
        f.labels(&["a"]).observe(0.005);
        f.labels(&["a"]).observe(3.0);
        f.labels(&["b"]).observe(-3.0);
        assert_eq!(f.labels(&["a"]).bounds(), &[1.0]);
        f.labels(&["a"]).snapshot(|s| {
            assert_eq!(s.count(), 2);
            assert_eq!(native(s), (vec![(Sign::Positive, 4, 1)], 1, 1));
            assert_eq!(s.native().unwrap().zero_threshold(), 0.01);
        });
        f.labels(&["b"])
            .snapshot(|s| assert_eq!(native(s).0, [(Sign::Negative, 4, 1)]));
    }

    #[test]
    fn concurrent_observers_and_snapshots_agree() {
        extern crate std;
        use std::sync::Arc;
        let per = if cfg!(miri) { 30 } else { 3000 };
        let h = Arc::new(NativeHistogram::<6, 1>::with_classic(&[1.0], 4, 0.0));
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for i in 0..per {
                        h.observe(if t == 0 {
                            1.0 + f64::from(i % 97)
                        } else {
                            -0.01 * f64::from(i % 13 + 1)
                        });
                    }
                })
            })
            .collect();
        let mut snaps = 0;
        while !threads.iter().all(|t| t.is_finished()) || snaps < 3 {
            h.snapshot(|s| {
                let (b, zero, _) = native(s);
                assert!(b.len() <= 6);
                assert_eq!(b.iter().map(|b| b.2).sum::<u64>() + zero, s.count());
            });
            snaps += 1;
        }
        for t in threads {
            t.join().unwrap();
        }
        h.snapshot(|s| {
            assert_eq!(s.count(), 2 * per as u64);
            let (b, _, schema) = native(s);
            let pos: u64 = b
                .iter()
                .filter(|b| b.0 == Sign::Positive)
                .map(|b| b.2)
                .sum();
            assert_eq!(pos, per as u64);
            assert!(schema < 4);
        });
    }
}
