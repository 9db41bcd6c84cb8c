//! The registry the golden and conformance tests share, and the samples it must expose,
//! computed from what the test did (not from the encoder).

#![allow(dead_code)]

use std::sync::Arc;

use metrics_core::{
    Counter, Desc, Family, FnGauge, Gauge, Kind, Registry, StaticEntry, StaticFamily,
    StaticRegistry, StaticSeries, DEFAULT_BUCKETS,
};

/// One sample an outside parser must read back.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// The exemplar the parser must read on this sample.
    pub exemplar: Option<ExpectedExemplar>,
}

/// An exemplar's labels, value and timestamp.
pub type ExpectedExemplar = (Vec<(String, String)>, f64, Option<f64>);

/// A sample without an exemplar.
pub fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> Sample {
    Sample {
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        value,
        exemplar: None,
    }
}

/// Label values that exercise escaping: quote, backslash, newline, non-ASCII, empty.
pub const TRICKY: [&str; 6] = [
    "say \"hi\"",
    "C:\\path\\",
    "two\nlines",
    "grüße ☃ 😀",
    "",
    "plain",
];

/// Gauge values at the edges of f64.
pub const EDGE_VALUES: [(&str, f64); 9] = [
    ("nan", f64::NAN),
    ("pos_inf", f64::INFINITY),
    ("neg_inf", f64::NEG_INFINITY),
    ("huge", 1.7976931348623157e308),
    ("tiny", 5e-324),
    ("small", 1.5e-7),
    ("million", 1234567.0),
    ("negative", -0.25),
    ("third", 1.0 / 3.0),
];

fn histogram_samples(
    out: &mut Vec<Sample>,
    name: &str,
    labels: &[(&str, &str)],
    bounds: &[f64],
    observations: &[f64],
) {
    for le in bounds.iter().copied().chain([f64::INFINITY]) {
        let n = observations.iter().filter(|v| **v <= le).count();
        let le_label = if le.is_infinite() {
            "+Inf".to_string()
        } else {
            format!("{le:?}")
        };
        let mut l = labels.to_vec();
        l.push(("le", &le_label));
        out.push(sample(&format!("{name}_bucket"), &l, n as f64));
    }
    out.push(sample(
        &format!("{name}_sum"),
        labels,
        observations.iter().sum(),
    ));
    out.push(sample(
        &format!("{name}_count"),
        labels,
        observations.len() as f64,
    ));
}

