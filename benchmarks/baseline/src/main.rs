//! `metrics-baseline-bench MODE N`: runs one operation N times, for callgrind to count the
//! instructions (scripts/bench_baseline.sh runs each mode and divides by N).

use metrics_baseline_bench::*;
use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().expect("mode");
    let n: u64 = args.next().expect("N").parse().expect("N");
    for i in 0..n {
        match mode.as_str() {
            "base_inc" => base_inc(),
            "new_inc" => new_inc(),
            "base_observe" => base_observe(black_box(value(i))),
            "new_observe" => new_observe(black_box(value(i))),
            "new_inc_with_exemplar" => new_inc_with_exemplar(TRACE_ID),
            "new_observe_with_exemplar" => new_observe_with_exemplar(black_box(value(i)), TRACE_ID),
            other => panic!("unknown mode {other}"),
        }
    }
}
