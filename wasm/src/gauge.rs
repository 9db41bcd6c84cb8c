//! The JS `Gauge` and its bound child `GaugeChild`.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use metrics_core::Gauge as CoreGauge;
use wasm_bindgen::JsError;

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
    op: crate::abi::op::SET;
    child: " Sets the value.";

    #[doc = " Adds one."]
    fn inc() -> () = |g| g.inc();
    op: crate::abi::op::INC;
    child: " Adds one.";

    #[doc = " Subtracts one."]
    fn dec() -> () = |g| g.dec();
    op: crate::abi::op::DEC;
    child: " Subtracts one.";

    #[doc = " Adds `value` (may be negative)."]
    fn add(value: f64) -> () = |g| g.add(value);
    op: crate::abi::op::ADD;
    child: " Adds `value`.";

    #[doc = " Subtracts `value`."]
    fn sub(value: f64) -> () = |g| g.sub(value);
    op: crate::abi::op::SUB;
    child: " Subtracts `value`.";

    #[doc = " The current value."]
    fn get() -> f64 = |g| g.get();
    op: crate::abi::op::GET;
    child: " The current value.";
}
