//! The operations both builds are compared on, one `#[inline(never)]` function each so that
//! criterion and callgrind measure the same code: counter inc and histogram observe without
//! an exemplar (the paths exemplars must not slow down), and this tree's `_with_exemplar`
//! variants for scale.

use std::hint::black_box;

pub static BASE_COUNTER: base::Counter = base::Counter::new();
pub static NEW_COUNTER: new::Counter = new::Counter::new();
pub static BASE_HISTOGRAM: base::Histogram<11> = base::Histogram::new(&base::DEFAULT_BUCKETS);
pub static NEW_HISTOGRAM: new::Histogram<11> = new::Histogram::new(&new::DEFAULT_BUCKETS);
pub static NEW_COUNTER_X: new::CounterWithExemplar = new::CounterWithExemplar::new();
pub static NEW_HISTOGRAM_X: new::HistogramWithExemplars<11> =
    new::HistogramWithExemplars::new(&new::DEFAULT_BUCKETS);

/// A value per iteration spread over the buckets.
#[inline]
pub fn value(i: u64) -> f64 {
    [0.003, 0.02, 0.07, 0.3, 0.8, 2.0, 7.0, 20.0][(i & 7) as usize]
}

#[inline(never)]
pub fn base_inc() {
    BASE_COUNTER.inc();
}
#[inline(never)]
pub fn new_inc() {
    NEW_COUNTER.inc();
}
#[inline(never)]
pub fn base_observe(v: f64) {
    BASE_HISTOGRAM.observe(v);
}
#[inline(never)]
pub fn new_observe(v: f64) {
    NEW_HISTOGRAM.observe(v);
}
#[inline(never)]
pub fn new_inc_with_exemplar(trace_id: &str) {
    let _ = NEW_COUNTER_X.inc_with_exemplar(&[("trace_id", black_box(trace_id))], None);
}
#[inline(never)]
pub fn new_observe_with_exemplar(v: f64, trace_id: &str) {
    let _ = NEW_HISTOGRAM_X.observe_with_exemplar(v, &[("trace_id", black_box(trace_id))], None);
}

/// A W3C trace id.
pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
