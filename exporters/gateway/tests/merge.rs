//! Merging devices' expositions: read with the core's parser, relabelled with `device`,
//! written by the core's encoders, and read back (by the core's parser here, by promtool in
//! the ignored test).

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::{key, samples};
use metrics_core::negotiate::Negotiated;
use metrics_core::{Format, Kind};
use metrics_gateway::exposition;
use metrics_gateway::family::encode;
use metrics_gateway::limits::{self, Limits};
use metrics_gateway::merge::merge;
use metrics_gateway::poller::Status;
use metrics_gateway::render;
use proptest::prelude::*;

/// What a firmware sends: text format, a counter, a gauge, a labelled histogram.
const DEVICE_A: &str = r#"# HELP uart_rx_bytes_total Bytes received.
# TYPE uart_rx_bytes_total counter
uart_rx_bytes_total 1234
# HELP temperature_celsius Die temperature.
# TYPE temperature_celsius gauge
temperature_celsius{sensor="core"} 41.5
# HELP tick_seconds Time in the timer interrupt.
# TYPE tick_seconds histogram
tick_seconds_bucket{irq="timer",le="0.001"} 3
tick_seconds_bucket{irq="timer",le="0.01"} 5
tick_seconds_bucket{irq="timer",le="+Inf"} 6
tick_seconds_sum{irq="timer"} 0.25
tick_seconds_count{irq="timer"} 6
"#;

/// Another device, in OpenMetrics, with the same counter family, a label value that needs
/// escaping, and its own `device` label.
const DEVICE_B: &str = "# TYPE uart_rx_bytes counter\n# HELP uart_rx_bytes Bytes in.\n\
uart_rx_bytes_total 77\nuart_rx_bytes_created 1.7e9\n\
# TYPE temperature_celsius gauge\ntemperature_celsius{sensor=\"a \\\"quoted\\\" \\\\ name\\nline\",device=\"inner\"} -3.25\n# EOF\n";

