//! The real `metrics-gateway` (with `--accept-pushes`) under a siege of hostile clients
//! (`test_support::siege`, issue 14): 500 unfinished request heads, 500 announced bodies
//! never sent, 500 idle keep-alive connections and a trickler, all at once, while a scraper
//! asks every 100 ms.

#![cfg(target_os = "linux")]

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use test_support::siege::{siege, Target};

#[test]
fn scrapes_are_answered_and_resources_come_back_under_a_siege() {
    let dir = tempfile::tempdir().unwrap();
    let port = test_support::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_metrics-gateway"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--accept-pushes"])
        .arg("--push-state-file")
        .arg(dir.path().join("pushes.json"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "metrics-gateway never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    siege(&Target {
        pid: child.id(),
        addr: ([127, 0, 0, 1], port).into(),
        path: "/metrics",
        expect: "gateway_push_requests_total{",
    });
    let _ = child.kill();
    let _ = child.wait();
}
