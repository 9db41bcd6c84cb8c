//! metrics-core against `prometheus`, `prometheus-client`, `metrics` and `measured`, on the
//! same workloads in one run (`scripts/bench.sh` runs it and writes `BENCHMARKS.md`).
//!
//! ```text
//! cargo bench -p metrics-benchmarks --bench peers            # measure (about 10 minutes)
//! cargo bench -p metrics-benchmarks --bench peers -- --test  # run each once (CI smoke test)
//! ```
//!
//! Benchmark ids are `<workload>/<crate>`. Single-thread workloads run on the main thread,
//! pinned to core 0. The two-thread workloads run `iters` operations on each of two threads
//! pinned to cores 0 and 1 and report the wall time divided by the operations of *both*
//! threads (so a perfectly parallel operation shows half its one-thread time).

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use metrics_benchmarks::limit::Limit;
use metrics_benchmarks::measured_crate::{self, KindEnum, Measured};
use metrics_benchmarks::metrics_crate::Metrics;
use metrics_benchmarks::ours::Ours;
use metrics_benchmarks::prometheus_client_crate::PrometheusClient;
use metrics_benchmarks::prometheus_crate::Prometheus;
use metrics_benchmarks::scraper::Scraper;
use metrics_benchmarks::{
    label_sequence, observations, pin_to_core, two_threads, Workloads, BOUNDS, SEQUENCE,
};
use metrics_core::{ShardedCounter, ShardedHistogram};

/// Index into the pre-drawn sequences.
#[inline]
fn at(i: u64) -> usize {
    i as usize & (SEQUENCE - 1)
}

/// Halves a two-thread time: both threads did `iters` operations.
fn per_op(d: Duration) -> Duration {
    d / 2
}

fn counter_inc<W: Workloads>(c: &mut Criterion) {
    let counter = W::counter();
    c.benchmark_group("counter_inc")
        .bench_function(W::NAME, |b| b.iter(|| W::inc(black_box(&counter))));
}

fn counter_inc_2threads<W: Workloads>(c: &mut Criterion, name: &str) {
    let counter = W::counter();
    c.benchmark_group("counter_inc_2threads")
        .bench_function(name, |b| {
            b.iter_custom(|iters| per_op(two_threads(iters, |_, _| W::inc(black_box(&counter)))))
        });
}

fn labelled_inc<W: Workloads>(c: &mut Criterion) {
    let family = W::labelled();
    let keys = label_sequence();
    let mut i = 0;
    c.benchmark_group("labelled_inc")
        .bench_function(W::NAME, |b| {
            b.iter(|| {
                i += 1;
                let (k, r) = keys[at(i)];
                W::labelled_inc(black_box(&family), k, r);
            })
        });
}

fn histogram_observe<W: Workloads>(c: &mut Criterion) {
    let h = W::histogram();
    let values = observations();
    let mut i = 0;
    c.benchmark_group("histogram_observe")
        .bench_function(W::NAME, |b| {
            b.iter(|| {
                i += 1;
                W::observe(black_box(&h), values[at(i)]);
            })
        });
    histogram_observe_2threads::<W>(c, W::NAME);
}

fn histogram_observe_2threads<W: Workloads>(c: &mut Criterion, name: &str) {
    let h = W::histogram();
    let values = observations();
    c.benchmark_group("histogram_observe_2threads")
        .bench_function(name, |b| {
            b.iter_custom(|iters| {
                per_op(two_threads(iters, |t, i| {
                    W::observe(black_box(&h), values[at(i + t as u64 * 7)])
                }))
            })
        });
}

fn encode<W: Workloads>(c: &mut Criterion) {
    for n in [10_000usize, 100_000] {
        let mut registry = W::registry(n);
        assert!(
            W::encode(&mut registry) > n * 10,
            "{} encodes every series",
            W::NAME
        );
        let mut g = c.benchmark_group(format!("encode_{}k", n / 1000));
        g.throughput(Throughput::Elements(n as u64));
        g.sample_size(if n > 10_000 { 10 } else { 30 });
        g.bench_function(W::NAME, |b| b.iter(|| W::encode(black_box(&mut registry))));
    }
}

fn all<W: Workloads>(c: &mut Criterion) {
    counter_inc::<W>(c);
    counter_inc_2threads::<W>(c, W::NAME);
    labelled_inc::<W>(c);
    histogram_observe::<W>(c);
    encode::<W>(c);
}

fn limits(c: &mut Criterion) {
    counter_inc::<Limit>(c);
    labelled_inc::<Limit>(c);
    encode::<Limit>(c);
    // One atomic per thread, each on its own line.
    #[repr(align(128))]
    struct Line(AtomicU64);
    let lines = [Line(AtomicU64::new(0)), Line(AtomicU64::new(0))];
    c.benchmark_group("counter_inc_2threads")
        .bench_function("limit", |b| {
            b.iter_custom(|iters| {
                per_op(two_threads(iters, |t, _| {
                    black_box(&lines)[t].0.fetch_add(1, Ordering::Relaxed);
                }))
            })
        });
}

