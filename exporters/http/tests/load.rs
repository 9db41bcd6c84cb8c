//! Load: `wrk` scrapes a 10 000-series registry for 30 s over loopback while two threads update
//! it. No error responses, no socket errors, and the process's resident memory does not grow
//! between a warm-up run and the end of the long run. The figures (requests, p99 latency,
//! resident memory before and after) are written to stderr, outside the test harness' capture,
//! so `scripts/test.sh` shows them. `scripts/test.sh` runs it on a release build (`cargo test
//! --release -p metrics-exporter-http --test load -- --ignored`): the figures are the
//! exporter's, not those of an unoptimized encoder.

mod common;

#[path = "../../../metrics-core/tests/common/registry_10k.rs"]
mod registry_10k;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::PROMETHEUS_ACCEPT;
use metrics_core::{Counter, DynHistogram, Family, Gauge};
use metrics_exporter_http::{Config, Exporter};
use registry_10k::{registry_10k, Registry10k, LABEL_VALUES};
use test_support::Tool;

/// What one `wrk --latency` run printed, read from its summary.
#[derive(Debug)]
struct WrkRun {
    requests: u64,
    p99: Duration,
    errors: Vec<String>,
    output: String,
}

/// `12.5us`, `3.41ms`, `1.02s`, `2.00m` (wrk's units) as a duration.
fn wrk_duration(s: &str) -> Duration {
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let v: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("not a wrk duration: {s:?}"));
    let seconds = match unit {
        "us" => v / 1e6,
        "ms" => v / 1e3,
        "s" => v,
        "m" => v * 60.0,
        _ => panic!("unknown wrk unit in {s:?}"),
    };
    Duration::from_secs_f64(seconds)
}

fn wrk(addr: SocketAddr, seconds: u32) -> WrkRun {
    let out = Tool::WRK
        .command()
        .args([
            "--threads",
            "2",
            "--connections",
            "4",
            "--latency",
            "--timeout",
            "5s",
        ])
        .arg(format!("--duration={seconds}s"))
        .args(["--header", &format!("Accept: {PROMETHEUS_ACCEPT}")])
        .arg(format!("http://{addr}/metrics"))
        .output()
        .unwrap_or_else(|e| panic!("{}", Tool::WRK.unavailable(&e)));
    let output = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "wrk failed: {}\n{output}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |prefix: &str| -> Option<&str> {
        output
            .lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    let requests = output
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in wrk's output:\n{output}"));
    let p99 = wrk_duration(
        field("99%").unwrap_or_else(|| panic!("no 99th percentile in wrk's output:\n{output}")),
    );
    // wrk prints these lines only when something went wrong.
    let errors = ["Socket errors:", "Non-2xx or 3xx responses:"]
        .iter()
        .filter_map(|p| field(p).map(|rest| format!("{p} {rest}")))
        .collect();
    WrkRun {
        requests,
        p99,
        errors,
        output,
    }
}

/// This process's resident set size, from `/proc/self/status`.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a VmRSS line");
    kb * 1024
}

/// The families of the registry and their label values.
type Handles = (
    Vec<Arc<Family<Counter>>>,
    Vec<Arc<Family<Gauge>>>,
    Arc<Family<DynHistogram>>,
    Vec<String>,
);

/// Two threads that keep changing every family of the registry until `stop`.
fn updaters(
    (counters, gauges, latency, values): Handles,
    stop: &Arc<AtomicBool>,
    updates: &Arc<AtomicU64>,
) -> Vec<thread::JoinHandle<()>> {
    let others = (gauges, latency, values.clone());
    let counters = (counters, values);
    let a = {
        let (stop, updates) = (stop.clone(), updates.clone());
        thread::spawn(move || {
            let (families, values) = counters;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for (i, v) in values.iter().enumerate() {
                    families[i % families.len()].labels(&[v, "200"]).inc();
                }
                n += values.len() as u64;
            }
            updates.fetch_add(n, Ordering::Relaxed);
        })
    };
    let b = {
        let (stop, updates) = (stop.clone(), updates.clone());
        thread::spawn(move || {
            let (gauges, latency, values) = others;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for (i, v) in values.iter().enumerate() {
                    gauges[i % gauges.len()].labels(&[v]).set(n as f64);
                    latency.labels(&[v]).observe((i % 100) as f64 / 10.0);
                }
                n += 2 * values.len() as u64;
            }
            updates.fetch_add(n, Ordering::Relaxed);
        })
    };
    vec![a, b]
}

#[test]
#[ignore = "needs wrk and a release build; run via scripts/test.sh"]
fn ten_thousand_series_under_wrk_for_30_seconds_while_two_threads_update() {
    let Registry10k {
        registry,
        counters,
        gauges,
        latency,
        values,
    } = registry_10k();
    let series = (counters.len() + gauges.len() + 1) * LABEL_VALUES;
    assert_eq!(series, 10_000);
    let exporter = Exporter::start(Config::new("127.0.0.1", 0), Arc::new(registry)).unwrap();
    let addr = exporter.local_addr();

    let stop = Arc::new(AtomicBool::new(false));
    let updates = Arc::new(AtomicU64::new(0));
    let threads = updaters((counters, gauges, latency, values), &stop, &updates);

    // Warm-up: every worker thread, its buffers and the allocator's arenas reach their
    // steady size before the first reading.
    let warm = wrk(addr, 5);
    assert!(warm.errors.is_empty(), "{:?}\n{}", warm.errors, warm.output);
    let before = resident_bytes();
    let run = wrk(addr, 30);
    let after = resident_bytes();
    stop.store(true, Ordering::Relaxed);
    threads.into_iter().for_each(|t| t.join().unwrap());

    let mut report = std::io::stderr();
    writeln!(
        report,
        "load: {series} series, wrk 2 threads x 4 connections for 30 s: {} scrapes ({:.0}/s), \
         p99 {:?}, {} updates meanwhile; resident memory {:.1} MiB before, {:.1} MiB after",
        run.requests,
        run.requests as f64 / 30.0,
        run.p99,
        updates.load(Ordering::Relaxed),
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
    )
    .unwrap();

    assert!(run.errors.is_empty(), "{:?}\n{}", run.errors, run.output);
    // Every request was answered within wrk's 5 s timeout (a late one is a socket error
    // above); the p99 is reported, not bounded: it depends on the machine.
    assert!(
        run.requests >= 100,
        "only {} scrapes in 30 s:\n{}",
        run.requests,
        run.output
    );
    // Steady state: nothing per scrape is kept. The margin covers the allocator returning
    // and taking back pages; a leak of even one allocation per scrape (thousands of scrapes)
    // exceeds it.
    let margin = 4 << 20;
    assert!(
        after <= before + margin,
        "resident memory grew from {before} to {after} bytes over {} scrapes",
        run.requests
    );
    // The registry was encoded whole under load: the last scrape has every series.
    let body = test_support::agent(Duration::from_secs(5))
        .get(format!("http://{addr}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .unwrap();
    let samples = body.lines().filter(|l| !l.starts_with('#')).count();
    assert!(samples >= series, "{samples} samples for {series} series");
    drop(exporter);
}

#[test]
fn wrk_durations() {
    assert_eq!(wrk_duration("12.50us"), Duration::from_nanos(12_500));
    assert_eq!(wrk_duration("3.41ms"), Duration::from_micros(3_410));
    assert_eq!(wrk_duration("1.02s"), Duration::from_millis(1_020));
    assert_eq!(wrk_duration("2.00m"), Duration::from_secs(120));
}
