//! Loom models of the histogram's hot/cold-shard scheme (`src/histogram.rs`), its native
//! buckets (`src/native.rs`), the per-thread native histogram (`src/sharded_native.rs`), the
//! fixed-capacity families and the exemplar seqlock (`src/exemplar.rs`).
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p metrics-core --test loom --release
//! ```
//!
//! Each model bounds preemptions to 2 so the whole file checks in seconds;
//! `LOOM_MAX_PREEMPTIONS=3` checks models (a) and (c) deeper (about 100 s), model (b) cannot go
//! past 2 (see there).
//!
//! The observations are chosen so that every snapshot identifies exactly which observations it
//! holds: thread A observes `1.0` (bucket `le=1`) and then `3.0` (`+Inf`), thread B observes
//! `2.0` (bucket `le=2`). A snapshot is correct iff it is the state of "the first `a`
//! observations of A and the first `b` of B" for some `a`, `b`: per-bucket counts, the `+Inf`
//! bucket, the count and the sum all of the same prefix, with `a` and `b` between what had
//! completed before the snapshot began and what had started before it ended.
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use metrics_core::Histogram;

/// Preemption bound of the models.
const PREEMPTIONS: usize = 2;

static BOUNDS: [f64; 2] = [1.0, 2.0];

/// Thread A's observations, in order.
const A: [f64; 2] = [1.0, 3.0];
/// Thread B's observations.
const B: [f64; 1] = [2.0];

/// What a snapshot shows: non-cumulative buckets (`le=1`, `le=2`, `+Inf`), count and sum.
#[derive(Clone, Copy, Debug, PartialEq)]
struct State {
    buckets: [u64; 3],
    count: u64,
    sum: f64,
}

fn take(h: &Histogram<2>) -> State {
    h.snapshot(|s| State {
        buckets: [s.bucket(0), s.bucket(1), s.bucket(2)],
        count: s.count(),
        sum: s.sum(),
    })
}

/// The state after the first `a` observations of [`A`] and the first `b` of [`B`].
fn expected(a: usize, b: usize) -> State {
    let mut buckets = [0; 3];
    let mut sum = 0.0;
    for &v in A[..a].iter().chain(&B[..b]) {
        let i = BOUNDS.iter().position(|&x| v <= x).unwrap_or(BOUNDS.len());
        buckets[i] += 1;
        sum += v;
    }
    State {
        buckets,
        count: (a + b) as u64,
        sum,
    }
}

/// The prefix `(a, b)` that `s` is the state of; panics when it is no prefix's state.
fn prefix_of(s: State) -> (usize, usize) {
    let a = s.buckets[0] + s.buckets[2];
    let b = s.buckets[1];
    assert_eq!(
        s.count,
        s.buckets.iter().sum::<u64>(),
        "count is not the +Inf bucket: {s:?}"
    );
    let (a, b) = (a as usize, b as usize);
    assert!(
        a <= A.len() && b <= B.len(),
        "more observations than made: {s:?}"
    );
    assert_eq!(s, expected(a, b), "not the state of any prefix");
    (a, b)
}

/// Observations of one thread: `started` counts calls begun, `done` calls returned.
#[derive(Default)]
struct Progress {
    started: AtomicUsize,
    done: AtomicUsize,
}

fn observer<H: Send + Sync + 'static>(
    h: Arc<H>,
    p: Arc<Progress>,
    values: &'static [f64],
    observe: fn(&H, f64),
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for &v in values {
            p.started.fetch_add(1, SeqCst);
            observe(&h, v);
            p.done.fetch_add(1, SeqCst);
        }
    })
}

/// A snapshot checked against the observers' progress around it (linearisability): it holds
/// at least what completed before it began and at most what started before it ended.
fn checked_snapshot(h: &Histogram<2>, pa: &Progress, pb: &Progress) -> State {
    let (min_a, min_b) = (pa.done.load(SeqCst), pb.done.load(SeqCst));
    let s = take(h);
    let (max_a, max_b) = (pa.started.load(SeqCst), pb.started.load(SeqCst));
    let (a, b) = prefix_of(s);
    assert!(
        (min_a..=max_a).contains(&a),
        "A: {a} not in {min_a}..={max_a}"
    );
    assert!(
        (min_b..=max_b).contains(&b),
        "B: {b} not in {min_b}..={max_b}"
    );
    s
}

/// A model checker with at most `preemptions` preemptions per execution. `LOOM_MAX_PREEMPTIONS`
/// raises the bound of the models that allow it (3 takes about 100 s for models (a) and (c)).
fn builder(preemptions: usize, overridable: bool) -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    if !overridable || std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        b.preemption_bound = Some(preemptions);
    }
    b
}

