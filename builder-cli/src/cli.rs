//! The command line: subcommands, flags and the environment variables that set them.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Runs the steps of a YAML job file under a profile and exports per-step metrics to
/// Prometheus.
///
/// A job file lists steps (a shell command or an argv list, dependencies, timeout, retries,
/// environment) and profiles (which steps, environment overrides, latency thresholds,
/// parallelism); see builder-cli/JOB_FORMAT.md. `validate` checks a job file, `list` shows its
/// profiles, `run-profile` runs one profile and writes an output directory (run.json,
/// logs/<step>.log, metrics.prom).
///
/// Every flag can also be set by the environment variable shown in its help; a flag on the
/// command line wins.
///
/// Exit codes: 0 every step OK; 1 a step failed; 2 usage or job-file error (also: the
/// metrics port is in use); 130 stopped by SIGINT (Ctrl-C); 143 stopped by SIGTERM.
#[derive(Debug, Parser)]
#[command(name = "builder_cli", version, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the steps of one profile in dependency order and write the output directory.
    ///
    /// Steps run in dependency order, independent steps in parallel up to the profile's
    /// parallelism (or --parallelism). The first failure stops the run from starting new steps
    /// (running ones finish) unless --keep-going; steps that depend on a failed step are
    /// SKIPPED. The job file is validated first: nothing runs if it has an error.
    #[command(
        after_help = "Example:\n  builder_cli run-profile --job jobs/standard.yaml \\\n    \
        --out out/run_2024_10_09 --profile standard --prometheus-port 9099 --linger 60s\n\n\
        Steps see BUILDER_RUN_ID, BUILDER_JOB, BUILDER_PROFILE, BUILDER_STEP, BUILDER_OUT_DIR and \
        BUILDER_JOB_FILE in their environment, and TRACEPARENT/TRACESTATE (W3C trace context: \
        the run's trace, the caller's if builder_cli ran under TRACEPARENT, each step its own \
        span). The job format, run.json and the metrics are \
        described in builder-cli/JOB_FORMAT.md."
    )]
    RunProfile(Box<RunArgs>),
    /// Check a job file (syntax, unknown fields, unknown dependencies, cycles, duplicate
    /// names, durations, profiles) and say what is wrong, with file:line:column.
    ///
    /// Exit code 0 when the file is valid (with --profile: and the profile exists), 2
    /// otherwise. Nothing runs.
    Validate(ValidateArgs),
    /// List the profiles of a job file and the steps each runs, in run order.
    List(ListArgs),
}

