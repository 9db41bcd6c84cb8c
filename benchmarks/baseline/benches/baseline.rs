//! One criterion run over both builds (see the crate's lib.rs).

use criterion::{criterion_group, criterion_main, Criterion};
use metrics_baseline_bench::*;
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_inc");
    g.bench_function("base", |b| b.iter(base_inc));
    g.bench_function("new", |b| b.iter(new_inc));
    g.bench_function("new_with_exemplar", |b| {
        b.iter(|| new_inc_with_exemplar(TRACE_ID))
    });
    g.finish();
    let mut g = c.benchmark_group("histogram_observe");
    let mut i = 0u64;
    g.bench_function("base", |b| {
        b.iter(|| {
            i += 1;
            base_observe(black_box(value(i)))
        })
    });
    g.bench_function("new", |b| {
        b.iter(|| {
            i += 1;
            new_observe(black_box(value(i)))
        })
    });
    g.bench_function("new_with_exemplar", |b| {
        b.iter(|| {
            i += 1;
            new_observe_with_exemplar(black_box(value(i)), TRACE_ID)
        })
    });
    g.finish();
}

criterion_group!(
    name = group;
    config = Criterion::default().warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = benches
);
criterion_main!(group);
