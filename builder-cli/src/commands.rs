//! What each subcommand does; returns the process exit code.

use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, Result};

use crate::cli::{ExporterArgs, ListArgs, RunArgs, ValidateArgs};
use crate::exporter::Served;
use crate::manifest::Status;
use crate::metrics::{Combined, PipelineMetrics};
use crate::output::{write_atomic, Staging};
use crate::progress::Progress;
use crate::runner::{self, RunOptions};
use crate::signals::Stop;
use crate::validate::{load_job, Job};

/// Exit code: usage or job-file error.
pub const EXIT_USAGE: i32 = 2;

/// The metrics, the exporter and the stop flag every subcommand sets up.
struct Env {
    metrics: PipelineMetrics,
    served: Served,
    stop: Stop,
}

fn setup(args: &ExporterArgs) -> Result<Env> {
    let metrics = PipelineMetrics::new().context("cannot register the pipeline metrics")?;
    let process =
        crate::process_metrics::registry().context("cannot register the process metrics")?;
    let families = Arc::new(Combined(vec![metrics.registry.clone(), process]));
    let served = Served::start(args, families)?;
    let stop = Stop::install().context("cannot install the SIGINT/SIGTERM handlers")?;
    Ok(Env {
        metrics,
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
    let env = setup(&args.exporter)?;
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
        let opts = RunOptions {
            run_id: run_id.clone(),
            keep_going: args.keep_going,
            parallelism,
            kill_grace: args.kill_grace,
            max_log_bytes: args.max_log_bytes,
        };
        let manifest = runner::run(
            &job,
            &profile,
            &opts,
            &stage,
            &env.metrics,
            &env.stop,
            &mut progress,
        );
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
            let instance = args
                .push_instance
                .clone()
                .unwrap_or_else(crate::push::hostname);
            if let Err(e) = crate::push::push(pg, &job.name, &instance, &prom) {
                eprintln!("builder_cli: warning: {e:#}");
            }
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
            _ => break code,
        }
    };
    finish(env, &args.exporter, args.quiet);
    Ok(code)
}
