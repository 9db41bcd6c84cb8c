//! `run.json`: the manifest of one run (schema version 1, documented in `RUN_JSON.md`).

use serde::{Deserialize, Serialize};

/// The schema version written in `schema`.
pub const SCHEMA_VERSION: u32 = 1;

/// What happened to a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Exit code 0.
    #[serde(rename = "OK")]
    Ok,
    /// A non-zero exit, a timeout, a signal, a failure to start, or stopped by SIGINT/SIGTERM.
    #[serde(rename = "FAIL")]
    Fail,
    /// Never started: a step it needs failed, or the run stopped first (fail-fast or a signal).
    #[serde(rename = "SKIPPED")]
    Skipped,
}

impl Status {
    /// `OK`, `FAIL` or `SKIPPED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Fail => "FAIL",
            Status::Skipped => "SKIPPED",
        }
    }
}

/// One step's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    /// Step name.
    pub name: String,
    /// Final status.
    pub status: Status,
    /// Why it failed or was skipped (`null` when OK).
    pub reason: Option<String>,
    /// Exit code of the last attempt (`null`: not started, killed by a signal, or timed out).
    pub exit_code: Option<i32>,
    /// Attempts made (0 when skipped).
    pub attempts: u32,
    /// Whether the last attempt hit the step's timeout.
    pub timed_out: bool,
    /// Whether a failure of this step is allowed (does not fail the run).
    pub allow_failure: bool,
    /// Start of the first attempt (RFC 3339, UTC), `null` when skipped.
    pub started_at: Option<String>,
    /// End of the last attempt (RFC 3339, UTC), `null` when skipped.
    pub finished_at: Option<String>,
    /// Duration of the last attempt in seconds (the value observed in the metrics), `null`
    /// when skipped.
    pub duration_seconds: Option<f64>,
    /// Wall time from the first start to the last end, retries and delays included.
    pub total_seconds: Option<f64>,
    /// The log file, relative to the output directory (`logs/<step>.log`).
    pub log: String,
    /// The step's W3C span id (its process saw it in `TRACEPARENT`), `null` when skipped.
    #[serde(default)]
    pub span_id: Option<String>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Schema version (1).
    pub schema: u32,
    /// The run's id (also `BUILDER_RUN_ID` and the `run_id` label).
    pub run_id: String,
    /// Job name.
    pub job: String,
    /// The job file as given.
    pub job_file: String,
    /// Profile name.
    pub profile: String,
    /// `OK` (every step OK or allowed to fail), `FAIL`, or `INTERRUPTED` (SIGINT/SIGTERM).
    pub status: String,
    /// The process exit code of this run (0, 1, 130, 143).
    pub exit_code: i32,
    /// The signal that stopped the run (`SIGINT`, `SIGTERM`), if any.
    pub signal: Option<String>,
    /// Only in a checkpoint (status `INTERRUPTED`, written while the run was in progress):
    /// says the runner ended before writing its final record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Start (RFC 3339, UTC).
    pub started_at: String,
    /// End (RFC 3339, UTC).
    pub finished_at: String,
    /// Start, Unix seconds.
    pub started_unix: f64,
    /// End, Unix seconds.
    pub finished_unix: f64,
    /// Wall time in seconds.
    pub duration_seconds: f64,
    /// Most steps run at once.
    pub parallelism: u32,
    /// Whether `--keep-going` was given.
    pub keep_going: bool,
    /// The run's W3C trace id (the caller's when `TRACEPARENT` was set, else a new one).
    #[serde(default)]
    pub trace_id: String,
    /// The run's own span id (the parent of every step's span).
    #[serde(default)]
    pub span_id: String,
    /// The caller's span id, when the run joined a caller's trace.
    #[serde(default)]
    pub parent_span_id: Option<String>,
    /// The steps of the profile, in run order.
    pub steps: Vec<StepRecord>,
}
