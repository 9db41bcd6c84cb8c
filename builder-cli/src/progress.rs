//! Progress on stderr while a run goes (a live status line on a terminal, plain lines
//! otherwise) and the summary table on stdout at the end.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::manifest::{Manifest, Status, StepRecord};

/// Prints progress.
#[derive(Debug)]
pub struct Progress {
    quiet: bool,
    tty: bool,
    running: Vec<(String, Instant, u32)>,
    last_draw: Option<Instant>,
    /// Live lines on screen (terminal only).
    drawn: usize,
}

fn secs(d: f64) -> String {
    if d < 10.0 {
        format!("{d:.2}s")
    } else {
        format!("{d:.1}s")
    }
}

impl Progress {
    /// `quiet`: print nothing.
    pub fn new(quiet: bool) -> Self {
        Progress {
            quiet,
            tty: std::io::stderr().is_terminal(),
            running: Vec::new(),
            last_draw: None,
            drawn: 0,
        }
    }

    fn clear(&mut self, err: &mut impl Write) {
        if self.tty && self.drawn > 0 {
            // Erase the live block: this line, then each line above it.
            let _ = write!(err, "\r\x1b[K");
            for _ in 1..self.drawn {
                let _ = write!(err, "\x1b[1A\x1b[K");
            }
            self.drawn = 0;
        }
    }

    fn line(&mut self, text: &str) {
        if self.quiet {
            return;
        }
        let mut err = std::io::stderr().lock();
        self.clear(&mut err);
        let _ = writeln!(err, "{text}");
        drop(err);
        self.draw(true);
    }

    /// The run starts.
    pub fn run_started(&mut self, run_id: &str, job: &str, profile: &str, steps: usize, par: u32) {
        self.line(&format!(
            "builder_cli: run {run_id}: job {job}, profile {profile}, {steps} steps, up to {par} at once"
        ));
    }

    /// An attempt of `step` starts.
    pub fn step_started(&mut self, step: &str, attempt: u32, attempts: u32) {
        self.running.retain(|(s, _, _)| s != step);
        self.running
            .push((step.to_string(), Instant::now(), attempt));
        let of = if attempts > 1 {
            format!(" (attempt {attempt}/{attempts})")
        } else {
            String::new()
        };
        if !self.tty {
            self.line(&format!("  start {step}{of}"));
        } else {
            self.draw(true);
        }
    }

    /// An attempt failed and will be retried.
    pub fn step_retry(&mut self, step: &str, attempt: u32, attempts: u32, why: &str) {
        self.line(&format!(
            "  retry {step}: attempt {attempt}/{attempts} failed ({why})"
        ));
    }

    /// A step has its final status.
    pub fn step_finished(&mut self, r: &StepRecord) {
        self.running.retain(|(s, _, _)| s != &r.name);
        let mut text = format!("  {:<4}  {}", r.status.as_str(), r.name);
        if let Some(d) = r.duration_seconds {
            text.push_str(&format!(" in {}", secs(d)));
        }
        if r.attempts > 1 {
            text.push_str(&format!(" after {} attempts", r.attempts));
        }
        if let Some(why) = &r.reason {
            text.push_str(&format!(": {why}"));
        }
        if r.status == Status::Fail {
            text.push_str(&format!(" (log: {})", r.log));
        }
        self.line(&text);
    }

    /// Redraws the live lines (one per running step) on a terminal (at most 5 times a second unless `force`).
    pub fn draw(&mut self, force: bool) {
        if self.quiet || !self.tty || self.running.is_empty() {
            return;
        }
        if !force
            && self
                .last_draw
                .is_some_and(|t| t.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        self.last_draw = Some(Instant::now());
        let lines: Vec<String> = self
            .running
            .iter()
            .map(|(s, t, a)| {
                let a = if *a > 1 {
                    format!(" (attempt {a})")
                } else {
                    String::new()
                };
                let mut l = format!("  ...   {s}{a} running {}", secs(t.elapsed().as_secs_f64()));
                l.truncate(150);
                l
            })
            .collect();
        let mut err = std::io::stderr().lock();
        self.clear(&mut err);
        let _ = write!(err, "{}", lines.join("\n"));
        let _ = err.flush();
        self.drawn = lines.len();
    }

    /// Clears the live lines.
    pub fn finish(&mut self) {
        let mut err = std::io::stderr().lock();
        self.clear(&mut err);
    }

    /// The summary table.
    pub fn summary(&mut self, m: &Manifest, out_dir: &str) {
        self.finish();
        if self.quiet {
            return;
        }
        let w = m
            .steps
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let mut o = String::new();
        o.push_str(&format!(
            "\n{:<w$}  {:<7}  {:>9}  {:>8}  {:>4}  reason\n",
            "STEP", "STATUS", "DURATION", "ATTEMPTS", "EXIT"
        ));
        for s in &m.steps {
            o.push_str(&format!(
                "{:<w$}  {:<7}  {:>9}  {:>8}  {:>4}  {}\n",
                s.name,
                s.status.as_str(),
                s.duration_seconds.map(secs).unwrap_or_else(|| "-".into()),
                s.attempts,
                s.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into()),
                s.reason.as_deref().unwrap_or("")
            ));
        }
        let count = |st: Status| m.steps.iter().filter(|s| s.status == st).count();
        o.push_str(&format!(
            "\nrun {} {} in {}: {} OK, {} FAIL, {} SKIPPED; output in {}\n",
            m.run_id,
            m.status,
            secs(m.duration_seconds),
            count(Status::Ok),
            count(Status::Fail),
            count(Status::Skipped),
            out_dir
        ));
        let o: String = o.lines().map(|l| l.trim_end().to_string() + "\n").collect();
        let _ = std::io::stdout().lock().write_all(o.as_bytes());
    }
}
