//! Interrupt-proof under QEMU: the firmware examples built with their `stress` feature, where
//! SysTick fires at 5 kHz (as fast as QEMU runs it) and each interrupt counts a tick, observes
//! into a histogram and counts a reading in a fixed-capacity labelled family, while the main
//! loop answers scrapes over the framed protocol. Thousands of scrapes, each consistent
//! (`_count` equals the `+Inf` bucket, buckets cumulative, counters never go back), no
//! deadlock (every scrape answers within the client's timeout), and once the handler stops
//! after `STRESS_INTERRUPTS` interrupts, its own count equals what the last scrape shows in
//! every metric it updated. On the Cortex-M0 (`microbit`) every 64-bit atomic of the core runs
//! in a critical section; on the Cortex-M3 (`lm3s6965evb`) portable-atomic masks interrupts.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use metrics_core::parse::{Line, Parser};
use metrics_core::Format;
use metrics_exporter_embedded::Client;

/// `qemu-system-arm` with UART0 on a TCP server socket with `nodelay=on` (QEMU writes the
/// guest's bytes one `send` each: with Nagle, every response would wait for a delayed ACK).
/// Killed when dropped.
struct Qemu(Child);

impl Qemu {
    fn start(machine: &str, elf: &std::path::Path, port: u16) -> Qemu {
        let qemu = test_support::Tool::QEMU_ARM;
        let child = qemu
            .command()
            .args(["-machine", machine, "-display", "none", "-monitor", "none"])
            .arg("-serial")
            .arg(format!("tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on"))
            .arg("-kernel")
            .arg(elf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}", qemu.unavailable(&e)));
        Qemu(child)
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `STRESS_INTERRUPTS` of fw-common.
const INTERRUPTS: f64 = 100_000.0;
/// The 6 sensor ids of fw-common share 4 series; the last two are the overflow series.
const SENSORS: usize = 6;

/// Builds `package` with `--features stress` into its own target directory (so the normal
/// build the other QEMU tests use is left as it is).
fn stress_firmware(package: &str, target: &str) -> PathBuf {
    let dir = test_support::workspace_root().join("exporters/embedded/firmware");
    let target_dir = dir.join("target/stress");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&dir)
        .args(["build", "--quiet", "--release", "--features", "stress"])
        .args(["-p", package, "--target", target])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {package} (stress) failed");
    target_dir.join(target).join("release").join(package)
}

/// One scrape: sample name and labels (`name{a=b,...}`) to value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in Parser::new(text) {
        let Line::Sample(s) = line.unwrap_or_else(|e| panic!("{e} in:\n{text}")) else {
            continue;
        };
        let labels: Vec<String> = s
            .labels()
            .map(|l| {
                let (n, v) = l.unwrap();
                format!("{n}={}", v.raw())
            })
            .collect();
        out.insert(format!("{}{{{}}}", s.name, labels.join(",")), s.value);
    }
    out
}

fn get(s: &BTreeMap<String, f64>, key: &str, text: &str) -> f64 {
    *s.get(key)
        .unwrap_or_else(|| panic!("{key} missing in:\n{text}"))
}

/// Checks one scrape on its own: the histogram's buckets cumulative and its `_count` the
/// `+Inf` bucket. Returns (handled, ticks, jitter count, readings in the family).
fn consistent(text: &str) -> (f64, f64, f64, f64) {
    let s = samples(text);
    let buckets: Vec<(f64, f64)> = s
        .iter()
        .filter_map(|(k, v)| {
            let le = k.strip_prefix("firmware_tick_jitter_seconds_bucket{le=")?;
            let le = le.trim_end_matches('}');
            Some((le.parse::<f64>().unwrap(), *v)) // "+Inf" parses as infinity
        })
        .collect();
    let mut buckets = buckets;
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(buckets.len(), 7, "{text}");
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "buckets not cumulative: {buckets:?}"
    );
    let count = get(&s, "firmware_tick_jitter_seconds_count{}", text);
    assert_eq!(
        count, buckets[6].1,
        "_count is not the +Inf bucket:\n{text}"
    );
    let readings: f64 = s
        .iter()
        .filter(|(k, _)| k.starts_with("firmware_sensor_readings_total{"))
        .map(|(_, v)| v)
        .sum();
    (
        get(&s, "firmware_isr_handled_total{}", text),
        get(&s, "firmware_ticks_total{}", text),
        count,
        readings,
    )
}

