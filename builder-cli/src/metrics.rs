//! The pipeline's metric families, and the registry the exporter serves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics_core::{
    Collect, Counter, Desc, DynHistogram, Error, Families, Family, FamilyRef, Format, Gauge, Kind,
    Registry, StrList, Value, Visitor,
};

use crate::manifest::Status;

/// Bucket bounds of `pipeline_step_duration_seconds`, in seconds: from 50 ms to 1 h.
pub const DURATION_BUCKETS: [f64; 16] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0,
    3600.0,
];

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

/// Handles to the pipeline's families.
#[derive(Debug)]
pub struct PipelineMetrics {
    /// The registry holding them (what `metrics.prom`, the textfile and the push contain).
    pub registry: Arc<Registry>,
    duration: Arc<Family<DynHistogram>>,
    status: Arc<Family<Counter>>,
    last_duration: Arc<Family<Gauge>>,
    completed: Arc<Family<Gauge>>,
    run_info: Arc<RunInfo>,
    thresholds: Arc<Family<Gauge>>,
    last_success: Arc<Family<Gauge>>,
}

const STEP_LABELS: &[&str] = &["step", "job", "profile"];

impl PipelineMetrics {
    /// Registers every family.
    pub fn new() -> Result<Self, Error> {
        let mut r = Registry::new();
        let duration = r.histogram_family(
            "pipeline_step_duration_seconds",
            "Duration of each step attempt that ended (last attempt of a step), in seconds.",
            STEP_LABELS,
            &DURATION_BUCKETS,
        )?;
        let status = r.counter_family(
            "pipeline_step_status",
            "Steps that ended, by final status (OK or FAIL).",
            &["step", "job", "profile", "status"],
        )?;
        let last_duration = r.gauge_family(
            "pipeline_step_last_duration_seconds",
            "Duration of the step's last run, in seconds.",
            STEP_LABELS,
        )?;
        let completed = r.gauge_family(
            "pipeline_step_completed_timestamp_seconds",
            "When the step last ended (OK or FAIL), in Unix seconds.",
            STEP_LABELS,
        )?;
        let run_info = Arc::new(RunInfo::default());
        r.register_shared(
            Desc::try_new("pipeline_run_info", "The current run: always 1.")?
                .try_labels(&["run_id", "job", "profile"])?,
            Kind::Gauge,
            run_info.clone(),
        )?;
        let thresholds = r.gauge_family(
            "pipeline_profile_latency_threshold_seconds",
            "The profile's latency threshold for the step, in seconds (compare P95 of pipeline_step_duration_seconds against it).",
            STEP_LABELS,
        )?;
        let last_success = r.gauge_family(
            "pipeline_last_success_timestamp_seconds",
            "When a run of the profile last ended with every step OK, in Unix seconds.",
            &["job", "profile"],
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
        })
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

    /// A step ended with `status` (OK or FAIL) after `seconds`, at `unix` seconds.
    pub fn step_ended(
        &self,
        step: &str,
        job: &str,
        profile: &str,
        status: Status,
        seconds: f64,
        unix: f64,
    ) {
        let l = [step, job, profile];
        self.duration.labels(&l).observe(seconds);
        self.last_duration.labels(&l).set(seconds);
        self.completed.labels(&l).set(unix);
        self.status
            .labels(&[step, job, profile, status.as_str()])
            .inc();
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
        let mut out = String::new();
        // Encoding into a String cannot fail for a valid registry.
        let _ = metrics_core::encode(&*self.registry, Format::Text, &mut out);
        out
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
        m.step_ended("a", "j", "p", Status::Ok, 0.5, 1.0e9);
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
