//! The JS `Gauge` and its bound child `GaugeChild`.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use metrics_core::Gauge as CoreGauge;
use wasm_bindgen::prelude::*;

use crate::slot::{Bound, Slot};

metric_wrapper! {
    #[doc = " A gauge: a value that goes up and down."]
    #[doc = ""]
    #[doc = " `labelValues` works as for `Counter`."]
    pub struct Gauge(CoreGauge);
    #[doc = " A gauge series bound to label values (from `Gauge.labels`)."]
    pub struct GaugeChild;

    #[doc = " Sets the value."]
    fn set(value: f64) -> () = |g| g.set(value);
    child: " Sets the value.";

    #[doc = " Adds one."]
    fn inc() -> () = |g| g.inc();
    child: " Adds one.";

    #[doc = " Subtracts one."]
    fn dec() -> () = |g| g.dec();
    child: " Subtracts one.";

    #[doc = " Adds `value` (may be negative)."]
    fn add(value: f64) -> () = |g| g.add(value);
    child: " Adds `value`.";

    #[doc = " Subtracts `value`."]
    fn sub(value: f64) -> () = |g| g.sub(value);
    child: " Subtracts `value`.";

    #[doc = " The current value."]
    fn get() -> f64 = |g| g.get();
    child: " The current value.";
}
