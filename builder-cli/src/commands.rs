//! What each subcommand does; returns the process exit code.

use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};

use crate::cli::{ExporterArgs, ListArgs, RunArgs, ValidateArgs};
use crate::exporter::Served;
use crate::manifest::Status;
use crate::metrics::{Combined, PipelineMetrics, DURATION_BUCKETS};
use crate::output::{write_atomic, Staging};
use crate::progress::Progress;
use crate::runner::{self, RunOptions};
use crate::signals::Stop;
use crate::state::{StateFile, Totals};
use crate::validate::{load_job, Job};

/// Exit code: usage or job-file error.
pub const EXIT_USAGE: i32 = 2;

/// The metrics, the exporter and the stop flag every subcommand sets up.
struct Env {
    metrics: PipelineMetrics,
    /// The OpenTelemetry CI/CD families (`--otel-names`).
    otel: Option<crate::otel::OtelMetrics>,
    served: Served,
    stop: Stop,
}

fn setup(args: &ExporterArgs) -> Result<Env> {
    let metrics = PipelineMetrics::new().context("cannot register the pipeline metrics")?;
    let process =
        crate::process_metrics::registry().context("cannot register the process metrics")?;
    let otel = args
        .otel_names
        .then(crate::otel::OtelMetrics::new)
        .transpose()
        .context("cannot register the OpenTelemetry CI/CD metrics")?;
    let mut served = vec![metrics.registry.clone(), process];
    served.extend(otel.as_ref().map(|o| o.registry.clone()));
    let families = Arc::new(Combined(served));
    let served = Served::start(args, families)?;
    let stop = Stop::install().context("cannot install the SIGINT/SIGTERM handlers")?;
    Ok(Env {
        metrics,
        otel,
        served,
        stop,
    })
}

fn finish(env: Env, args: &ExporterArgs, quiet: bool) {
    if let (Some(linger), Some(url)) = (args.linger, env.served.url()) {
        if env.stop.signal().is_none() {
            if !quiet {
                eprintln!(
                    "builder_cli: serving metrics on {url} for {} (--linger); Ctrl-C to stop",
                    humantime::format_duration(linger)
                );
            }
            env.stop.sleep(linger);
        }
    }
    env.served.stop();
}

fn load(path: &std::path::Path) -> Result<Job> {
    Ok(load_job(path)?)
}

/// `validate`.
pub fn validate(args: &ValidateArgs) -> Result<i32> {
    let job = load(&args.job)?;
    if let Some(p) = &args.profile {
        job.profile(p)?;
    }
    let env = setup(&args.exporter)?;
    for p in job.profiles.values() {
        env.metrics.run_started(
            "validate",
            &job.name,
            &p.name,
            &p.thresholds
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect::<Vec<_>>(),
        );
    }
    println!(
        "{}: OK: job {:?}, {} steps, {} profiles",
        args.job.display(),
        job.name,
        job.steps.len(),
        job.profiles.len()
    );
    finish(env, &args.exporter, false);
    Ok(0)
}

