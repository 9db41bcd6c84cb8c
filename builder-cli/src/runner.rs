//! The scheduler: runs a profile's steps in dependency order, in parallel up to a limit, with
//! retries, fail-fast or keep-going, and a clean stop on SIGINT/SIGTERM.
//!
//! Rules (also in `JOB_FORMAT.md`):
//! - a step starts when every step it needs ended `OK` (or `FAIL` with `allow_failure`);
//! - a step whose dependency ended `FAIL` (without `allow_failure`) or `SKIPPED` is `SKIPPED`;
//! - fail-fast (default): after a failure without `allow_failure`, no new step starts; running
//!   steps finish; the steps not started are `SKIPPED`. `--keep-going` runs everything that
//!   does not depend on the failure;
//! - on SIGINT/SIGTERM the running steps' process groups get SIGTERM (SIGKILL 2 s later), they
//!   end `FAIL` ("stopped by SIGINT"), and the rest are `SKIPPED`.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::manifest::{Manifest, Status, StepRecord, SCHEMA_VERSION};
use crate::metrics::PipelineMetrics;
use crate::output::Staging;
use crate::progress::Progress;
use crate::signals::Stop;
use crate::step_log::StepLog;
use crate::step_process;
use crate::validate::{Job, Profile, Step};

/// Options of one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run id.
    pub run_id: String,
    /// Keep going after a failure.
    pub keep_going: bool,
    /// Most steps at once.
    pub parallelism: u32,
    /// How long a step's process group gets between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Most bytes of a step's output kept in its log (every attempt together).
    pub max_log_bytes: u64,
    /// The run's W3C trace context (each step gets a span under it).
    pub trace: crate::trace::TraceContext,
}

/// The exit code recorded in a checkpoint of run.json: what a shell reports for a process
/// killed by SIGKILL, the usual way a runner ends without writing its final record.
pub const CHECKPOINT_EXIT_CODE: i32 = 137;

/// The `note` of a checkpoint of run.json.
pub const CHECKPOINT_NOTE: &str = "checkpoint written while the run was in progress: the runner \
    ended (killed by SIGKILL, crashed, or the machine stopped) before it wrote its final record";

/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// RFC 3339 (UTC, milliseconds).
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

enum Event {
    Attempt(usize, u32),
    Retry(usize, u32, String),
    Done(usize, StepRecord),
}

