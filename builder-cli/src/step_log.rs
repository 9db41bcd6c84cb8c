//! A step's log file with a size cap: the step's output (stdout and stderr through one pipe)
//! is copied into it up to `--max-log-bytes` per step, every attempt together; the rest is
//! read and discarded (so the step never blocks on a full pipe), and the log says so.

use std::fs::File;
use std::io::{PipeReader, Read, Write};
use std::sync::mpsc;
use std::time::Duration;

/// The default of `--max-log-bytes`: 64 MiB per step.
pub const DEFAULT_MAX_LOG_BYTES: u64 = 64 * 1024 * 1024;

/// A step's log: the file and how much of the step's output it holds (over all attempts).
#[derive(Debug)]
pub struct StepLog {
    file: File,
    limit: u64,
    written: u64,
    discarded: u64,
}

/// What one copy of a step's output did.
#[derive(Debug, Clone, Copy)]
struct Copied {
    written: u64,
    discarded: u64,
}

impl StepLog {
    /// A log in `file` taking at most `limit` bytes of step output.
    pub fn new(file: File, limit: u64) -> StepLog {
        StepLog {
            file,
            limit,
            written: 0,
            discarded: 0,
        }
    }

    /// Appends one of the runner's own lines (`=== builder_cli: ...`); these do not count
    /// against the limit. Errors are ignored: the log is best effort, the run goes on.
    pub fn note(&mut self, line: std::fmt::Arguments<'_>) {
        let _ = writeln!(self.file, "{line}");
    }

    /// Copies everything `pipe` yields into the log (up to the limit) on a thread of its own.
    /// Call [`Copying::finish`] once the step's process group is gone.
    pub fn copy(&mut self, pipe: PipeReader) -> std::io::Result<Copying> {
        let file = self.file.try_clone()?;
        let budget = self.limit.saturating_sub(self.written);
        let limit = self.limit;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(copy_capped(pipe, file, budget, limit));
        });
        Ok(Copying { rx })
    }
}

/// The copy of one attempt's output, running.
#[derive(Debug)]
pub struct Copying {
    rx: mpsc::Receiver<Copied>,
}

impl Copying {
    /// Waits for the copy to reach the end of the pipe. A process that left the step's
    /// process group and still holds its output open is not waited for longer than `wait`
    /// (the log says so).
    pub fn finish(self, log: &mut StepLog, wait: Duration) {
        match self.rx.recv_timeout(wait) {
            Ok(c) => {
                let (had_discarded, limit) = (log.discarded, log.limit);
                log.written += c.written;
                log.discarded += c.discarded;
                if c.discarded > 0 {
                    log.note(format_args!(
                        "=== builder_cli: {} bytes of output discarded by this attempt \
                         ({} in all) past the log limit of {} bytes (--max-log-bytes)",
                        c.discarded,
                        had_discarded + c.discarded,
                        limit
                    ));
                }
            }
            Err(_) => log.note(format_args!(
                "=== builder_cli: the step's output is still open (held by a process that left \
                 its process group) after {}; no longer copied",
                humantime::format_duration(wait)
            )),
        }
    }
}

fn copy_capped(mut pipe: PipeReader, mut file: File, budget: u64, limit: u64) -> Copied {
    let mut buf = vec![0u8; 64 * 1024];
    let mut c = Copied {
        written: 0,
        discarded: 0,
    };
    let mut marked = false;
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let room = budget.saturating_sub(c.written).min(n as u64) as usize;
        if room > 0 {
            if file.write_all(&buf[..room]).is_err() {
                // A full disk: keep draining so the step is not blocked on its pipe.
                c.discarded += room as u64;
            } else {
                c.written += room as u64;
            }
        }
        if room < n {
            c.discarded += (n - room) as u64;
            if !marked {
                marked = true;
                let _ = writeln!(
                    file,
                    "\n=== builder_cli: log truncated: the step's output reached the limit of \
                     {limit} bytes (--max-log-bytes); the rest is discarded"
                );
            }
        }
    }
    c
}