/// `list`.
pub fn list(args: &ListArgs) -> Result<i32> {
    let job = load(&args.job)?;
    let env = setup(&args.exporter)?;
    let mut o = format!("job {} ({})\n", job.name, args.job.display());
    if job.profiles.is_empty() {
        o.push_str("no profiles: add a `profiles:` section to run this job\n");
    }
    for p in job.profiles.values() {
        o.push_str(&format!(
            "\nprofile {}{}\n",
            p.name,
            p.description
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ));
        if let Some(n) = p.parallelism {
            o.push_str(&format!("  parallelism {n}\n"));
        }
        for &i in &p.steps {
            let s = &job.steps[i];
            let mut extra = Vec::new();
            if !s.needs.is_empty() {
                extra.push(format!(
                    "needs {}",
                    s.needs
                        .iter()
                        .map(|&d| job.steps[d].name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if let Some(t) = s.timeout {
                extra.push(format!("timeout {}", humantime::format_duration(t)));
            }
            if s.retries > 0 {
                extra.push(format!("retries {}", s.retries));
            }
            if s.allow_failure {
                extra.push("allow_failure".into());
            }
            if let Some(t) = p.thresholds.get(&s.name) {
                extra.push(format!("threshold {}", humantime::format_duration(*t)));
            }
            o.push_str(&format!(
                "  {:<20} {}{}\n",
                s.name,
                s.command.display(),
                if extra.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", extra.join("; "))
                }
            ));
        }
    }
    print!("{o}");
    finish(env, &args.exporter, false);
    Ok(0)
}

fn new_run_id(n: u32) -> String {
    let t = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let compact: String = t.chars().filter(|c| *c != '-' && *c != ':').collect();
    format!("{compact}-{:04x}-{n}", std::process::id() & 0xffff)
}

/// The state file of this job, profile and instance, unless `--no-state`.
fn open_state(
    args: &RunArgs,
    job: &str,
    profile: &str,
    instance: &str,
) -> Result<Option<StateFile>> {
    if args.no_state {
        return Ok(None);
    }
    let dir = match args.state_dir.clone().or_else(crate::state::default_dir) {
        Some(d) => d,
        None => bail!(
            "no state directory: neither XDG_STATE_HOME nor HOME is set; give --state-dir DIR \
             (or --no-state to keep no totals across runs)"
        ),
    };
    StateFile::new(&dir, job, profile, instance, &DURATION_BUCKETS).map(Some)
}

/// Reads the state file into the fresh metrics; returns the totals read.
fn restore(
    state: &StateFile,
    metrics: &PipelineMetrics,
    job: &str,
    profile: &str,
    quiet: bool,
) -> Result<Totals> {
    let loaded = state.load()?;
    if let Some(said) = &loaded.reset {
        eprintln!("builder_cli: warning: {said}");
    }
    if !quiet {
        eprintln!(
            "builder_cli: totals across runs in {} ({} runs so far; --no-state to keep none)",
            state.path().display(),
            loaded.runs
        );
    }
    metrics.add(&loaded.totals);
    metrics.set_created(loaded.created);
    let base = metrics.totals();
    if loaded.reset.is_some() {
        // Counted as this run's increment, so the state file keeps the count.
        metrics.state_reset(job, profile, "unreadable");
    }
    Ok(base)
}

/// Which run a push carries.
struct RunRef<'a> {
    job: &'a str,
    profile: &'a str,
    instance: &'a str,
    run_id: &'a str,
}

/// Pushes a run's increments (`delta`) and the gauges' values now (`live`) to the gateway;
/// a failure is a warning.
fn push_increments(
    gateway: &str,
    run: &RunRef<'_>,
    delta: &Totals,
    live: &Totals,
    env: &Env,
    quiet: bool,
) {
    let body = match PipelineMetrics::for_push() {
        Ok(p) => {
            let mut d = delta.clone();
            d.gauges = live.gauges.clone();
            p.add(&d);
            p.set_thresholds(&env.metrics.thresholds());
            p.render()
        }
        Err(e) => {
            eprintln!("builder_cli: warning: cannot build the push: {e}");
            return;
        }
    };
    let url = crate::push::gateway_url(gateway, run.job, run.profile);
    let key = format!("{}/{}", run.instance, run.run_id);
    let said = |line: &str| {
        if !quiet {
            eprintln!("builder_cli: {line}");
        }
    };
    if let Err(e) = crate::push::push_increments(&url, &body, &key, &env.stop, said) {
        eprintln!("builder_cli: warning: {e:#}");
    }
}

/// Writes the pipeline's series (the totals) to a Remote-Write receiver; a failure is a
/// warning.
fn remote_write(url: &str, version: &str, env: &Env, quiet: bool) {
    use metrics_core::remote_write::{self, Version, WriteOptions};
    let version = if version == "2" {
        Version::V2
    } else {
        Version::V1
    };
    let opts = WriteOptions {
        timestamp_ms: (crate::state::now() * 1000.0) as i64,
        external_labels: &[],
    };
    let mut raw = Vec::new();
    let compressed = remote_write::encode(&*env.metrics.registry, version, &opts, &mut raw)
        .and_then(|_| {
            let mut body = vec![0; metrics_core::snappy::max_compressed_len(raw.len())];
            let n = metrics_core::snappy::compress(&raw, &mut body)?;
            body.truncate(n);
            Ok(body)
        });
    let body = match compressed {
        Ok(b) => b,
        Err(e) => {
            eprintln!("builder_cli: warning: cannot build the Remote-Write request: {e}");
            return;
        }
    };
    let what = crate::push::Receiver {
        name: "Remote-Write receiver",
        hint: "is the receiver up (Prometheus needs --web.enable-remote-write-receiver)?",
    };
    let said = |line: &str| {
        if !quiet {
            eprintln!("builder_cli: {line}");
        }
    };
    let headers = version.headers();
    if let Err(e) = crate::push::post_with_retries(url, &headers, &body, &what, &env.stop, said) {
        eprintln!("builder_cli: warning: {e:#}");
    }
}

/// `run-profile`.
pub fn run_profile(args: &RunArgs) -> Result<i32> {
    let job = load(&args.job)?;
    let profile = job.profile(&args.profile)?.clone();
    let parallelism = args.parallelism.or(profile.parallelism).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(2)
    });
    // Say what an earlier runner killed in this output directory left behind.
    for line in crate::output::recover(&args.out) {
        eprintln!("builder_cli: {line}");
    }
    // Refuse an occupied output directory before anything starts.
    crate::output::check_target(&args.out, args.force)?;
    let first_id = new_run_id(1);
    let instance = args.instance.clone().unwrap_or_else(crate::push::hostname);
    let state = open_state(args, &job.name, &profile.name, &instance)?;
    let env = setup(&args.exporter)?;
    // The totals so far (zero without a state file): what this process starts from.
    let mut base = match &state {
        Some(state) => restore(state, &env.metrics, &job.name, &profile.name, args.quiet)?,
        None => env.metrics.totals(),
    };
    let mut staging = Some(Staging::new(&args.out, &first_id, args.force)?);
    if let Some(url) = env.served.url() {
        if !args.quiet {
            eprintln!("builder_cli: serving metrics on {url}");
        }
    }
    let mut progress = Progress::new(args.quiet);
    let mut n = 1;
    let code = loop {
        let run_id = if n == 1 {
            first_id.clone()
        } else {
            new_run_id(n)
        };
        let stage = match staging.take() {
            Some(s) => s,
            None => Staging::new(&args.out, &run_id, true)?,
        };
        let (trace, warning) = crate::trace::TraceContext::for_run(
            std::env::var("TRACEPARENT").ok().as_deref(),
            std::env::var("TRACESTATE").ok().as_deref(),
        );
        if let Some(w) = warning {
            eprintln!("builder_cli: warning: {w}");
        }
        let opts = RunOptions {
            trace,
            run_id: run_id.clone(),
            keep_going: args.keep_going,
            parallelism,
            kill_grace: args.kill_grace,
            max_log_bytes: args.max_log_bytes,
        };
        if let Some(o) = &env.otel {
            o.run_started(&job.name, &profile.name);
        }
        let manifest = runner::run(
            &job,
            &profile,
            &opts,
            &stage,
            &env.metrics,
            &env.stop,
            &mut progress,
        );
        if let Some(o) = &env.otel {
            o.run_finished(&manifest);
        }
        for s in &manifest.steps {
            if s.status == Status::Skipped {
                let _ = std::fs::write(
                    stage.log_path(&s.name),
                    format!(
                        "=== builder_cli: step {} SKIPPED: {}\n",
                        s.name,
                        s.reason.as_deref().unwrap_or("")
                    ),
                );
            }
        }
        // This run's increments, then the totals with every run's (state file) in the
        // metrics before any sink reads them.
        let live = env.metrics.totals();
        let delta = live.since(&base);
        if let Some(state) = &state {
            match state.commit(&delta, &run_id, env.metrics.created()) {
                Ok(held) => {
                    env.metrics.add(&held.totals.since(&live));
                    env.metrics.set_created(held.created);
                }
                Err(e) => eprintln!(
                    "builder_cli: warning: this run is not counted in the totals of later runs: {e:#}"
                ),
            }
        }
        base = env.metrics.totals();
        let json = serde_json::to_string_pretty(&manifest)? + "\n";
        stage.write("run.json", json.as_bytes())?;
        let prom = env.metrics.render();
        stage.write("metrics.prom", prom.as_bytes())?;
        let out = stage.commit()?;
        if let Some(path) = &args.metrics_textfile {
            write_atomic(path, prom.as_bytes())
                .with_context(|| format!("cannot write --metrics-textfile {}", path.display()))?;
        }
        if let Some(pg) = &args.pushgateway {
            if let Err(e) = crate::push::push(pg, &job.name, &instance, &prom) {
                eprintln!("builder_cli: warning: {e:#}");
            }
        }
        for url in &args.remote_write {
            remote_write(url, &args.remote_write_version, &env, args.quiet);
        }
        if let Some(gw) = &args.gateway_url {
            let run = RunRef {
                job: &job.name,
                profile: &profile.name,
                instance: &instance,
                run_id: &run_id,
            };
            push_increments(gw, &run, &delta, &live, &env, args.quiet);
        }
        progress.summary(&manifest, &out.display().to_string());
        let code = manifest.exit_code;
        match args.repeat_every {
            Some(every) if env.stop.signal().is_none() => {
                if !args.quiet {
                    eprintln!(
                        "builder_cli: next run in {} (--repeat-every); Ctrl-C to stop",
                        humantime::format_duration(every)
                    );
                }
                if env.stop.sleep(every) {
                    break 128 + env.stop.signal().unwrap_or(2);
                }
                n += 1;
            }
            // A repeating worker stopped by a signal exits with the signal's code, also when
            // the signal came after the run's own record but before the wait between runs.
            Some(_) => break env.stop.signal().map_or(code, |s| 128 + s),
            None => break code,
        }
    };
    finish(env, &args.exporter, args.quiet);
    Ok(code)
}
