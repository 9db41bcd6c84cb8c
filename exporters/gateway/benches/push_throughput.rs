//! Push throughput of one real `metrics-gateway` process: N concurrent clients (1, 4, 16),
//! each a real HTTP client (`ureq`, keep-alive) pushing to a group of its own, as fast as the
//! answers come, every push with a new `Idempotency-Key`, so every answer waits for the state
//! file to be written, fsynced and renamed. Reports pushes per second, the series per push and
//! the median and p99 answer times, as a Markdown section (BENCHMARKS.md's "Push throughput").
//!
//! ```text
//! cargo bench -p metrics-gateway --bench push_throughput           # 10 s per client count
//! PUSH_BENCH_SECONDS=30 cargo bench -p metrics-gateway --bench push_throughput
//! ```
//!
//! Under `cargo test --all-targets` (no `--bench` argument), or with `-- --test`, it runs for a
//! moment with 1 and 2 clients, to check that it works.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// Counters and the buckets of one histogram per push.
const COUNTERS: usize = 10;
const BOUNDS: [f64; 9] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// One push body: `COUNTERS` counters and a histogram of `BOUNDS.len() + 1` buckets.
fn body() -> String {
    let mut b =
        String::from("# HELP bench_steps_total Steps run.\n# TYPE bench_steps_total counter\n");
    for i in 0..COUNTERS {
        b.push_str(&format!("bench_steps_total{{step=\"step{i}\"}} 1\n"));
    }
    b.push_str("# HELP bench_step_seconds Step durations.\n# TYPE bench_step_seconds histogram\n");
    for (i, le) in BOUNDS.iter().enumerate() {
        b.push_str(&format!(
            "bench_step_seconds_bucket{{le=\"{le}\"}} {}\n",
            i / 3
        ));
    }
    b.push_str("bench_step_seconds_bucket{le=\"+Inf\"} 3\nbench_step_seconds_sum 4.5\nbench_step_seconds_count 3\n");
    b
}

/// Series per push as Prometheus stores them.
fn series_per_push() -> usize {
    COUNTERS + BOUNDS.len() + 1 + 2
}

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(state: &std::path::Path, port: u16) -> Gateway {
    let mut child = Command::new(env!("CARGO_BIN_EXE_metrics-gateway"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--accept-pushes",
            "--workers",
            "8",
        ])
        .arg("--push-state-file")
        .arg(state)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start metrics-gateway");
    // It says it listens once it does.
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening"), "{line}");
    Gateway(child)
}

struct Run {
    clients: usize,
    pushes: usize,
    seconds: f64,
    latencies: Vec<Duration>,
}

fn run(clients: usize, duration: Duration, max_pushes: usize) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let port = test_support::free_port();
    let _g = start(&dir.path().join("pushes.json"), port);
    let body = Arc::new(body());
    let barrier = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (body, barrier) = (body.clone(), barrier.clone());
            thread::spawn(move || {
                let agent = test_support::agent(Duration::from_secs(30));
                let url = format!("http://127.0.0.1:{port}/push/job/bench/client/c{c}");
                let mut latencies = Vec::new();
                barrier.wait();
                let start = Instant::now();
                let mut i = 0usize;
                while start.elapsed() < duration && i < max_pushes {
                    let t = Instant::now();
                    let mut r = agent
                        .post(&url)
                        .header("Content-Type", "text/plain; version=0.0.4")
                        .header("Idempotency-Key", &format!("run-{c}-{i}"))
                        .send(body.as_bytes())
                        .expect("push");
                    let answer = r.body_mut().read_to_string().unwrap();
                    assert_eq!(r.status().as_u16(), 200, "{answer}");
                    latencies.push(t.elapsed());
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let seconds = start.elapsed().as_secs_f64();
    latencies.sort();
    Run {
        clients,
        pushes: latencies.len(),
        seconds,
        latencies,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let (counts, duration, max): (&[usize], _, _) = if bench {
        let secs = std::env::var("PUSH_BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10);
        (&[1, 4, 16], Duration::from_secs(secs), usize::MAX)
    } else {
        (&[1, 2], Duration::from_secs(2), 20)
    };
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    println!("## Push throughput\n");
    println!(
        "One `metrics-gateway --accept-pushes --workers 8` process; each client a `ureq` agent \
         (keep-alive) pushing to a group of its own, back to back, each push with a new \
         `Idempotency-Key` and answered only once the state file is written, fsynced and renamed \
         (group commit: one write covers the pushes applied meanwhile). {} series per push ({COUNTERS} \
         counters and a histogram of {} buckets). {}s per client count, {cores} cores; the state \
         file in the system's temporary directory.\n",
        series_per_push(),
        BOUNDS.len() + 1,
        duration.as_secs(),
    );
    println!("| clients | pushes | pushes/s | series/s | median answer | p99 answer |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for &clients in counts {
        let r = run(clients, duration, max);
        let rate = r.pushes as f64 / r.seconds;
        let at = |q: f64| {
            r.latencies[((r.latencies.len() as f64 * q) as usize).min(r.latencies.len() - 1)]
        };
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.2} ms | {:.2} ms |",
            r.clients,
            r.pushes,
            rate,
            rate * series_per_push() as f64,
            ms(at(0.5)),
            ms(at(0.99)),
        );
    }
    println!(
        "\nReproduce: `cargo bench -p metrics-gateway --bench push_throughput` \
         (`PUSH_BENCH_SECONDS` sets the seconds per client count)."
    );
}
