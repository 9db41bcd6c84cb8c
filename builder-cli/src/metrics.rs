//! The pipeline's metric families, and the registry the exporter serves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics_core::{
    Collect, Counter, CounterWithExemplar, Desc, DynNativeHistogram, Error, Families, Family,
    FamilyMember, FamilyRef, Format, Gauge, Kind, NativeConfig, NativeCounts, NativeHistogramValue,
    Registry, Sign, StrList, Value, Visitor, WithCreated, WithExemplars, DEFAULT_CARDINALITY_LIMIT,
};

use crate::manifest::Status;
use crate::state::{Hist, NativeHist, Totals};

/// Bucket bounds of `pipeline_step_duration_seconds`, in seconds: from 50 ms to 1 h.
pub const DURATION_BUCKETS: [f64; 16] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0,
    3600.0,
];

/// The native buckets of `pipeline_step_duration_seconds` start at schema 3: 8 buckets per
/// power of two, a bucket's bounds 9% apart, so `histogram_quantile` is within about 4.5% of
/// the true quantile.
pub const NATIVE_SCHEMA: i8 = 3;
/// At most this many native buckets per series (client_golang's usual
/// `NativeHistogramMaxBucketNumber`); past it the schema goes down, halving the resolution.
pub const NATIVE_MAX_BUCKETS: usize = 160;

/// `pipeline_run_info`: one series that follows the current run.
#[derive(Debug, Default)]
pub struct RunInfo {
    current: Mutex<Option<[String; 3]>>,
}

impl RunInfo {
    /// Makes `run_id`, `job`, `profile` the current run.
    pub fn set(&self, run_id: &str, job: &str, profile: &str) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) =
            Some([run_id.into(), job.into(), profile.into()]);
    }
}

impl Collect for RunInfo {
    fn series_count(&self) -> usize {
        usize::from(self.current.lock().map(|c| c.is_some()).unwrap_or(false))
    }
    fn collect(&self, index: usize, visit: &mut Visitor<'_>) -> Result<(), Error> {
        let cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let (0, Some([a, b, c])) = (index, cur.as_ref()) {
            visit(StrList::Borrowed(&[a, b, c]), Value::Gauge(1.0))?;
        }
        Ok(())
    }
    fn label_count(&self) -> usize {
        3
    }
}

/// Registers a family of `M` with `labels` whose series carry the start time `created`.
fn started_family<M: FamilyMember>(
    r: &mut Registry,
    desc: Desc<'_>,
    labels: &[&str],
    config: M::Config,
    created: &Arc<AtomicU64>,
) -> Result<Arc<Family<M>>, Error> {
    let desc = desc.try_labels(labels)?;
    let kind = M::kind(&config);
    let family = Arc::new(Family::<M>::new(
        labels.len(),
        DEFAULT_CARDINALITY_LIMIT,
        config,
    ));
    r.register_shared(
        desc,
        kind,
        // All series started counting at one time, the totals' start (the state file's, else
        // the process'): OpenMetrics shows it as each series' `_created`.
        Arc::new(WithCreated::new(family.clone(), {
            let created = created.clone();
            move |_| Some(f64::from_bits(created.load(Ordering::Relaxed)))
        })),
    )?;
    Ok(family)
}

/// Handles to the pipeline's families.
#[derive(Debug)]
pub struct PipelineMetrics {
    /// The registry holding them (what `metrics.prom`, the textfile and the push contain).
    pub registry: Arc<Registry>,
    duration: Arc<Family<WithExemplars<DynNativeHistogram>>>,
    status: Arc<Family<CounterWithExemplar>>,
    last_duration: Arc<Family<Gauge>>,
    completed: Arc<Family<Gauge>>,
    run_info: Arc<RunInfo>,
    thresholds: Arc<Family<Gauge>>,
    last_success: Arc<Family<Gauge>>,
    resets: Arc<Family<Counter>>,
    created: Arc<AtomicU64>,
    /// Built by [`for_push`](Self::for_push): no `job`/`profile` labels.
    grouped: bool,
}

const STEP_LABELS: &[&str] = &["step", "job", "profile"];

/// Family names, as the state file keys them.
const DURATION: &str = "pipeline_step_duration_seconds";
const STATUS: &str = "pipeline_step_status";
const LAST_DURATION: &str = "pipeline_step_last_duration_seconds";
const COMPLETED: &str = "pipeline_step_completed_timestamp_seconds";
const LAST_SUCCESS: &str = "pipeline_last_success_timestamp_seconds";
const THRESHOLDS: &str = "pipeline_profile_latency_threshold_seconds";
const RESETS: &str = "pipeline_state_resets";

/// The labels the gateway's grouping key carries for a push.
const GROUPING: [&str; 2] = ["job", "profile"];

