//! The real `metrics-gateway` (with `--accept-pushes`) under a siege of hostile clients
//! (`test_support::siege`, issue 14): 500 unfinished request heads, 500 announced bodies
//! never sent, 500 idle keep-alive connections and a trickler, all at once, while a scraper
//! asks every 100 ms.

#![cfg(target_os = "linux")]

use std::process::{Command, Stdio};

use test_support::siege::{siege, Target};
use test_support::spawn_listening;

#[test]
fn scrapes_are_answered_and_resources_come_back_under_a_siege() {
    let dir = tempfile::tempdir().unwrap();
    let port = test_support::free_port();
    let mut child = spawn_listening(
        Command::new(env!("CARGO_BIN_EXE_metrics-gateway"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--accept-pushes"])
            .arg("--push-state-file")
            .arg(dir.path().join("pushes.json"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        ("127.0.0.1", port),
        "metrics-gateway",
    );
    siege(&Target {
        pid: child.id(),
        addr: ([127, 0, 0, 1], port).into(),
        path: "/metrics",
        expect: "gateway_push_requests_total{",
    });
    let _ = child.kill();
    let _ = child.wait();
}