/// A run-time registry using every metric type and every escaping and float edge case, and
/// the samples it exposes.
pub fn runtime_registry() -> (Registry, Vec<Sample>) {
    let mut r = Registry::new();
    let mut expected = Vec::new();

    let jobs = r
        .counter("jobs_processed", "Jobs processed since start.")
        .unwrap();
    jobs.inc_by(41);
    jobs.inc();
    expected.push(sample("jobs_processed_total", &[], 42.0));

    let busy = r
        .register(
            Desc::new("worker_busy_seconds_total", "Time spent working.").unit("seconds"),
            metrics_core::FloatCounter::new(),
        )
        .unwrap();
    busy.inc_by(12.75);
    expected.push(sample("worker_busy_seconds_total", &[], 12.75));

    let temp = r
        .gauge(
            "room_temperature_celsius",
            "Help with \"quotes\", a back\\slash\nand a newline.",
        )
        .unwrap();
    temp.set(21.5);
    expected.push(sample("room_temperature_celsius", &[], 21.5));

    let edges = r
        .gauge_family("edge_value", "Floats at the edges.", &["case"])
        .unwrap();
    for (case, v) in EDGE_VALUES {
        edges.labels(&[case]).set(v);
        expected.push(sample("edge_value", &[("case", case)], v));
    }

    let requests = r
        .counter_family(
            "http_requests",
            "Requests by path and code.",
            &["path", "code"],
        )
        .unwrap();
    for (i, path) in TRICKY.iter().enumerate() {
        requests.labels(&[path, "200"]).inc_by(i as u64 + 1);
        expected.push(sample(
            "http_requests_total",
            &[("path", path), ("code", "200")],
            i as f64 + 1.0,
        ));
    }

    let latency = r
        .histogram(
            "request_duration_seconds",
            "Request latency.",
            &DEFAULT_BUCKETS,
        )
        .unwrap();
    let obs = [0.003, 0.02, 0.02, 0.3, 0.75, 4.0, 12.0];
    for v in obs {
        latency.observe(v);
    }
    histogram_samples(
        &mut expected,
        "request_duration_seconds",
        &[],
        &DEFAULT_BUCKETS,
        &obs,
    );

    // Many buckets, spanning tiny to huge bounds.
    let many: Vec<f64> = (0..40).map(|i| 1e-9 * 2f64.powi(i)).collect();
    let sizes = r
        .histogram_family(
            "payload_size_bytes",
            "Payload sizes.",
            &["direction"],
            &many,
        )
        .unwrap();
    let size_obs = [1e-9, 3e-6, 0.5, 100.0, 1e12];
    for v in size_obs {
        sizes.labels(&["in"]).observe(v);
    }
    histogram_samples(
        &mut expected,
        "payload_size_bytes",
        &[("direction", "in")],
        &many,
        &size_obs,
    );

    let queue: Arc<Family<Gauge>> = r
        .gauge_family("queue_depth", "Items waiting.", &["queue"])
        .unwrap();
    queue.labels(&["default"]).set(3.0);
    expected.push(sample("queue_depth", &[("queue", "default")], 3.0));

    r.register_shared(
        Desc::new("uptime_seconds", "Read at scrape time.").unit("seconds"),
        Kind::Gauge,
        Arc::new(FnGauge::new(|| 99.5)),
    )
    .unwrap();
    expected.push(sample("uptime_seconds", &[], 99.5));

    // A family at its cardinality limit shows its overflow series.
    let users = r
        .family::<Counter>(
            Desc::new("logins", "Logins by user.").labels(&["user"]),
            (),
            Some(2),
        )
        .unwrap();
    for u in ["ann", "bob", "cyd", "dan"] {
        users.labels(&[u]).inc();
    }
    expected.push(sample("logins_total", &[("user", "ann")], 1.0));
    expected.push(sample("logins_total", &[("user", "bob")], 1.0));
    expected.push(sample(
        "logins_total",
        &[("user", metrics_core::OVERFLOW_LABEL_VALUE)],
        2.0,
    ));

    (r, expected)
}

pub static RX_OK: Counter = Counter::new();
pub static RX_CRC: Counter = Counter::new();
pub static VOLTAGE: Gauge = Gauge::new();
const ISR_BUCKETS: [f64; 5] = metrics_core::exponential_buckets(1e-6, 10.0);
pub static ISR: metrics_core::Histogram<5> = metrics_core::Histogram::new(&ISR_BUCKETS);
static RX: StaticFamily<Counter> = StaticFamily::new(&[
    StaticSeries::new(&["ok"], &RX_OK),
    StaticSeries::new(&["crc_error"], &RX_CRC),
]);

/// A firmware-style registry: everything in statics.
pub static FIRMWARE: StaticRegistry = StaticRegistry::new(&[
    StaticEntry::family(
        Desc::new("uart_frames", "Frames received on UART0.").labels(&["result"]),
        &RX,
    ),
    StaticEntry::metric(
        Desc::new("supply_voltage_volts", "Supply voltage.").unit("volts"),
        &VOLTAGE,
    ),
    StaticEntry::metric(
        Desc::new("isr_duration_seconds", "Timer interrupt duration."),
        &ISR,
    ),
]);

/// Sets the firmware registry's values (idempotent) and returns its expected samples.
pub fn firmware_registry() -> (&'static StaticRegistry, Vec<Sample>) {
    RX_OK.reset();
    RX_OK.inc_by(7);
    RX_CRC.reset();
    RX_CRC.inc();
    VOLTAGE.set(3.3);
    let mut expected = vec![
        sample("uart_frames_total", &[("result", "ok")], 7.0),
        sample("uart_frames_total", &[("result", "crc_error")], 1.0),
        sample("supply_voltage_volts", &[], 3.3),
    ];
    // Observations are made once per process; the statics keep them.
    static ONCE: std::sync::Once = std::sync::Once::new();
    let obs = [2e-6, 5e-5, 0.5];
    ONCE.call_once(|| obs.iter().for_each(|v| ISR.observe(*v)));
    histogram_samples(
        &mut expected,
        "isr_duration_seconds",
        &[],
        ISR.bounds(),
        &obs,
    );
    (&FIRMWARE, expected)
}

