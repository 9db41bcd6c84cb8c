//! Totals across one-shot runs (the state file): runs add up, a run killed at any point never
//! leaves a file that does not parse nor counts twice, runs of one job at once add up exactly,
//! and a damaged file is moved aside with a warning and a counted reset.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{stderr, Case, BIN};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const JOB: &str = r#"
name: totals
steps:
  - name: build
    run: sleep 0.02
  - name: test
    needs: [build]
    run: sleep 0.02
  - name: deploy
    needs: [test]
    run: sleep 0.02; exit 1
profiles:
  ci: {}
"#;

/// `builder_cli run-profile` of `case` into `out`, with the state in `state`.
fn command(case: &Case, out: &Path, state: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.args(["run-profile", "--quiet", "--profile", "ci", "--job"])
        .arg(&case.job)
        .arg("--out")
        .arg(out)
        .arg("--state-dir")
        .arg(state)
        .args(["--instance", "host"])
        .env_remove("BUILDER_CLI_PROMETHEUS_PORT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// The state file, parsed; `None` when there is none yet.
fn state(dir: &Path) -> Option<serde_json::Value> {
    let path = dir.join("totals+ci+host.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("{}: {e}", path.display()),
    };
    Some(
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}\n{text}", path.display())),
    )
}

/// The saved total of `pipeline_step_status` for `step` and `status`.
fn status(doc: &serde_json::Value, step: &str, status: &str) -> u64 {
    doc["counters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["family"] == "pipeline_step_status"
                && s["labels"][0] == step
                && s["labels"][3] == status
        })
        .map(|s| s["value"].as_u64().unwrap())
        .unwrap_or(0)
}

