//! Collectors: values produced when the registry is encoded.
//!
//! [`FnGauge`] and [`FnCounter`] wrap a function read at every scrape (uptime, free heap, queue
//! length, process statistics). Anything more elaborate implements [`Collect`] directly:
//!
//! ```
//! use metrics_core::{Collect, Error, StrList, Value, Visitor};
//!
//! /// Free bytes per memory pool, read at scrape time.
//! struct Pools;
//! impl Collect for Pools {
//!     fn series_count(&self) -> usize { 2 }
//!     fn collect(&self, index: usize, visit: &mut Visitor<'_>) -> Result<(), Error> {
//!         let (pool, free) = [("sram", 1024.0), ("ccm", 512.0)][index];
//!         visit(StrList::Borrowed(&[pool]), Value::Gauge(free))
//!     }
//!     fn label_count(&self) -> usize { 1 }
//! }
//! ```

use crate::collect::single_series;
use crate::collect::{Kind, Value};

/// A gauge whose value is `f()` at encode time.
///
/// ```
/// use metrics_core::FnGauge;
/// fn uptime() -> f64 { 42.0 }
/// static UPTIME: FnGauge<fn() -> f64> = FnGauge::new(uptime);
/// ```
pub struct FnGauge<F> {
    f: F,
}

impl<F: Fn() -> f64> FnGauge<F> {
    /// Wraps `f`.
    pub const fn new(f: F) -> Self {
        FnGauge { f }
    }
}

impl<F> core::fmt::Debug for FnGauge<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FnGauge")
    }
}

single_series!([F: Fn() -> f64 + Send + Sync] FnGauge<F>, Kind::Gauge, |g| Value::Gauge((g.f)()));

/// A counter whose total is `f()` at encode time (e.g. a hardware counter register).
pub struct FnCounter<F> {
    f: F,
}

impl<F: Fn() -> u64> FnCounter<F> {
    /// Wraps `f`.
    pub const fn new(f: F) -> Self {
        FnCounter { f }
    }
}

impl<F> core::fmt::Debug for FnCounter<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FnCounter")
    }
}

single_series!([F: Fn() -> u64 + Send + Sync] FnCounter<F>, Kind::Counter, |c| Value::Counter((c.f)()));
