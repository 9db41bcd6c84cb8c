//! OpenTelemetry's CI/CD metric names (`--otel-names`, opt-in), beside the seed's families:
//! the semantic conventions' `cicd.pipeline.run.duration` (histogram, seconds),
//! `cicd.pipeline.run.active` (runs in progress) and `cicd.pipeline.run.errors` (errors in
//! runs), with their attribute names as labels (`cicd.pipeline.name`,
//! `cicd.pipeline.run.state`, `cicd.pipeline.result`, `error.type`). They are UTF-8 names:
//! a scraper that asks with `escaping=allow-utf-8` (Prometheus 3) gets them as they are, any
//! other one escaped (`cicd_pipeline_run_duration_bucket` with the default `underscores`).
//! The run id is only ever an exemplar, never a label (the conventions make the
//! `cicd.pipeline.run` entity opt-in: it is unbounded).

use std::sync::Arc;

use metrics_core::{
    CounterWithExemplar, Desc, DynHistogramWithExemplars, Error, Family, Gauge, Registry,
};

use crate::manifest::{Manifest, Status};

/// The run state every series carries: builder_cli reports the executing state (a run is
/// neither queued nor finalized by it).
const EXECUTING: &str = "executing";

const DURATION_LABELS: &[&str] = &[
    "cicd.pipeline.name",
    "cicd.pipeline.run.state",
    "cicd.pipeline.result",
    "error.type",
    "profile",
];
const ACTIVE_LABELS: &[&str] = &["cicd.pipeline.name", "cicd.pipeline.run.state", "profile"];
const ERRORS_LABELS: &[&str] = &["cicd.pipeline.name", "error.type", "profile"];

/// The OpenTelemetry CI/CD families, in a registry of their own (UTF-8 names).
#[derive(Debug)]
pub struct OtelMetrics {
    /// The registry the exporter serves beside the pipeline's.
    pub registry: Arc<Registry>,
    duration: Arc<Family<DynHistogramWithExemplars>>,
    active: Arc<Family<Gauge>>,
    errors: Arc<Family<CounterWithExemplar>>,
}

impl OtelMetrics {
    /// Registers the three families.
    pub fn new() -> Result<Self, Error> {
        let mut r = Registry::utf8();
        let bounds = metrics_core::validate_buckets(&crate::metrics::DURATION_BUCKETS)?;
        let duration = r.family(
            Desc::try_new_utf8(
                "cicd.pipeline.run.duration",
                "Duration of a pipeline run grouped by pipeline, state and result, in seconds \
                 (OpenTelemetry CI/CD semantic conventions).",
            )?
            .try_labels_utf8(DURATION_LABELS)?,
            bounds.into(),
            None,
        )?;
        let active = r.family(
            Desc::try_new_utf8(
                "cicd.pipeline.run.active",
                "The number of pipeline runs currently active, by state.",
            )?
            .try_labels_utf8(ACTIVE_LABELS)?,
            (),
            None,
        )?;
        let errors = r.family(
            Desc::try_new_utf8(
                "cicd.pipeline.run.errors",
                "The number of errors encountered in pipeline runs (failed steps, allowed \
                 failures included), by error type.",
            )?
            .try_labels_utf8(ERRORS_LABELS)?,
            (),
            None,
        )?;
        Ok(OtelMetrics {
            registry: Arc::new(r),
            duration,
            active,
            errors,
        })
    }

    /// A run of `job` under `profile` starts.
    pub fn run_started(&self, job: &str, profile: &str) {
        self.active.labels(&[job, EXECUTING, profile]).inc();
    }

    /// The run `m` ended: its duration by result, its failed steps by error type, each with
    /// the run's exemplar (`run_id`, `trace_id`).
    pub fn run_finished(&self, m: &Manifest) {
        let (job, profile) = (m.job.as_str(), m.profile.as_str());
        self.active.labels(&[job, EXECUTING, profile]).dec();
        let exemplar = [
            ("run_id", m.run_id.as_str()),
            ("trace_id", m.trace_id.as_str()),
        ];
        let exemplar = crate::metrics::exemplar_within_limit(&exemplar);
        let (result, error_type) = result(m);
        let _ = self
            .duration
            .labels(&[job, EXECUTING, result, error_type, profile])
            .observe_with_exemplar(m.duration_seconds, exemplar, Some(m.finished_unix));
        for s in m.steps.iter().filter(|s| s.status == Status::Fail) {
            let _ = self
                .errors
                .labels(&[job, step_error_type(s), profile])
                .inc_with_exemplar(exemplar, Some(m.finished_unix));
        }
    }
}

/// The run's `cicd.pipeline.result` and `error.type` (empty, i.e. absent, unless it failed).
fn result(m: &Manifest) -> (&'static str, &'static str) {
    if m.signal.is_some() {
        return ("cancellation", "");
    }
    let fatal = m
        .steps
        .iter()
        .filter(|s| s.status == Status::Fail && !s.allow_failure);
    let mut failed = false;
    for s in fatal {
        if s.timed_out {
            return ("timeout", "timeout");
        }
        if s.exit_code.is_none() {
            // Killed by a signal or never started: the runner's side, not the step's code.
            return ("error", "_OTHER");
        }
        failed = true;
    }
    if failed {
        ("failure", "exit_code")
    } else if m.steps.iter().all(|s| s.status == Status::Skipped) && !m.steps.is_empty() {
        ("skip", "")
    } else {
        ("success", "")
    }
}

/// A failed step's `error.type`: `timeout`, `exit_code` (a non-zero exit) or `_OTHER`.
fn step_error_type(s: &crate::manifest::StepRecord) -> &'static str {
    if s.timed_out {
        "timeout"
    } else if s.exit_code.is_some() {
        "exit_code"
    } else {
        "_OTHER"
    }
}
