//! What the module exports to JS: two small classes over the registry and the slots, and one
//! function (`format`).
//!
//! The JS API (`Registry`, `Counter`, `CounterChild`, ..., in `js/api.js`) is a thin layer over
//! these. Each exported method costs the module a generated shim (argument decoding, the borrow
//! of `self`, a `Result` turned into a thrown `Error`), so instead of one export per JS method
//! there is one per kind of call: a metric method is `op(number, value, labelValues)` (the
//! numbers of `crate::series::op`), or `op0(number, value)` without label values, on a metric
//! or on a child alike. Metric names and the registry's size are kept by the JS layer.
//!
//! Label names and values cross as one string (`js/api.js` `joinLabels`): each value as its
//! length in UTF-16 code units, `:`, then the value. One string instead of a `string[]` spares
//! the module wasm-bindgen's array decoding (a JS value per element, converted one by one) and
//! the JS side that many calls.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

#[cfg(feature = "remote-write")]
use metrics_core::remote_write::Version;
use metrics_core::Kind;
use wasm_bindgen::prelude::*;

use crate::error::error;
use crate::slot::{Bound, Slot};
use crate::Registry;

/// The label values `joined` by `js/api.js`, or `None` if it is malformed. Byte by byte: a
/// UTF-8 lead byte starts one UTF-16 code unit, or two for a four-byte character.
fn split_labels(joined: &str) -> Option<Vec<&str>> {
    let b = joined.as_bytes();
    let mut values = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let mut units = 0usize;
        loop {
            let c = *b.get(i)?;
            i += 1;
            if c == b':' {
                break;
            }
            units = units
                .wrapping_mul(10)
                .wrapping_add(usize::from(c.wrapping_sub(b'0')));
        }
        let start = i;
        while units > 0 {
            let c = *b.get(i)?;
            i += 1;
            if c & 0xc0 != 0x80 {
                units = units.checked_sub(if c >= 0xf0 { 2 } else { 1 })?;
            }
        }
        // The continuation bytes of the last character.
        while b.get(i).is_some_and(|c| c & 0xc0 == 0x80) {
            i += 1;
        }
        values.push(joined.get(start..i)?);
    }
    Some(values)
}

/// `split_labels`, an `Error` when malformed (never, from `js/api.js`).
fn labels(joined: Option<&str>) -> Result<Vec<&str>, JsError> {
    split_labels(joined.unwrap_or("")).ok_or_else(|| error(&["malformed label values"]))
}

/// The Remote-Write version `v2` selects.
#[cfg(feature = "remote-write")]
fn version(v2: bool) -> Version {
    if v2 {
        Version::V2
    } else {
        Version::V1
    }
}

/// `negotiate(accept)` (`which` 0: the format's name), `contentType(format)` (1), or (feature
/// `remote-write`) the Remote-Write request headers of version 2.0 (2, `arg` `"2"`) or 1.0
/// (2, any other `arg`), the core's `Version::headers()` as `name\nvalue\nname\nvalue...`:
/// one export for all.
#[wasm_bindgen]
pub fn format(which: u32, arg: Option<String>) -> Result<String, JsError> {
    match which {
        0 => Ok(crate::negotiate(arg)),
        #[cfg(not(feature = "remote-write"))]
        _ => crate::content_type(arg.as_deref().unwrap_or_default()),
        #[cfg(feature = "remote-write")]
        1 => crate::content_type(arg.as_deref().unwrap_or_default()),
        #[cfg(feature = "remote-write")]
        _ => {
            let mut out = String::new();
            for (name, value) in version(arg.as_deref() == Some("2")).headers() {
                for part in [name, "\n", value, "\n"] {
                    out.push_str(part);
                }
            }
            out.pop();
            Ok(out)
        }
    }
}

/// The module's memory (`WebAssembly.Memory`): `js/api.js` keeps a `Float64Array` over its
/// buffer to update counters and gauges in place (`crate::series::op::ADDR`).
#[wasm_bindgen]
pub fn linear_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// A `Registry` for the JS layer.
#[wasm_bindgen]
#[derive(Debug)]
pub struct RawRegistry(Registry);

#[wasm_bindgen]
impl RawRegistry {
    /// `new Registry(cardinalityLimit)`.
    #[wasm_bindgen(constructor)]
    pub fn new(limit: Option<u32>) -> Self {
        RawRegistry(Registry::new(limit))
    }