/// `run-profile`'s flags.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job file (YAML) to run.
    #[arg(long, value_name = "FILE", env = "BUILDER_CLI_JOB")]
    pub job: PathBuf,
    /// The profile to run (one of the job file's `profiles`; `list` shows them).
    #[arg(long, value_name = "NAME", env = "BUILDER_CLI_PROFILE")]
    pub profile: String,
    /// The output directory: run.json, logs/<step>.log, metrics.prom. Written atomically at the
    /// end of the run; refused if it already holds files, unless --force.
    #[arg(long, value_name = "DIR", env = "BUILDER_CLI_OUT")]
    pub out: PathBuf,
    /// Replace an output directory that holds an earlier run.
    #[arg(long, env = "BUILDER_CLI_FORCE")]
    pub force: bool,
    /// After a step fails, keep running every step that does not depend on it (default: stop
    /// starting new steps; running steps finish).
    #[arg(long, env = "BUILDER_CLI_KEEP_GOING")]
    pub keep_going: bool,
    /// Most steps running at once; overrides the profile's `parallelism` (default: the
    /// profile's, else the number of CPUs).
    #[arg(long, value_name = "N", env = "BUILDER_CLI_PARALLELISM", value_parser = clap::value_parser!(u32).range(1..))]
    pub parallelism: Option<u32>,
    /// Run the profile again and again, waiting DURATION between the end of one run and the
    /// start of the next (e.g. 30s, 5m). Metrics accumulate across runs; pipeline_run_info
    /// follows the current run; the output directory holds the latest run. Stops on SIGINT or
    /// SIGTERM.
    #[arg(long, value_name = "DURATION", env = "BUILDER_CLI_REPEAT_EVERY", value_parser = parse_duration)]
    pub repeat_every: Option<Duration>,
    /// Push the final metrics of each run to this Prometheus Pushgateway (e.g.
    /// http://localhost:9091): HTTP PUT to /metrics/job/<job>/instance/<instance>, replacing
    /// that group. A failed push is a warning on stderr; the exit code stays the run's.
    #[arg(long, value_name = "URL", env = "BUILDER_CLI_PUSHGATEWAY")]
    pub pushgateway: Option<String>,
    /// This runner's name (default: this machine's host name): the `instance` of the
    /// Pushgateway's and the gateway's grouping key, and part of the state file's name.
    #[arg(
        long = "instance",
        visible_alias = "push-instance",
        value_name = "NAME",
        env = "BUILDER_CLI_INSTANCE"
    )]
    pub instance: Option<String>,
    /// Push each run's increments (counters and histograms: what this run added; gauges:
    /// their values) to a metrics-gateway started with --accept-pushes (e.g.
    /// http://gateway:9100), which adds them up across runs and runners: for ephemeral CI
    /// runners that keep no state. POST to /push/job/<job>/profile/<profile>/instance/<instance>;
    /// retried with backoff (5 attempts over about 15 s) with the same Idempotency-Key, so a
    /// retried push counts once. A push that finally fails is a warning; the exit code stays
    /// the run's.
    #[arg(long, value_name = "URL", env = "BUILDER_CLI_GATEWAY_URL")]
    pub gateway_url: Option<String>,
    /// Write the job's series (the totals across runs, see --state-dir) to a Prometheus
    /// Remote-Write receiver at the end of each run, stamped with the run's end: Prometheus
    /// (--web.enable-remote-write-receiver: http://prometheus:9090/api/v1/write), Mimir,
    /// Thanos Receive, VictoriaMetrics (http://vm:8428/api/v1/write). Repeat for more (the
    /// environment variable takes a comma-separated list). Retried with backoff on a
    /// connection error, a 5xx or a 429; a write that finally fails is a warning and the exit
    /// code stays the run's.
    #[arg(
        long,
        value_name = "URL",
        env = "BUILDER_CLI_REMOTE_WRITE",
        value_delimiter = ','
    )]
    pub remote_write: Vec<String>,
    /// The Remote-Write protocol: 1 (prometheus.WriteRequest, every receiver takes it) or 2
    /// (io.prometheus.write.v2.Request: metadata and the series' start per series; Prometheus
    /// 3 takes it with --web.remote-write-receiver.accepted-protobuf-messages).
    #[arg(
        long,
        value_name = "1|2",
        env = "BUILDER_CLI_REMOTE_WRITE_VERSION",
        default_value = "1",
        value_parser = ["1", "2"]
    )]
    pub remote_write_version: String,
    /// Where each job's totals live between runs (one file per job, profile and instance), so
    /// that counters and histograms of one-shot runs add up: default
    /// $XDG_STATE_HOME/builder_cli, else ~/.local/state/builder_cli. Runs of one job at once
    /// on this host add up exactly (a lock). See builder-cli/README.md, "Totals across runs".
    #[arg(
        long,
        value_name = "DIR",
        env = "BUILDER_CLI_STATE_DIR",
        conflicts_with = "no_state"
    )]
    pub state_dir: Option<PathBuf>,
    /// Keep no state: counters and histograms start at zero in every process (right with
    /// --repeat-every or --gateway-url from a runner that starts afresh each time).
    #[arg(long, env = "BUILDER_CLI_NO_STATE")]
    pub no_state: bool,
    /// Also write the final metrics to PATH for node_exporter's textfile collector (written to
    /// a temporary file beside it, then renamed). PATH should end in `.prom`.
    #[arg(long, value_name = "PATH", env = "BUILDER_CLI_METRICS_TEXTFILE")]
    pub metrics_textfile: Option<PathBuf>,
    /// No progress lines and no summary table (errors are still printed).
    #[arg(long, short, env = "BUILDER_CLI_QUIET")]
    pub quiet: bool,
    /// How long a step's process group gets after SIGTERM (on timeout or Ctrl-C) before
    /// SIGKILL: a step that ignores SIGTERM is killed after this grace period.
    #[arg(long, value_name = "DURATION", env = "BUILDER_CLI_KILL_GRACE", default_value = "2s", value_parser = parse_duration)]
    pub kill_grace: Duration,
    /// Most bytes of a step's output (stdout and stderr, every attempt together) kept in its
    /// log; the rest is read and discarded, and the log says where it was cut and how much
    /// was dropped. The step itself is not stopped. Default 64 MiB.
    #[arg(long, value_name = "BYTES", env = "BUILDER_CLI_MAX_LOG_BYTES", default_value_t = crate::step_log::DEFAULT_MAX_LOG_BYTES)]
    pub max_log_bytes: u64,
    /// The metrics exporter.
    #[command(flatten)]
    pub exporter: ExporterArgs,
}

