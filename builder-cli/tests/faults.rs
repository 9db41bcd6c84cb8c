//! The runner under faults, against the real `builder_cli` binary: a step that ignores
//! SIGTERM, a step that floods its log, an output directory that cannot be written, and the
//! runner itself killed with SIGKILL at random points of a run.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use test_support::Rng;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const STUBBORN: &str = r#"
name: faults
steps:
  - name: stubborn
    run: "trap '' TERM; echo ready; sleep 30; echo NOT\"-killed\""
    timeout: 300ms
profiles:
  main: {}
"#;

#[test]
fn a_step_ignoring_sigterm_is_killed_after_the_grace_period() {
    let case = Case::new(STUBBORN);
    let t = Instant::now();
    let out = case.run("main", &["--quiet", "--kill-grace", "500ms"]);
    let took = t.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    // 300 ms timeout + 500 ms grace, far below the step's 30 s sleep.
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(took >= Duration::from_millis(800), "took {took:?}");
    let m = case.manifest();
    let s = &m["steps"][0];
    assert_eq!(s["status"], "FAIL");
    assert_eq!(s["timed_out"], true);
    let reason = s["reason"].as_str().unwrap();
    assert!(
        reason.contains("timed out after 300ms")
            && reason.contains("ignored SIGTERM and got SIGKILL 500ms later"),
        "{reason}"
    );
    let log = case.log("stubborn");
    assert!(log.contains("ready"), "{log}");
    assert!(!log.contains("NOT-killed"), "{log}");
    assert!(log.contains("its process group got SIGKILL"), "{log}");

    // The environment variable sets it too.
    let case = Case::new(STUBBORN);
    let out = case
        .command("main", &["--quiet"])
        .env("BUILDER_CLI_KILL_GRACE", "200ms")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let reason = case.manifest()["steps"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("got SIGKILL 200ms later"), "{reason}");
}

#[test]
fn a_step_flooding_its_log_is_capped_and_the_run_goes_on() {
    let case = Case::new(
        r#"
name: faults
steps:
  - name: flood
    run: "head -c 3000000 /dev/zero | tr '\\0' x; echo; echo after-\"the-flood\""
  - name: next
    needs: [flood]
    run: echo next ran
profiles:
  main: {}
"#,
    );
    let out = case.run("main", &["--quiet", "--max-log-bytes", "100000"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let m = case.manifest();
    assert_eq!(m["steps"][0]["status"], "OK");
    assert_eq!(m["steps"][1]["status"], "OK");
    let log = case.log("flood");
    let xs: usize = log
        .lines()
        .filter(|l| !l.starts_with("==="))
        .map(|l| l.bytes().filter(|&b| b == b'x').count())
        .sum();
    assert_eq!(xs, 100_000, "the log keeps exactly the limit of the output");
    assert!(log.len() < 101_000, "log of {} bytes", log.len());
    assert!(log.contains("log truncated"), "{}", &log[log.len() - 600..]);
    assert!(
        log.contains("bytes of output discarded by this attempt"),
        "{}",
        &log[log.len() - 600..]
    );
    // 3 000 000 x, a newline and "after-the-flood\n": all but 100 000 bytes discarded.
    assert!(
        log.contains(&format!(
            "{} bytes of output discarded",
            3_000_017 - 100_000
        )),
        "{}",
        &log[log.len() - 600..]
    );
    assert!(!log.contains("after-the-flood"));
    assert!(case.log("next").contains("next ran"));
}

#[test]
fn an_output_directory_that_cannot_be_written_fails_before_any_step() {
    let case = Case::new(
        r#"
name: faults
steps:
  - name: marker
    run: touch "$BUILDER_JOB_FILE.ran"
profiles:
  main: {}
"#,
    );
    // A regular file where a directory should be: unwritable even for root.
    std::fs::write(case.path("file"), "not a directory").unwrap();
    let out_dir = case.path("file").join("out");
    let out = std::process::Command::new(BIN)
        .args(["run-profile", "--quiet", "--profile", "main", "--job"])
        .arg(&case.job)
        .arg("--out")
        .arg(&out_dir)
        .env("BUILDER_CLI_STATE_DIR", case.path("state"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("builder_cli: cannot create")
            && stderr.contains("the directory that holds the output directory"),
        "{stderr}"
    );
    assert!(!case.path("job.yaml.ran").exists(), "a step ran");
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    let bytes = std::fs::read(path).ok()?;
    Some(serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{} is torn: {e}\n{}",
            path.display(),
            String::from_utf8_lossy(&bytes)
        )
    }))
}