/// The samples as JSON for `scripts/check_exposition.py`: floats that JSON cannot hold are
/// the strings `NaN`, `+Inf`, `-Inf`.
fn labels_json(labels: &[(String, String)]) -> serde_json::Map<String, serde_json::Value> {
    labels
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
        .collect()
}

fn exemplar_json((labels, value, timestamp): &ExpectedExemplar) -> serde_json::Value {
    serde_json::json!({ "labels": labels_json(labels), "value": value, "timestamp": timestamp })
}

pub fn to_json(samples: &[Sample]) -> String {
    let list: Vec<serde_json::Value> = samples
        .iter()
        .map(|s| {
            let value = if s.value.is_nan() {
                serde_json::Value::from("NaN")
            } else if s.value.is_infinite() {
                serde_json::Value::from(if s.value > 0.0 { "+Inf" } else { "-Inf" })
            } else {
                serde_json::Value::from(s.value)
            };
            let mut entry = serde_json::json!({ "name": s.name, "labels": labels_json(&s.labels), "value": value, "exemplar": null });
            if let Some(e) = &s.exemplar {
                entry["exemplar"] = exemplar_json(e);
            }
            entry
        })
        .collect();
    serde_json::to_string_pretty(&list).unwrap()
}

/// The chunked encoder's whole output with buffers of `size` bytes (64 buckets of capacity).
pub fn chunked<F: metrics_core::Families + ?Sized>(
    r: &F,
    format: metrics_core::Format,
    size: usize,
) -> String {
    String::from_utf8(chunked_bytes(r, format, size)).unwrap()
}

/// [`chunked`] for any format, the binary protobuf included.
pub fn chunked_bytes<F: metrics_core::Families + ?Sized>(
    r: &F,
    format: metrics_core::Format,
    size: usize,
) -> Vec<u8> {
    chunked_bytes_with(r, format, metrics_core::encoding::Options::new(), size)
}

/// [`chunked_bytes`] with encoder options (e.g. `created(false)`).
pub fn chunked_bytes_with<F: metrics_core::Families + ?Sized>(
    r: &F,
    format: metrics_core::Format,
    options: metrics_core::encoding::Options,
    size: usize,
) -> Vec<u8> {
    chunked_bytes_x::<F, { metrics_core::EXEMPLAR_BYTES }>(r, format, options, size)
}

/// [`chunked_bytes_with`] with an exemplar buffer of `X` bytes (`0`: no exemplars).
pub fn chunked_bytes_x<F: metrics_core::Families + ?Sized, const X: usize>(
    r: &F,
    format: metrics_core::Format,
    options: metrics_core::encoding::Options,
    size: usize,
) -> Vec<u8> {
    let mut enc: metrics_core::ChunkedEncoder<'_, F, 64, X> =
        metrics_core::ChunkedEncoder::with_options(r, format, options);
    let mut buf = vec![0u8; size];
    let mut out = Vec::new();
    loop {
        let n = enc.fill(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(n <= size);
        out.extend_from_slice(&buf[..n]);
    }
    assert!(enc.is_done());
    out
}

/// The workspace's root directory.
pub fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .into()
}

/// The Python of the venv `scripts/setup.sh` creates, or `PYTHON` when set.
pub fn python() -> std::path::PathBuf {
    std::env::var_os("PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"))
}

/// A native histogram's expected buckets, for `scripts/check_exposition.py`'s protobuf check.
#[derive(Debug, Clone)]
pub struct NativeExpect {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub schema: i8,
    pub zero_threshold: f64,
    pub zero_count: u64,
    /// (bucket index, count) of populated buckets, ascending.
    pub positive: Vec<(i32, u64)>,
    pub negative: Vec<(i32, u64)>,
    /// The exemplars of the histogram's `exemplars` field (those with a timestamp), in order.
    pub exemplars: Vec<ExpectedExemplar>,
}