fn ours(c: &mut Criterion) {
    counter_inc::<Ours>(c);
    // The contention-free counter users opt into for hot counters; the plain one beside it.
    static SHARDED: ShardedCounter = ShardedCounter::new();
    c.benchmark_group("counter_inc_2threads")
        .bench_function("ours", |b| {
            b.iter_custom(|iters| per_op(two_threads(iters, |_, _| black_box(&SHARDED).inc())))
        });
    counter_inc_2threads::<Ours>(c, "ours_plain");
    labelled_inc::<Ours>(c);
    // One thread: the plain histogram. Two threads: the per-thread one users opt into for hot
    // histograms, and the plain one beside it.
    let h = Ours::histogram();
    let values = observations();
    let mut i = 0;
    c.benchmark_group("histogram_observe")
        .bench_function("ours", |b| {
            b.iter(|| {
                i += 1;
                Ours::observe(black_box(&h), values[at(i)]);
            })
        });
    static SHARDED_H: ShardedHistogram<8> = ShardedHistogram::new(&BOUNDS);
    c.benchmark_group("histogram_observe_2threads")
        .bench_function("ours", |b| {
            b.iter_custom(|iters| {
                per_op(two_threads(iters, |t, i| {
                    black_box(&SHARDED_H).observe(values[at(i + t as u64 * 7)])
                }))
            })
        });
    histogram_observe_2threads::<Ours>(c, "ours_plain");
    encode::<Ours>(c);
}

fn measured_enum(c: &mut Criterion) {
    let family = measured_crate::labelled_enum();
    let keys = label_sequence();
    let kinds = [KindEnum::User, KindEnum::Internal, KindEnum::Network];
    let keys: Vec<(KindEnum, &str)> = keys
        .iter()
        .map(|(k, r)| {
            (
                kinds[metrics_benchmarks::KINDS
                    .iter()
                    .position(|x| x == k)
                    .unwrap()],
                *r,
            )
        })
        .collect();
    let mut i = 0;
    c.benchmark_group("labelled_inc")
        .bench_function("measured_enum", |b| {
            b.iter(|| {
                i += 1;
                let (k, r) = keys[at(i)];
                measured_crate::labelled_enum_inc(black_box(&family), k, r);
            })
        });
}

/// The `Accept` header Prometheus 2 and 3 send by default.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,\
    application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// A 10k-series registry scraped over HTTP: `exporters/http` against
/// `metrics-exporter-prometheus`' own listener, each by one keep-alive client
/// ([`Scraper`]: the body read whole, not decompressed), twice: uncompressed (the text
/// format), and as Prometheus asks (its `Accept` header and `Accept-Encoding: gzip`;
/// `metrics-exporter-prometheus` does not compress).
fn http_scrape(c: &mut Criterion) {
    const N: usize = 10_000;
    let plain = "Accept: text/plain;version=0.0.4\r\nAccept-Encoding: identity\r\n".to_string();
    let prometheus = format!("Accept: {PROMETHEUS_ACCEPT}\r\nAccept-Encoding: gzip\r\n");
    let bench = |c: &mut Criterion, group: &str, name: &str, addr: SocketAddr, headers: &str| {
        let mut scraper = Scraper::new(addr, "/metrics", headers);
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(N as u64));
        g.sample_size(20);
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let n = scraper.scrape().expect("scrape");
                assert!(
                    n > N * if scraper.gzipped { 1 } else { 10 },
                    "a whole scrape from {name}"
                );
                n
            })
        });
    };

    let (registry, _) = Ours::registry(N);
    let exporter = metrics_exporter_http::Config::new("127.0.0.1", 0)
        .self_metrics(false)
        .start(Arc::new(registry))
        .expect("exporter starts");
    bench(c, "http_scrape_10k", "ours", exporter.local_addr(), &plain);
    bench(
        c,
        "http_scrape_10k_gzip",
        "ours",
        exporter.local_addr(),
        &prometheus,
    );
    exporter.stop();

    let port = test_support::free_port();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // The exporter binds its listener inside the runtime; one thread then serves it.
    let (recorder, server) = {
        let _in_runtime = runtime.enter();
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(([127, 0, 0, 1], port))
            .build()
            .expect("metrics exporter builds")
    };
    std::thread::spawn(move || runtime.block_on(server));
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_counter!("counters", "help text");
        for i in 0..N {
            let labels = [("kind", metrics_benchmarks::series_value(i))];
            metrics::counter!("counters", &labels).increment(1);
        }
    });
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Scraper::new(addr, "/metrics", &plain).scrape().is_err() {
        assert!(
            Instant::now() < deadline,
            "metrics-exporter-prometheus listens"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    bench(c, "http_scrape_10k", "metrics", addr, &plain);
    bench(c, "http_scrape_10k_gzip", "metrics", addr, &prometheus);
}

/// One observe per iteration on 1 thread (group `native_observe`) and on 2 threads on the same
/// histogram (`native_observe_2threads`), for `name`.
fn observe_both<H: Sync>(c: &mut Criterion, name: &str, h: &H, observe: impl Fn(&H, f64) + Sync) {
    let values = observations();
    let mut i = 0;
    c.benchmark_group("native_observe")
        .bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                observe(black_box(h), values[at(i)]);
            })
        });
    c.benchmark_group("native_observe_2threads")
        .bench_function(name, |b| {
            b.iter_custom(|iters| {
                per_op(two_threads(iters, |t, i| {
                    observe(black_box(h), values[at(i + t as u64 * 7)])
                }))
            })
        });
}