/// (a) Two observers and one snapshot: the snapshot is the state of a prefix of each
/// observer's observations; after the join, everything is visible.
#[test]
fn snapshot_during_observes_is_consistent() {
    builder(PREEMPTIONS, true).check(|| {
        let h = Arc::new(Histogram::new(&BOUNDS));
        let (pa, pb) = (Arc::new(Progress::default()), Arc::new(Progress::default()));
        let ta = observer(h.clone(), pa.clone(), &A, Histogram::observe);
        let tb = observer(h.clone(), pb.clone(), &B, Histogram::observe);
        let snap = {
            let (h, pa, pb) = (h.clone(), pa.clone(), pb.clone());
            thread::spawn(move || checked_snapshot(&h, &pa, &pb))
        };
        ta.join().unwrap();
        tb.join().unwrap();
        snap.join().unwrap();
        assert_eq!(take(&h), expected(A.len(), B.len()));
    });
}

/// (b) Two snapshots racing for the snapshot spin lock (a spawned thread and the model's main
/// thread) while a third thread observes: both are consistent, and the final snapshot sees all
/// observations.
///
/// Under loom this model must stay at preemption bound 2: with 3, loom's DPOR keeps
/// alternating between the two spinning snapshots (one waiting for the lock, one for the
/// observer's `done`) without running the observer, a path family without end
/// (tokio-rs/loom#53), and it reports "exceeded maximum number of branches".
#[test]
fn concurrent_snapshots_with_an_observer() {
    builder(PREEMPTIONS, false).check(|| {
        let h = Arc::new(Histogram::new(&BOUNDS));
        let (pa, pb) = (Arc::new(Progress::default()), Arc::new(Progress::default()));
        let ta = observer(h.clone(), pa.clone(), &A, Histogram::observe);
        let snap = {
            let (h, pa, pb) = (h.clone(), pa.clone(), pb.clone());
            thread::spawn(move || checked_snapshot(&h, &pa, &pb))
        };
        checked_snapshot(&h, &pa, &pb);
        ta.join().unwrap();
        snap.join().unwrap();
        assert_eq!(take(&h), expected(A.len(), 0));
    });
}

/// (c) Snapshots taken while observers run leave the shards in a state where, once all
/// threads joined, a final snapshot (and a repeated one) sees every observation: the fold of
/// the cold shard into the hot one loses and duplicates nothing.
#[test]
fn final_snapshot_sees_everything() {
    builder(PREEMPTIONS, true).check(|| {
        let h = Arc::new(Histogram::new(&BOUNDS));
        let (pa, pb) = (Arc::new(Progress::default()), Arc::new(Progress::default()));
        let ta = observer(h.clone(), pa.clone(), &A, Histogram::observe);
        let tb = observer(h.clone(), pb.clone(), &B, Histogram::observe);
        // The main thread snapshots twice while the observers run; the second must not go
        // back behind the first.
        let first = prefix_of(checked_snapshot(&h, &pa, &pb));
        let second = prefix_of(checked_snapshot(&h, &pa, &pb));
        assert!(
            second.0 >= first.0 && second.1 >= first.1,
            "went back: {first:?} then {second:?}"
        );
        ta.join().unwrap();
        tb.join().unwrap();
        let all = expected(A.len(), B.len());
        assert_eq!(take(&h), all);
        assert_eq!(take(&h), all, "a repeated snapshot sees the same");
        assert_eq!((h.count(), h.sum()), (3, 6.0));
    });
}

/// What a native histogram's snapshot shows: schema, populated positive buckets, zero
/// bucket, the classic `+Inf` bucket (= `_count`) and the sum.
#[derive(Clone, Debug, PartialEq)]
struct NativeState {
    schema: i8,
    buckets: Vec<(i32, u64)>,
    zero: u64,
    count: u64,
    sum: f64,
}

/// Thread A's native observations: buckets 0 and 2 of schema 0, so that with B's bucket -1
/// the third bucket does not fit the two slots and the observer that brings it reduces the
/// schema to -1 (where 0.3 and 1.0 share bucket 0) while the other observes and a snapshot
/// reads.
const NA: [f64; 2] = [1.0, 3.0];
/// Thread B's native observation.
const NB: [f64; 1] = [0.3];

type Native = metrics_core::NativeHistogram<2>;

fn take_native(h: &Native) -> NativeState {
    h.snapshot(native_state)
}

fn native_state(s: &dyn metrics_core::HistogramValue) -> NativeState {
    use metrics_core::Sign;
    let n = s.native().unwrap();
    assert_eq!(n.bucket_len(Sign::Negative), 0);
    NativeState {
        schema: n.schema(),
        buckets: (0..n.bucket_len(Sign::Positive))
            .map(|i| n.bucket(Sign::Positive, i))
            .collect(),
        zero: n.zero_count(),
        count: s.count(),
        sum: s.sum(),
    }
}

