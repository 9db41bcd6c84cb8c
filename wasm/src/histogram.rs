//! The JS `Histogram` and its bound child `HistogramChild`.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use metrics_core::DynHistogram;
use wasm_bindgen::prelude::*;

use crate::slot::{Bound, Slot};

/// A histogram: observations counted into fixed buckets, with their sum and count.
///
/// `labelValues` works as for `Counter`.
#[wasm_bindgen]
pub struct Histogram {
    slot: Rc<Slot<DynHistogram>>,
}

impl core::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Histogram").field(&self.slot.name()).finish()
    }
}

impl Histogram {
    pub(crate) fn from_slot(slot: Rc<Slot<DynHistogram>>) -> Self {
        Histogram { slot }
    }
}

#[wasm_bindgen]
impl Histogram {
    /// Records one observation.
    pub fn observe(
        &self,
        value: f64,
        #[wasm_bindgen(js_name = labelValues)] label_values: Option<Vec<String>>,
    ) -> Result<(), JsError> {
        self.slot.with(label_values, |h| h.observe(value))
    }

    /// The number of observations.
    pub fn count(
        &self,
        #[wasm_bindgen(js_name = labelValues)] label_values: Option<Vec<String>>,
    ) -> Result<f64, JsError> {
        self.slot.with(label_values, |h| h.count() as f64)
    }

    /// The sum of observations.
    pub fn sum(
        &self,
        #[wasm_bindgen(js_name = labelValues)] label_values: Option<Vec<String>>,
    ) -> Result<f64, JsError> {
        self.slot.with(label_values, DynHistogram::sum)
    }

    /// A child bound to `labelValues`, for hot paths (checked now).
    pub fn labels(
        &self,
        #[wasm_bindgen(js_name = labelValues)] label_values: Vec<String>,
    ) -> Result<HistogramChild, JsError> {
        Ok(HistogramChild {
            bound: Bound::new(self.slot.clone(), label_values)?,
        })
    }

    /// The metric name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.slot.name().into()
    }
}

/// A histogram series bound to label values (from `Histogram.labels`).
#[wasm_bindgen]
pub struct HistogramChild {
    bound: Bound<DynHistogram>,
}

impl core::fmt::Debug for HistogramChild {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HistogramChild")
    }
}

#[wasm_bindgen]
impl HistogramChild {
    /// Records one observation.
    pub fn observe(&self, value: f64) -> Result<(), JsError> {
        self.bound.with(|h| h.observe(value))
    }

    /// The number of observations.
    pub fn count(&self) -> Result<f64, JsError> {
        self.bound.with(|h| h.count() as f64)
    }

    /// The sum of observations.
    pub fn sum(&self) -> Result<f64, JsError> {
        self.bound.with(DynHistogram::sum)
    }
}
