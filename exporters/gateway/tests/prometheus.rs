//! A real Prometheus scrapes the gateway binary, which bridges two devices answering with
//! the real framed codec over TCP: the counters grow, histograms hold `_count == +Inf`, and a
//! killed device is down at the next scrape while the other keeps being served. (The same
//! with firmware under QEMU is `tests/qemu.rs`.)
//!
//! Needs the `prometheus` binary: `bash scripts/test.sh` installs it and runs this test.

mod common;

use common::*;

#[test]
#[ignore = "needs prometheus (Debian prometheus); run via scripts/test.sh"]
fn prometheus_scrapes_two_devices_through_the_gateway() {
    let a = TcpDevice::start("a", Behaviour::Clean);
    let b = TcpDevice::start("b", Behaviour::Clean);
    let g = Gateway::start(&[
        "--device",
        &format!("a={}", a.url()),
        "--device",
        &format!("b={}", b.url()),
        "--timeout",
        "300ms",
        "--retries",
        "0",
        "--stale-after",
        STALE_AFTER,
    ]);
    check_through_prometheus(
        &g,
        &["a", "b"],
        "requests_total",
        "tick_jitter_seconds",
        || b.kill(),
    );
}
