//! End-to-end tests: the real `builder_cli` binary on job files of their own. Each asserts the
//! exit code, run.json, the logs and the metrics (scraped while `--linger` keeps the exporter
//! up, and the written metrics.prom), whose values must equal what run.json says.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const SUCCESS: &str = r#"
name: e2e
steps:
  - name: first
    run: echo "run=$BUILDER_RUN_ID job=$BUILDER_JOB profile=$BUILDER_PROFILE out=$BUILDER_OUT_DIR greeting=$GREETING"
  - name: second
    needs: [first]
    argv: [sh, -c, 'echo second on stdout; echo second on stderr >&2']
    env:
      GREETING: from-step
profiles:
  main:
    env:
      GREETING: hello
    thresholds:
      first: 2s
"#;

#[test]
fn success_scraped_metrics_match_run_json() {
    let case = Case::new(SUCCESS);
    let (scraped, code, stdout, _) = Live::run_scraped(&case, "main", &[]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("STEP") && stdout.contains("2 OK, 0 FAIL"),
        "{stdout}"
    );

    let m = case.manifest();
    assert_eq!(m["schema"], 1);
    assert_eq!(m["status"], "OK");
    assert_eq!(m["exit_code"], 0);
    let steps = m["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    for s in steps {
        assert_eq!(s["status"], "OK");
        assert_eq!(s["exit_code"], 0);
        assert_eq!(s["attempts"], 1);
    }
    let run_id = m["run_id"].as_str().unwrap();
    let log = case.log("first");
    assert!(
        log.contains(&format!("run={run_id} job=e2e profile=main")),
        "{log}"
    );
    assert!(log.contains("greeting=hello"), "{log}");
    let log2 = case.log("second");
    assert!(
        log2.contains("second on stdout") && log2.contains("second on stderr"),
        "{log2}"
    );

    assert_metrics_match(&scraped, &m);
    assert_metrics_match(&case.metrics_file(), &m);
    assert_eq!(
        scraped[&format!(
            "pipeline_profile_latency_threshold_seconds{{{}}}",
            step_labels("first", "e2e", "main")
        )],
        2.0
    );
    assert!(scraped
        .contains_key("pipeline_last_success_timestamp_seconds{job=\"e2e\",profile=\"main\"}"));
    if cfg!(target_os = "linux") {
        assert!(scraped.contains_key("process_cpu_seconds_total"));
        assert!(scraped.contains_key("process_resident_memory_bytes"));
    }
    // metrics.prom holds the pipeline families only (node_exporter has its own process_*).
    assert!(!case.metrics_file().contains_key("process_open_fds"));

    // An earlier run is not overwritten without --force.
    let again = case.run("main", &["--quiet"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    let forced = case.run("main", &["--quiet", "--force"]);
    assert_eq!(forced.status.code(), Some(0));
    assert_ne!(case.manifest()["run_id"], m["run_id"]);
    assert!(forced.stdout.is_empty(), "--quiet printed a summary");
}

const FAILING: &str = r#"
name: e2e
steps:
  - name: breaks
    run: echo about to fail; exit 3
  - name: after-break
    needs: [breaks]
    run: echo never
  - name: slow-independent
    run: sleep 0.5; echo independent
  - name: later
    needs: [slow-independent]
    run: echo later
  - name: tolerated
    run: exit 4
    allow_failure: true
profiles:
  main:
    parallelism: 3
"#;

#[test]
fn failing_step_skips_dependants_fail_fast() {
    let case = Case::new(FAILING);
    let (scraped, code, _, _) = Live::run_scraped(&case, "main", &[]);
    assert_eq!(code, 1);
    let m = case.manifest();
    assert_eq!(m["status"], "FAIL");
    let by = |n: &str| step(&m, n);
    assert_eq!(by("breaks")["status"], "FAIL");
    assert_eq!(by("breaks")["exit_code"], 3);
    assert_eq!(by("after-break")["status"], "SKIPPED");
    assert!(by("after-break")["reason"]
        .as_str()
        .unwrap()
        .contains("breaks"));
    // Fail-fast: the running independent step finished, nothing new started.
    assert_eq!(by("slow-independent")["status"], "OK");
    assert_eq!(by("later")["status"], "SKIPPED");
    assert!(by("later")["reason"]
        .as_str()
        .unwrap()
        .contains("fail-fast"));
    assert_eq!(by("tolerated")["status"], "FAIL");
    assert!(case.log("breaks").contains("about to fail"));
    assert!(case.log("after-break").contains("SKIPPED"));
    assert_metrics_match(&scraped, &m);
    assert!(!scraped
        .keys()
        .any(|k| k.starts_with("pipeline_last_success_timestamp_seconds{")));

    // --keep-going runs what does not depend on the failure.
    let case = Case::new(FAILING);
    let o = case.run("main", &["--keep-going", "--quiet"]);
    assert_eq!(o.status.code(), Some(1));
    let m = case.manifest();
    assert_eq!(step(&m, "later")["status"], "OK");
    assert_metrics_match(&case.metrics_file(), &m);
}

#[test]
fn allowed_failure_does_not_fail_the_run() {
    let case = Case::new(
        "steps:\n  - name: flaky\n    run: exit 1\n    allow_failure: true\n  - name: next\n    needs: [flaky]\n    run: 'true'\nprofiles:\n  p: {}\n",
    );
    let o = case.run("p", &["--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = case.manifest();
    assert_eq!(m["steps"][0]["status"], "FAIL");
    assert_eq!(m["steps"][1]["status"], "OK");
    assert_metrics_match(&case.metrics_file(), &m);
}

#[test]
fn timeout_kills_the_step() {
    let case = Case::new(
        "name: e2e\nsteps:\n  - name: hangs\n    run: echo started; sleep 30\n    timeout: 1s\nprofiles:\n  main: {}\n",
    );
    let mut live = Live::start(&case, "main", &[]);
    let t = Instant::now();
    live.wait_for_run(&case);
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "the timeout did not stop the step"
    );
    let scraped = parse(&live.scrape());
    let (code, _, _) = live.stop();
    assert_eq!(code, 1);
    let m = case.manifest();
    let s = &m["steps"][0];
    assert_eq!(s["status"], "FAIL");
    assert_eq!(s["timed_out"], true);
    assert!(s["exit_code"].is_null());
    let d = s["duration_seconds"].as_f64().unwrap();
    assert!((1.0..10.0).contains(&d), "{d}");
    assert!(s["reason"].as_str().unwrap().contains("timed out"));
    let log = case.log("hangs");
    assert!(
        log.contains("started") && log.contains("timed out"),
        "{log}"
    );
    assert_metrics_match(&scraped, &m);
}

#[test]
fn retry_that_succeeds() {
    let case = Case::new(
        "name: e2e\nsteps:\n  - name: second-time-lucky\n    run: |\n      n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count\n      echo attempt $n\n      [ $n -ge 2 ]\n    retries: 3\n    retry_delay: 100ms\nprofiles:\n  main: {}\n",
    );
    let (scraped, code, _, stderr) = Live::run_scraped(&case, "main", &[]);
    assert_eq!(code, 0);
    assert!(stderr.contains("retry second-time-lucky"), "{stderr}");
    let m = case.manifest();
    assert_eq!(m["steps"][0]["status"], "OK");
    assert_eq!(m["steps"][0]["attempts"], 2);
    let log = case.log("second-time-lucky");
    assert!(
        log.contains("attempt 1") && log.contains("attempt 2"),
        "{log}"
    );
    assert!(
        log.contains("attempt 1/4 FAIL") && log.contains("attempt 2/4 OK"),
        "{log}"
    );
    assert_metrics_match(&scraped, &m);
}

#[test]
fn independent_steps_run_in_parallel() {
    // Each step waits (up to 10 s) until all three have started: only a parallel run passes.
    let waiting_step = |n: &str| {
        format!(
            "  - name: {n}\n    run: |\n      touch started-{n}\n      for i in $(seq 1 100); do [ -e started-a ] && [ -e started-b ] && [ -e started-c ] && exit 0; sleep 0.1; done; exit 1\n"
        )
    };
    let yaml = format!(
        "name: e2e\nsteps:\n{}{}{}  - name: join\n    needs: [a, b, c]\n    run: echo joined\nprofiles:\n  wide:\n    parallelism: 3\n  narrow:\n    parallelism: 1\n    steps: [join]\n",
        waiting_step("a"),
        waiting_step("b"),
        waiting_step("c")
    );
    let case = Case::new(&yaml);
    let (scraped, code, _, _) = Live::run_scraped(&case, "wide", &[]);
    assert_eq!(code, 0);
    let m = case.manifest();
    assert_eq!(m["parallelism"], 3);
    assert!(m["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "OK"));
    assert_metrics_match(&scraped, &m);

    // With parallelism 1 (the profile's, overridden by the flag to 1 as well) they cannot meet.
    let case = Case::new(&yaml.replace("seq 1 100", "seq 1 5"));
    let o = case.run("narrow", &["--quiet", "--parallelism", "1"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn sigint_stops_the_step_group_and_leaves_no_orphan() {
    let case = Case::new(
        "name: e2e\nsteps:\n  - name: long\n    run: |\n      sleep 300 &\n      echo $! > grandchild.pid\n      wait\n  - name: after\n    needs: [long]\n    run: echo never\nprofiles:\n  main: {}\n",
    );
    let mut child = case
        .command("main", &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pidfile = case.path("grandchild.pid");
    wait_for_file(&pidfile, 20);
    std::thread::sleep(Duration::from_millis(200));
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid), "the grandchild should run");
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let t = Instant::now();
    let status = child.wait().unwrap();
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(status.code(), Some(130));
    // No orphan: the whole group was killed (a zombie waiting for init counts as gone).
    let t = Instant::now();
    while alive(pid) && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "grandchild {pid} survived");
    let m = case.manifest();
    assert_eq!(m["status"], "INTERRUPTED");
    assert_eq!(m["signal"], "SIGINT");
    assert_eq!(m["exit_code"], 130);
    assert_eq!(m["steps"][0]["status"], "FAIL");
    assert!(m["steps"][0]["reason"].as_str().unwrap().contains("SIGINT"));
    assert_eq!(m["steps"][1]["status"], "SKIPPED");
    assert!(case.log("long").contains("stopped by SIGINT"));
    assert_metrics_match(&case.metrics_file(), &m);
}

fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s[s.rfind(')').unwrap() + 2..].chars().next().unwrap();
            state != 'Z' && state != 'X'
        }
        Err(_) => false,
    }
}

#[test]
fn malformed_job_file_names_the_line() {
    let case = Case::new("steps:\n  - name: a\n    run: echo\n   bad: [\n");
    let o = case.run("main", &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.starts_with("builder_cli: "), "{e}");
    assert!(e.contains("job.yaml:4:"), "{e}");
    assert!(!case.out.exists());

    let case = Case::new(
        "steps:\n  - name: a\n    run: 'true'\n  - name: b\n    run: 'true'\n    needs: [a, nope]\nprofiles:\n  main: {}\n",
    );
    let o = Command::new(BIN)
        .args(["validate", "--job"])
        .arg(&case.job)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("job.yaml:6:16") && e.contains("unknown step \"nope\""),
        "{e}"
    );
    let o = case.run("main", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        !case.out.exists(),
        "nothing may run with an invalid job file"
    );
}

#[test]
fn unknown_profile_is_a_usage_error() {
    let case = Case::new(SUCCESS);
    let o = case.run("nope", &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("unknown profile \"nope\"") && e.contains("\"main\""),
        "{e}"
    );
    assert!(!case.out.exists());
    let o = Command::new(BIN)
        .args(["validate", "--profile", "nope", "--job"])
        .arg(&case.job)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn port_in_use_fails_before_any_step() {
    let case = Case::new("steps:\n  - name: a\n    run: touch ran\nprofiles:\n  main: {}\n");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let o = case.run(
        "main",
        &[
            "--prometheus-port",
            &port,
            "--prometheus-address",
            "127.0.0.1",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
    assert!(!case.path("ran").exists(), "a step ran");
    assert!(!case.out.exists());
    assert!(std::fs::read_dir(case.dir.path())
        .unwrap()
        .all(|e| { !e.unwrap().file_name().to_string_lossy().starts_with(".out") }));
}

#[test]
fn port_zero_or_absent_means_no_exporter_and_env_vars_work() {
    let case = Case::new(SUCCESS);
    let o = case
        .command("main", &["--quiet"])
        .env("BUILDER_CLI_PROMETHEUS_PORT", "0")
        .env("BUILDER_CLI_KEEP_GOING", "true")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(case.manifest()["keep_going"], true);
}

#[test]
fn list_and_help() {
    let o = Command::new(BIN)
        .args([
            "list",
            "--job",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../jobs/standard.yaml"),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let s = String::from_utf8_lossy(&o.stdout);
    for p in [
        "profile standard",
        "profile quick",
        "profile flaky",
        "unit-tests",
    ] {
        assert!(s.contains(p), "{s}");
    }
    let o = Command::new(BIN)
        .args(["run-profile", "--help"])
        .output()
        .unwrap();
    let h = String::from_utf8_lossy(&o.stdout);
    for f in [
        "--prometheus-port",
        "--prometheus-address",
        "BUILDER_CLI_PROMETHEUS_PORT",
        "--linger",
        "--repeat-every",
        "--pushgateway",
        "--metrics-textfile",
        "--keep-going",
        "--force",
        "--quiet",
    ] {
        assert!(h.contains(f), "{f} missing in\n{h}");
    }
}

#[test]
fn repeat_every_accumulates_and_run_info_follows_the_current_run() {
    let case = Case::new(
        "name: e2e\nsteps:\n  - name: tick\n    run: echo tick $BUILDER_RUN_ID\nprofiles:\n  main: {}\n",
    );
    let (child, port) = case.repeating("main", "300ms");
    let ok = format!(
        "pipeline_step_status_total{{{},status=\"OK\"}}",
        step_labels("tick", "e2e", "main")
    );
    let start = Instant::now();
    let samples = loop {
        if let Some(text) = try_scrape(port, "text/plain") {
            let s = parse(&text);
            if s.get(&ok).is_some_and(|v| *v >= 3.0) {
                break s;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "fewer than 3 runs"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let infos: Vec<&String> = samples
        .keys()
        .filter(|k| k.starts_with("pipeline_run_info{"))
        .collect();
    assert_eq!(infos.len(), 1, "{infos:?}");
    assert!(
        !infos[0].contains("-1\""),
        "run_info still shows the first run: {infos:?}"
    );
    let count = samples[&format!(
        "pipeline_step_duration_seconds_count{{{}}}",
        step_labels("tick", "e2e", "main")
    )];
    assert!(count >= 3.0);
    signal(&child, nix::sys::signal::Signal::SIGTERM);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    let m = case.manifest();
    assert_eq!(m["schema"], 1);
    assert!(case.log("tick").contains("tick"));
}
