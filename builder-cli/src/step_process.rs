//! One attempt of a step: a child in its own process group, output to the log, killed as a
//! group on timeout or on a stop signal.

use std::collections::BTreeMap;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::signals::Stop;
use crate::step_log::StepLog;
use crate::validate::Command;

/// How long the copy of a step's output is waited for once its process group is gone.
const OUTPUT_WAIT: Duration = Duration::from_secs(2);

/// How an attempt ended.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Exit code, when the process exited.
    pub exit_code: Option<i32>,
    /// The attempt hit its timeout.
    pub timed_out: bool,
    /// A stop signal ended it.
    pub interrupted: Option<i32>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Wall time of the attempt.
    pub duration: Duration,
}

impl Attempt {
    /// Exit code 0.
    pub fn ok(&self) -> bool {
        self.exit_code == Some(0) && self.error.is_none()
    }
}

fn kill_group(pgid: Pid, sig: Signal) {
    // ESRCH (group already gone) is fine.
    let _ = killpg(pgid, sig);
}

/// Runs one attempt of `command`.
pub fn run(
    command: &Command,
    env: &BTreeMap<String, String>,
    workdir: &Path,
    log: &mut StepLog,
    timeout: Option<Duration>,
    grace: Duration,
    stop: &Stop,
) -> Attempt {
    let start = Instant::now();
    let mut cmd = match command {
        Command::Shell(s) => {
            let mut c = std::process::Command::new("sh");
            c.arg("-c").arg(s);
            c
        }
        Command::Argv(a) => {
            let mut c = std::process::Command::new(&a[0]);
            c.args(&a[1..]);
            c
        }
    };
    // stdout and stderr share one pipe (their order kept), copied into the log with a cap.
    let pipe = std::io::pipe().and_then(|(r, w)| Ok((r, w.try_clone()?, w)));
    let (reader, out, err) = match pipe {
        Ok(p) => p,
        Err(e) => return failed(start, format!("cannot create the output pipe: {e}")),
    };
    // The runner's trace context replaces the caller's (a `TRACESTATE` the run does not pass
    // on is not inherited either).
    cmd.env_remove("TRACEPARENT")
        .env_remove("TRACESTATE")
        .envs(env)
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let spawned = cmd.spawn();
    // The Command holds the pipe's write ends: drop them, or the copy never sees the end.
    drop(cmd);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let what = match command {
                Command::Shell(_) => "sh".to_string(),
                Command::Argv(a) => a[0].clone(),
            };
            let msg = format!("cannot start {what:?} in {}: {e}", workdir.display());
            log.note(format_args!("builder_cli: {msg}"));
            return failed(start, msg);
        }
    };
    let copying = match log.copy(reader) {
        Ok(c) => Some(c),
        Err(e) => {
            log.note(format_args!(
                "=== builder_cli: cannot copy the step's output: {e}"
            ));
            None
        }
    };
    let pgid = Pid::from_raw(child.id() as i32);
    let mut timed_out = false;
    let mut interrupted = None;
    let mut term_sent: Option<Instant> = None;
    let mut kill_sent = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(e) => {
                kill_group(pgid, Signal::SIGKILL);
                let _ = child.wait();
                return failed(start, format!("cannot wait for the step: {e}"));
            }
        }
        if term_sent.is_none() {
            if let Some(sig) = stop.signal() {
                interrupted = Some(sig);
                kill_group(pgid, Signal::SIGTERM);
                term_sent = Some(Instant::now());
            } else if timeout.is_some_and(|t| start.elapsed() >= t) {
                timed_out = true;
                kill_group(pgid, Signal::SIGTERM);
                term_sent = Some(Instant::now());
            }
        } else if !kill_sent && term_sent.is_some_and(|t| t.elapsed() >= grace) {
            kill_sent = true;
            kill_group(pgid, Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Whatever the step left behind in its group goes with it.
    kill_group(pgid, Signal::SIGKILL);
    let duration = start.elapsed();
    if let Some(c) = copying {
        c.finish(log, OUTPUT_WAIT);
    }
    if kill_sent {
        log.note(format_args!(
            "=== builder_cli: the step was still running {} after SIGTERM (--kill-grace): \
             its process group got SIGKILL",
            humantime::format_duration(grace)
        ));
    }
    let exit_code = status.and_then(|s| s.code());
    let signal = status.and_then(|s| s.signal());
    let error = if let Some(sig) = interrupted {
        Some(format!("stopped by {}", crate::signals::name(sig)))
    } else if timed_out {
        Some(format!(
            "timed out after {}",
            humantime::format_duration(timeout.unwrap_or_default())
        ))
    } else if let Some(s) = signal {
        Some(format!("killed by signal {s}"))
    } else if exit_code != Some(0) {
        Some(format!("exit code {}", exit_code.unwrap_or(-1)))
    } else {
        None
    };
    let error = error.map(|e| {
        if kill_sent {
            format!(
                "{e}; it ignored SIGTERM and got SIGKILL {} later",
                humantime::format_duration(grace)
            )
        } else {
            e
        }
    });
    Attempt {
        exit_code: if timed_out || interrupted.is_some() {
            None
        } else {
            exit_code
        },
        timed_out,
        interrupted,
        error,
        duration,
    }
}

fn failed(start: Instant, msg: String) -> Attempt {
    Attempt {
        exit_code: None,
        timed_out: false,
        interrupted: None,
        error: Some(msg),
        duration: start.elapsed(),
    }
}
