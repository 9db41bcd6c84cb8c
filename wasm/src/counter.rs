//! The JS `Counter` and its bound child `CounterChild`.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use metrics_core::FloatCounter;
use wasm_bindgen::prelude::*;

use crate::slot::{Bound, Slot};

/// A counter: a total that only goes up (exposed as `<name>_total`).
///
/// `labelValues` must give one value per label name declared at creation (omit it for a
/// counter without labels); a wrong number of values, or new values past the family's
/// cardinality limit, throws an `Error`.
#[wasm_bindgen]
pub struct Counter {
    slot: Rc<Slot<FloatCounter>>,
}

impl core::fmt::Debug for Counter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Counter").field(&self.slot.name()).finish()
    }
}

impl Counter {
    pub(crate) fn from_slot(slot: Rc<Slot<FloatCounter>>) -> Self {
        Counter { slot }
    }
}

fn add(name: &str, c: &FloatCounter, value: f64) -> Result<(), JsError> {
    if c.inc_by(value) {
        Ok(())
    } else {
        Err(JsError::new(&alloc::format!(
            "metric {name:?}: a counter only goes up: the increment must be a non-negative \
             number, not negative or NaN (use a gauge for values that go down)"
        )))
    }
}

#[wasm_bindgen]
impl Counter {
    /// Adds one.
    pub fn inc(
        &self,
        #[wasm_bindgen(js_name = labelValues)] label_values: Option<Vec<String>>,
    ) -> Result<(), JsError> {
        self.slot.with(label_values, FloatCounter::inc)
    }

    /// Adds `value` (non-negative; a negative or NaN value throws).
    #[wasm_bindgen(js_name = incBy)]
    pub fn inc_by(
        &self,
        value: f64,
        #[wasm_bindgen(js_name = labelValues)] label_values: Option<Vec<String>>,
    ) -> Result<(), JsError> {
        self.slot
            .with(label_values, |c| add(self.slot.name(), c, value))?
    }

    /// The current total.
    pub fn get(
        &self,
        #[wasm_bindgen(js_name = labelValues)] label_values: Option<Vec<String>>,
    ) -> Result<f64, JsError> {
        self.slot.with(label_values, FloatCounter::get)
    }

    /// A child bound to `labelValues`, for hot paths (checked now).
    pub fn labels(
        &self,
        #[wasm_bindgen(js_name = labelValues)] label_values: Vec<String>,
    ) -> Result<CounterChild, JsError> {
        Ok(CounterChild {
            bound: Bound::new(self.slot.clone(), label_values)?,
        })
    }

    /// The metric name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.slot.name().into()
    }
}

/// A counter series bound to label values (from `Counter.labels`).
#[wasm_bindgen]
pub struct CounterChild {
    bound: Bound<FloatCounter>,
}

impl core::fmt::Debug for CounterChild {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CounterChild")
    }
}

#[wasm_bindgen]
impl CounterChild {
    /// Adds one.
    pub fn inc(&self) -> Result<(), JsError> {
        self.bound.with(FloatCounter::inc)
    }

    /// Adds `value` (non-negative; a negative or NaN value throws).
    #[wasm_bindgen(js_name = incBy)]
    pub fn inc_by(&self, value: f64) -> Result<(), JsError> {
        self.bound.with(|c| add(self.bound.name(), c, value))?
    }

    /// The current total.
    pub fn get(&self) -> Result<f64, JsError> {
        self.bound.with(FloatCounter::get)
    }
}
