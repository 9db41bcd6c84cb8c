//! The number of worker threads is fixed, and stopping leaves no thread behind. Alone in its
//! test binary: it counts the threads of the whole process.

#![cfg(target_os = "linux")]

mod common;

use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use metrics_exporter_http::{Config, Exporter};

/// The names of this process's threads.
fn threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect()
}

fn workers() -> usize {
    threads()
        .iter()
        .filter(|n| n.starts_with("metrics-http-"))
        .count()
}

/// Waits (up to 15 s) until `check` holds.
fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check() {
        assert!(Instant::now() < deadline, "{what}: {:?}", threads());
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn fixed_workers_and_no_thread_left_behind() {
    let before = threads().len();
    let s = sample();
    let e = Exporter::start(Config::new("127.0.0.1", 0).workers(3), s.registry.clone()).unwrap();
    let addr = e.local_addr();
    // (A thread names itself once it runs.)
    eventually("3 workers", || workers() == 3);

    // Idle connections cost no thread at all: the reactor watches them.
    let idle: Vec<TcpStream> = (0..32).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for _ in 0..5 {
        assert_eq!(get(addr, "/metrics", &[]).status, 200);
    }
    // The workers and the reactor, nothing per connection.
    let during = threads().len();
    assert!(
        during <= before + 3 + 1,
        "{before} -> {during}: {:?}",
        threads()
    );
    assert_eq!(workers(), 3);
    drop(idle);

    e.stop();
    assert_eq!(workers(), 0, "workers are joined by stop");
    // The reactor has ended too.
    assert!(threads().len() <= before, "{:?}", threads());
}
