//! The workloads of the side-by-side benchmarks, written once for each crate.
//!
//! `benches/peers.rs` times them with criterion and `src/bin/alloc_count.rs` counts their
//! allocations; `scripts/bench.sh` runs both and `scripts/benchmarks_md.py` turns the results
//! into `BENCHMARKS.md`. Every crate gets the same work: the same 18 label combinations in the
//! same pseudo-random order, the same histogram bounds and observations, the same registry of
//! `n` counter series (one family, one label) to encode.
//!
//! The crates: `ours` (metrics-core), `prometheus`, `prometheus_client`, `metrics` (the `metrics`
//! facade with `metrics-exporter-prometheus`' recorder) and `measured`, plus `limit`: the
//! least work the hardware allows for the same result (one `fetch_add`, a linear match, a
//! hand-written writer), the floor the others are compared with.

#![deny(missing_docs)]

use std::sync::Barrier;
use std::time::{Duration, Instant};

/// The first label's values (3) of the labelled workloads.
pub const KINDS: [&str; 3] = ["user", "internal", "network"];
/// The second label's values (6): with [`KINDS`], 18 series.
pub const ROUTES: [&str; 6] = [
    "/api/v1/users",
    "/api/v1/users/:id",
    "/api/v1/products",
    "/api/v1/products/:id",
    "/api/v1/products/:id/owner",
    "/api/v1/products/:id/purchase",
];
/// The histogram's bounds: 8 exponential buckets from 1 ms, doubling.
pub const BOUNDS: [f64; 8] = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128];
/// Length of the pre-drawn input sequences (a power of two, so a mask wraps the index).
pub const SEQUENCE: usize = 4096;

/// A small deterministic generator (xorshift64*), so every crate sees the same inputs.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// [`SEQUENCE`] label pairs `(kind, route)` drawn uniformly from the 18 combinations.
pub fn label_sequence() -> Vec<(&'static str, &'static str)> {
    let mut s = 0x9e37_79b9_7f4a_7c15;
    (0..SEQUENCE)
        .map(|_| {
            let r = xorshift(&mut s);
            (KINDS[(r % 3) as usize], ROUTES[((r >> 8) % 6) as usize])
        })
        .collect()
}

/// [`SEQUENCE`] observations spread over every bucket and `+Inf` (0 to 0.16 s).
pub fn observations() -> Vec<f64> {
    let mut s = 0x2545_f491_4f6c_dd1d;
    (0..SEQUENCE)
        .map(|_| (xorshift(&mut s) >> 11) as f64 / (1u64 << 53) as f64 * 0.16)
        .collect()
}

/// Pins the calling thread to core `i` (modulo the cores there are); false when the OS
/// refuses or reports no cores.
pub fn pin_to_core(i: usize) -> bool {
    match core_affinity::get_core_ids() {
        Some(ids) if !ids.is_empty() => core_affinity::set_for_current(ids[i % ids.len()]),
        _ => false,
    }
}

/// Runs `op(thread, i)` for `i in 0..iters` on each of two threads (`thread` 0 and 1), pinned
/// to cores 0 and 1 and started together; returns the slower thread's time. The caller's
/// thread only waits.
pub fn two_threads(iters: u64, op: impl Fn(usize, u64) + Sync) -> Duration {
    let start = Barrier::new(2);
    std::thread::scope(|s| {
        let run = |core: usize| {
            let start = &start;
            let op = &op;
            move || {
                pin_to_core(core);
                start.wait();
                let t = Instant::now();
                for i in 0..iters {
                    op(core, i);
                }
                t.elapsed()
            }
        };
        let a = s.spawn(run(0));
        let b = s.spawn(run(1));
        let a = a.join().expect("bench thread");
        let b = b.join().expect("bench thread");
        a.max(b)
    })
}

/// The label value of series `i` of the encode workload.
pub fn series_value(i: usize) -> String {
    i.to_string()
}

/// One crate's way of doing each workload.
pub trait Workloads {
    /// The name in benchmark ids and in `BENCHMARKS.md`.
    const NAME: &'static str;
    /// An unlabelled counter.
    type Counter: Sync;
    /// A new counter.
    fn counter() -> Self::Counter;
    /// Adds one.
    fn inc(c: &Self::Counter);
    /// A counter family with labels `kind` and `route`, its 18 series created.
    type Labelled: Sync;
    /// A new family.
    fn labelled() -> Self::Labelled;
    /// Looks the series up by its two string values and adds one.
    fn labelled_inc(l: &Self::Labelled, kind: &'static str, route: &'static str);
    /// An unlabelled histogram over [`BOUNDS`].
    type Histogram: Sync;
    /// A new histogram.
    fn histogram() -> Self::Histogram;
    /// Records one observation.
    fn observe(h: &Self::Histogram, v: f64);
    /// A registry holding one counter family `counters` with label `kind` and `n` series,
    /// values `0..n` (each counter at 1), and whatever buffer its encoder reuses.
    type Registry;
    /// Builds it.
    fn registry(n: usize) -> Self::Registry;
    /// Encodes it in the Prometheus text format; returns the bytes written.
    fn encode(r: &mut Self::Registry) -> usize;
    /// Encodes it as the protobuf exposition (length-delimited
    /// `io.prometheus.client.MetricFamily`); returns the bytes written, or `None` for a crate
    /// that has no protobuf encoder here.
    fn encode_protobuf(r: &mut Self::Registry) -> Option<usize> {
        let _ = r;
        None
    }
}

/// Creates the 18 series of a labelled workload in the order of [`KINDS`] x [`ROUTES`].
pub fn create_all<W: Workloads>(l: &W::Labelled) {
    for k in KINDS {
        for r in ROUTES {
            W::labelled_inc(l, k, r);
        }
    }
}

pub mod limit;
pub mod measured_crate;
pub mod metrics_crate;
pub mod native;
pub mod ours;
pub mod prometheus_client_crate;
pub mod prometheus_crate;
pub mod scraper;
