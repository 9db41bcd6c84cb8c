//! Turning core errors into JS `Error`s.
//!
//! Every fallible export returns `Result<_, JsError>`: wasm-bindgen throws the `JsError` as a
//! JS `Error` whose `message` is the text built here. Nothing in this crate panics on bad input.
//! Messages are put together piece by piece (`metrics_core::Error::write_message`), without
//! `format!`: that keeps `core::fmt`'s machinery out of the module.

use alloc::string::String;

use wasm_bindgen::JsError;

/// A JS `Error` whose message is `parts` one after the other.
#[cold]
#[inline(never)]
pub(crate) fn error(parts: &[&str]) -> JsError {
    let mut m = String::new();
    for p in parts {
        m.push_str(p);
    }
    JsError::new(&m)
}

/// `prefix` followed by the message of `e`.
#[cold]
#[inline(never)]
pub(crate) fn with_message(mut prefix: String, e: &metrics_core::Error) -> JsError {
    // Writing into a `String` cannot fail.
    let _ = e.write_message(&mut prefix);
    JsError::new(&prefix)
}

/// The start of a message about the metric `name` (a registered, so valid, name: quoting it
/// needs no escapes).
fn about(name: &str) -> String {
    let mut m = String::from("metric \"");
    m.push_str(name);
    m.push_str("\": ");
    m
}

/// The message for a core error raised while using the metric `name`.
pub(crate) fn message(name: &str, e: &metrics_core::Error) -> String {
    let mut m = about(name);
    match e {
        // The core's message describes folding into the overflow series, which `labels()` does;
        // here new values past the limit throw instead and are not recorded.
        metrics_core::Error::CardinalityLimit { limit } => {
            m.push_str("at its cardinality limit of ");
            let _ = metrics_core::encoding::write_u64(&mut m, *limit as u64);
            m.push_str(
                " series: these label values are new and were not recorded; raise the limit \
                 (`new Registry(cardinalityLimit)`) or use fewer distinct label values",
            );
        }
        e => {
            let _ = e.write_message(&mut m);
        }
    }
    m
}

/// A JS `Error` for a core error raised while using the metric `name`.
#[cold]
#[inline(never)]
pub(crate) fn js_error(name: &str, e: &metrics_core::Error) -> JsError {
    JsError::new(&message(name, e))
}

/// A JS `Error` about the metric `name`: `text` after the name.
#[cold]
#[inline(never)]
pub(crate) fn metric_error(name: &str, text: &str) -> JsError {
    let mut m = about(name);
    m.push_str(text);
    JsError::new(&m)
}