fn assert_whole_manifest(m: &serde_json::Value, steps: usize) {
    assert_eq!(m["schema"], 1, "{m}");
    assert_eq!(m["steps"].as_array().map(Vec::len), Some(steps), "{m}");
    assert!(
        m["run_id"].is_string() && m["finished_at"].is_string(),
        "{m}"
    );
}

/// A staging directory's run.json: a checkpoint, or the final record of a run killed before
/// it was swapped into place.
fn assert_checkpoint(cp: &serde_json::Value) {
    assert_whole_manifest(cp, 4);
    match cp["status"].as_str() {
        Some("INTERRUPTED") => {
            assert!(cp["note"].as_str().unwrap().contains("SIGKILL"), "{cp}")
        }
        Some("OK") => assert!(cp["note"].is_null(), "{cp}"),
        _ => panic!("{cp}"),
    }
}

const QUICK: &str = r#"
name: faults
steps:
  - name: a
    run: sleep 0.03; echo a
  - name: b
    run: sleep 0.03; echo b
  - name: c
    run: sleep 0.03; echo c
  - name: d
    run: sleep 0.03; echo d
profiles:
  main:
    parallelism: 1
"#;

#[test]
fn sigkill_at_random_points_never_tears_run_json() {
    let case = Case::new(QUICK);
    let t = Instant::now();
    let out = case.run("main", &["--quiet"]);
    let full_run = t.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut previous = case.manifest();
    assert_whole_manifest(&previous, 4);

    let seed = std::env::var("FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(Rng::clock_seed);
    eprintln!("seed {seed} (FAULTS_SEED to repeat); a full run takes {full_run:?}");
    let mut rng = Rng::new(seed);
    let window = full_run.as_micros() as u64 + 50_000;
    let (mut replaced, mut kept) = (0, 0);
    let loop_start = Instant::now();
    for round in 0..50 {
        let mut child = case
            .command("main", &["--quiet", "--force"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.below(window)));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();

        let m = read_json(&case.out.join("run.json"))
            .unwrap_or_else(|| panic!("round {round}: {} has no run.json", case.out.display()));
        assert_whole_manifest(&m, 4);
        if m["run_id"] == previous["run_id"] {
            assert_eq!(m, previous, "round {round}: the earlier run.json changed");
            kept += 1;
        } else {
            // Only a finished run is ever swapped into place.
            assert_eq!(m["status"], "OK", "round {round}: {m}");
            previous = m;
            replaced += 1;
        }
        // What the killed runner left beside --out holds a whole checkpoint (or nothing yet).
        for e in std::fs::read_dir(case.dir.path()).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with(".out.tmp-") && !name.ends_with(".old") {
                if let Some(cp) = read_json(&p.join("run.json")) {
                    assert_checkpoint(&cp);
                }
            }
        }
    }
    let loop_time = loop_start.elapsed();
    eprintln!("50 kills in {loop_time:?}: run.json kept {kept} times, replaced {replaced} times");
    assert!(loop_time < Duration::from_secs(60), "{loop_time:?}");

    // Every round's leftovers were found by a later round and kept whole.
    let leftovers = |prefix: &str| -> Vec<String> {
        std::fs::read_dir(case.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(prefix))
            .collect()
    };
    let kept_dirs = leftovers("out.interrupted-");
    assert!(!kept_dirs.is_empty(), "50 kills left nothing behind");
    for d in &kept_dirs {
        if let Some(cp) = read_json(&case.path(d).join("run.json")) {
            assert_checkpoint(&cp);
        }
    }

    // The next run says what it found, and keeps it: kill one run mid-way first.
    let mut staged = Vec::new();
    for _ in 0..20 {
        let mut child = case
            .command("main", &["--quiet", "--force"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full_run / 2);
        let _ = child.kill();
        let _ = child.wait();
        staged = leftovers(".out.tmp-");
        if !staged.is_empty() {
            break;
        }
    }
    assert!(!staged.is_empty(), "no kill left a staging directory");
    let out = case.run("main", &["--quiet", "--force"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for name in staged.iter().filter(|n| !n.ends_with(".old")) {
        let id = &name[".out.tmp-".len()..];
        let kept = case.path(&format!("out.interrupted-{id}"));
        assert!(
            stderr.contains("builder_cli: found an interrupted earlier run in ")
                && stderr.contains(&format!("kept as {}", kept.display())),
            "{name} not reported:\n{stderr}"
        );
        assert!(kept.is_dir());
    }
    assert!(
        leftovers(".out.tmp-").is_empty(),
        "{:?}",
        leftovers(".out.tmp-")
    );
    assert_eq!(case.manifest()["status"], "OK");
}