/// The state after the first `a` observations of [`NA`] and `b` of [`NB`] at `schema`.
fn native_expected(a: usize, b: usize, schema: i8) -> NativeState {
    let mut buckets: Vec<(i32, u64)> = Vec::new();
    let mut sum = 0.0;
    for &v in NA[..a].iter().chain(&NB[..b]) {
        let i = metrics_core::native_bucket_index(v, schema);
        match buckets.iter_mut().find(|x| x.0 == i) {
            Some(x) => x.1 += 1,
            None => buckets.push((i, 1)),
        }
        sum += v;
    }
    buckets.sort();
    NativeState {
        schema,
        buckets,
        zero: 0,
        count: (a + b) as u64,
        sum,
    }
}

/// A native snapshot checked as [`checked_snapshot`] does: the state of a prefix of each
/// observer's observations, at schema 0 (all of them fit two buckets) or -1, within what had
/// completed and started around it.
fn checked_native(take: impl Fn() -> NativeState, pa: &Progress, pb: &Progress) -> (usize, usize) {
    let (min_a, min_b) = (pa.done.load(SeqCst), pb.done.load(SeqCst));
    let s = take();
    let (max_a, max_b) = (pa.started.load(SeqCst), pb.started.load(SeqCst));
    let found = (min_a..=max_a)
        .flat_map(|a| (min_b..=max_b).map(move |b| (a, b)))
        .find(|&(a, b)| s == native_expected(a, b, s.schema));
    let (a, b) = found.unwrap_or_else(|| panic!("not the state of any prefix: {s:?}"));
    assert!(s.schema == 0 || s.schema == -1, "{s:?}");
    assert!(
        s.schema == -1 || native_expected(a, b, 0).buckets.len() <= 2,
        "three buckets at schema 0: {s:?}"
    );
    (a, b)
}

/// (f) Native buckets: two observers, one of which has to reduce the schema (merging pairs
/// of slots) while the other adds to a slot and the main thread snapshots: every snapshot
/// is one prefix's native buckets, count and sum; the final one holds everything at
/// schema -1.
#[test]
fn native_snapshot_during_observes_and_reduction() {
    builder(PREEMPTIONS, true).check(|| {
        let h = Arc::new(Native::new(0, 0.0));
        let (pa, pb) = (Arc::new(Progress::default()), Arc::new(Progress::default()));
        let ta = observer(h.clone(), pa.clone(), &NA, Native::observe);
        let tb = observer(h.clone(), pb.clone(), &NB, Native::observe);
        checked_native(|| take_native(&h), &pa, &pb);
        ta.join().unwrap();
        tb.join().unwrap();
        let all = native_expected(NA.len(), NB.len(), -1);
        assert_eq!(take_native(&h), all);
        assert_eq!(take_native(&h), all, "a repeated snapshot sees the same");
    });
}

/// (g) The per-thread native histogram (`src/sharded_native.rs`) over a thread-slot table of
/// two slots: each observer claims a slot (the second may get the first's, released when it
/// finished: the slot and its shard pass on), observes into its shard (a seqlock) with plain
/// loads and stores, or into the fallback while the scrape's flag is up, and releases the
/// slot. The scrape (the main thread) adds up the shards' copies and the fallback: it is one
/// prefix of each observer's observations, within what had completed and started around it;
/// the final one holds everything at schema -1 (three buckets of schema 0 pass the bound of
/// two, in one shard or in the merge). One preemption per execution (`LOOM_MAX_PREEMPTIONS`
/// overrides it): two took over four minutes, the fallback's own hot/cold scheme inside.
/// Monotonic scrapes are left to the stress test and the unit test of threads observing.
#[test]
fn sharded_native_scrape_during_observes_and_slot_handover() {
    use loom::sync::atomic::AtomicBool;
    use metrics_core::ShardedNativeHistogram as Sharded;
    use metrics_core::{claim_thread_slot, release_thread_slot, NativeConfig};
    fn owner(
        h: Arc<Sharded>,
        table: Arc<[AtomicBool; 2]>,
        p: Arc<Progress>,
        values: &'static [f64],
    ) -> thread::JoinHandle<()> {
        thread::spawn(move || {
            let slot = claim_thread_slot(&table[..]);
            for &v in values {
                p.started.fetch_add(1, SeqCst);
                h.observe_in_slot(slot, v);
                p.done.fetch_add(1, SeqCst);
            }
            if let Some(i) = slot {
                release_thread_slot(&table[..], i);
            }
        })
    }
    builder(1, true).check(|| {
        let config = NativeConfig::new(0, 2)
            .unwrap()
            .zero_threshold(0.0)
            .unwrap();
        let h = Arc::new(Sharded::new(&config));
        let table = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
        let (pa, pb) = (Arc::new(Progress::default()), Arc::new(Progress::default()));
        let ta = owner(h.clone(), table.clone(), pa.clone(), &NA);
        let tb = owner(h.clone(), table.clone(), pb.clone(), &NB);
        checked_native(|| h.snapshot(native_state), &pa, &pb);
        ta.join().unwrap();
        tb.join().unwrap();
        let all = native_expected(NA.len(), NB.len(), -1);
        assert_eq!(h.snapshot(native_state), all);
    });
}

