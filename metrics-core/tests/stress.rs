//! Real threads observe into histograms while another thread scrapes the registry, and every
//! exposition it gets must be consistent: cumulative buckets never decrease, `_count` equals
//! the `+Inf` bucket, and `_sum` is exactly the sum of the observations the buckets count.
//!
//! Every observation that lands in bucket `i` has the same value `v_i`, a small power of two
//! (or a negative integer), so each `_sum` is exact in an `f64` whatever the order of the adds,
//! and the bucket counts alone determine it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use metrics_core::parse::{Line, Parser};
use metrics_core::{
    ChunkedEncoder, Collect, Desc, DynHistogram, Family, Format, Histogram, Kind, Registry,
    Visitor, DEFAULT_BUCKETS,
};

/// The value observed for bucket `i` of [`DEFAULT_BUCKETS`] (the last is `+Inf`).
const STATIC_VALUES: [f64; 12] = [
    -2.0,      // le=0.005
    0.0078125, // le=0.01 (2^-7)
    0.015625,  // le=0.025 (2^-6)
    0.03125,   // le=0.05 (2^-5)
    0.0625,    // le=0.1 (2^-4)
    0.25,      // le=0.25
    0.5,       // le=0.5
    1.0,       // le=1.0
    2.0,       // le=2.5
    4.0,       // le=5.0
    8.0,       // le=10.0
    16.0,      // +Inf
];

/// Bounds of the labelled run-time histogram family, and the value observed per bucket.
const DYN_BOUNDS: [f64; 3] = [1.0, 2.0, 4.0];
const DYN_VALUES: [f64; 4] = [0.5, 1.5, 3.0, 8.0];

/// Scrapes with the streaming encoder, and with the chunked encoder.
const SCRAPES: usize = 5_000;
const CHUNKED_SCRAPES: usize = 300;
/// Upper bound on each observer's iterations; they stop as soon as the scraper is done (or
/// failed), long before that.
const MAX_OBSERVATIONS: usize = 100_000_000;

static LATENCY: Histogram<11> = Histogram::new(&DEFAULT_BUCKETS);

/// Registers the `static` histogram (the registry holds `Arc`s).
struct StaticLatency;

impl Collect for StaticLatency {
    fn series_count(&self) -> usize {
        LATENCY.series_count()
    }
    fn collect(&self, index: usize, visit: &mut Visitor<'_>) -> Result<(), metrics_core::Error> {
        LATENCY.collect(index, visit)
    }
}

/// Held by a scraper thread: stops the observers however the scraper ends, a failed
/// assertion included.
struct Done(Arc<AtomicBool>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Starts the scraper thread: it waits at `start` with the observers, runs `scrape`, and sets
/// `done` when it ends (however it ends).
fn spawn_scraper<R: Send + 'static>(
    done: &Arc<AtomicBool>,
    start: &Arc<Barrier>,
    scrape: impl FnOnce() -> R + Send + 'static,
) -> std::thread::JoinHandle<R> {
    let (done, start) = (done.clone(), start.clone());
    std::thread::spawn(move || {
        let _done = Done(done);
        start.wait();
        scrape()
    })
}

/// One histogram series of a parsed exposition.
#[derive(Debug, Default)]
struct Series {
    /// `(le, cumulative count)` in output order.
    buckets: Vec<(String, u64)>,
    sum: Option<f64>,
    count: Option<u64>,
}

/// Reads our own text output with the core's parser. Returns the histogram series keyed by
/// `(family, labels without le)`.
fn parse(text: &str) -> BTreeMap<(String, String), Series> {
    let mut out: BTreeMap<(String, String), Series> = BTreeMap::new();
    for line in Parser::new(text) {
        let line = line.unwrap_or_else(|e| panic!("unreadable exposition: {e}"));
        let Line::Sample(sample) = line else {
            continue;
        };
        let mut le = None;
        let mut others = Vec::new();
        for label in sample.labels() {
            let (k, v) = label.unwrap_or_else(|e| panic!("bad label: {e:?}"));
            if k == "le" {
                le = Some(v.raw().to_string());
            } else {
                others.push(format!("{k}={}", v.raw()));
            }
        }
        let labels = others.join(",");
        let name = sample.name;
        let (family, field) = if let Some(f) = name.strip_suffix("_bucket") {
            (f, "bucket")
        } else if let Some(f) = name.strip_suffix("_sum") {
            (f, "sum")
        } else if let Some(f) = name.strip_suffix("_count") {
            (f, "count")
        } else {
            continue; // not a histogram sample
        };
        let s = out.entry((family.to_string(), labels)).or_default();
        let value = sample.raw_value;
        match field {
            "bucket" => s.buckets.push((
                le.unwrap_or_else(|| panic!("bucket without le: {sample:?}")),
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("bad count: {sample:?}")),
            )),
            "sum" => {
                assert!(
                    s.sum.replace(sample.value).is_none(),
                    "two sums: {sample:?}"
                );
            }
            _ => {
                let v = value
                    .parse()
                    .unwrap_or_else(|_| panic!("bad count: {sample:?}"));
                assert!(s.count.replace(v).is_none(), "two counts: {sample:?}");
            }
        }
    }
    out
}