/// Runs `profile` of `job`; logs go into `staging`. Returns the manifest (not yet written).
#[allow(clippy::too_many_arguments)]
pub fn run(
    job: &Job,
    profile: &Profile,
    opts: &RunOptions,
    staging: &Staging,
    metrics: &PipelineMetrics,
    stop: &Stop,
    progress: &mut Progress,
) -> Manifest {
    let started = SystemTime::now();
    let started_unix = unix_now();
    let t0 = Instant::now();
    let order = &profile.steps;
    metrics.run_started(
        &opts.run_id,
        &job.name,
        &profile.name,
        &profile
            .thresholds
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect::<Vec<_>>(),
    );
    for &i in order {
        metrics.declare_step(&job.steps[i].name, &job.name, &profile.name);
    }
    progress.run_started(
        &opts.run_id,
        &job.name,
        &profile.name,
        order.len(),
        opts.parallelism,
    );

    let mut records: BTreeMap<usize, StepRecord> = BTreeMap::new();
    let mut running = 0usize;
    let mut started_set = vec![false; job.steps.len()];
    let mut halted: Option<String> = None;
    let (tx, rx) = mpsc::channel::<Event>();
    let out_dir = staging.dir.display().to_string();
    let header = Header {
        opts,
        job,
        profile,
        started,
        started_unix,
        t0,
    };
    header.checkpoint(staging, &records, &started_set);

    loop {
        if halted.is_none() {
            if let Some(sig) = stop.signal() {
                halted = Some(format!(
                    "the run was stopped by {}",
                    crate::signals::name(sig)
                ));
            }
        }
        // Skip steps whose dependencies failed; start ready ones.
        for &i in order {
            if started_set[i] || records.contains_key(&i) {
                continue;
            }
            let step = &job.steps[i];
            let blocked = step.needs.iter().find_map(|&d| {
                records.get(&d).and_then(|r| match r.status {
                    Status::Skipped => Some(format!("needs {} which was SKIPPED", r.name)),
                    Status::Fail if !r.allow_failure => {
                        Some(format!("needs {} which FAILED", r.name))
                    }
                    _ => None,
                })
            });
            if let Some(reason) = blocked {
                let r = skipped(step.name.clone(), step.allow_failure, reason);
                progress.step_finished(&r);
                records.insert(i, r);
                continue;
            }
            if halted.is_some() || running >= opts.parallelism as usize {
                continue;
            }
            if !step.needs.iter().all(|d| records.contains_key(d)) {
                continue;
            }
            // Start it.
            started_set[i] = true;
            running += 1;
            let mut env: BTreeMap<String, String> = step.env.clone();
            env.extend(profile.env.clone());
            if let Some(e) = profile.step_env.get(&i) {
                env.extend(e.clone());
            }
            env.insert("BUILDER_RUN_ID".into(), opts.run_id.clone());
            env.insert("BUILDER_JOB".into(), job.name.clone());
            env.insert("BUILDER_PROFILE".into(), profile.name.clone());
            env.insert("BUILDER_STEP".into(), step.name.clone());
            env.insert("BUILDER_OUT_DIR".into(), out_dir.clone());
            env.insert("BUILDER_JOB_FILE".into(), job.file.display().to_string());
            let span_id = crate::trace::new_span_id();
            env.insert("TRACEPARENT".into(), opts.trace.traceparent(&span_id));
            match &opts.trace.tracestate {
                Some(ts) => env.insert("TRACESTATE".into(), ts.clone()),
                None => env.remove("TRACESTATE"),
            };
            let step = step.clone();
            let log_path = staging.log_path(&step.name);
            let tx = tx.clone();
            let stop = stop.clone();
            let limits = (opts.kill_grace, opts.max_log_bytes);
            std::thread::spawn(move || {
                run_step(i, &step, &env, &span_id, &log_path, limits, &tx, &stop)
            });
        }

        if running == 0 {
            // Nothing runs and nothing can start: the rest is skipped.
            for &i in order {
                if let std::collections::btree_map::Entry::Vacant(e) = records.entry(i) {
                    let step = &job.steps[i];
                    let reason = halted.clone().unwrap_or_else(|| "not started".to_string());
                    let r = skipped(step.name.clone(), step.allow_failure, reason);
                    progress.step_finished(&r);
                    e.insert(r);
                }
            }
            break;
        }

        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Event::Attempt(i, n)) => {
                progress.step_started(&job.steps[i].name, n, job.steps[i].retries + 1);
                if n == 1 {
                    // The checkpoint shows the step running.
                    header.checkpoint(staging, &records, &started_set);
                }
            }
            Ok(Event::Retry(i, n, why)) => {
                progress.step_retry(&job.steps[i].name, n, job.steps[i].retries + 1, &why)
            }
            Ok(Event::Done(i, r)) => {
                running -= 1;
                metrics.step_ended(
                    &r.name,
                    &job.name,
                    &profile.name,
                    r.status,
                    (r.duration_seconds.unwrap_or(0.0), unix_now()),
                    &[
                        ("run_id", opts.run_id.as_str()),
                        ("trace_id", opts.trace.trace_id.as_str()),
                    ],
                );
                if r.status == Status::Fail
                    && !r.allow_failure
                    && !opts.keep_going
                    && halted.is_none()
                {
                    halted = Some(format!(
                        "fail-fast: {} FAILED (use --keep-going to run independent steps)",
                        r.name
                    ));
                }
                progress.step_finished(&r);
                records.insert(i, r);
                header.checkpoint(staging, &records, &started_set);
            }
            Err(_) => progress.draw(false),
        }
    }
    progress.finish();

    let signal = stop.signal();
    let failed = records
        .values()
        .any(|r| r.status != Status::Ok && !(r.status == Status::Fail && r.allow_failure));
    let (status, exit_code) = match signal {
        Some(s) => ("INTERRUPTED".to_string(), 128 + s),
        None if failed => ("FAIL".to_string(), 1),
        None => ("OK".to_string(), 0),
    };
    if exit_code == 0 {
        metrics.run_succeeded(&job.name, &profile.name, unix_now());
    }
    header.manifest(
        status,
        exit_code,
        signal.map(|s| crate::signals::name(s).to_string()),
        order.iter().filter_map(|i| records.remove(i)).collect(),
    )
}

/// What every version of a run's manifest shares.
struct Header<'a> {
    opts: &'a RunOptions,
    job: &'a Job,
    profile: &'a Profile,
    started: SystemTime,
    started_unix: f64,
    t0: Instant,
}

