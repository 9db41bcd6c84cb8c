//! The native (exponential) histograms of the `native_observe` workload: schema 3 (8 buckets
//! per power of two), at most 160 buckets, client_golang's zero threshold, in both crates that
//! have them (ours twice: the lock-free `NativeHistogram` and the per-thread
//! `ShardedNativeHistogram`); and our classic histogram over [`BOUNDS`](crate::BOUNDS), for
//! comparison.

use prometheus_client::metrics::histogram::{Histogram, NativeHistogramConfig};

/// Schema of both native histograms.
pub const SCHEMA: i8 = 3;
/// Most populated buckets of both.
pub const MAX_BUCKETS: usize = 160;

/// Ours: all state inline, no heap.
pub type Ours = metrics_core::NativeHistogram<MAX_BUCKETS>;

/// Ours, at zero.
pub fn ours() -> Ours {
    metrics_core::NativeHistogram::new(SCHEMA, metrics_core::DEFAULT_NATIVE_ZERO_THRESHOLD)
}

/// Ours for threads: a shard per thread, plain loads and stores on the hot path.
pub fn ours_sharded() -> metrics_core::ShardedNativeHistogram {
    let config = metrics_core::NativeConfig::new(SCHEMA, MAX_BUCKETS).expect("a valid schema");
    metrics_core::ShardedNativeHistogram::new(&config)
}

/// `prometheus-client`'s native histogram (no classic buckets), at zero.
pub fn prometheus_client() -> Histogram {
    Histogram::new_native(NativeHistogramConfig::with_schema(SCHEMA).max_buckets(MAX_BUCKETS))
}

/// Our classic histogram over [`BOUNDS`](crate::BOUNDS).
pub fn ours_classic() -> metrics_core::Histogram<8> {
    static BOUNDS: [f64; 8] = crate::BOUNDS;
    metrics_core::Histogram::new(&BOUNDS)
}