/// The bucket labels and per-bucket values of each histogram family.
fn layout(family: &str) -> (Vec<String>, &'static [f64]) {
    let (bounds, values): (&[f64], &'static [f64]) = match family {
        "latency_seconds" => (&DEFAULT_BUCKETS, &STATIC_VALUES),
        "payload_kib" => (&DYN_BOUNDS, &DYN_VALUES),
        other => panic!("unexpected histogram {other}"),
    };
    let mut les: Vec<String> = bounds.iter().map(|b| format!("{b:?}")).collect();
    les.push("+Inf".into());
    (les, values)
}

/// Checks every histogram of one exposition and returns its counts, for monotonicity checks
/// across scrapes.
fn check(text: &str, expected_series: usize) -> BTreeMap<(String, String), u64> {
    let parsed = parse(text);
    assert_eq!(parsed.len(), expected_series, "series in:\n{text}");
    let mut counts = BTreeMap::new();
    for (key, s) in parsed {
        let (les, values) = layout(&key.0);
        let got: Vec<&str> = s.buckets.iter().map(|(le, _)| le.as_str()).collect();
        assert_eq!(got, les, "{key:?}: bucket bounds");
        let mut prev = 0;
        let mut implied = 0.0;
        for (i, &(_, cum)) in s.buckets.iter().enumerate() {
            assert!(cum >= prev, "{key:?}: buckets decrease: {:?}", s.buckets);
            implied += (cum - prev) as f64 * values[i];
            prev = cum;
        }
        let count = s.count.unwrap_or_else(|| panic!("{key:?}: no _count"));
        assert_eq!(count, prev, "{key:?}: _count is not the +Inf bucket");
        let sum = s.sum.unwrap_or_else(|| panic!("{key:?}: no _sum"));
        assert_eq!(
            sum, implied,
            "{key:?}: _sum is not the buckets' observations: {:?}",
            s.buckets
        );
        counts.insert(key, count);
    }
    counts
}

/// Asserts that no series went backwards since the previous scrape.
fn monotonic(prev: &mut BTreeMap<(String, String), u64>, now: BTreeMap<(String, String), u64>) {
    for (key, count) in &now {
        if let Some(before) = prev.get(key) {
            assert!(
                count >= before,
                "{key:?}: count went from {before} to {count}"
            );
        }
    }
    *prev = now;
}