/// A family's label names, in order.
fn label_names(family: &str) -> &'static [&'static str] {
    match family {
        STATUS => &["step", "job", "profile", "status"],
        LAST_SUCCESS => &["job", "profile"],
        RESETS => &["job", "profile", "reason"],
        _ => STEP_LABELS,
    }
}

impl PipelineMetrics {
    /// Registers every family; counters and histograms start counting now (see
    /// [`set_created`](Self::set_created)).
    pub fn new() -> Result<Self, Error> {
        Self::with_layout(false)
    }

    /// The families of a push to the gateway's grouping key `/job/<job>/profile/<profile>`:
    /// the same families without their `job` and `profile` labels (the gateway adds them from
    /// the key) and without `pipeline_run_info` (one series per run would pile up there).
    pub fn for_push() -> Result<Self, Error> {
        Self::with_layout(true)
    }

    fn with_layout(grouped: bool) -> Result<Self, Error> {
        let mut r = Registry::new();
        let created = Arc::new(AtomicU64::new(crate::state::now().to_bits()));
        let labels = |name: &str| -> Vec<&'static str> {
            label_names(name)
                .iter()
                .copied()
                .filter(|l| !grouped || !GROUPING.contains(l))
                .collect()
        };
        // Classic buckets (what the seed's dashboard and a Prometheus without native
        // histograms read) and native ones (what a Prometheus 3 asking for protobuf gets).
        let duration = started_family::<WithExemplars<DynNativeHistogram>>(
            &mut r,
            Desc::try_new(
                DURATION,
                "Duration of each step attempt that ended (last attempt of a step), in seconds.",
            )?,
            &labels(DURATION),
            NativeConfig::new(NATIVE_SCHEMA, NATIVE_MAX_BUCKETS)?.classic(&DURATION_BUCKETS)?,
            &created,
        )?;
        let status = started_family::<CounterWithExemplar>(
            &mut r,
            Desc::try_new(STATUS, "Steps that ended, by final status (OK or FAIL).")?,
            &labels(STATUS),
            (),
            &created,
        )?;
        let last_duration = r.gauge_family(
            LAST_DURATION,
            "Duration of the step's last run, in seconds.",
            &labels(LAST_DURATION),
        )?;
        let completed = r.gauge_family(
            COMPLETED,
            "When the step last ended (OK or FAIL), in Unix seconds.",
            &labels(COMPLETED),
        )?;
        let run_info = Arc::new(RunInfo::default());
        if !grouped {
            r.register_shared(
                Desc::try_new("pipeline_run_info", "The current run: always 1.")?
                    .try_labels(&["run_id", "job", "profile"])?,
                Kind::Gauge,
                run_info.clone(),
            )?;
        }
        let thresholds = r.gauge_family(
            THRESHOLDS,
            "The profile's latency threshold for the step, in seconds (compare P95 of pipeline_step_duration_seconds against it).",
            &labels(THRESHOLDS),
        )?;
        let last_success = r.gauge_family(
            LAST_SUCCESS,
            "When a run of the profile last ended with every step OK, in Unix seconds.",
            &labels(LAST_SUCCESS),
        )?;
        let resets = started_family::<Counter>(
            &mut r,
            Desc::try_new(
                RESETS,
                "Times the totals of this job and profile started again from zero because \
                 their state file was unreadable (builder_cli moved it aside and said so on \
                 stderr).",
            )?,
            &labels(RESETS),
            (),
            &created,
        )?;
        Ok(PipelineMetrics {
            registry: Arc::new(r),
            duration,
            status,
            last_duration,
            completed,
            run_info,
            thresholds,
            last_success,
            resets,
            created,
            grouped,
        })
    }

    /// When the counters and histograms started counting (Unix seconds): the `_created` of
    /// their series in OpenMetrics.
    pub fn set_created(&self, unix: f64) {
        self.created.store(unix.to_bits(), Ordering::Relaxed);
    }

    /// When the counters and histograms started counting (Unix seconds).
    pub fn created(&self) -> f64 {
        f64::from_bits(self.created.load(Ordering::Relaxed))
    }

    /// The totals a state file keeps: counters, histograms, and the gauges that describe
    /// past runs (not `pipeline_run_info` nor the thresholds, which each run sets anew).
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        let counters: [(&str, &dyn Collect); 2] =
            [(STATUS, &*self.status), (RESETS, &*self.resets)];
        for (name, family) in counters {
            for_each(family, |labels, value| {
                if let Value::Counter(v) = value {
                    t.counters.insert((name.into(), labels), v);
                }
            });
        }
        for_each(&*self.duration, |labels, value| {
            if let Value::Histogram(h) = value {
                let buckets = (0..=h.bounds().len()).map(|i| h.bucket(i)).collect();
                t.histograms.insert(
                    (DURATION.into(), labels),
                    Hist {
                        buckets,
                        sum: h.sum(),
                        native: h.native().map(saved_native),
                    },
                );
            }
        });
        for (name, family) in [
            (LAST_DURATION, &self.last_duration),
            (COMPLETED, &self.completed),
            (LAST_SUCCESS, &self.last_success),
        ] {
            for_each(&**family, |labels, value| {
                if let Value::Gauge(v) = value {
                    t.gauges.insert((name.into(), labels), v);
                }
            });
        }
        t
    }

    /// Adds `delta`'s counters and histograms to the metrics and sets its gauges. Series of
    /// families this builder_cli does not have are ignored.
    pub fn add(&self, delta: &Totals) {
        for ((name, labels), v) in &delta.counters {
            let l = self.project(name, labels);
            match name.as_str() {
                STATUS => {
                    if let Ok(c) = self.status.try_labels(&l) {
                        c.inc_by(*v);
                    }
                }
                RESETS => {
                    if let Ok(c) = self.resets.try_labels(&l) {
                        c.inc_by(*v);
                    }
                }
                _ => continue,
            }
        }
        for ((name, labels), h) in &delta.histograms {
            let l = self.project(name, labels);
            if name == DURATION {
                if let Ok(hist) = self.duration.try_labels(&l) {
                    // Totals of a version 1 state file have no native buckets: rebuilt from
                    // the classic ones, so that count and buckets agree.
                    let rebuilt;
                    let native = match &h.native {
                        Some(n) => n,
                        None => {
                            rebuilt = NativeHist::from_classic(
                                &h.buckets,
                                &DURATION_BUCKETS,
                                NATIVE_SCHEMA,
                            );
                            &rebuilt
                        }
                    };
                    let counts = NativeCounts {
                        schema: native.schema,
                        zero_count: native.zero_count,
                        positive: &native.positive,
                        negative: &native.negative,
                    };
                    // The state file checked the bucket count against these bounds, and
                    // the native buckets against the count.
                    let _ = hist.histogram().observe_counts(&h.buckets, h.sum, &counts);
                }
            }
        }
        for ((name, labels), v) in &delta.gauges {
            let l = self.project(name, labels);
            let family = match name.as_str() {
                LAST_DURATION => &self.last_duration,
                COMPLETED => &self.completed,
                LAST_SUCCESS => &self.last_success,
                _ => continue,
            };
            if let Ok(g) = family.try_labels(&l) {
                g.set(*v);
            }
        }
    }

    /// `labels` of a `family` series as this registry's family takes them (without `job`
    /// and `profile` when built [`for_push`](Self::for_push)).
    fn project<'a>(&self, family: &str, labels: &'a [String]) -> Vec<&'a str> {
        label_names(family)
            .iter()
            .zip(labels)
            .filter(|(name, _)| !self.grouped || !GROUPING.contains(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Counts a reset of the totals (`reason`: why the state file could not be used).
    pub fn state_reset(&self, job: &str, profile: &str, reason: &str) {
        self.resets.labels(&[job, profile, reason]).inc();
    }

    /// The profile's thresholds as gauges (for a push of a run's increments, which carries
    /// them beside [`totals`](Self::totals)).
    pub fn thresholds(&self) -> Vec<(Vec<String>, f64)> {
        let mut v = Vec::new();
        for_each(&*self.thresholds, |labels, value| {
            if let Value::Gauge(g) = value {
                v.push((labels, g));
            }
        });
        v
    }

    /// Sets thresholds read by [`thresholds`](Self::thresholds) elsewhere.
    pub fn set_thresholds(&self, t: &[(Vec<String>, f64)]) {
        for (labels, v) in t {
            let l = self.project(THRESHOLDS, labels);
            if let Ok(g) = self.thresholds.try_labels(&l) {
                g.set(*v);
            }
        }
    }

    /// A run starts: run info and the profile's thresholds.
    pub fn run_started(
        &self,
        run_id: &str,
        job: &str,
        profile: &str,
        thresholds: &[(String, Duration)],
    ) {
        self.run_info.set(run_id, job, profile);
        for (step, d) in thresholds {
            self.thresholds
                .labels(&[step, job, profile])
                .set(d.as_secs_f64());
        }
    }

    /// A step ended with `status` (OK or FAIL) after `seconds`, at `unix` seconds, in the run
    /// `exemplar` names (`run_id`, and `trace_id` when the run has one): the exemplar of the
    /// duration observation and of the status increment, at `unix`, so a dashboard links a
    /// slow step to its run. A label set over the 128 characters OpenMetrics allows keeps
    /// `run_id` alone (the counts are kept whatever happens to the exemplar).
    pub fn step_ended(
        &self,
        step: &str,
        job: &str,
        profile: &str,
        status: Status,
        (seconds, unix): (f64, f64),
        exemplar: &[(&str, &str)],
    ) {
        let l = [step, job, profile];
        let exemplar = exemplar_within_limit(exemplar);
        let _ = self
            .duration
            .labels(&l)
            .observe_with_exemplar(seconds, exemplar, Some(unix));
        self.last_duration.labels(&l).set(seconds);
        self.completed.labels(&l).set(unix);
        let _ = self
            .status
            .labels(&[step, job, profile, status.as_str()])
            .inc_with_exemplar(exemplar, Some(unix));
    }

    /// Makes sure both status series of a step exist (at 0), so `rate(...{status="FAIL"})`
    /// has a series before the first failure.
    pub fn declare_step(&self, step: &str, job: &str, profile: &str) {
        for s in ["OK", "FAIL"] {
            let _ = self.status.labels(&[step, job, profile, s]);
        }
    }

    /// The run ended with every step OK, at `unix` seconds.
    pub fn run_succeeded(&self, job: &str, profile: &str, unix: f64) {
        self.last_success.labels(&[job, profile]).set(unix);
    }

    /// The pipeline families in the text format 0.0.4.
    pub fn render(&self) -> String {
        self.render_as(Format::Text)
    }

    /// The pipeline families in `format`.
    pub fn render_as(&self, format: Format) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail for a valid registry.
        let _ = metrics_core::encode(&*self.registry, format, &mut out);
        out
    }
}