impl Header<'_> {
    fn manifest(
        &self,
        status: String,
        exit_code: i32,
        signal: Option<String>,
        steps: Vec<StepRecord>,
    ) -> Manifest {
        Manifest {
            schema: SCHEMA_VERSION,
            run_id: self.opts.run_id.clone(),
            job: self.job.name.clone(),
            job_file: self.job.file.display().to_string(),
            profile: self.profile.name.clone(),
            status,
            exit_code,
            signal,
            note: None,
            started_at: rfc3339(self.started),
            finished_at: rfc3339(SystemTime::now()),
            started_unix: self.started_unix,
            finished_unix: unix_now(),
            duration_seconds: self.t0.elapsed().as_secs_f64(),
            parallelism: self.opts.parallelism,
            keep_going: self.opts.keep_going,
            trace_id: self.opts.trace.trace_id.clone(),
            span_id: self.opts.trace.span_id.clone(),
            parent_span_id: self.opts.trace.parent_span_id.clone(),
            steps,
        }
    }

    /// The run so far as a complete manifest with status `INTERRUPTED`, written to the staging
    /// directory (atomically) so that a runner killed now leaves a whole record behind.
    fn checkpoint(
        &self,
        staging: &Staging,
        records: &BTreeMap<usize, StepRecord>,
        started_set: &[bool],
    ) {
        let steps = self
            .profile
            .steps
            .iter()
            .map(|&i| match records.get(&i) {
                Some(r) => r.clone(),
                None => {
                    let name = self.job.steps[i].name.clone();
                    let mut r = skipped(
                        name,
                        self.job.steps[i].allow_failure,
                        "the runner ended before this step started".into(),
                    );
                    if started_set[i] {
                        r.status = Status::Fail;
                        r.reason = Some("the runner ended while this step ran".into());
                    }
                    r
                }
            })
            .collect();
        let mut m = self.manifest("INTERRUPTED".into(), CHECKPOINT_EXIT_CODE, None, steps);
        m.note = Some(CHECKPOINT_NOTE.into());
        let written = serde_json::to_string_pretty(&m)
            .map_err(anyhow::Error::from)
            .and_then(|json| staging.write("run.json", (json + "\n").as_bytes()));
        if let Err(e) = written {
            eprintln!("builder_cli: warning: cannot write the run.json checkpoint: {e:#}");
        }
    }
}

/// One step in its own thread: its attempts, appended to the log at `log_path`; sends an
/// `Attempt` per attempt, a `Retry` before each retry, then `Done` with the step's record.
#[allow(clippy::too_many_arguments)]
fn run_step(
    i: usize,
    step: &Step,
    env: &BTreeMap<String, String>,
    span_id: &str,
    log_path: &Path,
    (kill_grace, max_log_bytes): (Duration, u64),
    tx: &mpsc::Sender<Event>,
    stop: &Stop,
) {
    let attempts = step.retries + 1;
    let first_start = SystemTime::now();
    let t_first = Instant::now();
    let log = OpenOptions::new().create(true).append(true).open(log_path);
    let mut log = match log {
        Ok(l) => StepLog::new(l, max_log_bytes),
        Err(e) => {
            let now = SystemTime::now();
            let r = StepRecord {
                name: step.name.clone(),
                status: Status::Fail,
                reason: Some(format!("cannot create {}: {e}", log_path.display())),
                exit_code: None,
                attempts: 0,
                timed_out: false,
                allow_failure: step.allow_failure,
                started_at: Some(rfc3339(first_start)),
                finished_at: Some(rfc3339(now)),
                duration_seconds: Some(0.0),
                total_seconds: Some(0.0),
                log: format!("logs/{}.log", step.name),
                span_id: Some(span_id.into()),
            };
            let _ = tx.send(Event::Done(i, r));
            return;
        }
    };
    let mut attempt_no = 0;
    let last = loop {
        attempt_no += 1;
        let _ = tx.send(Event::Attempt(i, attempt_no));
        log.note(format_args!(
            "=== builder_cli: step {} attempt {attempt_no}/{attempts} started {}: {}",
            step.name,
            rfc3339(SystemTime::now()),
            step.command.display()
        ));
        let a = step_process::run(
            &step.command,
            env,
            &step.workdir,
            &mut log,
            step.timeout,
            kill_grace,
            stop,
        );
        log.note(format_args!(
            "=== builder_cli: step {} attempt {attempt_no}/{attempts} {} after {:.3}s{}",
            step.name,
            if a.ok() { "OK" } else { "FAIL" },
            a.duration.as_secs_f64(),
            a.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ));
        if a.ok() || attempt_no >= attempts || a.interrupted.is_some() {
            break a;
        }
        let _ = tx.send(Event::Retry(
            i,
            attempt_no,
            a.error.clone().unwrap_or_default(),
        ));
        if stop.sleep(step.retry_delay) {
            break a;
        }
    };
    let r = StepRecord {
        name: step.name.clone(),
        status: if last.ok() { Status::Ok } else { Status::Fail },
        reason: last.error.clone(),
        exit_code: last.exit_code,
        attempts: attempt_no,
        timed_out: last.timed_out,
        allow_failure: step.allow_failure,
        started_at: Some(rfc3339(first_start)),
        finished_at: Some(rfc3339(SystemTime::now())),
        duration_seconds: Some(last.duration.as_secs_f64()),
        total_seconds: Some(t_first.elapsed().as_secs_f64()),
        log: format!("logs/{}.log", step.name),
        span_id: Some(span_id.into()),
    };
    let _ = tx.send(Event::Done(i, r));
}

fn skipped(name: String, allow_failure: bool, reason: String) -> StepRecord {
    StepRecord {
        log: format!("logs/{name}.log"),
        name,
        status: Status::Skipped,
        reason: Some(reason),
        exit_code: None,
        attempts: 0,
        timed_out: false,
        allow_failure,
        started_at: None,
        finished_at: None,
        duration_seconds: None,
        total_seconds: None,
        span_id: None,
    }
}
