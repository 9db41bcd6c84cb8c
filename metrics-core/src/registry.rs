//! The run-time registry (`alloc`): families registered while the program runs.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::collect::{Collect, Families, FamilyRef, Kind, Metric, StrList};
use crate::exposed::{clash, duplicate_error};
use crate::family::{Family, FamilyMember, DEFAULT_CARDINALITY_LIMIT};
use crate::{
    Counter, Desc, DynHistogram, DynNativeHistogram, Error, FloatCounter, Gauge, NativeConfig,
};

struct Entry {
    name: Box<str>,
    help: Box<str>,
    unit: Option<Box<str>>,
    labels: Box<[Box<str>]>,
    kind: Kind,
    metric: Arc<dyn Collect>,
}

/// Families registered at run time, encoded in registration order.
///
/// Registration checks names, label names, units, label counts and clashes with every family
/// already registered (including generated sample names such as `_total`, `_bucket`, `_sum`,
/// `_count`) and returns an [`Error`] that says what to change. Registration takes `&mut self`;
/// share the registry behind an `Arc` (or a lock, if you register later) once set up. The
/// returned handles are `Arc`s that stay valid and keep counting however the registry is used.
///
/// ```
/// use metrics_core::{Format, Registry};
/// let mut registry = Registry::new();
/// let requests = registry
///     .counter_family("http_requests", "Requests served.", &["method", "code"])
///     .unwrap();
/// requests.labels(&["GET", "200"]).inc();
/// let mut out = String::new();
/// metrics_core::encode(&registry, Format::Text, &mut out).unwrap();
/// assert!(out.contains("http_requests_total{method=\"GET\",code=\"200\"} 1\n"));
/// assert!(registry.counter("http_requests_total", "Again.").is_err());
/// ```
#[derive(Default)]
pub struct Registry {
    entries: Vec<Entry>,
    validation: crate::name::Validation,
}

