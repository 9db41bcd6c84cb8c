//! Issue 7, acceptance 2 and 4, end to end: the firmware examples of `exporters/embedded`
//! under QEMU (`lm3s6965evb`, Cortex-M3, and `microbit`, Cortex-M0), each with UART0 on a
//! loopback TCP socket, the gateway binary in front of both, and a real Prometheus scraping
//! the gateway. Through Prometheus' API: each device's tick counter grows between two scrapes
//! and its histogram's `_count` equals its `+Inf` bucket; killing the microbit's QEMU makes
//! its `gateway_device_up` 0 at the next scrape while the Cortex-M3 keeps being served.
//!
//! Needs `qemu-system-arm`, the thumbv6m/thumbv7m targets and `prometheus`:
//! `bash scripts/test.sh` installs them and runs this test.

mod common;

use common::*;
use test_support::qemu::{firmware, Qemu};

#[test]
#[ignore = "needs qemu-system-arm and prometheus; run via scripts/test.sh"]
fn qemu_firmware_through_the_gateway_to_prometheus() {
    let m3 = firmware("fw-lm3s6965evb", "thumbv7m-none-eabi");
    let m0 = firmware("fw-microbit", "thumbv6m-none-eabi");
    let (p3, p0) = (test_support::free_port(), test_support::free_port());
    let _q3 = Qemu::start("lm3s6965evb", &m3, p3);
    let mut q0 = Qemu::start("microbit", &m0, p0);
    let g = Gateway::start(&[
        "--device",
        &format!("lm3s6965evb=tcp://127.0.0.1:{p3}"),
        "--device",
        &format!("microbit=tcp://127.0.0.1:{p0}"),
        "--timeout",
        "400ms",
        "--retries",
        "0",
    ]);
    check_through_prometheus(
        &g,
        &["lm3s6965evb", "microbit"],
        "firmware_ticks_total",
        "firmware_tick_jitter_seconds",
        || q0.kill(),
    );
}
