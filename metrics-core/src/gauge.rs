//! Gauges: values that go up and down.

use crate::atomic::{const_fn, AtomicU64, Ordering};
use crate::collect::single_series;
use crate::collect::{Kind, Value};
use crate::counter::add_f64;

/// A float gauge: the value's bits in one `AtomicU64`, `const`-constructible for `static`s.
///
/// ```
/// use metrics_core::Gauge;
/// static QUEUE: Gauge = Gauge::new();
/// QUEUE.set(3.0);
/// QUEUE.inc();
/// QUEUE.sub(0.5);
/// assert_eq!(QUEUE.get(), 3.5);
/// ```
#[derive(Debug, Default)]
pub struct Gauge {
    bits: AtomicU64,
}

impl Gauge {
    const_fn! {
        /// A gauge at zero.
        pub fn new() -> Self {
            Gauge { bits: AtomicU64::new(0) }
        }
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, v: f64) {
        self.bits.store(v.to_bits(), Ordering::Relaxed);
    }

    /// Adds `v` (a CAS loop).
    #[inline]
    pub fn add(&self, v: f64) {
        add_f64(&self.bits, v, Ordering::Relaxed);
    }

    /// Subtracts `v`.
    #[inline]
    pub fn sub(&self, v: f64) {
        self.add(-v);
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }
}

single_series!([] Gauge, Kind::Gauge, |g| Value::Gauge(g.get()));

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn gauge_moves_both_ways() {
        let g = Gauge::new();
        g.set(10.0);
        g.inc();
        g.dec();
        g.dec();
        g.add(0.25);
        g.sub(1.25);
        assert_eq!(g.get(), 8.0);
        g.set(f64::NEG_INFINITY);
        assert_eq!(g.get(), f64::NEG_INFINITY);
    }
}
