//! The result of a negotiated scrape.

use alloc::string::String;

use metrics_core::Format;

/// A rendered scrape: what to send back to the scraper.
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

impl Exposition {
    /// The exposition text.
    pub fn body(&self) -> String {
        self.body.clone()
    }

    /// The exact `Content-Type` header value for `body`.
    pub fn content_type(&self) -> String {
        self.format.content_type().into()
    }

    /// `"text"` or `"openmetrics"`.
    pub fn format(&self) -> String {
        crate::format::name(self.format).into()
    }
}