impl NativeExpect {
    /// The native histogram `obs` make at `schema` with the default zero threshold, its
    /// buckets computed from the definition (bucket k of schema s holds
    /// (2^((k-1)/2^s), 2^(k/2^s)]), not from the core's index function; no exemplars.
    pub fn of(name: &str, labels: &[(&str, &str)], schema: i8, obs: &[f64]) -> NativeExpect {
        let zero_threshold = metrics_core::DEFAULT_NATIVE_ZERO_THRESHOLD;
        let side = |negative: bool| {
            let mut idx: Vec<i32> = obs
                .iter()
                .filter(|v| v.abs() > zero_threshold && (**v < 0.0) == negative)
                .map(|v| (v.abs().log2() * 2f64.powi(schema.into())).ceil() as i32)
                .collect();
            idx.sort();
            let mut b: Vec<(i32, u64)> = Vec::new();
            for k in idx {
                match b.last_mut() {
                    Some((last, n)) if *last == k => *n += 1,
                    _ => b.push((k, 1)),
                }
            }
            b
        };
        NativeExpect {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            schema,
            zero_threshold,
            zero_count: obs.iter().filter(|v| v.abs() <= zero_threshold).count() as u64,
            positive: side(false),
            negative: side(true),
            exemplars: Vec::new(),
        }
    }
}

/// A hand-written histogram snapshot with native buckets (and classic ones when `bounds` is
/// not empty): what the encoders must write whatever histogram type produces it.
#[derive(Debug, Clone)]
pub struct TestNative {
    pub bounds: Vec<f64>,
    /// Per classic bucket (not cumulative), `+Inf` last; one entry when `bounds` is empty.
    pub buckets: Vec<u64>,
    pub sum: f64,
    pub schema: i8,
    pub zero_threshold: f64,
    pub zero_count: u64,
    pub positive: Vec<(i32, u64)>,
    pub negative: Vec<(i32, u64)>,
    /// Series label value (the family has one label, `case`).
    pub case: &'static str,
    pub created: Option<f64>,
}

impl metrics_core::HistogramValue for TestNative {
    fn bounds(&self) -> &[f64] {
        &self.bounds
    }
    fn bucket(&self, i: usize) -> u64 {
        self.buckets[i]
    }
    fn sum(&self) -> f64 {
        self.sum
    }
    fn native(&self) -> Option<&dyn metrics_core::NativeHistogramValue> {
        Some(self)
    }
}

impl metrics_core::NativeHistogramValue for TestNative {
    fn schema(&self) -> i8 {
        self.schema
    }
    fn zero_threshold(&self) -> f64 {
        self.zero_threshold
    }
    fn zero_count(&self) -> u64 {
        self.zero_count
    }
    fn bucket_len(&self, side: metrics_core::Sign) -> usize {
        match side {
            metrics_core::Sign::Positive => self.positive.len(),
            metrics_core::Sign::Negative => self.negative.len(),
        }
    }
    fn bucket(&self, side: metrics_core::Sign, i: usize) -> (i32, u64) {
        match side {
            metrics_core::Sign::Positive => self.positive[i],
            metrics_core::Sign::Negative => self.negative[i],
        }
    }
}

/// A family of [`TestNative`] series (label `case`), with their start times.
pub struct NativeFamily(pub Vec<TestNative>);

impl metrics_core::Collect for NativeFamily {
    fn series_count(&self) -> usize {
        self.0.len()
    }
    fn collect(
        &self,
        index: usize,
        visit: &mut metrics_core::Visitor<'_>,
    ) -> Result<(), metrics_core::Error> {
        if let Some(h) = self.0.get(index) {
            visit(
                metrics_core::StrList::Borrowed(&[h.case]),
                metrics_core::Value::Histogram(h),
            )?;
        }
        Ok(())
    }
    fn label_count(&self) -> usize {
        1
    }
    fn created(&self, index: usize) -> Option<f64> {
        self.0.get(index).and_then(|h| h.created)
    }
}

