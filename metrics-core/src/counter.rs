//! Counters: totals that only go up.

use crate::atomic::{const_fn, AtomicU64, Ordering};
use crate::collect::single_series;
use crate::collect::{Kind, Value};

/// An integer counter: one `AtomicU64` (8 bytes), `const`-constructible for `static`s.
///
/// ```
/// use metrics_core::Counter;
/// static REQUESTS: Counter = Counter::new();
/// REQUESTS.inc();
/// REQUESTS.inc_by(2);
/// assert_eq!(REQUESTS.get(), 3);
/// ```
#[derive(Debug, Default)]
pub struct Counter {
    value: AtomicU64,
}

impl Counter {
    const_fn! {
        /// A counter at zero.
        pub fn new() -> Self {
            Counter { value: AtomicU64::new(0) }
        }
    }

    /// Adds one. Lock-free, wait-free where the target has a native `fetch_add`.
    #[inline]
    pub fn inc(&self) {
        self.value.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.value.fetch_add(n, Ordering::Relaxed);
    }

    /// The current total.
    #[inline]
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }

    /// Sets the total back to zero (for tests; a real counter reset is a process restart).
    pub fn reset(&self) {
        self.value.store(0, Ordering::Relaxed);
    }
}

single_series!([] Counter, Kind::Counter, |c| Value::Counter(c.get()));

/// A float counter for totals that are not whole numbers, such as seconds spent.
///
/// Adds are a compare-and-swap loop on the value's bits. A negative or NaN add is ignored (a
/// counter never goes down) and reported by the `bool` that [`inc_by`](FloatCounter::inc_by)
/// returns.
#[derive(Debug, Default)]
pub struct FloatCounter {
    bits: AtomicU64,
}

impl FloatCounter {
    const_fn! {
        /// A counter at zero.
        pub fn new() -> Self {
            FloatCounter { bits: AtomicU64::new(0) }
        }
    }

    /// Adds `v`; returns `false` and changes nothing when `v` is negative or NaN.
    #[inline]
    pub fn inc_by(&self, v: f64) -> bool {
        if v.is_nan() || v < 0.0 {
            return false;
        }
        add_f64(&self.bits, v, Ordering::Relaxed);
        true
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        add_f64(&self.bits, 1.0, Ordering::Relaxed);
    }

    /// The current total.
    #[inline]
    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }

    /// Sets the total back to zero (for tests).
    pub fn reset(&self) {
        self.bits.store(0, Ordering::Relaxed);
    }
}

single_series!([] FloatCounter, Kind::Counter, |c| Value::CounterF64(c.get()));

/// Adds `v` to the `f64` stored as bits in `a`, with a CAS loop.
#[inline]
pub(crate) fn add_f64(a: &AtomicU64, v: f64, order: Ordering) {
    let mut cur = a.load(Ordering::Relaxed);
    loop {
        let new = (f64::from_bits(cur) + v).to_bits();
        match a.compare_exchange_weak(cur, new, order, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => cur = actual,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn counter_counts() {
        static C: Counter = Counter::new();
        C.inc();
        C.inc_by(41);
        assert_eq!(C.get(), 42);
        assert_eq!(core::mem::size_of::<Counter>(), 8);
    }

    #[test]
    fn float_counter_ignores_negative_and_nan() {
        let c = FloatCounter::new();
        assert!(c.inc_by(1.5));
        c.inc();
        assert!(!c.inc_by(-1.0));
        assert!(!c.inc_by(f64::NAN));
        assert_eq!(c.get(), 2.5);
    }
}
