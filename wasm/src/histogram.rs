//! The JS `Histogram` and its bound child `HistogramChild`.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use metrics_core::DynHistogram;
use wasm_bindgen::JsError;

use crate::slot::{Bound, Slot};

metric_wrapper! {
    #[doc = " A histogram: observations counted into fixed buckets, with their sum and count."]
    #[doc = ""]
    #[doc = " `labelValues` works as for `Counter`."]
    pub struct Histogram(DynHistogram);
    #[doc = " A histogram series bound to label values (from `Histogram.labels`)."]
    pub struct HistogramChild;

    #[doc = " Records one observation."]
    fn observe(value: f64) -> () = |h| h.observe(value);
    op: crate::abi::op::OBSERVE;
    child: " Records one observation.";

    #[doc = " The number of observations."]
    fn count() -> f64 = |h| h.count() as f64;
    op: crate::abi::op::COUNT;
    child: " The number of observations.";

    #[doc = " The sum of observations."]
    fn sum() -> f64 = |h| h.sum();
    op: crate::abi::op::SUM;
    child: " The sum of observations.";
}