/// `validate`'s flags.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The job file (YAML) to check.
    #[arg(long, value_name = "FILE", env = "BUILDER_CLI_JOB")]
    pub job: PathBuf,
    /// Also check that this profile exists.
    #[arg(long, value_name = "NAME", env = "BUILDER_CLI_PROFILE")]
    pub profile: Option<String>,
    /// The metrics exporter.
    #[command(flatten)]
    pub exporter: ExporterArgs,
}

/// `list`'s flags.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The job file (YAML) to list.
    #[arg(long, value_name = "FILE", env = "BUILDER_CLI_JOB")]
    pub job: PathBuf,
    /// The metrics exporter.
    #[command(flatten)]
    pub exporter: ExporterArgs,
}

/// The flags every subcommand takes for the Prometheus exporter.
#[derive(Debug, Args, Clone)]
pub struct ExporterArgs {
    /// Serve metrics on http://ADDRESS:PORT/metrics while the command runs. 0 or absent: no
    /// exporter (the command behaves exactly as without one). A port in use is an error (exit
    /// 2) before any step runs.
    #[arg(long, value_name = "PORT", env = "BUILDER_CLI_PROMETHEUS_PORT")]
    pub prometheus_port: Option<u16>,
    /// The IP address the exporter listens on: 0.0.0.0 (all IPv4 interfaces), 127.0.0.1 (this
    /// machine only), :: or ::1.
    #[arg(
        long,
        value_name = "ADDRESS",
        default_value = "0.0.0.0",
        env = "BUILDER_CLI_PROMETHEUS_ADDRESS"
    )]
    pub prometheus_address: IpAddr,
    /// A web configuration file in the format of Prometheus' exporter-toolkit: TLS
    /// (tls_server_config: cert_file, key_file) and basic auth (basic_auth_users with bcrypt
    /// hashes). Checked at start: a plaintext password, client-certificate auth (not
    /// supported) or an unreadable certificate is an error (exit 2) before any step runs.
    #[arg(long, value_name = "FILE", env = "BUILDER_CLI_WEB_CONFIG_FILE")]
    pub web_config_file: Option<PathBuf>,
    /// Keep the exporter up for DURATION after the command finishes (e.g. 30s, 2m), so that
    /// Prometheus scrapes the final values of a short run. SIGINT/SIGTERM end it early.
    #[arg(long, value_name = "DURATION", env = "BUILDER_CLI_LINGER", value_parser = parse_duration)]
    pub linger: Option<Duration>,
    /// Leave the `_created` samples (when each counter and histogram started counting) out of
    /// the OpenMetrics the exporter serves: fewer series, for a Prometheus that does not use
    /// them. The same environment variable as Python's prometheus_client (`true`, `1`, `yes`,
    /// `on`). The text format never has them.
    #[arg(long, env = "PROMETHEUS_DISABLE_CREATED_SERIES")]
    pub disable_created_series: bool,
    /// Also serve OpenTelemetry's CI/CD metrics, beside the pipeline_* families:
    /// cicd.pipeline.run.duration (histogram, seconds; labels cicd.pipeline.name = the job,
    /// cicd.pipeline.run.state = executing, cicd.pipeline.result = success, failure, error,
    /// timeout, cancellation or skip, error.type when it failed, profile),
    /// cicd.pipeline.run.active (runs in progress) and cicd.pipeline.run.errors (failed steps
    /// by error.type: timeout, exit_code, _OTHER). The run id is their exemplar, never a label.
    /// UTF-8 names: Prometheus 3 (escaping=allow-utf-8) stores them as they are, e.g.
    /// {"cicd.pipeline.run.duration_bucket"}; a scraper that names no escaping (Prometheus 2)
    /// gets cicd_pipeline_run_duration_bucket.
    #[arg(long, env = "BUILDER_CLI_OTEL_NAMES")]
    pub otel_names: bool,
}

impl ExporterArgs {
    /// The port to serve on, if any (0 means none).
    pub fn port(&self) -> Option<u16> {
        self.prometheus_port.filter(|p| *p != 0)
    }
}

/// Parses a human duration such as `500ms`, `30s`, `5m`, `1h 30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e}: write a duration such as 500ms, 30s, 5m or 1h30m"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("soon").unwrap_err().contains("30s"));
    }
}
