//! Counts the heap allocations of one steady-state encode of the 10k-series registry, for
//! each crate. Prints one JSON object per line: `{"crate", "allocations", "bytes"}`.
//!
//! ```text
//! cargo run --release -p metrics-benchmarks --bin alloc_count
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use metrics_benchmarks::limit::Limit;
use metrics_benchmarks::measured_crate::Measured;
use metrics_benchmarks::metrics_crate::Metrics;
use metrics_benchmarks::ours::Ours;
use metrics_benchmarks::prometheus_client_crate::PrometheusClient;
use metrics_benchmarks::prometheus_crate::Prometheus;
use metrics_benchmarks::Workloads;

/// The system allocator, counting every allocation and reallocation.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counters are plain atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SERIES: usize = 10_000;

/// Runs `encode` twice (the first fills the reused buffers), then counts a third run and
/// prints its line (`format`: `None` for the text format).
fn count_one<R>(
    name: &str,
    format: Option<&str>,
    registry: &mut R,
    encode: impl Fn(&mut R) -> usize,
) {
    encode(registry);
    encode(registry);
    let (a, b) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    let len = encode(registry);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - a;
    let bytes = BYTES.load(Ordering::Relaxed) - b;
    assert!(len > SERIES * 10, "{name} encoded every series");
    let format = format.map_or(String::new(), |f| format!("\"format\": \"{f}\", "));
    println!(
        "{{\"crate\": \"{name}\", {format}\"series\": {SERIES}, \"allocations\": {allocations}, \"bytes\": {bytes}}}"
    );
}

/// The text encode, and the protobuf one for the crates that write it.
fn count<W: Workloads>() {
    let mut registry = W::registry(SERIES);
    count_one(W::NAME, None, &mut registry, W::encode);
    if W::encode_protobuf(&mut registry).is_some() {
        count_one(W::NAME, Some("protobuf"), &mut registry, |r| {
            W::encode_protobuf(r).unwrap_or(0)
        });
    }
}

fn main() {
    count::<Limit>();
    count::<Ours>();
    count::<Prometheus>();
    count::<PrometheusClient>();
    count::<Metrics>();
    count::<Measured>();
}
