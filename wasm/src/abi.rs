//! What the module exports to JS: three small classes over the Rust API and two functions.
//!
//! The JS API (`Registry`, `Counter`, `CounterChild`, ..., in `js/api.js`) is a thin layer over
//! these. Each exported method costs the module a generated shim of about 400 bytes (argument
//! decoding, the borrow of `self`, a `Result` turned into a thrown `Error`), so instead of one
//! export per JS method there is one per kind of call: a metric method is `op(number, value,
//! labelValues)`, dispatched in Rust (`metric_wrapper!`'s `op`). Arguments keep the types the
//! JS API declares, so wasm-bindgen converts and checks them as before.

use alloc::string::String;
use alloc::vec::Vec;

use wasm_bindgen::prelude::*;

use crate::{Counter, CounterChild, Gauge, GaugeChild, Histogram, HistogramChild, Registry};

/// The numbers of the metric methods (`op` below and in `js/api.js`, which must agree).
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
}

/// A method's result as the number `op` returns.
pub(crate) trait Number {
    /// The result as a number; `0` for `()`.
    fn number(self) -> f64;
}

impl Number for () {
    fn number(self) -> f64 {
        0.0
    }
}

impl Number for f64 {
    fn number(self) -> f64 {
        self
    }
}

/// The metric kinds of `RawRegistry::metric`.
const COUNTER: u32 = 0;
const GAUGE: u32 = 1;

/// A `Registry` for the JS layer.
#[wasm_bindgen]
#[derive(Debug)]
pub struct RawRegistry(Registry);

#[wasm_bindgen]
impl RawRegistry {
    /// `new Registry(cardinalityLimit)`.
    #[wasm_bindgen(constructor)]
    pub fn new(limit: Option<u32>) -> Self {
        RawRegistry(Registry::new(limit))
    }

    /// `counter` (kind 0), `gauge` (1) or `histogram` (2, with `buckets`).
    pub fn metric(
        &self,
        kind: u32,
        name: &str,
        help: &str,
        label_names: Option<Vec<String>>,
        buckets: Option<Vec<f64>>,
    ) -> Result<RawMetric, JsError> {
        Ok(RawMetric(match kind {
            COUNTER => Metric::Counter(self.0.counter(name, help, label_names)?),
            GAUGE => Metric::Gauge(self.0.gauge(name, help, label_names)?),
            _ => Metric::Histogram(self.0.histogram(name, help, label_names, buckets)?),
        }))
    }

    /// `render(format)`.
    pub fn render(&self, format: Option<String>) -> Result<String, JsError> {
        self.0.render(format)
    }

    /// `reset()`.
    pub fn reset(&self) -> Result<(), JsError> {
        self.0.reset()
    }

    /// `size`.
    pub fn size(&self) -> usize {
        self.0.size()
    }
}

#[derive(Debug)]
enum Metric {
    Counter(Counter),
    Gauge(Gauge),
    Histogram(Histogram),
}

#[derive(Debug)]
enum Child {
    Counter(CounterChild),
    Gauge(GaugeChild),
    Histogram(HistogramChild),
}

/// A `Counter`, `Gauge` or `Histogram` for the JS layer.
#[wasm_bindgen]
#[derive(Debug)]
pub struct RawMetric(Metric);

#[wasm_bindgen]
impl RawMetric {
    /// The method numbered `op` with its argument `value` (if it takes one) on the series
    /// for `label_values`; its result, or `0`.
    pub fn op(
        &self,
        op: u32,
        value: f64,
        label_values: Option<Vec<String>>,
    ) -> Result<f64, JsError> {
        match &self.0 {
            Metric::Counter(m) => m.op(op, value, label_values),
            Metric::Gauge(m) => m.op(op, value, label_values),
            Metric::Histogram(m) => m.op(op, value, label_values),
        }
    }

    /// `labels(labelValues)`.
    pub fn labels(&self, label_values: Vec<String>) -> Result<RawChild, JsError> {
        Ok(RawChild(match &self.0 {
            Metric::Counter(m) => Child::Counter(m.labels(label_values)?),
            Metric::Gauge(m) => Child::Gauge(m.labels(label_values)?),
            Metric::Histogram(m) => Child::Histogram(m.labels(label_values)?),
        }))
    }

    /// `name`.
    pub fn name(&self) -> String {
        match &self.0 {
            Metric::Counter(m) => m.name(),
            Metric::Gauge(m) => m.name(),
            Metric::Histogram(m) => m.name(),
        }
    }
}

/// A bound child for the JS layer.
#[wasm_bindgen]
#[derive(Debug)]
pub struct RawChild(Child);

#[wasm_bindgen]
impl RawChild {
    /// As `RawMetric::op`, on the bound series.
    pub fn op(&self, op: u32, value: f64) -> Result<f64, JsError> {
        match &self.0 {
            Child::Counter(c) => c.op(op, value),
            Child::Gauge(c) => c.op(op, value),
            Child::Histogram(c) => c.op(op, value),
        }
    }
}
