//! Exemplars in the expositions: OpenMetrics writes them (both encoders, the same bytes),
//! the text format 0.0.4 never does, and `_created` can be left out.

mod common;

use metrics_core::encoding::Options;
use metrics_core::{encode, encode_with, Format};

fn encoded(format: Format, options: Options) -> String {
    let (r, _) = common::exemplar_registry();
    let mut out = String::new();
    encode_with(&r, format, options, &mut out).unwrap();
    out
}

#[test]
fn openmetrics_writes_exemplars_after_counter_and_bucket_values() {
    let om = encoded(Format::OpenMetrics, Options::new());
    for line in [
        "jobs_total 3 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 2 1700000000.123\n",
        "plain_total 1\n",
        "steps_total{status=\"OK\"} 1 # {run_id=\"a \\\"quoted\\\" \\\\ value\\nwith ☃\",trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 1\n",
        "steps_total{status=\"FAIL\"} 4\n",
        "latency_seconds_bucket{method=\"GET\",le=\"0.1\"} 2 # {run_id=\"r1\"} 0.05 1700000001\n",
        "latency_seconds_bucket{method=\"GET\",le=\"1.0\"} 3 # {run_id=\"r2\"} 0.5\n",
        "latency_seconds_bucket{method=\"GET\",le=\"+Inf\"} 4 # {run_id=\"r3\"} 7.25 1700000002.25\n",
        "latency_seconds_sum{method=\"GET\"} 7.87\n",
        "latency_seconds_count{method=\"GET\"} 4\n",
    ] {
        assert!(om.contains(line), "missing {line:?} in\n{om}");
    }
}

#[test]
fn the_chunked_encoder_writes_the_same_bytes_whatever_the_buffer() {
    let (r, _) = common::exemplar_registry();
    for format in [Format::OpenMetrics, Format::Text] {
        let mut whole = String::new();
        encode(&r, format, &mut whole).unwrap();
        for size in (1..=90).chain([4096]) {
            assert_eq!(
                common::chunked(&r, format, size),
                whole,
                "{format:?}, {size} bytes"
            );
        }
    }
    // A capture buffer too small for them (`X = 0`, the firmware examples' choice: their
    // exemplar writer is compiled out) leaves the exemplars out, nothing else, whatever the
    // buffer.
    let mut whole = String::new();
    encode(&r, Format::OpenMetrics, &mut whole).unwrap();
    assert!(whole.contains(" # {"), "{whole}");
    let without: String = whole
        .lines()
        .map(|l| format!("{}\n", l.split(" # {").next().unwrap()))
        .collect();
    assert!(without.contains("jobs_total 3\n"), "{without}");
    for size in (1..=90).chain([4096]) {
        let out = common::chunked_bytes_x::<_, 0>(&r, Format::OpenMetrics, Options::new(), size);
        assert_eq!(String::from_utf8(out).unwrap(), without, "{size} bytes");
    }
}

#[test]
fn the_text_format_never_has_exemplars() {
    let text = encoded(Format::Text, Options::new());
    assert!(!text.contains(" # {"), "{text}");
    assert!(text.contains("jobs_total 3\n"), "{text}");
    assert!(
        text.contains("latency_seconds_bucket{method=\"GET\",le=\"0.1\"} 2\n"),
        "{text}"
    );
}

#[test]
fn created_samples_can_be_left_out() {
    let with = encoded(Format::OpenMetrics, Options::new());
    assert_eq!(with.matches("_created").count(), 3, "{with}");
    let without = encoded(Format::OpenMetrics, Options::new().created(false));
    assert!(!without.contains("_created"), "{without}");
    let kept: Vec<&str> = with.lines().filter(|l| !l.contains("_created")).collect();
    assert_eq!(without.lines().collect::<Vec<_>>(), kept);
    let (r, _) = common::exemplar_registry();
    let out = common::chunked_bytes_with(&r, Format::OpenMetrics, Options::new().created(false), 7);
    assert_eq!(String::from_utf8(out).unwrap(), without);
}