#[test]
fn scrapes_during_observations_are_consistent() {
    let mut registry = Registry::new();
    registry
        .register_shared(
            Desc::new("latency_seconds", "Request latency.").unit("seconds"),
            Kind::Histogram,
            Arc::new(StaticLatency),
        )
        .unwrap();
    let payload: Arc<Family<DynHistogram>> = registry
        .histogram_family("payload_kib", "Payload sizes.", &["thread"], &DYN_BOUNDS)
        .unwrap();
    // Series: the static histogram, one per observer thread and one both share.
    const SERIES: usize = 4;
    let registry = Arc::new(registry);

    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(3));
    let observers: Vec<_> = (0..2usize)
        .map(|t| {
            let (payload, done, start) = (payload.clone(), done.clone(), start.clone());
            std::thread::spawn(move || {
                let own = payload.labels(&[["t0", "t1"][t]]);
                let shared = payload.handle(&["shared"]);
                let mut made = ([0u64; 12], [0u64; 4], 0usize);
                start.wait();
                while made.2 < MAX_OBSERVATIONS && !done.load(Ordering::Relaxed) {
                    let i = (made.2 * 7 + t) % STATIC_VALUES.len();
                    LATENCY.observe(STATIC_VALUES[i]);
                    made.0[i] += 1;
                    let j = (made.2 + t) % DYN_VALUES.len();
                    own.observe(DYN_VALUES[j]);
                    shared.observe(DYN_VALUES[j]);
                    made.1[j] += 1;
                    made.2 += 1;
                }
                made
            })
        })
        .collect();

    let scraper = {
        let registry = registry.clone();
        spawn_scraper(&done, &start, move || {
            let mut prev = BTreeMap::new();
            let mut out = String::new();
            for _ in 0..SCRAPES {
                out.clear();
                metrics_core::encode(&*registry, Format::Text, &mut out).unwrap();
                monotonic(&mut prev, check(&out, SERIES));
            }
            let mut enc: ChunkedEncoder<'_, Registry> =
                ChunkedEncoder::new(&*registry, Format::Text);
            let mut buf = [0u8; 64];
            let mut bytes = Vec::new();
            for _ in 0..CHUNKED_SCRAPES {
                bytes.clear();
                enc.restart();
                loop {
                    let n = enc.fill(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    bytes.extend_from_slice(&buf[..n]);
                }
                assert!(enc.is_done());
                let text = std::str::from_utf8(&bytes).unwrap();
                monotonic(&mut prev, check(text, SERIES));
            }
            prev
        })
    };

    let last_scraped = scraper.join().unwrap();
    let made: Vec<_> = observers.into_iter().map(|o| o.join().unwrap()).collect();

    // After the join, a scrape sees exactly what the threads observed.
    let mut out = String::new();
    metrics_core::encode(&*registry, Format::Text, &mut out).unwrap();
    let counts = check(&out, SERIES);
    let total = (made[0].2 + made[1].2) as u64;
    assert!(
        made.iter().all(|m| m.2 > 0),
        "both observers ran: {}, {}",
        made[0].2,
        made[1].2
    );
    eprintln!("observations per thread: {} and {}", made[0].2, made[1].2);
    let key = |f: &str, l: &str| (f.to_string(), l.to_string());
    assert_eq!(counts[&key("latency_seconds", "")], total);
    assert_eq!(counts[&key("payload_kib", "thread=shared")], total);
    assert_eq!(counts[&key("payload_kib", "thread=t0")], made[0].2 as u64);
    assert_eq!(counts[&key("payload_kib", "thread=t1")], made[1].2 as u64);
    assert!(last_scraped.values().all(|&c| c <= total));
    LATENCY.snapshot(|s| {
        for i in 0..STATIC_VALUES.len() {
            assert_eq!(
                s.bucket(i),
                made[0].0[i] + made[1].0[i],
                "static bucket {i}"
            );
        }
    });
    payload.labels(&["shared"]).snapshot(|s| {
        for j in 0..DYN_VALUES.len() {
            assert_eq!(
                s.bucket(j),
                made[0].1[j] + made[1].1[j],
                "shared bucket {j}"
            );
        }
    });
}

/// Classic bounds of the native stress histogram: each of [`NATIVE_VALUES`] alone in its
/// classic bucket, so the classic counts say exactly which observations a snapshot holds.
const NATIVE_BOUNDS: [f64; 6] = [-1.0, -0.25, 0.1, 0.5, 10.0, 2000.0];
/// Powers of two (sums exact in any order) and 0, spread over 2^-2..2^20 and two negatives:
/// six native buckets at schema 3 but only five slots, so observers reduce the schema (down
/// to -4, where they fit) while the scraper reads.
const NATIVE_VALUES: [f64; 7] = [-8.0, -0.5, 0.0, 0.25, 4.0, 1024.0, 1_048_576.0];

/// Two threads observe into a native histogram with classic buckets and too few slots while
/// a third scrapes it through the registry thousands of times: every snapshot's native
/// buckets, zero bucket, classic buckets, count and sum belong to one set of observations,
/// and the last one holds every observation.
#[test]
fn native_scrapes_during_observations_are_consistent() {
    native_stress::<metrics_core::DynNativeHistogram>();
}

/// The same for the per-thread native histogram (`ShardedNativeHistogram`): each observer
/// writes a shard of its own, the scrapes add the shards and the fallback up.
#[test]
fn sharded_native_scrapes_during_observations_are_consistent() {
    native_stress::<metrics_core::ShardedNativeHistogram>();
}

