//! The job file: its YAML model and the loader whose errors name file, line and column.
//!
//! The format is documented in `JOB_FORMAT.md`. Values whose errors are found after parsing
//! (step names, dependencies, durations, profile step lists) are kept with their location
//! ([`Spanned`]) so that [`crate::validate`] can point at them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
pub use serde_saphyr::Spanned;

/// A job file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    /// The job's name (metrics label `job`); default: the file name without extension.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Environment for every step.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The steps, in file order.
    pub steps: Vec<StepDef>,
    /// The profiles, by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileDef>,
}

/// One step as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    /// Unique name: letters, digits, `_`, `-`, `.`.
    pub name: Spanned<String>,
    /// A shell command, run with `sh -c`.
    #[serde(default)]
    pub run: Option<Spanned<String>>,
    /// A program and its arguments, run without a shell.
    #[serde(default)]
    pub argv: Option<Spanned<Vec<String>>>,
    /// Steps that must be OK before this one starts.
    #[serde(default)]
    pub needs: Vec<Spanned<String>>,
    /// Longest time one attempt may take (`30s`, `5m`).
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// Extra attempts after a failure.
    #[serde(default)]
    pub retries: u32,
    /// Pause between attempts.
    #[serde(default)]
    pub retry_delay: Option<Spanned<String>>,
    /// Environment variables for this step.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory, relative to the job file's directory.
    #[serde(default)]
    pub workdir: Option<String>,
    /// A failure of this step does not fail the run and does not skip its dependants.
    #[serde(default)]
    pub allow_failure: bool,
}

/// One profile as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDef {
    /// What the profile is for (shown by `list`).
    #[serde(default)]
    pub description: Option<String>,
    /// Steps to run (with their dependencies); absent: every step.
    #[serde(default)]
    pub steps: Option<Vec<Spanned<String>>>,
    /// Environment overrides for every step of this profile.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Per-step environment overrides.
    #[serde(default)]
    pub step_env: HashMap<Spanned<String>, BTreeMap<String, String>>,
    /// Per-step latency thresholds (exported as a gauge).
    #[serde(default)]
    pub thresholds: HashMap<Spanned<String>, Spanned<String>>,
    /// Most steps running at once.
    #[serde(default)]
    pub parallelism: Option<Spanned<u32>>,
}

/// Where something is in a job file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
}

impl Pos {
    /// The position a [`Spanned`] value was written at.
    pub fn of<T>(s: &Spanned<T>) -> Pos {
        Pos {
            line: s.referenced.line(),
            column: s.referenced.column(),
        }
    }
}

/// A problem in a job file: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    /// The job file.
    pub file: PathBuf,
    /// Where, when known.
    pub pos: Option<Pos>,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) => write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                p.line,
                p.column,
                self.message
            ),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for JobError {}

/// All problems found in a job file (at least one).
#[derive(Debug, Clone)]
pub struct JobErrors(pub Vec<JobError>);

impl fmt::Display for JobErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "invalid job file ({n} problem{}):",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for JobErrors {}

/// Reads and parses `path` (syntax and field types only; see [`crate::validate`]).
pub fn load(path: &Path) -> Result<JobFile, JobErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        JobErrors(vec![JobError {
            file: path.to_path_buf(),
            pos: None,
            message: format!("cannot read the job file: {e}"),
        }])
    })?;
    parse(path, &text)
}

/// Parses the text of a job file; `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<JobFile, JobErrors> {
    serde_saphyr::from_str::<JobFile>(text).map_err(|e| {
        let pos = e.location().map(|l| Pos {
            line: l.line(),
            column: l.column(),
        });
        let raw = e.without_snippet().to_string();
        // The library's message may carry its own position; ours comes first.
        let mut message = first_line(&raw);
        if let Some(i) = message.rfind(" at line ") {
            message.truncate(i);
        }
        let hint = hint(&message);
        // A type error is about the value on its line: name the key.
        let field = pos
            .filter(|_| !hint.is_empty())
            .and_then(|p| field_at(text, p.line));
        let message = match field {
            Some(f) if !message.contains(&format!("`{f}`")) => format!("`{f}`: {message}"),
            _ => message,
        };
        JobErrors(vec![JobError {
            file: path.to_path_buf(),
            pos,
            message: format!("{message}{hint} (see builder-cli/JOB_FORMAT.md for the format)"),
        }])
    })
}

/// The key written on `line` (`  - name: x` -> `name`), for messages.
fn field_at(text: &str, line: u64) -> Option<String> {
    let l = text
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let l = l.trim_start().trim_start_matches("- ").trim_start();
    let key = l.split_once(':')?.0.trim();
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    ok.then(|| key.to_string())
}

/// What to write instead, for the library's terse type errors.
fn hint(message: &str) -> &'static str {
    const HINTS: &[(&str, &str)] = &[
        ("invalid u32", ": expected a whole number, 0 or more"),
        ("invalid boolean", ": expected true or false"),
        (
            "expected string scalar",
            ": expected a string (quote it; for a program with arguments use `argv: [...]`)",
        ),
        (
            "expected mapping start",
            ": expected a mapping (`KEY: value` lines, or `{KEY: value}`)",
        ),
        (
            "expected sequence start",
            ": expected a list (`[a, b]`, or lines starting with `- `)",
        ),
    ];
    HINTS
        .iter()
        .find(|(k, _)| message.contains(k))
        .map(|(_, h)| *h)
        .unwrap_or("")
}

fn first_line(s: &str) -> String {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid YAML")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_error_names_line() {
        let text = "steps:\n  - name: a\n    run: echo\n   bad: [\n";
        let err = parse(Path::new("j.yaml"), text).unwrap_err();
        let s = err.to_string();
        assert!(s.contains("j.yaml:"), "{s}");
        assert!(err.0[0].pos.is_some(), "{s}");
    }

    #[test]
    fn unknown_field_names_line() {
        let text = "steps:\n  - name: a\n    run: echo\n    retires: 2\n";
        let err = parse(Path::new("j.yaml"), text).unwrap_err();
        let e = &err.0[0];
        assert_eq!(e.pos.map(|p| p.line), Some(4), "{err}");
        assert!(e.message.contains("retires"), "{err}");
    }

    #[test]
    fn type_error_names_the_key_and_the_fix() {
        let text = "steps:\n  - name: a\n    run: echo\n    retries: many\n";
        let err = parse(Path::new("j.yaml"), text).unwrap_err();
        let e = &err.0[0];
        assert_eq!(e.pos.map(|p| p.line), Some(4), "{err}");
        assert!(
            e.message.contains("`retries`") && e.message.contains("whole number"),
            "{err}"
        );
    }
}
