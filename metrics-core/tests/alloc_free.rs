//! The hot path and every scrape after the first allocate nothing.
//!
//! A counting global allocator counts the allocations of the current thread between two points
//! (a thread-local flag), so the test harness's own threads cannot disturb the count. Everything
//! measured runs in the one test of this file.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "common/registry_10k.rs"]
mod registry_10k;

use metrics_core::{ChunkedEncoder, Counter, Format, Histogram, Registry, DEFAULT_BUCKETS};
use registry_10k::{registry_10k, Registry10k, LABEL_VALUES};

struct CountingAlloc;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

impl CountingAlloc {
    fn note(&self) {
        // `Cell<bool>` has no destructor, so the slot is never torn down; `try_with` anyway.
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

// SAFETY: forwards every call to `System` unchanged; counting has no effect on the memory.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.note();
        // SAFETY: the caller's contract is `System::alloc`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.note();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.note();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Allocations made by the current thread while running `f`.
fn allocations<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (ALLOCATIONS.load(Ordering::Relaxed) - before, r)
}

/// The chunked encoder's whole output in 64-byte chunks, appended to `out`.
fn chunked(
    registry: &Registry,
    format: Format,
    out: &mut Vec<u8>,
) -> Result<(), metrics_core::Error> {
    let mut enc: ChunkedEncoder<'_, Registry> = ChunkedEncoder::new(registry, format);
    let mut buf = [0u8; 64];
    loop {
        match enc.fill(&mut buf)? {
            0 => return Ok(()),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

static REQUESTS: Counter = Counter::new();
static LATENCY: Histogram<11> = Histogram::new(&DEFAULT_BUCKETS);

#[test]
fn hot_path_and_repeated_scrapes_allocate_nothing() {
    // The counter itself: an allocation here would make every other count meaningless.
    let (n, ()) = allocations(|| drop(std::hint::black_box(Box::new(1u8))));
    assert_eq!(n, 1, "the counting allocator counts");

    // 10 000 series: 6 counter families, 3 gauge families and a histogram family, 1000 label
    // values each.
    let Registry10k {
        mut registry,
        counters,
        gauges,
        latency,
        values: names,
    } = registry_10k();
    let series: usize = counters.iter().map(|f| f.len()).sum::<usize>()
        + gauges.iter().map(|f| f.len()).sum::<usize>()
        + latency.len();
    assert_eq!(series, 10_000);
    let plain = registry.counter("plain_events", "Events.").unwrap();
    let (existing, last) = (names[0].as_str(), names[LABEL_VALUES - 1].as_str());

    // Hot path.
    let (n, ()) = allocations(|| {
        for _ in 0..100 {
            REQUESTS.inc();
            plain.inc();
            LATENCY.observe(0.042);
            counters[0].labels(&[existing, "200"]).inc();
            counters[5].labels(&[last, "200"]).inc_by(2);
            gauges[1].labels(&[last]).add(1.0);
            latency.labels(&[existing]).observe(0.5);
            let _ = counters[2].try_labels(&[last, "200"]).unwrap().get();
            let handle = counters[3].handle(&[existing, "200"]);
            handle.inc();
        }
    });
    assert_eq!(n, 0, "hot-path operations allocated");
    assert_eq!(REQUESTS.get(), 100);
    assert_eq!(counters[0].labels(&[existing, "200"]).get(), 101);

    // The first scrape grows the buffer; every later one into the cleared buffer allocates
    // nothing.
    let mut out = Vec::new();
    metrics_core::encode_to_vec(&registry, Format::Text, &mut out).unwrap();
    let first = out.clone();
    assert!(first.len() > 500_000, "{} bytes", first.len());
    let mut proto = Vec::new();
    metrics_core::encode_to_vec(&registry, Format::Protobuf, &mut proto).unwrap();
    for format in [
        Format::Text,
        Format::OpenMetrics,
        Format::Protobuf,
        Format::Text,
    ] {
        let out = if format == Format::Protobuf {
            &mut proto
        } else {
            &mut out
        };
        let (n, r) = allocations(|| {
            out.clear();
            metrics_core::encode_to_vec(&registry, format, out)
        });
        r.unwrap();
        assert_eq!(n, 0, "a {format:?} scrape into a warm buffer allocated");
        if format == Format::Text {
            assert_eq!(*out, first, "nothing changed between the scrapes");
        }
    }

    // Into a `String` (any `fmt::Write`), after a warm-up.
    let mut text = String::new();
    metrics_core::encode(&registry, Format::Text, &mut text).unwrap();
    let (n, r) = allocations(|| {
        text.clear();
        metrics_core::encode(&registry, Format::Text, &mut text)
    });
    r.unwrap();
    assert_eq!(n, 0, "a scrape into a warm String allocated");
    assert_eq!(text.as_bytes(), first);

    // The chunked encoder never allocates, not even the first time.
    let mut bytes = Vec::with_capacity(first.len());
    let (n, r) = allocations(|| chunked(&registry, Format::Text, &mut bytes));
    r.unwrap();
    assert_eq!(n, 0, "the chunked encoder allocated");
    assert_eq!(bytes, first);

    // The protobuf exposition: into a fixed buffer and chunk by chunk, never allocating.
    let mut fixed = vec![0u8; proto.len()];
    let (n, r) = allocations(|| {
        let mut sink = metrics_core::encoding::FixedBytes::new(&mut fixed);
        metrics_core::encode_bytes(&registry, Format::Protobuf, &mut sink)
    });
    r.unwrap();
    assert_eq!(n, 0, "a protobuf encode into a fixed buffer allocated");
    assert_eq!(fixed, proto);
    bytes.clear();
    bytes.reserve(proto.len());
    let (n, r) = allocations(|| chunked(&registry, Format::Protobuf, &mut bytes));
    r.unwrap();
    assert_eq!(n, 0, "the chunked protobuf encoder allocated");
    assert_eq!(bytes, proto);

    // Hot path again, now that scrapes happened (snapshots flipped every histogram).
    let (n, ()) = allocations(|| {
        for _ in 0..100 {
            LATENCY.observe(1.5);
            latency.labels(&[last]).observe(2.0);
            counters[4].labels(&[existing, "200"]).inc();
        }
    });
    assert_eq!(n, 0, "hot-path operations after scrapes allocated");
}
