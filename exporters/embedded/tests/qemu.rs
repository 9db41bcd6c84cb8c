//! The firmware examples under QEMU: each machine's UART0 on a loopback TCP socket, scraped by
//! the host-side `Client` of this crate, the exposition read back with the core's parser.

use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use metrics_core::parse::{Line, Parser};
use metrics_core::Format;
use metrics_exporter_embedded::Client;
use test_support::qemu::{firmware, Qemu};

/// Starts `machine` with `elf`, UART0 on a TCP server socket that waits for us, and connects.
fn boot(machine: &str, elf: &Path) -> (Qemu, TcpStream) {
    let mut qemu = Qemu::start(machine, elf, test_support::free_port());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", qemu.port)) {
            stream
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            return (qemu, stream);
        }
        if let Some(status) = qemu.child().try_wait().unwrap() {
            panic!("qemu exited before listening: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "qemu never listened on {}",
            qemu.port
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the test reads from one scrape.
#[derive(Debug)]
struct Reading {
    ticks: f64,
    uptime: f64,
    jitter_count: f64,
    jitter_inf: f64,
    scrapes: f64,
}

fn read(text: &str) -> Reading {
    let mut r = Reading {
        ticks: f64::NAN,
        uptime: f64::NAN,
        jitter_count: f64::NAN,
        jitter_inf: f64::NAN,
        scrapes: f64::NAN,
    };
    for line in Parser::new(text) {
        let Line::Sample(s) = line.unwrap_or_else(|e| panic!("{e} in:\n{text}")) else {
            continue;
        };
        match s.name {
            "firmware_ticks_total" => r.ticks = s.value,
            "firmware_uptime_seconds" => r.uptime = s.value,
            "firmware_tick_jitter_seconds_count" => r.jitter_count = s.value,
            "firmware_scrapes_total" => r.scrapes = s.value,
            "firmware_tick_jitter_seconds_bucket" => {
                let (name, value) = s.labels().next().unwrap().unwrap();
                if name == "le" && value.raw() == "+Inf" {
                    r.jitter_inf = s.value;
                }
            }
            _ => {}
        }
    }
    r
}

fn scrape_twice(machine: &str, package: &str, target: &str) {
    let elf = firmware(package, target);
    let (_qemu, stream) = boot(machine, &elf);
    let mut client = Client::new(stream).with_timeout(Duration::from_secs(10));

    // QEMU starts the firmware when the socket connects, so the first request can reach the
    // UART before the firmware has set it up and be lost; the protocol's answer to that is the
    // host asking again (as the gateway's retries do), once.
    let first = client
        .scrape(Format::Text)
        .or_else(|_| client.scrape(Format::Text))
        .expect("first scrape (asked twice)");
    let first = String::from_utf8(first).unwrap();
    assert!(
        first.contains("# TYPE firmware_ticks_total counter\n"),
        "{first}"
    );
    std::thread::sleep(Duration::from_millis(400));
    let second = client.scrape(Format::OpenMetrics).expect("second scrape");
    let second = String::from_utf8(second).unwrap();
    assert!(second.ends_with("# EOF\n"), "{second}");

    let (a, b) = (read(&first), read(&second));
    println!("{machine}: first {a:?}\n{machine}: second {b:?}");
    assert!(
        b.ticks > a.ticks,
        "{machine}: the tick counter did not grow: {a:?} {b:?}"
    );
    assert!(b.uptime > a.uptime, "{a:?} {b:?}");
    for r in [&a, &b] {
        assert!(
            r.jitter_count.is_finite() && r.jitter_count == r.jitter_inf,
            "{r:?}"
        );
    }
    assert!(b.jitter_count > a.jitter_count, "{a:?} {b:?}");
    assert_eq!(b.scrapes, a.scrapes + 1.0, "{a:?} {b:?}");
    let stats = client.stats();
    assert_eq!(
        (stats.bad_header, stats.bad_crc, stats.noise_bytes),
        (0, 0, 0)
    );
}

#[test]
#[ignore = "needs qemu-system-arm; run via scripts/test.sh"]
fn lm3s6965evb_cortex_m3_is_scraped_over_its_uart() {
    scrape_twice("lm3s6965evb", "fw-lm3s6965evb", "thumbv7m-none-eabi");
}

#[test]
#[ignore = "needs qemu-system-arm; run via scripts/test.sh"]
fn microbit_cortex_m0_is_scraped_over_its_uart() {
    scrape_twice("microbit", "fw-microbit", "thumbv6m-none-eabi");
}