/// Native histograms (schema 3, at most 160 buckets): ours (lock-free and per-thread sharded)
/// against `prometheus-client`'s, and our classic observe, on the inputs of `histogram_observe`.
fn native_observe(c: &mut Criterion) {
    use metrics_benchmarks::native;
    observe_both(c, "ours", &native::ours(), |h, v| h.observe(v));
    observe_both(c, "ours_sharded", &native::ours_sharded(), |h, v| {
        h.observe(v)
    });
    observe_both(
        c,
        "prometheus_client",
        &native::prometheus_client(),
        |h, v| h.observe(v),
    );
    observe_both(c, "ours_classic", &native::ours_classic(), |h, v| {
        h.observe(v)
    });
}

/// A Remote-Write request of the 10k-series registry of `encode_10k`: encode alone and encode
/// plus Snappy, both protocol versions (no peer writes Remote-Write: the rows stand alone).
fn remote_write(c: &mut Criterion) {
    use metrics_core::remote_write::{self, Version, WriteOptions};
    use metrics_core::snappy;
    let (registry, _) = Ours::registry(10_000);
    let opts = WriteOptions {
        timestamp_ms: 1_700_000_000_000,
        external_labels: &[("site", "bench")],
    };
    let mut g = c.benchmark_group("remote_write_10k");
    g.throughput(Throughput::Elements(10_000));
    g.sample_size(30);
    for (version, name) in [(Version::V1, "v1"), (Version::V2, "v2")] {
        let mut raw = Vec::new();
        let mut out = Vec::new();
        g.bench_function(format!("{name}_encode"), |b| {
            b.iter(|| {
                raw.clear();
                remote_write::encode(black_box(&registry), version, &opts, &mut raw).unwrap()
            })
        });
        g.bench_function(format!("{name}_encode_snappy"), |b| {
            b.iter(|| {
                raw.clear();
                remote_write::encode(black_box(&registry), version, &opts, &mut raw).unwrap();
                out.resize(snappy::max_compressed_len(raw.len()), 0);
                snappy::compress(&raw, &mut out).unwrap()
            })
        });
        // The sizes, for the table (scripts/benchmarks_md.py reads them from this file).
        raw.clear();
        remote_write::encode(&registry, version, &opts, &mut raw).unwrap();
        out.resize(snappy::max_compressed_len(raw.len()), 0);
        let n = snappy::compress(&raw, &mut out).unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/criterion/remote_write_10k");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(
            dir.join(format!("{name}_sizes.json")),
            format!("{{\"raw\": {}, \"snappy\": {n}}}", raw.len()),
        );
    }
}

/// The protobuf exposition of the 10k-series registry of `encode_10k`, for the crates that
/// write it: ours (`encode_to_vec(.., Format::Protobuf, ..)` into a reused buffer, written
/// directly) and `prometheus-client` (`prometheus_protobuf::encode_to_vec`: prost messages
/// built, then serialized), both length-delimited `io.prometheus.client.MetricFamily`.
fn encode_protobuf<W: Workloads>(c: &mut Criterion) {
    let n = 10_000;
    let mut registry = W::registry(n);
    let Some(len) = W::encode_protobuf(&mut registry) else {
        return;
    };
    assert!(len > n * 10, "{} encodes every series", W::NAME);
    let mut g = c.benchmark_group("encode_protobuf_10k");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(30);
    g.bench_function(W::NAME, |b| {
        b.iter(|| W::encode_protobuf(black_box(&mut registry)))
    });
}

/// Short warm-up and measurement: the medians settle well within them for these loops, and
/// the whole run stays near five minutes.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group!(
    name = benches;
    config = config();
    targets =
    limits,
    ours,
    all::<Prometheus>,
    all::<PrometheusClient>,
    all::<Metrics>,
    all::<Measured>,
    measured_enum,
    http_scrape,
    remote_write,
    native_observe,
    encode_protobuf::<Ours>,
    encode_protobuf::<PrometheusClient>
);

fn main() {
    if !pin_to_core(0) {
        eprintln!("peers: could not pin the benchmark thread to core 0; running unpinned");
    }
    benches();
    config().configure_from_args().final_summary();
}
