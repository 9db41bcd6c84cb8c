//! Turning core errors into JS `Error`s.
//!
//! Every fallible export returns `Result<_, JsError>`: wasm-bindgen throws the `JsError` as a
//! JS `Error` whose `message` is the text built here. Nothing in this crate panics on bad input.

use alloc::format;
use alloc::string::String;

use wasm_bindgen::JsError;

/// The message for a core error raised while using the metric `name` (a registered, so valid,
/// name: quoting it needs no escapes, and no `{:?}`).
pub(crate) fn message(name: &str, e: &metrics_core::Error) -> String {
    match e {
        // The core's message describes folding into the overflow series, which `labels()` does;
        // here new values past the limit throw instead and are not recorded.
        metrics_core::Error::CardinalityLimit { limit } => format!(
            "metric \"{name}\": at its cardinality limit of {limit} series: these label values \
             are new and were not recorded; raise the limit (`new Registry(cardinalityLimit)`) \
             or use fewer distinct label values"
        ),
        e => format!("metric \"{name}\": {e}"),
    }
}

/// A JS `Error` for a core error raised while using the metric `name`.
#[cold]
#[inline(never)]
pub(crate) fn js_error(name: &str, e: &metrics_core::Error) -> JsError {
    JsError::new(&message(name, e))
}

/// For a lookup that failed once and succeeded when repeated (cannot happen single-threaded):
/// an `Error` rather than a panic all the same.
#[cold]
#[inline(never)]
pub(crate) fn unreachable_error(name: &str) -> JsError {
    JsError::new(&format!(
        "metric \"{name}\": internal error: inconsistent series lookup"
    ))
}
