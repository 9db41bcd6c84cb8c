//! Start times (`_created`) and histograms restored from saved bucket counts: what a process
//! that keeps its totals across runs (builder_cli's state file) relies on.

mod common;

use common::started;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use metrics_core::{
    encode, Counter, Desc, DynHistogram, Error, Family, Format, Gauge, Kind, Registry,
};

fn registry() -> Registry {
    let mut r = Registry::new();
    let runs = Arc::new(Family::<Counter>::new(1, 100, ()));
    runs.labels(&["ok"]).inc_by(3);
    runs.labels(&["fail"]).inc();
    r.register_shared(
        Desc::try_new("runs", "Runs.")
            .unwrap()
            .try_labels(&["result"])
            .unwrap(),
        Kind::Counter,
        started(runs, 1.7e9),
    )
    .unwrap();
    let h = Arc::new(DynHistogram::new(&[1.0, 2.0]).unwrap());
    h.observe(0.5);
    h.observe(3.0);
    r.register_shared(
        Desc::try_new("took_seconds", "Took.").unwrap(),
        Kind::Histogram,
        started(h, 1.7e9 + 0.25),
    )
    .unwrap();
    let g = Arc::new(Gauge::new());
    g.set(7.0);
    r.register_shared(
        Desc::try_new("level", "Level.").unwrap(),
        Kind::Gauge,
        started(g, 1.0),
    )
    .unwrap();
    r
}

const OPENMETRICS: &str = "\
# HELP runs Runs.
# TYPE runs counter
runs_total{result=\"ok\"} 3
runs_created{result=\"ok\"} 1700000000
runs_total{result=\"fail\"} 1
runs_created{result=\"fail\"} 1700000001
# HELP took_seconds Took.
# TYPE took_seconds histogram
took_seconds_bucket{le=\"1.0\"} 1
took_seconds_bucket{le=\"2.0\"} 1
took_seconds_bucket{le=\"+Inf\"} 2
took_seconds_sum 3.5
took_seconds_count 2
took_seconds_created 1.70000000025e+09
# HELP level Level.
# TYPE level gauge
level 7
# EOF
";

#[test]
fn openmetrics_writes_created_after_counters_and_histograms_never_gauges() {
    let r = registry();
    let mut om = String::new();
    encode(&r, Format::OpenMetrics, &mut om).unwrap();
    assert_eq!(om, OPENMETRICS);
    for size in 1..=80 {
        assert_eq!(
            common::chunked(&r, Format::OpenMetrics, size),
            om,
            "buffer of {size} bytes"
        );
    }
}

#[test]
fn the_text_format_has_no_created() {
    let r = registry();
    let mut text = String::new();
    encode(&r, Format::Text, &mut text).unwrap();
    assert!(!text.contains("_created"), "{text}");
    assert!(text.contains("runs_total{result=\"ok\"} 3\n"), "{text}");
    for size in [1, 7, 64] {
        assert_eq!(common::chunked(&r, Format::Text, size), text);
    }
}

#[test]
fn observe_counts_restores_what_observe_counted() {
    let bounds = [0.1, 1.0, 10.0];
    let observed = DynHistogram::new(&bounds).unwrap();
    for v in [0.05, 0.5, 0.5, 5.0, 50.0, f64::NAN] {
        observed.observe(v);
    }
    let (counts, sum) = observed.snapshot(|s| {
        (
            (0..=bounds.len()).map(|i| s.bucket(i)).collect::<Vec<_>>(),
            s.sum(),
        )
    });
    assert_eq!(counts, [1, 2, 1, 2]);
    let restored = DynHistogram::new(&bounds).unwrap();
    restored.observe_counts(&counts, sum).unwrap();
    restored.observe(0.5);
    assert_eq!(restored.count(), 7);
    let again: Vec<u64> = restored.snapshot(|s| (0..=bounds.len()).map(|i| s.bucket(i)).collect());
    assert_eq!(again, [1, 3, 1, 2]);
    assert_eq!(
        restored.observe_counts(&[1, 2, 3], 1.0),
        Err(Error::BucketCount {
            expected: 4,
            got: 3
        })
    );
    // All zero: nothing added, not even the sum.
    restored.observe_counts(&[0, 0, 0, 0], 99.0).unwrap();
    assert_eq!(restored.count(), 7);
}

/// A batch is one set of observations to a concurrent snapshot: all of it or none, and the
/// sum belongs to the same observations.
#[test]
fn a_snapshot_sees_a_whole_batch_or_none_of_it() {
    let h = Arc::new(DynHistogram::new(&[1.0, 2.0, 3.0]).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (h, stop) = (h.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut batches = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // 10 observations of 1.0 each way: bucket counts 1+2+3+4, sum 10.
                    h.observe_counts(&[1, 2, 3, 4], 10.0).unwrap();
                    batches += 1;
                }
                batches
            })
        })
        .collect();
    for _ in 0..20_000 {
        h.snapshot(|s| {
            let c: Vec<u64> = (0..4).map(|i| s.bucket(i)).collect();
            let n = c[0];
            assert_eq!(c, [n, 2 * n, 3 * n, 4 * n], "a torn batch");
            assert_eq!(s.sum(), 10.0 * n as f64, "the sum of other observations");
        });
    }
    stop.store(true, Ordering::Relaxed);
    let batches: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(h.count(), 10 * batches);
}
