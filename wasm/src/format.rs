//! Exposition formats by name, and content negotiation from an `Accept` header.

use alloc::string::String;

use metrics_core::Format;
use wasm_bindgen::prelude::*;

/// The format named `name`: `"text"` (Prometheus text 0.0.4, also the default) or
/// `"openmetrics"` (OpenMetrics 1.0.0).
pub(crate) fn parse(name: Option<&str>) -> Result<Format, JsError> {
    match name {
        None | Some("text") => Ok(Format::Text),
        Some("openmetrics") => Ok(Format::OpenMetrics),
        Some(other) => {
            // Quoted and escaped as `{:?}` does, without `str`'s `Debug` (2.5 KB of tables).
            let mut quoted = String::new();
            let _ = metrics_core::Truncated::new(other).write_quoted(&mut quoted);
            Err(crate::error::error(&[
                "unknown format ",
                &quoted,
                ": use \"text\" (Prometheus text 0.0.4) or \"openmetrics\" (OpenMetrics 1.0.0)",
            ]))
        }
    }
}

/// The JS name of `format`.
pub(crate) fn name(format: Format) -> &'static str {
    match format {
        Format::Text => "text",
        Format::OpenMetrics => "openmetrics",
        Format::Protobuf => "protobuf",
    }
}

/// [`metrics_core::negotiate`] among the text formats: a scraper that prefers protobuf gets
/// text (its fallback), since the string-returning renderers cannot carry bytes.
pub(crate) fn negotiate_text(accept: Option<&str>) -> Format {
    match metrics_core::negotiate(accept) {
        Format::Protobuf => Format::Text,
        f => f,
    }
}

/// The format a scraper asks for in its `Accept` header: `"openmetrics"` when it names
/// `application/openmetrics-text` with the highest q-value, else `"text"` (also when there is
/// no header).
pub fn negotiate(accept: Option<String>) -> String {
    name(negotiate_text(accept.as_deref())).into()
}

/// The exact `Content-Type` header value for a format (`"text"`, `"openmetrics"`, or
/// `"protobuf"` for what `renderProtobuf` writes).
///
/// Throws an `Error` for any other format name.
pub fn content_type(format: &str) -> Result<String, JsError> {
    if format == "protobuf" {
        return Ok(Format::Protobuf.content_type().into());
    }
    Ok(parse(Some(format))?.content_type().into())
}
