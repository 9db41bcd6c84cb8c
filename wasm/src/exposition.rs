//! The result of a negotiated scrape.

use alloc::string::String;

use metrics_core::Format;
use wasm_bindgen::prelude::*;

/// A rendered scrape: what to send back to the scraper.
#[wasm_bindgen]
#[derive(Clone, Debug)]
pub struct Exposition {
    body: String,
    format: Format,
}

impl Exposition {
    pub(crate) fn new(body: String, format: Format) -> Self {
        Exposition { body, format }
    }
}

#[wasm_bindgen]
impl Exposition {
    /// The exposition text.
    #[wasm_bindgen(getter)]
    pub fn body(&self) -> String {
        self.body.clone()
    }

    /// The exact `Content-Type` header value for `body`.
    #[wasm_bindgen(getter, js_name = contentType)]
    pub fn content_type(&self) -> String {
        self.format.content_type().into()
    }

    /// `"text"` or `"openmetrics"`.
    #[wasm_bindgen(getter, unchecked_return_type = "\"text\" | \"openmetrics\"")]
    pub fn format(&self) -> String {
        crate::format::name(self.format).into()
    }
}
