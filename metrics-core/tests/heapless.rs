//! Fixed-capacity families (`heapless` feature) through every encoder: golden text in both
//! formats, the chunked encoder byte for byte against the streaming one at every buffer size,
//! and the output read back with the core's parser (the overflow series included).
//! Regenerate the golden files after an intended change with
//! `UPDATE_GOLDEN=1 cargo test -p metrics-core --test heapless` and review the diff.

mod common;

use std::path::PathBuf;

use metrics_core::parse::{Line, Parser};
use metrics_core::{
    encode, Counter, Desc, Format, Gauge, HeaplessFamily, Histogram, StaticEntry, StaticRegistry,
};

static ERRORS: HeaplessFamily<Counter, 3, 2, 8> = HeaplessFamily::counters();
static TEMPS: HeaplessFamily<Gauge, 4, 1, 12> = HeaplessFamily::gauges();
static LATENCY: HeaplessFamily<Histogram<3>, 2, 1, 8> =
    HeaplessFamily::histograms(&[0.001, 0.01, 0.1]);

static REGISTRY: StaticRegistry = StaticRegistry::new(&[
    StaticEntry::heapless_family(
        Desc::new("uart_errors", "UART errors by code and port.").labels(&["code", "port"]),
        &ERRORS,
    ),
    StaticEntry::heapless_family(
        Desc::new("sensor_temperature_celsius", "Readings by sensor id.")
            .unit("celsius")
            .labels(&["sensor"]),
        &TEMPS,
    ),
    StaticEntry::heapless_family(
        Desc::new("request_seconds", "Handler time by route.")
            .unit("seconds")
            .labels(&["route"]),
        &LATENCY,
    ),
]);

/// Fills the families once (the statics are shared by the tests of this file).
fn registry() -> &'static StaticRegistry {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        ERRORS.labels(&["E1", "uart0"]).inc_by(3);
        ERRORS.labels(&["E\"2\\", "uart1"]).inc();
        ERRORS.labels(&["E3", "uart0"]).inc_by(2);
        // Past the capacity of 3: the overflow series.
        ERRORS.labels(&["E4", "uart0"]).inc();
        ERRORS.labels(&["E5", "uart1"]).inc();
        TEMPS.labels(&["28-00000a1b"]).set(21.5);
        TEMPS.labels(&["28-00000c2d"]).set(-4.25);
        // 13 bytes, longer than the 12 the family stores: the overflow series too.
        TEMPS.labels(&["28-00000e3f-x"]).set(99.0);
        for v in [0.0005, 0.002, 0.5] {
            LATENCY.labels(&["/metrics"]).observe(v);
        }
        LATENCY.labels(&["/\n"]).observe(0.05);
    });
    &REGISTRY
}

fn encoded(format: Format) -> String {
    let mut out = String::new();
    encode(registry(), format, &mut out).unwrap();
    out
}

fn check_golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(expected, actual, "{name}");
}

#[test]
fn heapless_families_golden_text() {
    check_golden("heapless.prom", &encoded(Format::Text));
    check_golden("heapless.om.txt", &encoded(Format::OpenMetrics));
}

#[test]
fn heapless_families_chunked_equals_streaming_at_every_buffer_size() {
    for format in [Format::Text, Format::OpenMetrics] {
        let whole = encoded(format);
        for size in 1..=whole.len() + 1 {
            assert_eq!(
                common::chunked(registry(), format, size),
                whole,
                "{format:?}, {size}-byte buffer"
            );
        }
    }
}

#[test]
fn heapless_families_parse_back_with_overflow_series() {
    for format in [Format::Text, Format::OpenMetrics] {
        let text = encoded(format);
        let mut samples = Vec::new();
        for line in Parser::new(&text) {
            if let Line::Sample(s) = line.unwrap_or_else(|e| panic!("{e} in:\n{text}")) {
                let labels: Vec<String> = s
                    .labels()
                    .map(|l| {
                        let (n, v) = l.unwrap();
                        let mut value = String::new();
                        v.write_to(&mut value).unwrap();
                        format!("{n}={value}")
                    })
                    .collect();
                samples.push((s.name.to_string(), labels.join(","), s.value));
            }
        }
        let find = |name: &str, labels: &str| {
            samples
                .iter()
                .find(|(n, l, _)| n == name && l == labels)
                .unwrap_or_else(|| panic!("{name}{{{labels}}} missing in:\n{text}"))
                .2
        };
        assert_eq!(find("uart_errors_total", "code=E1,port=uart0"), 3.0);
        assert_eq!(find("uart_errors_total", "code=E\"2\\,port=uart1"), 1.0);
        assert_eq!(
            find("uart_errors_total", "code=__overflow__,port=__overflow__"),
            2.0
        );
        assert_eq!(
            find("sensor_temperature_celsius", "sensor=__overflow__"),
            99.0
        );
        assert_eq!(find("request_seconds_count", "route=/metrics"), 3.0);
        assert_eq!(
            find("request_seconds_bucket", "route=/metrics,le=+Inf"),
            3.0
        );
        assert_eq!(find("request_seconds_bucket", "route=/\n,le=0.1"), 1.0);
        let series = samples
            .iter()
            .filter(|(n, _, _)| n == "uart_errors_total")
            .count();
        assert_eq!(series, 4, "3 series and the overflow series");
    }
}

/// Native histograms in a fixed-capacity family: each series its own slot table (no heap),
/// the overflow series past the capacity; the buckets read back through `Collect`.
#[test]
fn native_histogram_family() {
    use metrics_core::{native_bucket_index, Collect, NativeHistogram, Sign, Value};
    static NATIVE: HeaplessFamily<NativeHistogram<8>, 1, 1, 8> =
        HeaplessFamily::native_histograms(2, 0.0);
    NATIVE.labels(&["a"]).observe(0.3);
    NATIVE.labels(&["a"]).observe(3.0);
    NATIVE.labels(&["b"]).observe(-7.0); // past the capacity of 1: the overflow series
    assert!(NATIVE.overflowed());
    let mut seen = Vec::new();
    for i in 0..NATIVE.series_count() {
        NATIVE
            .collect(i, &mut |labels, v| {
                let Value::Histogram(h) = v else {
                    panic!("not a histogram")
                };
                let n = h.native().expect("native buckets");
                assert_eq!(n.schema(), 2);
                let side = |s| {
                    (0..n.bucket_len(s))
                        .map(|i| n.bucket(s, i))
                        .collect::<Vec<_>>()
                };
                seen.push((
                    labels.get(0).to_string(),
                    h.count(),
                    side(Sign::Positive),
                    side(Sign::Negative),
                ));
                Ok(())
            })
            .unwrap();
    }
    let idx = |v: f64| native_bucket_index(v, 2);
    assert_eq!(
        seen,
        [
            (
                "a".to_string(),
                2,
                vec![(idx(0.3), 1), (idx(3.0), 1)],
                vec![]
            ),
            ("__overflow__".to_string(), 1, vec![], vec![(idx(7.0), 1)]),
        ]
    );
}
