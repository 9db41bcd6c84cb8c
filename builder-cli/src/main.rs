//! `builder_cli`: runs the steps of a YAML job file under a profile and exports per-step
//! metrics to Prometheus. See `README.md` and `JOB_FORMAT.md`.

#![forbid(unsafe_code)]
// The doc comments of `cli.rs` are the `--help` text (clap), written for a terminal: `<step>`
// and URLs there are plain text, not HTML or links.
#![allow(rustdoc::invalid_html_tags, rustdoc::bare_urls)]

mod cli;
mod commands;
mod exporter;
mod job;
mod manifest;
mod metrics;
mod otel;
mod output;
mod process_metrics;
mod progress;
mod push;
mod runner;
mod signals;
mod state;
mod step_log;
mod step_process;
mod trace;
mod validate;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let result = match &cli.command {
        cli::Command::RunProfile(a) => commands::run_profile(a),
        cli::Command::Validate(a) => commands::validate(a),
        cli::Command::List(a) => commands::list(a),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            eprint!("builder_cli: {e}");
            for cause in e.chain().skip(1) {
                eprint!("\n  caused by: {cause}");
            }
            eprintln!();
            commands::EXIT_USAGE
        }
    };
    std::process::exit(code);
}