fn native_stress<M>()
where
    M: metrics_core::RunTimeHistogram<Config = metrics_core::NativeConfig> + 'static,
{
    use metrics_core::{native_bucket_index, HistogramValue, NativeConfig, Sign, Value};
    let mut registry = Registry::new();
    let config = NativeConfig::new(3, 5)
        .unwrap()
        .zero_threshold(0.0)
        .unwrap()
        .classic(&NATIVE_BOUNDS)
        .unwrap();
    let desc = metrics_core::Desc::new("native_seconds", "Native.").labels(&["x"]);
    let family = registry.family::<M>(desc, config, None).unwrap();
    let registry = Arc::new(registry);
    let h = family.handle(&["shared"]);

    /// Checks one snapshot against what its classic buckets say it holds.
    fn check_native(s: &dyn HistogramValue) -> u64 {
        let classic: Vec<u64> = (0..=NATIVE_BOUNDS.len()).map(|i| s.bucket(i)).collect();
        let sum: f64 = classic
            .iter()
            .zip(NATIVE_VALUES)
            .map(|(c, v)| *c as f64 * v)
            .sum();
        assert_eq!(s.sum(), sum, "sum of other observations: {classic:?}");
        let n = s.native().expect("native buckets");
        let schema = n.schema();
        let mut want: BTreeMap<(bool, i32), u64> = BTreeMap::new();
        for (c, v) in classic.iter().zip(NATIVE_VALUES) {
            if *c > 0 && v != 0.0 {
                *want
                    .entry((v < 0.0, native_bucket_index(v, schema)))
                    .or_default() += c;
            }
        }
        let mut got = BTreeMap::new();
        for (side, neg) in [(Sign::Positive, false), (Sign::Negative, true)] {
            for i in 0..n.bucket_len(side) {
                let (index, count) = n.bucket(side, i);
                assert!(got.insert((neg, index), count).is_none(), "bucket twice");
            }
        }
        assert_eq!(
            got, want,
            "native buckets at schema {schema} vs classic {classic:?}"
        );
        assert_eq!(n.zero_count(), classic[2], "zero bucket");
        assert!(got.len() <= 5, "more buckets than slots");
        s.count()
    }

    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(3));
    let observers: Vec<_> = (0..2usize)
        .map(|t| {
            let (h, done, start) = (h.clone(), done.clone(), start.clone());
            std::thread::spawn(move || {
                let mut made = 0usize;
                start.wait();
                while made < MAX_OBSERVATIONS && !done.load(Ordering::Relaxed) {
                    h.observe(NATIVE_VALUES[(made * 3 + t) % NATIVE_VALUES.len()]);
                    made += 1;
                }
                made
            })
        })
        .collect();
    let scraper = {
        let registry = registry.clone();
        spawn_scraper(&done, &start, move || {
            use metrics_core::Families;
            let family = registry.family(0).unwrap();
            let mut last = 0;
            for _ in 0..SCRAPES {
                family
                    .metric
                    .collect(0, &mut |_, v| {
                        let Value::Histogram(s) = v else {
                            panic!("not a histogram")
                        };
                        let count = check_native(s);
                        assert!(count >= last, "count went back");
                        last = count;
                        Ok(())
                    })
                    .unwrap();
            }
            last
        })
    };
    let last = scraper.join().unwrap();
    let made: usize = observers.into_iter().map(|o| o.join().unwrap()).sum();
    let mut total = 0;
    h.collect(0, &mut |_, v| {
        let Value::Histogram(s) = v else {
            panic!("not a histogram")
        };
        total = check_native(s);
        assert_eq!(s.native().unwrap().schema(), -4);
        Ok(())
    })
    .unwrap();
    assert_eq!(total, made as u64);
    assert!(last <= total);
    eprintln!(
        "{}: {made} observations, {SCRAPES} scrapes",
        std::any::type_name::<M>()
    );
}

/// One exemplar as the scraper parsed it: labels, value, timestamp.
type ParsedExemplar = (BTreeMap<String, String>, f64, Option<f64>);

/// The exemplar after ` # ` on an OpenMetrics sample line, if any.
fn exemplar_of(line: &str) -> Option<ParsedExemplar> {
    let (_, rest) = line.split_once(" # {")?;
    let (labels, rest) = rest
        .split_once("} ")
        .unwrap_or_else(|| panic!("unterminated exemplar: {line}"));
    let labels = labels
        .split(',')
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("bad label: {line}"));
            (k.to_string(), v.trim_matches('"').to_string())
        })
        .collect();
    let mut nums = rest.split(' ').map(|n| n.parse::<f64>().unwrap());
    Some((labels, nums.next().unwrap(), nums.next()))
}

