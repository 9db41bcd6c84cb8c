//! Issue 7, acceptance 2 and 4, end to end: the firmware examples of `exporters/embedded`
//! under QEMU (`lm3s6965evb`, Cortex-M3, and `microbit`, Cortex-M0), each with UART0 on a
//! loopback TCP socket, the gateway binary in front of both, and a real Prometheus scraping
//! the gateway. Through Prometheus' API: each device's tick counter grows between two scrapes
//! and its histogram's `_count` equals its `+Inf` bucket; killing the microbit's QEMU makes
//! its `gateway_device_up` 0 at the next scrape while the Cortex-M3 keeps being served.
//! Issue 18: each firmware's fixed-capacity labelled family (readings by sensor id, 4 series
//! for 6 ids) reaches Prometheus: its labelled series and, past the capacity, its overflow
//! series `sensor="__overflow__"`. Each firmware reports its device id (protocol 1.1: the
//! nRF51's FICR id as QEMU models it, and the Cortex-M3's constant), which labels its series
//! (`--device-id-label device_id`).
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
        "--stale-after",
        STALE_AFTER,
        "--device-id-label",
        "device_id",
    ]);
    labelled_family_through_prometheus(
        &g,
        &[
            ("lm3s6965evb", "lm3s6965evb-0001"),
            ("microbit", "nrf51-1234567800000003"),
        ],
    );
    check_through_prometheus(
        &g,
        &["lm3s6965evb", "microbit"],
        "firmware_ticks_total",
        "firmware_tick_jitter_seconds",
        || q0.kill(),
    );
}

/// A Prometheus scraping the gateway sees each device's labelled series and its overflow
/// series, growing, each with the device id its firmware reports (`(device, id)`).
fn labelled_family_through_prometheus(g: &Gateway, devices: &[(&str, &str)]) {
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: gateway\n    static_configs:\n      - targets: ['{}']\n",
        g.addr
    );
    let p = test_support::Prometheus::start(&config, |_| {});
    let patience = std::time::Duration::from_secs(30);
    for (d, id) in devices {
        let sel = |sensor: &str| {
            format!("firmware_sensor_readings_total{{job=\"gateway\",device=\"{d}\",device_id=\"{id}\",sensor=\"{sensor}\"}}")
        };
        for sensor in ["28-a1", "28-d4"] {
            p.wait_for("a labelled series", patience, |p| {
                p.value(&sel(sensor)).filter(|v| *v > 0.0)
            });
        }
        let first = p.wait_for("the overflow series", patience, |p| {
            p.value(&sel("__overflow__")).filter(|v| *v > 0.0)
        });
        p.wait_for("the overflow series to grow", patience, |p| {
            p.value(&sel("__overflow__")).filter(|v| *v > first)
        });
        // 4 labelled series and the overflow series, no more.
        p.expect(
            &format!("count(firmware_sensor_readings_total{{job=\"gateway\",device=\"{d}\"}})"),
            5.0,
        );
        eprintln!(
            "{d} (device_id {id}): 4 sensor series and the overflow series (grew past {first})"
        );
    }
}