fn merged(format: Format) -> String {
    let a = exposition::read(DEVICE_A).unwrap();
    let b = exposition::read(DEVICE_B).unwrap();
    let (families, dropped) = merge(Vec::new(), &[("board-a", &a), ("board-b", &b)]);
    assert!(dropped.is_empty(), "{dropped:?}");
    let mut out = Vec::new();
    encode(&families, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn reads_a_device_exposition() {
    let a = exposition::read(DEVICE_A).unwrap();
    let names: Vec<(&str, Kind)> = a.iter().map(|f| (f.name.as_str(), f.kind)).collect();
    assert_eq!(
        names,
        [
            ("uart_rx_bytes", Kind::Counter),
            ("temperature_celsius", Kind::Gauge),
            ("tick_seconds", Kind::Histogram)
        ]
    );
    assert_eq!(a[0].help, "Bytes received.");
    let b = exposition::read(DEVICE_B).unwrap();
    assert_eq!(b[0].name, "uart_rx_bytes");
    assert_eq!(b[0].series.len(), 1, "_created is not a series");
    assert_eq!(&*b[1].series[0].labels[0], "a \"quoted\" \\ name\nline");
}

#[test]
fn same_family_from_two_devices_is_one_family_with_device_labels() {
    for format in [Format::Text, Format::OpenMetrics] {
        let text = merged(format);
        let s = samples(&text);
        assert_eq!(
            s[&key("uart_rx_bytes_total", &[("device", "board-a")])],
            1234.0
        );
        assert_eq!(
            s[&key("uart_rx_bytes_total", &[("device", "board-b")])],
            77.0
        );
        assert_eq!(
            s[&key(
                "temperature_celsius",
                &[
                    ("device", "board-b"),
                    ("sensor", "a \"quoted\" \\ name\nline"),
                    ("exported_device", "inner")
                ]
            )],
            -3.25
        );
        // board-a's series has no exported_device label: written empty, read as absent.
        assert_eq!(
            s[&key(
                "temperature_celsius",
                &[
                    ("device", "board-a"),
                    ("sensor", "core"),
                    ("exported_device", "")
                ]
            )],
            41.5
        );
        let bucket = |le: &str| {
            s[&key(
                "tick_seconds_bucket",
                &[("device", "board-a"), ("irq", "timer"), ("le", le)],
            )]
        };
        let inf = bucket("+Inf");
        assert_eq!(inf, 6.0);
        assert_eq!(
            s[&key(
                "tick_seconds_count",
                &[("device", "board-a"), ("irq", "timer")]
            )],
            inf
        );
        assert_eq!(
            s[&key(
                "tick_seconds_sum",
                &[("device", "board-a"), ("irq", "timer")]
            )],
            0.25
        );
        assert_eq!(bucket("0.01"), 5.0);
        assert_eq!(text.matches("# HELP uart_rx_bytes").count(), 1, "{text}");
        assert_eq!(text.ends_with("# EOF\n"), format == Format::OpenMetrics);
        // Label escaping as written by the encoder.
        assert!(
            text.contains(r#"sensor="a \"quoted\" \\ name\nline""#),
            "{text}"
        );
    }
}

#[test]
fn conflicting_and_invalid_families_are_dropped_not_served() {
    let a = exposition::read("# TYPE x gauge\nx 1\n").unwrap();
    let b = exposition::read(
        "# TYPE x counter\nx_total 2\n# TYPE gateway_device_up gauge\ngateway_device_up 5\n",
    )
    .unwrap();
    let own = render::health(&[("a".into(), Status::default())]);
    let (families, dropped) = merge(own, &[("a", &a), ("b", &b)]);
    let reasons: Vec<(&str, &str)> = dropped
        .iter()
        .map(|d| (d.device.as_str(), d.family.as_str()))
        .collect();
    assert_eq!(reasons, [("b", "x"), ("b", "gateway_device_up")]);
    let mut out = Vec::new();
    encode(&families, Format::Text, &mut out).unwrap();
    let s = samples(std::str::from_utf8(&out).unwrap());
    assert_eq!(s[&key("x", &[("device", "a")])], 1.0);
    assert_eq!(s[&key("gateway_device_up", &[("device", "a")])], 0.0);
    // x, and the health of a: 5 gauges and counters (no last success yet), 3 dropped-series
    // and 3 rejected-answer reasons.
    assert_eq!(s.len(), 12, "{s:?}");

    // Served: the count of dropped families per device.
    let statuses = [
        ("a".to_owned(), status(true, "# TYPE x gauge\nx 1\n")),
        (
            "b".to_owned(),
            status(true, "# TYPE x counter\nx_total 2\n# TYPE y gauge\ny 3\n"),
        ),
    ];
    let text = String::from_utf8(render::render(&statuses, &Negotiated::DEFAULT)).unwrap();
    let s = samples(&text);
    let dropped = |d: &str| s[&key("gateway_device_dropped_families", &[("device", d)])];
    assert_eq!((dropped("a"), dropped("b")), (0.0, 1.0), "{text}");
    assert_eq!(s[&key("y", &[("device", "b")])], 3.0);
    assert!(
        !s.contains_key(&key("x_total", &[("device", "b")])),
        "{text}"
    );
}

/// Families whose names differ but whose samples would share a name (a gauge `x_total`
/// beside a counter `x`, a gauge `h_sum` beside a histogram `h`, the gateway's own counters),
/// from two devices or within one: the first keeps the name, the others are dropped, and the
/// page has each sample name under one TYPE line.
#[test]
fn families_whose_sample_names_clash_are_dropped() {
    let a = exposition::read(
        "# TYPE x counter\nx_total 1\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 2\n\
         h_count 1\n# TYPE w gauge\nw 1\nx_total 9\n",
    )
    .unwrap();
    // Within a: `x_total 9` after another family is an untyped family of its own.
    assert_eq!(a.len(), 4, "{a:?}");
    let b = exposition::read(
        "# TYPE x_total gauge\nx_total 2\n# TYPE h_sum gauge\nh_sum 3\n# TYPE h_count counter\n\
         h_count_total 4\n# TYPE gateway_device_up_total gauge\ngateway_device_up_total 1\n\
         # TYPE gateway_device_frame_errors_total gauge\ngateway_device_frame_errors_total 5\n\
         # TYPE y gauge\ny 6\n",
    )
    .unwrap();
    let own = render::health(&[("a".into(), Status::default())]);
    let (families, dropped) = merge(own, &[("a", &a), ("b", &b)]);
    let reasons: Vec<(&str, &str, &str)> = dropped
        .iter()
        .map(|d| (d.device.as_str(), d.family.as_str(), d.reason))
        .collect();
    let clash = "a sample name it writes is another family's";
    assert_eq!(
        reasons,
        [
            ("a", "x_total", clash),
            ("b", "x_total", clash),
            ("b", "h_sum", clash),
            ("b", "h_count", clash),
            ("b", "gateway_device_frame_errors_total", clash),
        ]
    );
    for format in [Format::Text, Format::OpenMetrics] {
        let mut out = Vec::new();
        encode(&families, format, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let s = samples(&text);
        assert_eq!(s[&key("x_total", &[("device", "a")])], 1.0);
        assert_eq!(s[&key("h_sum", &[("device", "a")])], 2.0);
        assert_eq!(s[&key("y", &[("device", "b")])], 6.0);
        // `gateway_device_up_total` writes no name of the gateway's own gauge.
        assert_eq!(s[&key("gateway_device_up_total", &[("device", "b")])], 1.0);
        for name in [
            "x_total",
            "h_sum",
            "h_count",
            "gateway_device_frame_errors_total",
        ] {
            let types = text
                .lines()
                .filter(|l| l.starts_with(&format!("# TYPE {name} ")))
                .count();
            assert!(types <= 1, "{name}: {types} TYPE lines\n{text}");
            assert!(
                !s.keys()
                    .any(|(n, l)| n == name && l.contains(&("device".into(), "b".into()))),
                "{name} of b served\n{text}"
            );
        }
    }
}

/// A device that gives no HELP for a shared family does not blank another device's.
#[test]
fn help_comes_from_the_first_device_that_gives_one() {
    let a = exposition::read("# TYPE t gauge\nt 1\n").unwrap();
    let b = exposition::read("# HELP t Die temperature.\n# TYPE t gauge\nt 2\n").unwrap();
    let (families, _) = merge(Vec::new(), &[("a", &a), ("b", &b)]);
    assert_eq!(families[0].help, "Die temperature.");
}

#[test]
fn errors_name_the_line() {
    let e = exposition::read("# TYPE a gauge\n\n\na 1\n# TYPE b counter\nb_total{le=\"1\"} 2\n")
        .unwrap_err();
    assert_eq!(e.line, 6, "{e}");
    assert_eq!(
        e.to_string(),
        "invalid exposition, line 6: `le` is only allowed on histogram buckets"
    );
}

#[test]
fn broken_expositions_are_errors() {
    for bad in [
        "x{a=\"1\" 2\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\n",
        "x 1\nx 2\n",
    ] {
        assert!(exposition::read(bad).is_err(), "{bad:?}");
    }
}

fn status(up: bool, text: &str) -> Status {
    Status {
        up,
        families: Arc::new(exposition::read(text).unwrap()),
        duration: 0.125,
        frame_errors: 2,
        failures: u64::from(!up),
        last_success: Some(1_700_000_000.5),
        ..Status::default()
    }
}

#[test]
fn a_down_device_shows_only_its_health() {
    let statuses = [
        ("a".to_owned(), status(true, DEVICE_A)),
        ("b".to_owned(), status(false, DEVICE_B)),
    ];
    let text = String::from_utf8(render::render(&statuses, &Negotiated::DEFAULT)).unwrap();
    let s = samples(&text);
    assert_eq!(s[&key("gateway_device_up", &[("device", "a")])], 1.0);
    assert_eq!(s[&key("gateway_device_up", &[("device", "b")])], 0.0);
    assert_eq!(
        s[&key("gateway_device_frame_errors_total", &[("device", "b")])],
        2.0
    );
    assert_eq!(
        s[&key("gateway_device_scrape_failures_total", &[("device", "b")])],
        1.0
    );
    assert_eq!(
        s[&key("gateway_device_scrape_duration_seconds", &[("device", "a")])],
        0.125
    );
    assert_eq!(
        s[&key(
            "gateway_device_last_success_timestamp_seconds",
            &[("device", "a")]
        )],
        1_700_000_000.5
    );
    assert!(s.contains_key(&key("uart_rx_bytes_total", &[("device", "a")])));
    let b_label = ("device".to_owned(), "b".to_owned());
    let stale: Vec<_> = s
        .keys()
        .filter(|(n, l)| !n.starts_with("gateway_device_") && l.contains(&b_label))
        .collect();
    assert!(stale.is_empty(), "served as if fresh: {stale:?}");
    assert!(!text.contains("device=\"b\",sensor"), "{text}");
    assert!(
        !text.contains("uart_rx_bytes_total{device=\"b\"}"),
        "{text}"
    );
}

/// `promtool check metrics` (Prometheus' own linter) accepts the merged text output.
#[test]
#[ignore = "needs promtool (Debian prometheus); run via scripts/test.sh"]
fn promtool_accepts_the_merged_output() {
    let statuses = [
        ("a".to_owned(), status(true, DEVICE_A)),
        ("b".to_owned(), status(true, DEVICE_B)),
    ];
    let text = render::render(&statuses, &Negotiated::DEFAULT);
    let said = common::promtool_check_metrics(&text);
    assert!(
        said.trim().is_empty(),
        "promtool: {said}\n{}",
        String::from_utf8_lossy(&text)
    );
}

/// Two families of one name from one device (which `exposition::read` does not make, but a
/// caller of `merge` might): the second is dropped, no series is served twice.
#[test]
fn a_family_given_twice_by_one_device_is_served_once() {
    let a = exposition::read("# TYPE a counter\na_total 1\n").unwrap();
    let twice = [a[0].clone(), a[0].clone()];
    let (families, dropped) = merge(Vec::new(), &[("d", &twice), ("e", &a)]);
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0].reason, "the device sent the family twice");
    let mut out = Vec::new();
    encode(&families, Format::Text, &mut out).unwrap();
    let s = samples(std::str::from_utf8(&out).unwrap());
    assert_eq!(s.len(), 2, "{s:?}");
}

/// The input with which `fuzz/`'s `gateway_merge` target found the clash (a counter
/// `uart_frames`, then an untyped `uart_frames_total` after another family's HELP line): the
/// page is one family per sample name, in both formats.
#[test]
fn the_fuzzers_sample_name_clash_is_served_once() {
    let fuzzed = exposition::read(
        "#\n# TYPE uart_frames counter\nuart_frames_total{ret=\"c\"} 1\n# HELP r\n\
         uart_frames_total{} 7\nar 3",
    )
    .unwrap();
    let (families, dropped) = merge(Vec::new(), &[("a", &fuzzed), ("b", &fuzzed)]);
    assert!(!dropped.is_empty(), "the clashing family is dropped");
    for format in [Format::Text, Format::OpenMetrics] {
        let mut out = Vec::new();
        encode(&families, format, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        check_page(&text);
        let s = samples(&text);
        assert_eq!(
            s[&key("uart_frames_total", &[("device", "a"), ("ret", "c")])],
            1.0
        );
    }
}

/// Whatever two devices send, the merged page parses: every name under one HELP and one TYPE
/// line, no series twice, and no sample name in two families.
fn check_page(text: &str) {
    samples(text);
    let mut family_of: HashMap<&str, &str> = HashMap::new();
    let mut current = "";
    for line in metrics_core::parse::Parser::new(text) {
        match line.unwrap() {
            metrics_core::parse::Line::Type { name, .. } => current = name,
            metrics_core::parse::Line::Sample(s) => {
                let f = *family_of.entry(s.name).or_insert(current);
                assert_eq!(f, current, "`{}` in two families:\n{text}", s.name);
            }
            _ => {}
        }
    }
}

/// One line of what a device might send: built from names, suffixes, label names and values
/// that collide with one another and with the gateway's own.
fn device_line() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "a",
        "a_total",
        "a_sum",
        "a_count",
        "a_bucket",
        "a_created",
        "h",
        "h_bucket",
        "h_sum",
        "h_count",
        "h_count_total",
        "gateway_device_up",
        "gateway_device_frame_errors_total",
        "9x",
    ]);
    let kind = prop::sample::select(vec![
        "counter",
        "gauge",
        "histogram",
        "summary",
        "untyped",
        "unknown",
        "info",
        "",
    ]);
    let label = (
        prop::sample::select(vec![
            "a",
            "b",
            "le",
            "device",
            "exported_device",
            "quantile",
            "__x",
        ]),
        prop::sample::select(vec!["", "1", "+Inf", "0.5", "x\\\"y", "\\n", "\u{e9}"]),
    );
    let value = prop::sample::select(vec![
        "1",
        "0",
        "-1",
        "NaN",
        "+Inf",
        "1e30",
        "2.5",
        "18446744073709551615",
        "x",
    ]);
    prop_oneof![
        (name.clone(), kind).prop_map(|(n, k)| format!("# TYPE {n} {k}")),
        (name.clone(), "[a-z \\\\]{0,6}").prop_map(|(n, t)| format!("# HELP {n} {t}")),
        name.clone().prop_map(|n| format!("# UNIT {n} seconds")),
        (name, prop::collection::vec(label, 0..3), value).prop_map(|(n, l, v)| {
            let l: Vec<String> = l.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            format!("{n}{{{}}} {v}", l.join(","))
        }),
        Just("# EOF".to_owned()),
        "[ -~]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_two_devices_merge_into_a_page_that_parses(
        a in prop::collection::vec(device_line(), 0..12),
        b in prop::collection::vec(device_line(), 0..12),
        series in 1usize..8,
        label_names in 1usize..4,
    ) {
        let limits = Limits { max_series: series, max_label_names: label_names, ..Limits::default() };
        let read = |lines: &[String]| {
            limits::admit((lines.join("\n") + "\n").as_bytes(), &limits)
                .map(|a| a.families)
                .unwrap_or_default()
        };
        let (a, b) = (read(&a), read(&b));
        let own = render::health(&[("a".into(), Status::default()), ("b".into(), Status::default())]);
        let (families, _) = merge(own, &[("a", &a), ("b", &b)]);
        for format in [Format::Text, Format::OpenMetrics] {
            let mut out = Vec::new();
            encode(&families, format, &mut out).unwrap();
            check_page(std::str::from_utf8(&out).unwrap());
        }
    }
}
