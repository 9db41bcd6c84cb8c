//! The JS `Gauge` and its bound child `GaugeChild`.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use metrics_core::Gauge as CoreGauge;
use wasm_bindgen::prelude::*;

use crate::slot::{Bound, Slot};

/// A gauge: a value that goes up and down.
///
/// `labelValues` works as for `Counter`.
#[wasm_bindgen]
pub struct Gauge {
    slot: Rc<Slot<CoreGauge>>,
}

impl core::fmt::Debug for Gauge {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Gauge").field(&self.slot.name()).finish()
    }
}

impl Gauge {
    pub(crate) fn from_slot(slot: Rc<Slot<CoreGauge>>) -> Self {
        Gauge { slot }
    }
}

#[wasm_bindgen]
impl Gauge {
    /// Sets the value.
    pub fn set(
        &self,
        value: f64,
        #[wasm_bindgen(js_name = labelValues)] label_values: Option<Vec<String>>,
    ) -> Result<(), JsError> {
        self.slot.with(label_values, |g| g.set(value))
    }

    /// Adds one.
    pub fn inc(
        &self,
        #[wasm_bindgen(js_name = labelValues)] label_values: Option<Vec<String>>,
    ) -> Result<(), JsError> {
        self.slot.with(label_values, CoreGauge::inc)
    }

    /// Subtracts one.
    pub fn dec(
        &self,
        #[wasm_bindgen(js_name = labelValues)] label_values: Option<Vec<String>>,
    ) -> Result<(), JsError> {
        self.slot.with(label_values, CoreGauge::dec)
    }

    /// Adds `value` (may be negative).
    pub fn add(
        &self,
        value: f64,
        #[wasm_bindgen(js_name = labelValues)] label_values: Option<Vec<String>>,
    ) -> Result<(), JsError> {
        self.slot.with(label_values, |g| g.add(value))
    }

    /// Subtracts `value`.
    pub fn sub(
        &self,
        value: f64,
        #[wasm_bindgen(js_name = labelValues)] label_values: Option<Vec<String>>,
    ) -> Result<(), JsError> {
        self.slot.with(label_values, |g| g.sub(value))
    }

    /// The current value.
    pub fn get(
        &self,
        #[wasm_bindgen(js_name = labelValues)] label_values: Option<Vec<String>>,
    ) -> Result<f64, JsError> {
        self.slot.with(label_values, CoreGauge::get)
    }

    /// A child bound to `labelValues`, for hot paths (checked now).
    pub fn labels(
        &self,
        #[wasm_bindgen(js_name = labelValues)] label_values: Vec<String>,
    ) -> Result<GaugeChild, JsError> {
        Ok(GaugeChild {
            bound: Bound::new(self.slot.clone(), label_values)?,
        })
    }

    /// The metric name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.slot.name().into()
    }
}

/// A gauge series bound to label values (from `Gauge.labels`).
#[wasm_bindgen]
pub struct GaugeChild {
    bound: Bound<CoreGauge>,
}

impl core::fmt::Debug for GaugeChild {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("GaugeChild")
    }
}

#[wasm_bindgen]
impl GaugeChild {
    /// Sets the value.
    pub fn set(&self, value: f64) -> Result<(), JsError> {
        self.bound.with(|g| g.set(value))
    }

    /// Adds one.
    pub fn inc(&self) -> Result<(), JsError> {
        self.bound.with(CoreGauge::inc)
    }

    /// Subtracts one.
    pub fn dec(&self) -> Result<(), JsError> {
        self.bound.with(CoreGauge::dec)
    }

    /// Adds `value`.
    pub fn add(&self, value: f64) -> Result<(), JsError> {
        self.bound.with(|g| g.add(value))
    }

    /// Subtracts `value`.
    pub fn sub(&self, value: f64) -> Result<(), JsError> {
        self.bound.with(|g| g.sub(value))
    }

    /// The current value.
    pub fn get(&self) -> Result<f64, JsError> {
        self.bound.with(CoreGauge::get)
    }
}
