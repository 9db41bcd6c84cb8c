//! Runs one workload of one crate in a loop, for a profiler:
//!
//! ```text
//! cargo build --profile bench -p metrics-benchmarks --bin profile
//! valgrind --tool=callgrind target/release/profile encode_10k ours 10
//! ```
//!
//! Workloads: `counter_inc`, `labelled_inc`, `histogram_observe`, `encode_10k`, `encode_100k`,
//! `native_observe` (crates `ours`, `ours_sharded`, `prometheus_client`, `ours_classic` only),
//! `encode_protobuf_10k` (`ours` and `prometheus_client` only);
//! crates: `limit`, `ours`, `prometheus`, `prometheus_client`, `metrics`, `measured`. The
//! setup (building the registry) runs once; compare two iteration counts to take it out.

use std::hint::black_box;

use metrics_benchmarks::limit::Limit;
use metrics_benchmarks::measured_crate::Measured;
use metrics_benchmarks::metrics_crate::Metrics;
use metrics_benchmarks::ours::Ours;
use metrics_benchmarks::prometheus_client_crate::PrometheusClient;
use metrics_benchmarks::prometheus_crate::Prometheus;
use metrics_benchmarks::{label_sequence, observations, Workloads, SEQUENCE};

fn run<W: Workloads>(workload: &str, iterations: usize) {
    match workload {
        "counter_inc" => {
            let c = W::counter();
            (0..iterations).for_each(|_| W::inc(black_box(&c)));
        }
        "labelled_inc" => {
            let l = W::labelled();
            let keys = label_sequence();
            (0..iterations).for_each(|i| {
                let (k, r) = keys[i & (SEQUENCE - 1)];
                W::labelled_inc(black_box(&l), k, r)
            });
        }
        "histogram_observe" => {
            let h = W::histogram();
            let values = observations();
            (0..iterations).for_each(|i| W::observe(black_box(&h), values[i & (SEQUENCE - 1)]));
        }
        "encode_10k" | "encode_100k" => {
            let n = if workload == "encode_10k" {
                10_000
            } else {
                100_000
            };
            let mut r = W::registry(n);
            (0..iterations).for_each(|_| {
                black_box(W::encode(&mut r));
            });
        }
        "encode_protobuf_10k" => {
            let mut r = W::registry(10_000);
            (0..iterations).for_each(|_| {
                black_box(W::encode_protobuf(&mut r).expect("a protobuf encoder"));
            });
        }
        other => panic!("unknown workload {other:?}"),
    }
}

/// Native histogram observes (`benchmarks/src/native.rs`): crates `ours`, `ours_sharded`,
/// `prometheus_client`, `ours_classic`.
fn native_observe(krate: &str, iterations: usize) {
    use metrics_benchmarks::native;
    let values = observations();
    let v = |i: usize| values[i & (SEQUENCE - 1)];
    match krate {
        "ours" => {
            let h = native::ours();
            (0..iterations).for_each(|i| black_box(&h).observe(v(i)));
        }
        "ours_sharded" => {
            let h = native::ours_sharded();
            (0..iterations).for_each(|i| black_box(&h).observe(v(i)));
        }
        "prometheus_client" => {
            let h = native::prometheus_client();
            (0..iterations).for_each(|i| black_box(&h).observe(v(i)));
        }
        "ours_classic" => {
            let h = native::ours_classic();
            (0..iterations).for_each(|i| black_box(&h).observe(v(i)));
        }
        other => {
            eprintln!("unknown crate {other:?} for native_observe");
            std::process::exit(2);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [workload, krate, iterations] = args.as_slice() else {
        eprintln!("usage: profile <workload> <crate> <iterations>");
        std::process::exit(2);
    };
    let n: usize = iterations.parse().expect("iterations: a number");
    if workload == "native_observe" {
        native_observe(krate, n);
        return;
    }
    match krate.as_str() {
        "limit" => run::<Limit>(workload, n),
        "ours" => run::<Ours>(workload, n),
        "prometheus" => run::<Prometheus>(workload, n),
        "prometheus_client" => run::<PrometheusClient>(workload, n),
        "metrics" => run::<Metrics>(workload, n),
        "measured" => run::<Measured>(workload, n),
        other => {
            eprintln!("unknown crate {other:?}");
            std::process::exit(2);
        }
    }
}