/// Native histograms in every shape (native only and with classic buckets, both signs, gaps
/// between populated buckets, a zero bucket, none observed yet, schemas -4 and 8), counters
/// with start times, and the samples and native buckets they expose.
pub fn native_registry() -> (Registry, Vec<Sample>, Vec<NativeExpect>) {
    let mut r = Registry::new();
    let mut samples = Vec::new();
    let mut natives = Vec::new();
    let series = vec![
        // Native only: both signs, a gap of one and of many buckets, a zero bucket.
        TestNative {
            bounds: vec![],
            buckets: vec![14],
            sum: 3.25,
            schema: 3,
            zero_threshold: 2.938735877055719e-39,
            zero_count: 2,
            positive: vec![(-2, 1), (-1, 3), (1, 2), (2, 1), (40, 1)],
            negative: vec![(0, 2), (5, 2)],
            case: "native_only",
            created: Some(1_700_000_000.25),
        },
        // Classic and native buckets of the same observations.
        TestNative {
            bounds: vec![0.5, 1.0, 2.5],
            buckets: vec![1, 2, 0, 1],
            sum: 4.75,
            schema: 0,
            zero_threshold: 0.0,
            zero_count: 0,
            positive: vec![(-1, 1), (0, 2), (3, 1)],
            negative: vec![],
            case: "classic_and_native",
            created: None,
        },
        // Nothing observed yet, zero threshold 0: the no-op span makes it native.
        TestNative {
            bounds: vec![],
            buckets: vec![0],
            sum: 0.0,
            schema: 8,
            zero_threshold: 0.0,
            zero_count: 0,
            positive: vec![],
            negative: vec![],
            case: "empty",
            created: None,
        },
        // Only the zero bucket, the widest schema, a huge count and sum.
        TestNative {
            bounds: vec![],
            buckets: vec![1 << 40],
            sum: 1e300,
            schema: -4,
            zero_threshold: 1e-3,
            zero_count: 1 << 40,
            positive: vec![],
            negative: vec![],
            case: "zero_bucket_only",
            created: None,
        },
    ];
    for h in &series {
        let labels = [("case", h.case)];
        if h.bounds.is_empty() {
            let count: u64 = h.buckets.iter().sum();
            samples.push(sample(
                "rpc_latency_seconds_bucket",
                &[("case", h.case), ("le", "+Inf")],
                count as f64,
            ));
            samples.push(sample("rpc_latency_seconds_sum", &labels, h.sum));
            samples.push(sample("rpc_latency_seconds_count", &labels, count as f64));
        } else {
            let mut obs_at = Vec::new();
            let mut acc = 0;
            for (i, le) in h.bounds.iter().chain([&f64::INFINITY]).enumerate() {
                acc += h.buckets[i];
                obs_at.push((*le, acc));
            }
            for (le, n) in obs_at {
                let le = if le.is_infinite() {
                    "+Inf".to_string()
                } else {
                    format!("{le:?}")
                };
                samples.push(sample(
                    "rpc_latency_seconds_bucket",
                    &[("case", h.case), ("le", &le)],
                    n as f64,
                ));
            }
            samples.push(sample("rpc_latency_seconds_sum", &labels, h.sum));
            samples.push(sample("rpc_latency_seconds_count", &labels, acc as f64));
        }
        if let Some(c) = h.created {
            samples.push(sample("rpc_latency_seconds_created", &labels, c));
        }
        natives.push(NativeExpect {
            name: "rpc_latency_seconds".into(),
            labels: vec![("case".into(), h.case.into())],
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            zero_count: h.zero_count,
            positive: h.positive.clone(),
            negative: h.negative.clone(),
            exemplars: Vec::new(),
        });
    }
    r.register_shared(
        Desc::new("rpc_latency_seconds", "RPC latency.")
            .labels(&["case"])
            .unit("seconds"),
        Kind::Histogram,
        Arc::new(NativeFamily(series)),
    )
    .unwrap();

    // The core's own native histograms: a family with classic buckets too, and a native-only
    // one.
    let config = metrics_core::NativeConfig::new(3, 160)
        .unwrap()
        .classic(&[0.1, 1.0])
        .unwrap();
    let steps = r
        .native_histogram_family("step_seconds", "Step durations.", &["step"], config)
        .unwrap();
    let obs = [0.003, 0.3, 0.3, 1.7, -0.5, 0.0];
    for v in obs {
        steps.labels(&["build"]).observe(v);
    }
    histogram_samples(
        &mut samples,
        "step_seconds",
        &[("step", "build")],
        &[0.1, 1.0],
        &obs,
    );
    natives.push(NativeExpect::of(
        "step_seconds",
        &[("step", "build")],
        3,
        &obs,
    ));
    let sizes = r
        .native_histogram(
            "frame_bytes",
            "Frame sizes.",
            &metrics_core::NativeConfig::new(0, 160).unwrap(),
        )
        .unwrap();
    let obs = [3.0, 5.0, 1000.0, 1000.0];
    for v in obs {
        sizes.observe(v);
    }
    histogram_samples(&mut samples, "frame_bytes", &[], &[], &obs);
    natives.push(NativeExpect::of("frame_bytes", &[], 0, &obs));

    // Counters with start times: one message per series; a gauge family after them.
    let runs = Arc::new(Family::<Counter>::new(1, 100, ()));
    runs.labels(&["ok"]).inc_by(3);
    runs.labels(&["fail"]).inc();
    r.register_shared(
        Desc::new("runs", "Runs by result.").labels(&["result"]),
        Kind::Counter,
        started(runs, 1.7e9),
    )
    .unwrap();
    for (i, result) in ["ok", "fail"].iter().enumerate() {
        let labels = [("result", *result)];
        samples.push(sample("runs_total", &labels, [3.0, 1.0][i]));
        samples.push(sample("runs_created", &labels, 1.7e9 + i as f64));
    }
    let g = r.gauge("pressure_pascals", "").unwrap();
    g.set(-0.0);
    samples.push(sample("pressure_pascals", &[], -0.0));
    (r, samples, natives)
}