/// The saved observation count of `pipeline_step_duration_seconds` for `step`.
fn observations(doc: &serde_json::Value, step: &str) -> u64 {
    doc["histograms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["family"] == "pipeline_step_duration_seconds" && s["labels"][0] == step)
        .map(|s| {
            s["buckets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_u64().unwrap())
                .sum()
        })
        .unwrap_or(0)
}

/// Every total in the file tells the same number of runs: each run ends each step once.
fn runs_told(doc: &serde_json::Value) -> u64 {
    let runs = doc["runs"].as_u64().unwrap();
    for step in ["build", "test"] {
        assert_eq!(status(doc, step, "OK"), runs, "{step} OK: {doc:#}");
        assert_eq!(
            observations(doc, step),
            runs,
            "{step} observations: {doc:#}"
        );
    }
    assert_eq!(status(doc, "deploy", "FAIL"), runs, "{doc:#}");
    assert_eq!(observations(doc, "deploy"), runs, "{doc:#}");
    runs
}

#[test]
fn one_shot_runs_add_up_and_openmetrics_shows_when_the_totals_started() {
    let case = Case::new(JOB);
    let state_dir = case.path("state");
    for i in 0..3 {
        let out = case.path(&format!("out{i}"));
        let o = command(&case, &out, &state_dir).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        // Each run's own metrics.prom carries the totals of every run so far.
        let prom = std::fs::read_to_string(out.join("metrics.prom")).unwrap();
        let line = format!(
            "pipeline_step_status_total{{step=\"deploy\",job=\"totals\",profile=\"ci\",status=\"FAIL\"}} {}\n",
            i + 1
        );
        assert!(prom.contains(&line), "{line} not in\n{prom}");
    }
    let doc = state(&state_dir).unwrap();
    assert_eq!(runs_told(&doc), 3);
    // A run with the exporter: OpenMetrics has the state's start time as `_created`.
    let created = doc["created"].as_f64().unwrap();
    let port = common::free_port();
    let mut c = command(&case, &case.path("out-live"), &state_dir);
    c.args(["--prometheus-address", "127.0.0.1", "--prometheus-port"])
        .arg(port.to_string())
        .args(["--linger", "30s"]);
    let mut child = c.spawn().unwrap();
    let om = common::wait_until(Duration::from_secs(20), || {
        let om = common::try_scrape(port, "application/openmetrics-text;version=1.0.0")?;
        // The counter's line carries the last run's exemplar (` # {run_id=...}`).
        om.contains("status=\"FAIL\"} 4 # {run_id=").then_some(om)
    });
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    child.wait().unwrap();
    let want = format!(
        "pipeline_step_status_created{{step=\"deploy\",job=\"totals\",profile=\"ci\",status=\"FAIL\"}} {}",
        metrics_core_float(created)
    );
    assert!(om.contains(&want), "{want} not in\n{om}");
    assert!(om.contains("pipeline_step_duration_seconds_created{step=\"deploy\""));
    assert_eq!(runs_told(&state(&state_dir).unwrap()), 4);
}

/// How the core writes a float (shortest round trip, Go's `%g` exponent style).
fn metrics_core_float(v: f64) -> String {
    use metrics_core::{encode, Format, Registry};
    let mut r = Registry::new();
    r.gauge("x", "x").unwrap().set(v);
    let mut s = String::new();
    encode(&r, Format::Text, &mut s).unwrap();
    s.lines().last().unwrap()[2..].to_string()
}

#[test]
fn a_run_killed_at_fifty_points_never_tears_the_file_nor_counts_twice() {
    let case = Case::new(JOB);
    let state_dir = case.path("state");
    // How long a whole run takes here, now (a loaded machine is slower): the kills fall over
    // one and a half times that.
    let started = std::time::Instant::now();
    let o = command(&case, &case.path("first"), &state_dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let span = (started.elapsed().as_micros() as u64 * 3 / 2).max(1);
    let mut told = 1;
    // A fixed sequence of points over that span, so that a failure repeats.
    let mut seed: u64 = 0x5eed;
    for i in 0..50 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_micros((seed >> 33) % span);
        let out = case.path(&format!("out{i}"));
        let mut child = command(&case, &out, &state_dir).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
        child.wait().unwrap();
        // The steps' own processes (their own groups) finish by themselves: quick sleeps.
        let now = state(&state_dir).map(|d| runs_told(&d)).unwrap_or(0);
        assert!(
            now >= told,
            "the totals went back: {now} after {told} (kill {i} at {delay:?})"
        );
        assert!(now <= told + 1, "one run counted {} times", now - told);
        told = now;
    }
    // Some runs ended before their kill, some did not: both happened.
    assert!(
        told > 1 && told < 51,
        "{} of 50 killed runs counted",
        told - 1
    );
    // A run after all that starts from the file and adds one.
    let o = command(&case, &case.path("after"), &state_dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(runs_told(&state(&state_dir).unwrap()), told + 1);
}

#[test]
fn runs_of_one_job_started_together_add_up_exactly() {
    let case = Case::new(JOB);
    let state_dir = case.path("state");
    for round in 0..5 {
        let children: Vec<_> = (0..2)
            .map(|k| {
                command(&case, &case.path(&format!("out{round}-{k}")), &state_dir)
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        }
        assert_eq!(runs_told(&state(&state_dir).unwrap()), 2 * (round + 1));
    }
}

#[test]
fn a_damaged_state_file_is_moved_aside_said_and_counted() {
    let case = Case::new(JOB);
    let state_dir = case.path("state");
    let o = command(&case, &case.path("out0"), &state_dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let path = state_dir.join("totals+ci+host.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    let o = command(&case, &case.path("out1"), &state_dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("was not readable") && e.contains("started the totals again from zero"),
        "{e}"
    );
    let doc = state(&state_dir).unwrap();
    assert_eq!(runs_told(&doc), 1);
    let resets = doc["counters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["family"] == "pipeline_state_resets")
        .unwrap();
    assert_eq!(resets["labels"][2], "unreadable");
    assert_eq!(resets["value"], 1);
    let aside = std::fs::read_dir(&state_dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().contains(".unreadable-")
        })
        .count();
    assert_eq!(aside, 1);

    // A state file of a newer schema: an error before anything runs, the file untouched.
    let newer = r#"{"format": "builder_cli-state", "version": 99}"#;
    std::fs::write(&path, newer).unwrap();
    let o = command(&case, &case.path("out2"), &state_dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("schema version 99"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), newer);
    assert!(!case.path("out2").exists());
}

#[test]
fn no_state_keeps_no_file() {
    let case = Case::new(JOB);
    let state_dir = case.path("state");
    let o = command(&case, &case.path("out"), &state_dir)
        .arg("--no-state")
        .output()
        .unwrap();
    // --no-state conflicts with --state-dir: a usage error, exit 2.
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Without --state-dir: XDG_STATE_HOME says where, and --no-state keeps nothing there.
    let xdg_run = |out: &str, extra: &[&str]| {
        Command::new(BIN)
            .args([
                "run-profile",
                "--quiet",
                "--profile",
                "ci",
                "--instance",
                "host",
            ])
            .args(extra)
            .arg("--job")
            .arg(&case.job)
            .arg("--out")
            .arg(case.path(out))
            .env("XDG_STATE_HOME", case.path("xdg"))
            .env_remove("BUILDER_CLI_STATE_DIR")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let o = xdg_run("out", &["--no-state"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!case.path("xdg").exists());
    let o = xdg_run("out-xdg", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        runs_told(&state(&case.path("xdg").join("builder_cli")).unwrap()),
        1
    );
}
