//! Hot-path and encoder benchmarks.
//!
//! ```text
//! cargo bench -p metrics-core --bench core            # measure
//! cargo bench -p metrics-core --bench core -- --test  # run each once (CI smoke test)
//! ```
//!
//! The two-thread benchmarks run `iters` operations on *each* of two threads at once and report
//! the time per operation as one thread sees it (the slower thread's); their throughput line
//! counts both threads' operations.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

#[path = "../tests/common/registry_10k.rs"]
#[allow(dead_code)]
mod registry_10k;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use metrics_core::{
    ChunkedEncoder, Counter, Family, Format, Histogram, Registry, ShardedCounter, DEFAULT_BUCKETS,
};

/// Runs `op` `iters` times on each of two threads started together; the slower thread's time.
fn two_threads(iters: u64, op: impl Fn() + Sync) -> Duration {
    let start = Barrier::new(2);
    std::thread::scope(|s| {
        let run = || {
            start.wait();
            let t = Instant::now();
            for _ in 0..iters {
                op();
            }
            t.elapsed()
        };
        let other = s.spawn(run);
        let mine = run();
        mine.max(other.join().expect("bench thread"))
    })
}

fn counters(c: &mut Criterion) {
    static COUNTER: Counter = Counter::new();
    c.bench_function("counter_inc", |b| b.iter(|| black_box(&COUNTER).inc()));

    let mut g = c.benchmark_group("contended");
    g.throughput(Throughput::Elements(2));
    g.bench_function("counter_inc_2threads", |b| {
        b.iter_custom(|iters| two_threads(iters, || black_box(&COUNTER).inc()))
    });
    static SHARDED: ShardedCounter = ShardedCounter::new();
    g.bench_function("sharded_counter_inc_2threads", |b| {
        b.iter_custom(|iters| two_threads(iters, || black_box(&SHARDED).inc()))
    });
    g.finish();
}

fn family(c: &mut Criterion) {
    const METHODS: [&str; 3] = ["GET", "POST", "PUT"];
    const CODES: [&str; 6] = ["200", "201", "204", "400", "404", "500"];
    let family = Family::<Counter>::new(2, 100, ());
    let keys: Vec<[&str; 2]> = METHODS
        .iter()
        .flat_map(|m| CODES.iter().map(move |c| [*m, *c]))
        .collect();
    for k in &keys {
        family.labels(k);
    }
    assert_eq!(family.len(), 18);
    // Cycles through all 18 series, so the linear scan's average case is measured.
    let mut i = 0;
    c.bench_function("family_labels_inc", |b| {
        b.iter(|| {
            i = if i + 1 == keys.len() { 0 } else { i + 1 };
            family.labels(black_box(&keys[i])).inc();
        })
    });
}

fn histograms(c: &mut Criterion) {
    static LATENCY: Histogram<11> = Histogram::new(&DEFAULT_BUCKETS);
    c.bench_function("histogram_observe", |b| {
        b.iter(|| LATENCY.observe(black_box(0.042)))
    });

    let mut g = c.benchmark_group("contended");
    g.throughput(Throughput::Elements(2));
    g.bench_function("histogram_observe_2threads", |b| {
        b.iter_custom(|iters| two_threads(iters, || LATENCY.observe(black_box(0.042))))
    });
    g.finish();
}

fn encoders(c: &mut Criterion) {
    let registry = registry_10k::registry_10k().registry;
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(10_000));
    for (name, format) in [
        ("encode_text_10k", Format::Text),
        ("encode_openmetrics_10k", Format::OpenMetrics),
    ] {
        let mut out = Vec::new();
        metrics_core::encode_to_vec(&registry, format, &mut out).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                metrics_core::encode_to_vec(&registry, format, &mut out).unwrap();
                black_box(out.len())
            })
        });
    }
    g.bench_function("chunked_64b_10k", |b| {
        let mut enc: ChunkedEncoder<'_, Registry> = ChunkedEncoder::new(&registry, Format::Text);
        let mut buf = [0u8; 64];
        b.iter(|| {
            enc.restart();
            let mut total = 0;
            loop {
                let n = enc.fill(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                total += n;
                black_box(&buf[..n]);
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, counters, family, histograms, encoders);
criterion_main!(benches);
