//! A real Prometheus scrapes the gateway binary, which bridges two devices answering with
//! the real framed codec over TCP: the counters grow, histograms hold `_count == +Inf`, and a
//! killed device is down at the next scrape while the other keeps being served, its series
//! gone after the stale time; each device's `/probe` found on `/targets` (http_sd). On
//! Prometheus 2.42 (OpenMetrics) and 3.5.3 (the protobuf exposition). (The same with firmware under QEMU is `tests/qemu.rs`.)
//!
//! Needs the `prometheus` binary and $PROMETHEUS3: `bash scripts/test.sh` installs them and
//! runs these tests.

mod common;

use common::*;
use test_support::Tool;

#[test]
#[ignore = "needs prometheus (Debian prometheus); run via scripts/test.sh"]
fn prometheus_scrapes_two_devices_through_the_gateway() {
    two_devices_through(Tool::PROMETHEUS);
}

/// The same with Prometheus 3 (its http_sd, its staleness handling), asking for the protobuf
/// exposition only.
#[test]
#[ignore = "needs prometheus 3 (scripts/setup.sh extracts 3.5.3 from Debian forky); run via scripts/test.sh"]
fn prometheus_3_scrapes_two_devices_through_the_gateway() {
    two_devices_through(Tool::PROMETHEUS3);
}

fn two_devices_through(tool: Tool) {
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
    check_through(
        tool,
        &g,
        &["a", "b"],
        "requests_total",
        "tick_jitter_seconds",
        || b.kill(),
    );
}