fn stress(machine: &str, package: &str, target: &str) {
    let elf = stress_firmware(package, target);
    let port = test_support::free_port();
    let _qemu = Qemu::start(machine, &elf, port);
    let deadline = Instant::now() + Duration::from_secs(20);
    let stream = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        assert!(Instant::now() < deadline, "qemu never listened");
        std::thread::sleep(Duration::from_millis(50));
    };
    // The request frame goes out in more than one write: without TCP_NODELAY every scrape
    // would wait for the loopback's delayed ACK (40 ms).
    stream.set_nodelay(true).unwrap();
    // Reads return every 200 ms, so the client's own 5 s timeout applies (a hung firmware is
    // a failure, not a hung test).
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut client = Client::new(stream).with_timeout(Duration::from_secs(5));
    // The first request may reach the UART before the firmware set it up: asked twice.
    let first = client
        .scrape(Format::Text)
        .or_else(|_| client.scrape(Format::Text))
        .expect("first scrape (asked twice)");
    let started = Instant::now();
    let mut last = consistent(&String::from_utf8(first).unwrap());
    let mut scrapes = 1u64;
    let mut stopped_at = None;
    let mut text;
    // Until the handler has stopped and one more scrape shows the final state.
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{machine}: the stress did not finish in 90 s ({scrapes} scrapes, last {last:?})"
        );
        let format = if scrapes % 2 == 0 {
            Format::Text
        } else {
            Format::OpenMetrics
        };
        let body = client
            .scrape(format)
            .unwrap_or_else(|e| panic!("{machine}: scrape {scrapes} failed (deadlock?): {e}"));
        text = String::from_utf8(body).unwrap();
        let now = consistent(&text);
        scrapes += 1;
        for (a, b, what) in [
            (last.0, now.0, "handled"),
            (last.1, now.1, "ticks"),
            (last.2, now.2, "jitter count"),
            (last.3, now.3, "readings"),
        ] {
            assert!(b >= a, "{machine}: {what} went back from {a} to {b}");
        }
        last = now;
        if stopped_at.is_some() {
            break;
        }
        if now.0 >= INTERRUPTS {
            stopped_at = Some((started.elapsed(), scrapes));
        }
    }
    let (stop, during) = stopped_at.unwrap();
    let secs = stop.as_secs_f64();
    println!(
        "{machine}: {INTERRUPTS} interrupts in about {secs:.1} s ({:.0}/s) while answering \
         {during} scrapes ({:.0}/s); final: handled {}, ticks {}, histogram count {}, \
         readings {}",
        INTERRUPTS / secs,
        during as f64 / secs,
        last.0,
        last.1,
        last.2,
        last.3
    );
    assert_eq!(
        last,
        (INTERRUPTS, INTERRUPTS, INTERRUPTS, INTERRUPTS),
        "{machine}: the handler's own count differs from the last scrape:\n{text}"
    );
    let s = samples(&text);
    // Both contexts' read-modify-writes of one float counter: none lost.
    let shared = get(&s, "firmware_stress_shared_total{}", &text);
    let main_adds = get(&s, "firmware_stress_main_adds_total{}", &text);
    println!("{machine}: shared float counter {shared} = {INTERRUPTS} (handler) + {main_adds} (main loop)?");
    assert_eq!(
        shared,
        INTERRUPTS + main_adds,
        "{machine}: updates of the shared counter were lost"
    );
    // Tick n reads sensor n % 6; the last two ids are the overflow series.
    let n = INTERRUPTS as usize;
    let per_id = |i: usize| (n / SENSORS + usize::from(i < n % SENSORS)) as f64;
    for (i, id) in ["28-a1", "28-b2", "28-c3", "28-d4"].into_iter().enumerate() {
        let v = get(
            &s,
            &format!("firmware_sensor_readings_total{{sensor={id}}}"),
            &text,
        );
        assert_eq!(v, per_id(i), "{id}");
    }
    let overflow = get(
        &s,
        "firmware_sensor_readings_total{sensor=__overflow__}",
        &text,
    );
    assert_eq!(overflow, per_id(4) + per_id(5));
    assert!(
        during >= 1000,
        "{machine}: only {during} scrapes during the stress"
    );
}

#[test]
#[ignore = "needs qemu-system-arm; run via scripts/test.sh"]
fn microbit_cortex_m0_interrupts_never_break_a_scrape() {
    stress("microbit", "fw-microbit", "thumbv6m-none-eabi");
}

#[test]
#[ignore = "needs qemu-system-arm; run via scripts/test.sh"]
fn lm3s6965evb_cortex_m3_interrupts_never_break_a_scrape() {
    stress("lm3s6965evb", "fw-lm3s6965evb", "thumbv7m-none-eabi");
}