/// A snapshot's native buckets as the state file keeps them.
fn saved_native(n: &dyn NativeHistogramValue) -> NativeHist {
    let side = |s| (0..n.bucket_len(s)).map(|i| n.bucket(s, i)).collect();
    NativeHist {
        schema: n.schema(),
        zero_count: n.zero_count(),
        positive: side(Sign::Positive),
        negative: side(Sign::Negative),
    }
}

/// `labels`, or its first pair alone when the whole set is over OpenMetrics' 128 characters.
pub(crate) fn exemplar_within_limit<'a>(
    labels: &'a [(&'a str, &'a str)],
) -> &'a [(&'a str, &'a str)] {
    match metrics_core::Exemplar::check(labels) {
        Err(Error::ExemplarTooLong { .. }) => &labels[..labels.len().min(1)],
        _ => labels,
    }
}

/// Calls `f` with each series' label values and value.
fn for_each(family: &dyn Collect, mut f: impl FnMut(Vec<String>, Value<'_>)) {
    for i in 0..family.series_count() {
        let _ = family.collect(i, &mut |labels, value| {
            f(labels.iter().map(String::from).collect(), value);
            Ok(())
        });
    }
}

/// Several registries served as one (pipeline families, then process metrics).
#[derive(Debug)]
pub struct Combined(pub Vec<Arc<Registry>>);

impl Families for Combined {
    fn family_count(&self) -> usize {
        self.0.iter().map(|r| r.family_count()).sum()
    }
    fn family(&self, mut index: usize) -> Option<FamilyRef<'_>> {
        for r in &self.0 {
            let n = r.family_count();
            if index < n {
                return r.family(index);
            }
            index -= n;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_families_and_more() {
        let m = PipelineMetrics::new().unwrap();
        m.run_started("r1", "j", "p", &[("a".into(), Duration::from_secs(2))]);
        m.step_ended("a", "j", "p", Status::Ok, (0.5, 1.0e9), &[("run_id", "r1")]);
        m.run_succeeded("j", "p", 1.0e9);
        m.run_started("r2", "j", "p", &[]);
        let t = m.render();
        for needle in [
            "pipeline_step_duration_seconds_bucket{step=\"a\",job=\"j\",profile=\"p\",le=\"0.5\"} 1",
            "pipeline_step_status_total{step=\"a\",job=\"j\",profile=\"p\",status=\"OK\"} 1",
            "pipeline_step_last_duration_seconds{step=\"a\",job=\"j\",profile=\"p\"} 0.5",
            "pipeline_step_completed_timestamp_seconds{step=\"a\",job=\"j\",profile=\"p\"} 1000000000",
            "pipeline_run_info{run_id=\"r2\",job=\"j\",profile=\"p\"} 1",
            "pipeline_profile_latency_threshold_seconds{step=\"a\",job=\"j\",profile=\"p\"} 2",
            "pipeline_last_success_timestamp_seconds{job=\"j\",profile=\"p\"} 1000000000",
        ] {
            assert!(t.contains(needle), "{needle} missing in\n{t}");
        }
        assert!(!t.contains("r1"));
    }
}