/// Writer `w`'s `n`th exemplar: every part of it says `n` and `w`, so a torn one (parts of
/// two `set`s) cannot pass [`check_exemplar`].
fn exemplar_labels(w: usize, n: u64) -> [(String, String); 3] {
    [
        ("writer".into(), w.to_string()),
        ("n".into(), n.to_string()),
        (
            "check".into(),
            format!("{w}-{n}-{}", n.wrapping_mul(2_654_435_761) % 1000),
        ),
    ]
}

/// Panics unless `x` is exactly one writer's exemplar number `n` on a line of `family`.
fn check_exemplar(family: &str, x: &ParsedExemplar, line: &str) {
    let (labels, value, ts) = x;
    let w: usize = labels["writer"].parse().unwrap();
    let n: u64 = labels["n"].parse().unwrap();
    let want: BTreeMap<String, String> = exemplar_labels(w, n).into_iter().collect();
    assert_eq!(labels, &want, "torn exemplar labels: {line}");
    let want_value = if family == "hits" {
        (n % 7 + 1) as f64
    } else {
        0.5 + (n % 3) as f64
    };
    assert_eq!(*value, want_value, "torn exemplar value: {line}");
    assert_eq!(
        *ts,
        Some(n as f64 + w as f64 / 4.0),
        "torn exemplar timestamp: {line}"
    );
    if family == "took" {
        let le = ["le=\"1.0\"", "le=\"2.0\"", "le=\"+Inf\""][(n % 3) as usize];
        assert!(line.contains(le), "exemplar in the wrong bucket: {line}");
    }
}

/// Two threads set exemplars on a counter and a histogram as fast as they can while a third
/// scrapes (both encoders): every exemplar it reads is one whole `set` of one writer (labels,
/// value and timestamp of the same observation), never a mix.
#[test]
fn exemplars_are_never_torn_while_two_threads_write() {
    use metrics_core::{CounterWithExemplar, DynHistogramWithExemplars};
    let mut r = Registry::new();
    let hits = r
        .register(Desc::new("hits", "Hits."), CounterWithExemplar::new())
        .unwrap();
    let took = r
        .register(
            Desc::new("took", "Took."),
            DynHistogramWithExemplars::new(&[1.0, 2.0]).unwrap(),
        )
        .unwrap();
    let r = Arc::new(r);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(3));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (hits, took, stop, start) =
                (hits.clone(), took.clone(), stop.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) && n < MAX_OBSERVATIONS as u64 {
                    let owned = exemplar_labels(w, n);
                    let labels: Vec<(&str, &str)> = owned
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    let ts = Some(n as f64 + w as f64 / 4.0);
                    hits.inc_by_with_exemplar(n % 7 + 1, &labels, ts).unwrap();
                    took.observe_with_exemplar(0.5 + (n % 3) as f64, &labels, ts)
                        .unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    start.wait();
    let (mut seen, mut scrapes) = (0usize, 0usize);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut buf = [0u8; 64];
        while scrapes < 2_000 {
            let text = if scrapes % 4 == 3 {
                let mut enc: ChunkedEncoder<'_, Registry> =
                    ChunkedEncoder::new(&*r, Format::OpenMetrics);
                let mut out = Vec::new();
                loop {
                    let n = enc.fill(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    out.extend_from_slice(&buf[..n]);
                }
                String::from_utf8(out).unwrap()
            } else {
                let mut s = String::new();
                metrics_core::encode(&*r, Format::OpenMetrics, &mut s).unwrap();
                s
            };
            for line in text.lines() {
                if let Some(x) = exemplar_of(line) {
                    let family = if line.starts_with("hits") {
                        "hits"
                    } else {
                        "took"
                    };
                    check_exemplar(family, &x, line);
                    seen += 1;
                }
            }
            scrapes += 1;
        }
    }));
    stop.store(true, Ordering::Relaxed);
    let sets: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    eprintln!("{scrapes} scrapes, {seen} exemplars checked, writers set {sets:?}");
    assert!(
        seen > scrapes,
        "exemplars were seen ({seen} in {scrapes} scrapes)"
    );
    assert!(sets.iter().all(|n| *n > 0), "both writers ran: {sets:?}");
}
