//! Golden files pin the exact bytes of both formats. Regenerate after an intended change with
//! `UPDATE_GOLDEN=1 cargo test -p metrics-core --test golden` and review the diff.

mod common;

use std::path::PathBuf;

use metrics_core::{encode, Families, Format};

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn check_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        for (i, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
            assert_eq!(e, a, "{name}: first difference at line {}", i + 1);
        }
        assert_eq!(
            expected.len(),
            actual.len(),
            "{name}: same lines, different length"
        );
    }
}

fn encoded<F: Families + ?Sized>(r: &F, format: Format) -> String {
    let mut out = String::new();
    encode(r, format, &mut out).unwrap();
    out
}

#[test]
fn runtime_registry_text() {
    let (r, _) = common::runtime_registry();
    check_golden("runtime.prom", &encoded(&r, Format::Text));
}

#[test]
fn runtime_registry_openmetrics() {
    let (r, _) = common::runtime_registry();
    check_golden("runtime.om.txt", &encoded(&r, Format::OpenMetrics));
}

#[test]
fn firmware_registry_both_formats() {
    let (r, _) = common::firmware_registry();
    check_golden("firmware.prom", &encoded(r, Format::Text));
    check_golden("firmware.om.txt", &encoded(r, Format::OpenMetrics));
}

#[test]
fn chunked_encoder_writes_the_same_bytes_for_any_buffer_size() {
    let (r, _) = common::runtime_registry();
    for format in [Format::Text, Format::OpenMetrics] {
        let whole = encoded(&r, format);
        for size in [1, 2, 7, 64, 100, 4096] {
            assert_eq!(
                common::chunked(&r, format, size),
                whole,
                "{format:?}, {size}-byte buffer"
            );
        }
    }
    let (fw, _) = common::firmware_registry();
    assert_eq!(
        common::chunked(fw, Format::OpenMetrics, 64),
        encoded(fw, Format::OpenMetrics)
    );
}

#[test]
fn output_is_stable_across_scrapes() {
    let (r, _) = common::runtime_registry();
    let a = encoded(&r, Format::OpenMetrics);
    let b = encoded(&r, Format::OpenMetrics);
    assert_eq!(a, b, "two scrapes with no change give the same bytes");
}
