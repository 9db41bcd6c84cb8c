//! One series of any metric type: what every family of the module holds.
//!
//! The core's `Family<M>` is generic, so a module with `Family<FloatCounter>`, `Family<Gauge>`
//! and `Family<DynHistogram>` holds three copies of the family code (lookup, insert, collect,
//! pre-rendered lines). Here every family is a `Family<Series>`, the kind picked by its
//! [`Config`]: one copy, and one `op` that runs any metric method on any series.

use alloc::boxed::Box;
use alloc::sync::Arc;

use metrics_core::{
    Collect, DynHistogram, Error, FamilyMember, FloatCounter, Gauge, Kind, Value, Visitor,
};

/// The numbers of the metric methods (`Series::op` and `js/api.js`, which must agree).
pub(crate) mod op {
    /// `inc()`.
    pub(crate) const INC: u32 = 0;
    /// `incBy(value)` of a counter, `add(value)` of a gauge.
    pub(crate) const ADD: u32 = 1;
    /// `get()`.
    pub(crate) const GET: u32 = 2;
    /// `set(value)`.
    pub(crate) const SET: u32 = 3;
    /// `dec()`.
    pub(crate) const DEC: u32 = 4;
    /// `sub(value)`.
    pub(crate) const SUB: u32 = 5;
    /// `observe(value)`.
    pub(crate) const OBSERVE: u32 = 6;
    /// `count()`.
    pub(crate) const COUNT: u32 = 7;
    /// `sum()`.
    pub(crate) const SUM: u32 = 8;
    /// The byte address of a counter's or gauge's value in linear memory (`NaN` for a
    /// histogram): where `js/api.js` updates it in place (see [`value_address`]).
    ///
    /// [`value_address`]: super::value_address
    pub(crate) const ADDR: u32 = 9;
}

// A counter or gauge is one `AtomicU64` holding the bits of an `f64`: eight bytes, aligned to
// eight, so the value is the whole struct (no other field, no padding before it), and the
// eight bytes at its address are a little-endian `f64` a JS `Float64Array` over the module's
// memory reads and writes at index `address / 8`.
const _: () = assert!(
    size_of::<FloatCounter>() == 8
        && align_of::<FloatCounter>() == 8
        && size_of::<Gauge>() == 8
        && align_of::<Gauge>() == 8
);

/// The byte address of a counter's or gauge's value, for `js/api.js`, which adds to it and sets
/// it in place through a `Float64Array` view of the module's memory instead of calling into the
/// module (a JS-to-wasm call costs more than the update itself).
///
/// Sound because the value is an atomic (interior mutability: Rust never assumes it unchanged
/// behind a shared reference), the module is single-threaded (no shared memory: a JS update
/// never runs while Rust code runs, so it races with nothing), and the series is an
/// `Arc<Series>` that does not move: the JS layer writes only while the handle it took the
/// address from keeps that `Arc` alive, and asks again after a registry `reset()`.
fn value_address<T>(value: &T) -> f64 {
    core::ptr::from_ref(value) as usize as f64
}

/// A counter, gauge or histogram series.
#[derive(Debug)]
pub(crate) enum Series {
    Counter(FloatCounter),
    Gauge(Gauge),
    /// Boxed: a counter or gauge series stays 16 bytes.
    Histogram(Box<DynHistogram>),
}

/// What the series of one family share: the kind, and a histogram's bounds.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) kind: Kind,
    pub(crate) bounds: Arc<[f64]>,
}

/// A method the series refused: a negative or NaN counter increment.
#[derive(Debug)]
pub(crate) struct Refused;

impl Series {
    /// The method numbered `op` ([`op`]), `value` its argument if it takes one; its result,
    /// or `0` (`NaN` for a method the series' kind does not have; the JS layer never calls
    /// one).
    #[inline]
    pub(crate) fn op(&self, op: u32, value: f64) -> Result<f64, Refused> {
        match (self, op) {
            // One add each for counters and gauges: `inc()` is `inc_by(1)` / `add(1)`,
            // `dec()` `add(-1)` and `sub(v)` `add(-v)`, as the core defines them.
            (Series::Counter(c), op::INC | op::ADD) => {
                if !c.inc_by(if op == op::INC { 1.0 } else { value }) {
                    return Err(Refused);
                }
            }
            (Series::Counter(c), op::GET) => return Ok(c.get()),
            (Series::Counter(c), op::ADDR) => return Ok(value_address(c)),
            (Series::Gauge(g), op::ADDR) => return Ok(value_address(g)),
            (Series::Gauge(g), op::SET) => g.set(value),
            (Series::Gauge(g), op::INC | op::DEC | op::ADD | op::SUB) => g.add(match op {
                op::INC => 1.0,
                op::DEC => -1.0,
                op::ADD => value,
                _ => -value,
            }),
            (Series::Gauge(g), op::GET) => return Ok(g.get()),
            (Series::Histogram(h), op::OBSERVE) => h.observe(value),
            (Series::Histogram(_), op::COUNT | op::SUM) => {
                // Through `collect`, the encoder's snapshot: one copy of the snapshot code.
                let mut n = 0.0;
                let _ = self.collect(0, &mut |_, v| {
                    if let Value::Histogram(s) = v {
                        n = if op == op::COUNT {
                            s.count() as f64
                        } else {
                            s.sum()
                        };
                    }
                    Ok(())
                });
                return Ok(n);
            }
            _ => return Ok(f64::NAN),
        }
        Ok(0.0)
    }
}

impl Collect for Series {
    fn series_count(&self) -> usize {
        1
    }

    fn collect(&self, index: usize, visit: &mut Visitor<'_>) -> Result<(), Error> {
        match self {
            Series::Counter(c) => c.collect(index, visit),
            Series::Gauge(g) => g.collect(index, visit),
            Series::Histogram(h) => h.collect(index, visit),
        }
    }
}

impl FamilyMember for Series {
    type Config = Config;

    fn from_config(config: &Config) -> Self {
        match config.kind {
            Kind::Counter => Series::Counter(FloatCounter::new()),
            Kind::Gauge => Series::Gauge(Gauge::new()),
            // Bounds checked once, at registration (`Registry::histogram`).
            Kind::Histogram => {
                Series::Histogram(Box::new(DynHistogram::from_config(&config.bounds)))
            }
        }
    }

    fn kind(config: &Config) -> Kind {
        config.kind
    }

    fn scalar(&self) -> Option<Value<'static>> {
        match self {
            Series::Counter(c) => c.scalar(),
            Series::Gauge(g) => g.scalar(),
            Series::Histogram(_) => None,
        }
    }
}