/// `inner` with a start time on each of its series (series `i` started at `t0 + i`), to
/// register.
pub fn started<C: metrics_core::Collect>(
    inner: Arc<C>,
    t0: f64,
) -> Arc<metrics_core::WithCreated<Arc<C>, impl Fn(usize) -> Option<f64> + Send + Sync>> {
    Arc::new(metrics_core::WithCreated::new(inner, move |i| {
        Some(t0 + i as f64)
    }))
}

/// The native buckets as JSON for `scripts/check_exposition.py --native`.
pub fn natives_json(natives: &[NativeExpect]) -> String {
    let list: Vec<serde_json::Value> = natives
        .iter()
        .map(|n| {
            serde_json::json!({
                "name": n.name,
                "labels": labels_json(&n.labels),
                "schema": n.schema,
                "zero_threshold": n.zero_threshold,
                "zero_count": n.zero_count,
                "positive": n.positive,
                "negative": n.negative,
                "exemplars": n.exemplars.iter().map(exemplar_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::to_string_pretty(&list).unwrap()
}

/// When the exemplar registry's counters and histograms started (`_created`).
pub const EXEMPLAR_CREATED: f64 = 1_700_000_000.5;

fn with_exemplar(
    mut s: Sample,
    labels: &[(&str, &str)],
    value: f64,
    timestamp: Option<f64>,
) -> Sample {
    s.exemplar = Some((
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        value,
        timestamp,
    ));
    s
}

/// A registry with exemplars on a counter, a labelled counter family and a labelled
/// histogram family (escaping in exemplar label values, with and without timestamps), a
/// plain counter beside them, and `_created` on the families; and the samples (exemplars
/// included) OpenMetrics exposes.
pub fn exemplar_registry() -> (Registry, Vec<Sample>) {
    use metrics_core::{CounterWithExemplar, DynHistogramWithExemplars};
    let mut r = Registry::new();
    let mut expected = Vec::new();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";

    let jobs = r
        .register(Desc::new("jobs", "Jobs run."), CounterWithExemplar::new())
        .unwrap();
    jobs.inc_by_with_exemplar(2, &[("trace_id", trace)], Some(1_700_000_000.123))
        .unwrap();
    jobs.inc();
    expected.push(with_exemplar(
        sample("jobs_total", &[], 3.0),
        &[("trace_id", trace)],
        2.0,
        Some(1_700_000_000.123),
    ));

    let plain = r.counter("plain", "No exemplars.").unwrap();
    plain.inc();
    expected.push(sample("plain_total", &[], 1.0));

    let steps = Arc::new(Family::<CounterWithExemplar>::new(1, 100, ()));
    r.register_shared(
        Desc::new("steps", "Steps by status.").labels(&["status"]),
        Kind::Counter,
        started(steps.clone(), EXEMPLAR_CREATED),
    )
    .unwrap();
    let tricky = "a \"quoted\" \\ value\nwith ☃";
    steps
        .labels(&["OK"])
        .inc_with_exemplar(&[("run_id", tricky), ("trace_id", trace)], None)
        .unwrap();
    steps.labels(&["FAIL"]).inc_by(4);
    expected.push(with_exemplar(
        sample("steps_total", &[("status", "OK")], 1.0),
        &[("run_id", tricky), ("trace_id", trace)],
        1.0,
        None,
    ));
    expected.push(sample(
        "steps_created",
        &[("status", "OK")],
        EXEMPLAR_CREATED,
    ));
    expected.push(sample("steps_total", &[("status", "FAIL")], 4.0));
    expected.push(sample(
        "steps_created",
        &[("status", "FAIL")],
        EXEMPLAR_CREATED + 1.0,
    ));

    let bounds = [0.1, 1.0];
    let latency = Arc::new(Family::<DynHistogramWithExemplars>::new(
        1,
        100,
        DynHistogramWithExemplars::new(&bounds)
            .unwrap()
            .histogram()
            .bounds()
            .into(),
    ));
    r.register_shared(
        Desc::new("latency_seconds", "Latency.")
            .unit("seconds")
            .labels(&["method"]),
        Kind::Histogram,
        started(latency.clone(), EXEMPLAR_CREATED),
    )
    .unwrap();
    let get = latency.labels(&["GET"]);
    get.observe_with_exemplar(0.05, &[("run_id", "r1")], Some(1_700_000_001.0))
        .unwrap();
    get.observe(0.07);
    get.observe_with_exemplar(0.5, &[("run_id", "r2")], None)
        .unwrap();
    get.observe_with_exemplar(7.25, &[("run_id", "r3")], Some(1_700_000_002.25))
        .unwrap();
    let obs = [0.05, 0.07, 0.5, 7.25];
    let mut lines = Vec::new();
    histogram_samples(
        &mut lines,
        "latency_seconds",
        &[("method", "GET")],
        &bounds,
        &obs,
    );
    let exemplars = [
        (&[("run_id", "r1")], 0.05, Some(1_700_000_001.0)),
        (&[("run_id", "r2")], 0.5, None),
        (&[("run_id", "r3")], 7.25, Some(1_700_000_002.25)),
    ];
    for (i, s) in lines.into_iter().enumerate() {
        expected.push(match exemplars.get(i) {
            Some((l, v, t)) => with_exemplar(s, *l, *v, *t),
            None => s,
        });
    }
    expected.push(sample(
        "latency_seconds_created",
        &[("method", "GET")],
        EXEMPLAR_CREATED,
    ));
    (r, expected)
}

/// A registry built for UTF-8 names (OpenTelemetry's CI/CD names, a name that needs quoting
/// escapes) beside a legacy family, and the samples it exposes with `allow-utf-8` (names as
/// they are) and with `underscores` (the default escaping).
pub fn utf8_registry() -> (Registry, Vec<Sample>, Vec<Sample>) {
    use metrics_core::DynHistogram;
    let mut r = Registry::utf8();
    let (mut utf8, mut underscores) = (Vec::new(), Vec::new());
    let errors = r
        .family::<Counter>(
            Desc::try_new_utf8("cicd.pipeline.run.errors", "Errors in runs.")
                .unwrap()
                .try_labels_utf8(&["cicd.pipeline.name", "error.type"])
                .unwrap(),
            (),
            None,
        )
        .unwrap();
    errors.labels(&["Build and Test", "timeout"]).inc_by(2);
    utf8.push(sample(
        "cicd.pipeline.run.errors_total",
        &[
            ("cicd.pipeline.name", "Build and Test"),
            ("error.type", "timeout"),
        ],
        2.0,
    ));
    underscores.push(sample(
        "cicd_pipeline_run_errors_total",
        &[
            ("cicd_pipeline_name", "Build and Test"),
            ("error_type", "timeout"),
        ],
        2.0,
    ));
    let bounds = [1.0, 10.0];
    let duration = r
        .family::<DynHistogram>(
            Desc::try_new_utf8("cicd.pipeline.run.duration", "Run durations.")
                .unwrap()
                .try_labels_utf8(&["cicd.pipeline.name"])
                .unwrap(),
            DynHistogram::new(&bounds).unwrap().bounds().into(),
            None,
        )
        .unwrap();
    for v in [0.5, 20.0] {
        duration.labels(&["Lint"]).observe(v);
    }
    histogram_samples(
        &mut utf8,
        "cicd.pipeline.run.duration",
        &[("cicd.pipeline.name", "Lint")],
        &bounds,
        &[0.5, 20.0],
    );
    histogram_samples(
        &mut underscores,
        "cicd_pipeline_run_duration",
        &[("cicd_pipeline_name", "Lint")],
        &bounds,
        &[0.5, 20.0],
    );
    let odd = r
        .register(
            Desc::try_new_utf8("temperature \"in\" °C", "A name to quote.").unwrap(),
            Gauge::new(),
        )
        .unwrap();
    odd.set(21.5);
    utf8.push(sample("temperature \"in\" °C", &[], 21.5));
    underscores.push(sample("temperature__in___C", &[], 21.5));
    let plain = r
        .counter_family(
            "http_requests",
            "Legacy names: the same under every scheme.",
            &["method"],
        )
        .unwrap();
    plain.labels(&["GET"]).inc();
    for v in [&mut utf8, &mut underscores] {
        v.push(sample("http_requests_total", &[("method", "GET")], 1.0));
    }
    (r, utf8, underscores)
}

/// Native histograms with exemplars: a family member with classic buckets too (an exemplar
/// with a timestamp in bucket `le="1"`, one without in `+Inf`) and a native-only histogram (one
/// with a timestamp, one without: the last one set is kept). The samples (classic exemplars
/// included) and the native buckets with the exemplars of the `exemplars` field: only those
/// with a timestamp, as Prometheus takes them.
pub fn native_exemplar_registry() -> (Registry, Vec<Sample>, Vec<NativeExpect>) {
    use metrics_core::{DynNativeHistogram, NativeConfig, WithExemplars};
    let mut r = Registry::new();
    let mut samples = Vec::new();
    let mut natives = Vec::new();
    let trace = |id: &str| vec![("trace_id".to_string(), id.to_string())];

    let bounds = [1.0];
    let config = NativeConfig::new(3, 160).unwrap().classic(&bounds).unwrap();
    let steps = Arc::new(Family::<WithExemplars<DynNativeHistogram>>::new(
        1, 100, config,
    ));
    r.register_shared(
        Desc::new("step_seconds", "Step durations.")
            .unit("seconds")
            .labels(&["step"]),
        Kind::Histogram,
        steps.clone(),
    )
    .unwrap();
    let build = steps.labels(&["build"]);
    build
        .observe_with_exemplar(0.5, &[("trace_id", "a1")], Some(1_700_000_001.5))
        .unwrap();
    build.observe(0.75);
    build
        .observe_with_exemplar(3.0, &[("trace_id", "b2")], None)
        .unwrap();
    let obs = [0.5, 0.75, 3.0];
    let mut lines = Vec::new();
    histogram_samples(
        &mut lines,
        "step_seconds",
        &[("step", "build")],
        &bounds,
        &obs,
    );
    lines[0].exemplar = Some((trace("a1"), 0.5, Some(1_700_000_001.5)));
    lines[1].exemplar = Some((trace("b2"), 3.0, None));
    samples.extend(lines);
    natives.push(NativeExpect {
        exemplars: vec![(trace("a1"), 0.5, Some(1_700_000_001.5))],
        ..NativeExpect::of("step_seconds", &[("step", "build")], 3, &obs)
    });

    let native_only = r
        .register(
            Desc::new("frame_bytes", "Frame sizes."),
            WithExemplars::wrap(DynNativeHistogram::new(&NativeConfig::new(0, 160).unwrap())),
        )
        .unwrap();
    native_only
        .observe_with_exemplar(100.0, &[("trace_id", "c3")], None)
        .unwrap();
    native_only
        .observe_with_exemplar(-5.0, &[("trace_id", "d4")], Some(1_700_000_002.0))
        .unwrap();
    let obs = [100.0, -5.0];
    histogram_samples(&mut samples, "frame_bytes", &[], &[], &obs);
    natives.push(NativeExpect {
        exemplars: vec![(trace("d4"), -5.0, Some(1_700_000_002.0))],
        ..NativeExpect::of("frame_bytes", &[], 0, &obs)
    });
    (r, samples, natives)
}