impl core::fmt::Debug for Registry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| (&*e.name, e.kind)))
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry {
            entries: Vec::new(),
            validation: crate::name::Validation::Legacy,
        }
    }

    /// An empty registry that also takes metric and label names outside the legacy character
    /// set (any UTF-8 but empty or `__*`; descriptions from [`Desc::try_new_utf8`] and
    /// [`Desc::try_labels_utf8`]). The encoders write such names as the scrape negotiated:
    /// escaped (`underscores`, the default, `dots`, `values`) or quoted (`allow-utf-8`); see
    /// [`Escaping`](crate::Escaping).
    ///
    /// ```
    /// use metrics_core::{encoding::Options, encode_with, Desc, Escaping, Format, Registry, Counter};
    /// let mut r = Registry::utf8();
    /// let runs = r.register(Desc::try_new_utf8("cicd.pipeline.runs", "Runs.")?, Counter::new())?;
    /// runs.inc();
    /// let mut out = String::new();
    /// encode_with(&r, Format::Text, Options::new().escaping(Escaping::AllowUtf8), &mut out)?;
    /// assert!(out.contains("{\"cicd.pipeline.runs_total\"} 1\n"));
    /// out.clear();
    /// encode_with(&r, Format::Text, Options::new(), &mut out)?;
    /// assert!(out.contains("cicd_pipeline_runs_total 1\n"));
    /// # Ok::<(), metrics_core::Error>(())
    /// ```
    pub fn utf8() -> Self {
        Registry {
            entries: Vec::new(),
            validation: crate::name::Validation::Utf8,
        }
    }

    /// Registers `metric` under `desc` and returns a handle to it.
    pub fn register<M: Metric + 'static>(
        &mut self,
        desc: Desc<'_>,
        metric: M,
    ) -> Result<Arc<M>, Error> {
        let metric = Arc::new(metric);
        self.register_shared(desc, M::KIND, metric.clone())?;
        Ok(metric)
    }

    /// Registers a collector (or any shared [`Collect`]) as a family of `kind`.
    pub fn register_shared(
        &mut self,
        desc: Desc<'_>,
        kind: Kind,
        metric: Arc<dyn Collect>,
    ) -> Result<(), Error> {
        // `Desc` built with `new`/`try_new` is already valid; check again for descriptions
        // whose parts came from elsewhere.
        crate::name::check_metric_name(desc.name(), self.validation)?;
        let labels = desc.label_names();
        let names: Vec<&str> = labels.iter().collect();
        crate::name::check_label_names(&names, self.validation)?;
        if metric.label_count() != labels.len() {
            return Err(Error::LabelCount {
                expected: labels.len(),
                got: metric.label_count(),
            });
        }
        for e in &self.entries {
            if let Some(c) = clash(desc.name(), kind, &e.name, e.kind) {
                return Err(duplicate_error(desc.name(), c));
            }
        }
        self.entries.push(Entry {
            name: desc.name().into(),
            help: desc.help().into(),
            unit: desc.unit_str().map(Into::into),
            labels: names.iter().map(|n| Box::from(*n)).collect(),
            kind,
            metric,
        });
        Ok(())
    }

    /// Registers a new integer counter.
    pub fn counter(&mut self, name: &str, help: &str) -> Result<Arc<Counter>, Error> {
        self.register(Desc::try_new(name, help)?, Counter::new())
    }

    /// Registers a new float counter.
    pub fn float_counter(&mut self, name: &str, help: &str) -> Result<Arc<FloatCounter>, Error> {
        self.register(Desc::try_new(name, help)?, FloatCounter::new())
    }

    /// Registers a new gauge.
    pub fn gauge(&mut self, name: &str, help: &str) -> Result<Arc<Gauge>, Error> {
        self.register(Desc::try_new(name, help)?, Gauge::new())
    }

    /// Registers a new histogram over `bounds`.
    pub fn histogram(
        &mut self,
        name: &str,
        help: &str,
        bounds: &[f64],
    ) -> Result<Arc<DynHistogram>, Error> {
        let h = DynHistogram::new(bounds)?;
        self.register(Desc::try_new(name, help)?, h)
    }

    /// Registers a counter family with label names, with the default cardinality limit.
    pub fn counter_family(
        &mut self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<Arc<Family<Counter>>, Error> {
        self.family(Desc::try_new(name, help)?.try_labels(labels)?, (), None)
    }

    /// Registers a gauge family with label names, with the default cardinality limit.
    pub fn gauge_family(
        &mut self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<Arc<Family<Gauge>>, Error> {
        self.family(Desc::try_new(name, help)?.try_labels(labels)?, (), None)
    }

    /// Registers a histogram family over `bounds`, with the default cardinality limit.
    pub fn histogram_family(
        &mut self,
        name: &str,
        help: &str,
        labels: &[&str],
        bounds: &[f64],
    ) -> Result<Arc<Family<DynHistogram>>, Error> {
        let bounds = DynHistogram::new(bounds)?.shared_bounds();
        self.family(Desc::try_new(name, help)?.try_labels(labels)?, bounds, None)
    }

    /// Registers a new native (exponential) histogram, with classic buckets too if `config`
    /// has them.
    pub fn native_histogram(
        &mut self,
        name: &str,
        help: &str,
        config: &NativeConfig,
    ) -> Result<Arc<DynNativeHistogram>, Error> {
        self.register(Desc::try_new(name, help)?, DynNativeHistogram::new(config))
    }

    /// Registers a native (and, if `config` has classic bounds, classic) histogram family,
    /// with the default cardinality limit.
    ///
    /// ```
    /// use metrics_core::{NativeConfig, Registry};
    /// let mut registry = Registry::new();
    /// let config = NativeConfig::new(3, 160).unwrap().classic(&[0.1, 1.0]).unwrap();
    /// let latency = registry
    ///     .native_histogram_family("step_seconds", "Step durations.", &["step"], config)
    ///     .unwrap();
    /// latency.labels(&["build"]).observe(0.25);
    /// let mut out = String::new();
    /// metrics_core::encode(&registry, metrics_core::Format::Text, &mut out).unwrap();
    /// assert!(out.contains("step_seconds_bucket{step=\"build\",le=\"1.0\"} 1\n"));
    /// ```
    pub fn native_histogram_family(
        &mut self,
        name: &str,
        help: &str,
        labels: &[&str],
        config: NativeConfig,
    ) -> Result<Arc<Family<DynNativeHistogram>>, Error> {
        self.family(Desc::try_new(name, help)?.try_labels(labels)?, config, None)
    }

    /// Registers a family of any member type, with the given cardinality limit (`None`: the
    /// default, [`DEFAULT_CARDINALITY_LIMIT`]).
    pub fn family<M: FamilyMember>(
        &mut self,
        desc: Desc<'_>,
        config: M::Config,
        limit: Option<usize>,
    ) -> Result<Arc<Family<M>>, Error> {
        let kind = M::kind(&config);
        let family = Family::<M>::new(
            desc.label_names().len(),
            limit.unwrap_or(DEFAULT_CARDINALITY_LIMIT),
            config,
        )
        .rendered_as(&desc);
        let family = Arc::new(family);
        self.register_shared(desc, kind, family.clone())?;
        Ok(family)
    }

    /// Number of families.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Families for Registry {
    fn family_count(&self) -> usize {
        self.entries.len()
    }

    fn family(&self, index: usize) -> Option<FamilyRef<'_>> {
        let e = self.entries.get(index)?;
        Some(FamilyRef {
            desc: Desc::from_parts(
                &e.name,
                &e.help,
                e.unit.as_deref(),
                StrList::Owned(&e.labels),
            ),
            kind: e.kind,
            metric: &*e.metric,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_names_are_errors() {
        let mut r = Registry::new();
        assert!(matches!(
            r.counter("9lives", ""),
            Err(Error::InvalidMetricName { .. })
        ));
        assert!(matches!(
            r.counter_family("ok", "", &["le"]),
            Err(Error::ReservedLabelName { .. })
        ));
        assert!(matches!(
            r.gauge_family("ok", "", &["a-b"]),
            Err(Error::InvalidLabelName { .. })
        ));
        assert!(matches!(
            r.histogram("h", "", &[]),
            Err(Error::InvalidBuckets)
        ));
        assert!(r.is_empty(), "nothing half-registered");
    }

    #[test]
    fn duplicates_are_errors() {
        let mut r = Registry::new();
        r.counter("jobs", "").unwrap();
        r.histogram("latency", "", &[1.0]).unwrap();
        for (name, err) in [
            ("jobs", "jobs"),
            ("jobs_total", "jobs_total"),
            ("latency_count", "latency_count"),
            ("latency_bucket", "latency_bucket"),
        ] {
            match r.gauge(name, "") {
                Err(Error::Duplicate { name }) => assert_eq!(name.as_str(), err),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert_eq!(r.len(), 2);
        let message = alloc::format!("{}", r.gauge("jobs_total", "").unwrap_err());
        assert!(message.contains("already exposed"), "{message}");
    }

    #[test]
    fn label_count_must_match() {
        let mut r = Registry::new();
        let desc = Desc::new("x", "").labels(&["a"]);
        assert_eq!(
            r.register(desc, Gauge::new()).unwrap_err(),
            Error::LabelCount {
                expected: 1,
                got: 0
            }
        );
    }
}
