//! The real `builder_cli` exporter (`--prometheus-port` with `--linger`) under a siege of
//! hostile clients (`test_support::siege`, issue 14): 500 unfinished request heads, 500
//! announced bodies never sent, 500 idle keep-alive connections and a trickler, all at once,
//! while a scraper asks every 100 ms.

#![cfg(target_os = "linux")]

mod common;

use std::process::{Command, Stdio};

use common::{free_port, BIN};
use test_support::siege::{siege, Target};
use test_support::spawn_listening;

const JOB: &str = "name: siege\nsteps:\n  - name: only\n    run: 'true'\nprofiles:\n  main: {}\n";

#[test]
fn scrapes_are_answered_and_resources_come_back_under_a_siege() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.yaml"), JOB).unwrap();
    let port = free_port();
    let mut child = spawn_listening(
        Command::new(BIN)
            .arg("validate")
            .arg("--job")
            .arg(dir.path().join("job.yaml"))
            .args(["--prometheus-address", "127.0.0.1", "--prometheus-port"])
            .arg(port.to_string())
            .args(["--linger", "300s"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        ("127.0.0.1", port),
        "builder_cli",
    );
    siege(&Target {
        pid: child.id(),
        addr: ([127, 0, 0, 1], port).into(),
        path: "/metrics",
        expect: "pipeline_run_info{",
    });
    let _ = child.kill();
    let _ = child.wait();
}