    /// `counter` (kind 0), `gauge` (1) or `histogram` (2, with `buckets`).
    pub fn metric(
        &self,
        kind: u32,
        name: &str,
        help: &str,
        label_names: Option<String>,
        buckets: Option<Vec<f64>>,
    ) -> Result<RawMetric, JsError> {
        let kind = match kind {
            0 => Kind::Counter,
            1 => Kind::Gauge,
            _ => Kind::Histogram,
        };
        let labels = labels(label_names.as_deref())?;
        let slot = self.0.add(kind, name, help, &labels, buckets.as_deref())?;
        Ok(RawMetric(Handle::Metric(slot)))
    }

    /// `render(format)`.
    pub fn render(&self, format: Option<String>) -> Result<String, JsError> {
        self.0.render(format)
    }

    /// `reset()`.
    pub fn reset(&self) -> Result<(), JsError> {
        self.0.reset()
    }

    /// `renderProtobuf()`: the registry as the protobuf exposition (length-delimited
    /// `io.prometheus.client.MetricFamily`), a `Uint8Array` in JS. In the larger module only,
    /// with Remote-Write, whose protobuf writer it shares.
    #[cfg(feature = "remote-write")]
    pub fn render_protobuf(&self) -> Result<Vec<u8>, JsError> {
        self.0.render_protobuf()
    }

    /// `remoteWrite`'s body: the registry as a snappy-compressed Remote-Write request, 2.0 if
    /// `v2` else 1.0, at `timestamp_ms`; `external` the external labels' names and values in
    /// turn, joined as label values are.
    #[cfg(feature = "remote-write")]
    pub fn remote_write(
        &self,
        v2: bool,
        timestamp_ms: f64,
        external: Option<String>,
    ) -> Result<Vec<u8>, JsError> {
        let parts = labels(external.as_deref())?;
        let pairs: Vec<(&str, &str)> = parts.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        self.0
            .remote_write(version(v2), timestamp_ms as i64, &pairs)
    }
}

#[derive(Debug)]
enum Handle {
    Metric(Rc<Slot>),
    Child(Bound),
}

/// A `Counter`, `Gauge` or `Histogram`, or a child bound to label values, for the JS layer.
#[wasm_bindgen]
#[derive(Debug)]
pub struct RawMetric(Handle);

#[wasm_bindgen]
impl RawMetric {
    /// The method numbered `op` with its argument `value` (if it takes one) on the series
    /// for `label_values` (a child ignores them); its result, or `0`.
    pub fn op(&self, op: u32, value: f64, label_values: Option<String>) -> Result<f64, JsError> {
        match &self.0 {
            // No list: nothing to split (the unlabelled fast path).
            Handle::Metric(slot) => match label_values.as_deref() {
                None => slot.op(op, value, &[]),
                joined => slot.op(op, value, &labels(joined)?),
            },
            Handle::Child(bound) => bound.op(op, value),
        }
    }

    /// `op` without label values: a child's methods (a metric without labels takes them too),
    /// spared the list's decoding.
    pub fn op0(&self, op: u32, value: f64) -> Result<f64, JsError> {
        match &self.0 {
            Handle::Metric(slot) => slot.op(op, value, &[]),
            Handle::Child(bound) => bound.op(op, value),
        }
    }

    /// `labels(labelValues)`: a child (of a metric; a child's child is bound to the same
    /// series as the child).
    pub fn labels(&self, label_values: &str) -> Result<RawMetric, JsError> {
        let slot = match &self.0 {
            Handle::Metric(slot) => slot,
            Handle::Child(bound) => bound.slot(),
        };
        let values = labels(Some(label_values))?;
        Ok(RawMetric(Handle::Child(Bound::new(slot.clone(), &values)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::split_labels;

    #[test]
    fn splits_joined_labels() {
        assert_eq!(split_labels(""), Some(alloc::vec![]));
        assert_eq!(split_labels("3:GET3:200"), Some(alloc::vec!["GET", "200"]));
        assert_eq!(split_labels("0:1::"), Some(alloc::vec!["", ":"]));
        // Lengths are UTF-16 code units: `é` is one, `😀` two.
        assert_eq!(
            split_labels("2:é:4:a😀b1:9"),
            Some(alloc::vec!["é:", "a😀b", "9"])
        );
        for bad in ["3:GE", "x", "1", "2:a", "a:b"] {
            assert_eq!(split_labels(bad), None, "{bad}");
        }
    }
}
