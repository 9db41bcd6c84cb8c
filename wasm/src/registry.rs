//! The JS `Registry`: registration, rendering, negotiated scrapes, reset.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::RefCell;

#[cfg(feature = "remote-write")]
use metrics_core::remote_write::{self, Version, WriteOptions};
#[cfg(feature = "remote-write")]
use metrics_core::snappy;
use metrics_core::{validate_buckets, Families, Kind, DEFAULT_BUCKETS};
use wasm_bindgen::JsError;

use crate::error::{js_error, with_message};
use crate::series::Config;
use crate::slot::Slot;
use crate::wrapper::refs;
use crate::{format, Counter, Exposition, Gauge, Histogram};

/// A set of metric families, rendered together.
///
/// Names are checked when a metric is created: a bad metric or label name, a reserved label
/// (`le`, `quantile`, `__*`) or a name that clashes with one already registered (including the
/// generated `_total`, `_bucket`, `_sum`, `_count` samples) throws an `Error` that says what
/// to change.
pub struct Registry {
    core: RefCell<metrics_core::Registry>,
    slots: RefCell<Vec<Rc<Slot>>>,
    limit: Option<usize>,
}

impl core::fmt::Debug for Registry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Registry")
            .field("core", &self.core)
            .field("limit", &self.limit)
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new(None)
    }
}

impl Registry {
    /// An empty registry. `cardinalityLimit` is the most series each labelled family of this
    /// registry holds (10 000 when omitted); past it, new label values throw an `Error`.
    pub fn new(cardinality_limit: Option<u32>) -> Self {
        Registry {
            core: RefCell::new(metrics_core::Registry::new()),
            slots: RefCell::new(Vec::new()),
            limit: cardinality_limit.map(|l| l as usize),
        }
    }

    /// Creates a counter. `labelNames` are declared now; every call then gives as many label
    /// values (or use `labels(values)` for a bound child). Exposed as `<name>_total`.
    pub fn counter(
        &self,
        name: &str,
        help: &str,
        label_names: Option<Vec<String>>,
    ) -> Result<Counter, JsError> {
        let slot = self.add(Kind::Counter, name, help, &refs(&label_names), None)?;
        Ok(Counter::from_slot(slot))
    }

    /// Creates a gauge (see `counter` for labels).
    pub fn gauge(
        &self,
        name: &str,
        help: &str,
        label_names: Option<Vec<String>>,
    ) -> Result<Gauge, JsError> {
        let slot = self.add(Kind::Gauge, name, help, &refs(&label_names), None)?;
        Ok(Gauge::from_slot(slot))
    }

    /// Creates a histogram over `buckets` (finite upper bounds, strictly increasing; `+Inf`
    /// is added; Prometheus' default buckets `0.005 ... 10` when omitted).
    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        label_names: Option<Vec<String>>,
        buckets: Option<Vec<f64>>,
    ) -> Result<Histogram, JsError> {
        let labels = refs(&label_names);
        let slot = self.add(Kind::Histogram, name, help, &labels, buckets.as_deref())?;
        Ok(Histogram::from_slot(slot))
    }

    /// Every family in `format`: `"text"` (Prometheus text 0.0.4, the default) or
    /// `"openmetrics"` (OpenMetrics 1.0.0, ends with `# EOF`).
    pub fn render(&self, format: Option<String>) -> Result<String, JsError> {
        self.encode(format::parse(format.as_deref())?)
    }

    /// Renders in the format the `Accept` header asks for (Prometheus sends one): the body,
    /// the exact `Content-Type` to send with it, and the format's name.
    pub fn scrape(&self, accept: Option<String>) -> Result<Exposition, JsError> {
        let format = format::negotiate_text(accept.as_deref());
        Ok(Exposition::new(self.encode(format)?, format))
    }

    /// Sets every metric back to zero and forgets every labelled series (for tests). Metric
    /// objects and children created earlier stay valid and record into the fresh series.
    pub fn reset(&self) -> Result<(), JsError> {
        let mut fresh = metrics_core::Registry::new();
        {
            let old = self.core.borrow();
            // Slot `i` holds the old registry's family `i`: `add` appends to both, and only once
            // the core registered the family. Its description is taken from there.
            let descs = (0..old.family_count()).filter_map(|i| Families::family(&*old, i));
            for (slot, family) in self.slots.borrow().iter().zip(descs) {
                slot.reregister(&mut fresh, family.desc, self.limit)
                    .map_err(|e| with_message("reset: ".into(), &e))?;
            }
        }
        *self.core.borrow_mut() = fresh;
        Ok(())
    }

    /// Number of registered metrics.
    pub fn size(&self) -> usize {
        self.core.borrow().len()
    }
}