/// (d) Fixed-capacity families (`heapless`): two threads insert the same new label values
/// at once: exactly one series is created (no duplicate slot), both increments land in it,
/// and its values, written before the Release that publishes the slot, read back whole.
#[test]
fn heapless_family_concurrent_inserts_make_one_series() {
    use metrics_core::{Counter, HeaplessFamily};
    builder(PREEMPTIONS, true).check(|| {
        let f: Arc<HeaplessFamily<Counter, 2, 1, 4>> = Arc::new(HeaplessFamily::counters());
        let f2 = f.clone();
        let t = thread::spawn(move || f2.labels(&["a"]).inc());
        f.labels(&["a"]).inc();
        t.join().unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f.get(&["a"]).map(Counter::get), Some(2));
        assert!(!f.overflowed());
    });
}

/// (e) One thread inserts while another looks the same values up and encodes: the reader
/// sees either no series or the complete one (loom checks the label bytes are never read
/// while written).
#[test]
fn heapless_family_reader_sees_nothing_or_the_whole_series() {
    use metrics_core::{Collect, Counter, HeaplessFamily};
    builder(PREEMPTIONS, true).check(|| {
        let f: Arc<HeaplessFamily<Counter, 2, 1, 4>> = Arc::new(HeaplessFamily::counters());
        let f2 = f.clone();
        let t = thread::spawn(move || f2.labels(&["ab"]).inc());
        if let Some(c) = f.get(&["ab"]) {
            assert!(c.get() <= 1);
        }
        for i in 0..f.series_count() {
            f.collect(i, &mut |labels, _| {
                assert_eq!(labels.get(0), "ab");
                Ok(())
            })
            .unwrap();
        }
        t.join().unwrap();
        assert_eq!(f.get(&["ab"]).map(Counter::get), Some(1));
    });
}

/// The label sets, values and timestamps the exemplar writers store: set `i` is recognisable
/// from any one of its parts, and the long one spans three data words, so a torn read (words of
/// two sets, or a value of another set) cannot look like a whole one.
const EXEMPLARS: [(&str, f64, Option<f64>); 3] = [
    ("a", 1.0, Some(10.0)),
    ("bbbbbbbbbbbbbbbbbbbb", 2.0, None),
    ("cc", 3.0, Some(30.0)),
];

/// Which of [`EXEMPLARS`] a read exemplar is; panics on anything else (a torn exemplar).
fn whole_exemplar(x: &metrics_core::ExemplarRef<'_>) -> usize {
    let labels: Vec<(&str, &str)> = x.labels().collect();
    let i = EXEMPLARS
        .iter()
        .position(|(id, v, t)| labels == [("id", *id)] && x.value() == *v && x.timestamp() == *t)
        .unwrap_or_else(|| {
            panic!(
                "torn exemplar: {labels:?} {} {:?}",
                x.value(),
                x.timestamp()
            )
        });
    i
}

/// (g) The exemplar seqlock: two writers (one sets twice) and a reader that reads twice. Every
/// read is one whole exemplar that some writer stored, never parts of two; a writer that
/// finds the slot busy gives up at once (`set` returns false), and after the join the slot
/// holds one of the exemplars whose `set` returned true.
#[test]
fn exemplar_reads_are_never_torn() {
    builder(PREEMPTIONS, true).check(|| {
        let e = Arc::new(metrics_core::Exemplar::new());
        let writer = |e: Arc<metrics_core::Exemplar>, which: &'static [usize]| {
            thread::spawn(move || {
                let mut stored = Vec::new();
                for &i in which {
                    let (id, v, t) = EXEMPLARS[i];
                    if e.set(&[("id", id)], v, t).unwrap() {
                        stored.push(i);
                    }
                }
                stored
            })
        };
        let a = writer(e.clone(), &[0, 2]);
        let b = writer(e.clone(), &[1]);
        let mut buf = [0u8; 64];
        for _ in 0..2 {
            if let Some(x) = e.read(&mut buf) {
                whole_exemplar(&x);
            }
        }
        let mut stored = a.join().unwrap();
        stored.extend(b.join().unwrap());
        assert!(!stored.is_empty(), "one writer always gets through");
        let last = whole_exemplar(&e.read(&mut buf).expect("quiescent: readable"));
        assert!(stored.contains(&last), "{last} was never stored");
    });
}
