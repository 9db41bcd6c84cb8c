//! A tour of the core: a run-time registry fed by a few simulated pipeline steps, printed in the
//! format an `Accept` header asks for.
//!
//! ```text
//! cargo run -p metrics-core --example demo                       # text 0.0.4
//! cargo run -p metrics-core --example demo -- application/openmetrics-text
//! ```

use std::process::ExitCode;

use metrics_core::{negotiate, Registry, DEFAULT_BUCKETS};

fn main() -> ExitCode {
    let accept = std::env::args().nth(1);
    if accept.as_deref() == Some("--help") {
        eprintln!("usage: demo [ACCEPT-HEADER]   e.g. demo application/openmetrics-text");
        return ExitCode::SUCCESS;
    }
    let format = negotiate(accept.as_deref());
    match run(format) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(format: metrics_core::Format) -> Result<(), metrics_core::Error> {
    let mut registry = Registry::new();
    let duration = registry.histogram_family(
        "pipeline_step_duration_seconds",
        "Execution latency per step.",
        &["step", "job", "profile"],
        &DEFAULT_BUCKETS,
    )?;
    let status = registry.counter_family(
        "pipeline_step_status_total",
        "Step outcomes by status.",
        &["step", "job", "profile", "status"],
    )?;
    let info = registry.gauge_family(
        "pipeline_run_info",
        "Run metadata (value 1).",
        &["run_id", "job", "profile"],
    )?;
    info.labels(&["demo-1", "standard", "standard"]).set(1.0);

    // Simulated steps: (name, seconds, ok).
    for (step, secs, ok) in [
        ("checkout", 0.42, true),
        ("build", 3.1, true),
        ("test", 7.8, false),
    ] {
        duration
            .labels(&[step, "standard", "standard"])
            .observe(secs);
        let outcome = if ok { "OK" } else { "FAIL" };
        status
            .labels(&[step, "standard", "standard", outcome])
            .inc();
    }

    eprintln!("# Content-Type: {}", format.content_type());
    let mut out = String::new();
    metrics_core::encode(&registry, format, &mut out)?;
    print!("{out}");
    Ok(())
}