impl Registry {
    /// Registers a family of `kind` (a histogram over `buckets`, or the default buckets).
    pub(crate) fn add(
        &self,
        kind: Kind,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: Option<&[f64]>,
    ) -> Result<Rc<Slot>, JsError> {
        let bounds: Arc<[f64]> = match kind {
            Kind::Histogram => validate_buckets(buckets.unwrap_or(&DEFAULT_BUCKETS))
                .map_err(|e| js_error(name, &e))?
                .into(),
            _ => Arc::new([]),
        };
        let config = Config { kind, bounds };
        let slot = Slot::register(
            &mut self.core.borrow_mut(),
            name,
            help,
            labels,
            config,
            self.limit,
        )
        .map_err(|e| js_error(name, &e))?;
        let slot = Rc::new(slot);
        self.slots.borrow_mut().push(slot.clone());
        Ok(slot)
    }

    /// Every series of the registry as one Remote-Write request of `version`, every sample at
    /// `timestamp_ms`, `external_labels` added to each series: the core's encoder, then its
    /// Snappy compressor (the body to POST with `Version::headers()`).
    #[cfg(feature = "remote-write")]
    pub(crate) fn remote_write(
        &self,
        version: Version,
        timestamp_ms: i64,
        external_labels: &[(&str, &str)],
    ) -> Result<Vec<u8>, JsError> {
        let opts = WriteOptions {
            timestamp_ms,
            external_labels,
        };
        let mut request = Vec::new();
        remote_write::encode(&*self.core.borrow(), version, &opts, &mut request)
            .map_err(|e| with_message("remoteWrite: ".into(), &e))?;
        let mut body = alloc::vec![0; snappy::max_compressed_len(request.len())];
        // `body` has the length `compress` needs: it cannot fail.
        let n = snappy::compress(&request, &mut body).unwrap_or(0);
        body.truncate(n);
        Ok(body)
    }

    /// Every family as the protobuf exposition, into a new `Vec` (a `Uint8Array` in JS).
    #[cfg(feature = "remote-write")]
    pub(crate) fn render_protobuf(&self) -> Result<Vec<u8>, JsError> {
        let mut out = Vec::new();
        metrics_core::encode_to_vec(
            &*self.core.borrow(),
            metrics_core::Format::Protobuf,
            &mut out,
        )
        .map_err(|e| with_message("renderProtobuf: ".into(), &e))?;
        Ok(out)
    }

    fn encode(&self, format: metrics_core::Format) -> Result<String, JsError> {
        let mut out = String::new();
        metrics_core::encode(&*self.core.borrow(), format, &mut out)
            .map_err(|e| with_message("render: ".into(), &e))?;
        Ok(out)
    }
}

/// Host tests of the paths that create no JS value (errors need a JS engine: `tests/web.rs`).
#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn s(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn records_renders_and_resets() {
        let r = Registry::new(None);
        let c = r.counter("jobs", "Jobs run.", s(&["kind"])).unwrap();
        let g = r.gauge("queue_depth", "", None).unwrap();
        let h = r
            .histogram("job_seconds", "", None, Some(vec![1.0]))
            .unwrap();
        let child = c.labels(vec!["build".into()]).unwrap();
        child.inc().unwrap();
        c.inc_by(2.0, s(&["build"])).unwrap();
        g.set(3.0, None).unwrap();
        g.dec(s(&[])).unwrap();
        h.observe(0.5, None).unwrap();
        assert_eq!(
            r.render(None).unwrap(),
            "# HELP jobs_total Jobs run.\n# TYPE jobs_total counter\njobs_total{kind=\"build\"} 3\n\
             # TYPE queue_depth gauge\nqueue_depth 2\n\
             # TYPE job_seconds histogram\njob_seconds_bucket{le=\"1.0\"} 1\n\
             job_seconds_bucket{le=\"+Inf\"} 1\njob_seconds_sum 0.5\njob_seconds_count 1\n"
        );
        let om = r
            .scrape(Some("application/openmetrics-text".into()))
            .unwrap();
        assert_eq!(om.format(), "openmetrics");
        assert!(om.body().ends_with("# EOF\n"));
        r.reset().unwrap();
        assert_eq!(child.get().unwrap(), 0.0);
        assert_eq!(g.get(None).unwrap(), 0.0);
        child.inc().unwrap();
        assert_eq!(c.get(s(&["build"])).unwrap(), 1.0);
        assert_eq!(r.size(), 3);
    }
}
