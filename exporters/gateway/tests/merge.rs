//! Merging devices' expositions: read with the core's parser, relabelled with `device`,
//! written by the core's encoders, and read back (by the core's parser here, by promtool in
//! the ignored test).

use std::collections::HashMap;
use std::sync::Arc;

use metrics_core::parse::{Line, Parser};
use metrics_core::{Format, Kind};
use metrics_gateway::exposition;
use metrics_gateway::family::encode;
use metrics_gateway::merge::merge;
use metrics_gateway::poller::Status;
use metrics_gateway::render;

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

/// Samples of an exposition as (name, sorted unescaped labels) -> value; also checks that
/// every family has at most one HELP and one TYPE line.
fn samples(text: &str) -> HashMap<(String, Vec<(String, String)>), f64> {
    let mut out = HashMap::new();
    let mut meta: HashMap<(String, &str), usize> = HashMap::new();
    for line in Parser::new(text) {
        match line.unwrap_or_else(|e| panic!("{e}\n{text}")) {
            Line::Help { name, .. } => *meta.entry((name.into(), "help")).or_default() += 1,
            Line::Type { name, .. } => *meta.entry((name.into(), "type")).or_default() += 1,
            Line::Sample(s) => {
                let mut labels: Vec<(String, String)> = s
                    .labels()
                    .map(|l| {
                        let (k, v) = l.unwrap();
                        let mut u = String::new();
                        v.write_to(&mut u).unwrap();
                        (k.to_owned(), u)
                    })
                    .collect();
                labels.sort();
                let key = (s.name.to_owned(), labels);
                assert!(
                    out.insert(key.clone(), s.value).is_none(),
                    "duplicate {key:?}"
                );
            }
            _ => {}
        }
    }
    for (k, n) in meta {
        assert_eq!(n, 1, "{k:?} appears {n} times:\n{text}");
    }
    out
}

fn key(name: &str, labels: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    let mut l: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    l.sort();
    (name.into(), l)
}

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
    assert_eq!(s.len(), 6, "{s:?}");

    // Served: the count of dropped families per device.
    let statuses = [
        ("a".to_owned(), status(true, "# TYPE x gauge\nx 1\n")),
        (
            "b".to_owned(),
            status(true, "# TYPE x counter\nx_total 2\n# TYPE y gauge\ny 3\n"),
        ),
    ];
    let text = String::from_utf8(render::render(&statuses, Format::Text)).unwrap();
    let s = samples(&text);
    let dropped = |d: &str| s[&key("gateway_device_dropped_families", &[("device", d)])];
    assert_eq!((dropped("a"), dropped("b")), (0.0, 1.0), "{text}");
    assert_eq!(s[&key("y", &[("device", "b")])], 3.0);
    assert!(
        !s.contains_key(&key("x_total", &[("device", "b")])),
        "{text}"
    );
}

/// Found by `fuzz/` (target `gateway_merge`): families of different names whose sample names
/// coincide were all served, so the output had two `# TYPE` lines for one name (Prometheus
/// refuses the whole scrape) or the same series twice.
#[test]
fn families_whose_sample_names_clash_are_dropped_not_served() {
    // The fuzzer's input, one device: a counter `uart_frames`, then an untyped sample
    // `uart_frames_total` after another family's HELP line (a gauge of that name).
    let fuzzed = "#\n# TYPE uart_frames counter\nuart_frames_total{ret=\"c\"} 1\n# HELP r\n\
                  uart_frames_total{} 7\nar 3";
    let a = exposition::read(fuzzed).unwrap();
    let b = exposition::read(
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n\
         # TYPE h_count gauge\nh_count 3\n\
         # TYPE gateway_device_frame_errors_total gauge\ngateway_device_frame_errors_total 1\n",
    )
    .unwrap();
    let c = exposition::read(
        "# TYPE h_count gauge\nh_count 4\n# TYPE uart_frames_total gauge\nuart_frames_total 5\n",
    )
    .unwrap();
    let own = render::health(&[("a".into(), Status::default())]);
    let (families, dropped) = merge(own, &[("a", &a), ("b", &b), ("c", &c)]);
    let reasons: Vec<(&str, &str)> = dropped
        .iter()
        .map(|d| (d.device.as_str(), d.family.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("a", "uart_frames_total"),
            ("b", "h_count"),
            ("b", "gateway_device_frame_errors_total"),
            ("c", "h_count"),
            ("c", "uart_frames_total"),
        ]
    );
    assert!(dropped[0].reason.contains("another family"), "{dropped:?}");
    assert!(dropped[2].reason.contains("gateway's own"), "{dropped:?}");
    for format in [Format::Text, Format::OpenMetrics] {
        let mut out = Vec::new();
        encode(&families, format, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        // One HELP and TYPE per name, no series twice (checked by `samples`).
        let s = samples(&text);
        assert_eq!(
            s[&key("uart_frames_total", &[("device", "a"), ("ret", "c")])],
            1.0
        );
        assert_eq!(s[&key("h_count", &[("device", "b")])], 1.0, "{text}");
        assert!(exposition::read(&text).is_ok(), "{text}");
    }
}

/// Reading is linear in the size of the exposition: the line number of an error used to be
/// counted for every line, from the start of the text (seconds for a megabyte).
#[test]
fn reading_a_large_exposition_is_linear() {
    let mut text = String::from("# TYPE big gauge\n");
    for i in 0..100_000 {
        text.push_str(&format!("big{{series=\"{i}\"}} {i}\n"));
    }
    let started = std::time::Instant::now();
    let families = exposition::read(&text).unwrap();
    let took = started.elapsed();
    assert_eq!(families[0].series.len(), 100_000);
    // Quadratic, this is over a minute; linear, well under a second (even unoptimised).
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");
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
        last_error: None,
    }
}

#[test]
fn a_down_device_shows_only_its_health() {
    let statuses = [
        ("a".to_owned(), status(true, DEVICE_A)),
        ("b".to_owned(), status(false, DEVICE_B)),
    ];
    let text = String::from_utf8(render::render(&statuses, Format::Text)).unwrap();
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
    use std::io::Write;
    use std::process::Stdio;
    let statuses = [
        ("a".to_owned(), status(true, DEVICE_A)),
        ("b".to_owned(), status(true, DEVICE_B)),
    ];
    let text = render::render(&statuses, Format::Text);
    let mut child = test_support::Tool::PROMTOOL
        .command()
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}", test_support::Tool::PROMTOOL.unavailable(&e)));
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{}",
        String::from_utf8_lossy(&text)
    );
}
