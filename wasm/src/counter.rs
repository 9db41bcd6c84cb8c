//! The JS `Counter` and its bound child `CounterChild`.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use metrics_core::FloatCounter;
use wasm_bindgen::JsError;

use crate::slot::{Bound, Slot};

fn add(name: &str, c: &FloatCounter, value: f64) -> Result<(), JsError> {
    if c.inc_by(value) {
        Ok(())
    } else {
        Err(JsError::new(&alloc::format!(
            "metric \"{name}\": a counter only goes up: the increment must be a non-negative \
             number, not negative or NaN (use a gauge for values that go down)"
        )))
    }
}

metric_wrapper! {
    #[doc = " A counter: a total that only goes up (exposed as `<name>_total`)."]
    #[doc = ""]
    #[doc = " `labelValues` must give one value per label name declared at creation (omit it for a"]
    #[doc = " counter without labels); a wrong number of values, or new values past the family's"]
    #[doc = " cardinality limit, throws an `Error`."]
    pub struct Counter(FloatCounter);
    #[doc = " A counter series bound to label values (from `Counter.labels`)."]
    pub struct CounterChild;

    #[doc = " Adds one."]
    fn inc() -> () = |c| c.inc();
    op: crate::abi::op::INC;
    child: " Adds one.";

    #[doc = " Adds `value` (non-negative; a negative or NaN value throws)."]
    fn inc_by(value: f64) -> () [?] = |c, name| add(name, c, value);
    op: crate::abi::op::ADD;
    child: " Adds `value` (non-negative; a negative or NaN value throws).";

    #[doc = " The current total."]
    fn get() -> f64 = |c| c.get();
    op: crate::abi::op::GET;
    child: " The current total.";
}
