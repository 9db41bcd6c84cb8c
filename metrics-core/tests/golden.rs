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

/// The golden file's bytes, or `None` after writing `actual` as the new golden file
/// (`UPDATE_GOLDEN` set).
fn golden(name: &str, actual: &[u8]) -> Option<Vec<u8>> {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return None;
    }
    Some(std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    }))
}

fn check_golden(name: &str, actual: &str) {
    let Some(expected) = golden(name, actual.as_bytes()) else {
        return;
    };
    let expected = String::from_utf8(expected).unwrap();
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

/// `check_golden` for binary output (the protobuf exposition).
fn check_golden_bytes(name: &str, actual: &[u8]) {
    let Some(expected) = golden(name, actual) else {
        return;
    };
    if let Some(i) = expected.iter().zip(actual).position(|(e, a)| e != a) {
        panic!(
            "{name}: first difference at byte {i}: expected {:02x?}, got {:02x?}",
            &expected[i..expected.len().min(i + 16)],
            &actual[i..actual.len().min(i + 16)]
        );
    }
    assert_eq!(expected.len(), actual.len(), "{name}: length differs");
}

fn protobuf<F: Families + ?Sized>(r: &F) -> Vec<u8> {
    let mut out = Vec::new();
    metrics_core::encode_bytes(r, Format::Protobuf, &mut out).unwrap();
    let mut via_vec = Vec::new();
    metrics_core::encode_to_vec(r, Format::Protobuf, &mut via_vec).unwrap();
    assert_eq!(out, via_vec);
    out
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
fn runtime_registry_protobuf() {
    let (r, _) = common::runtime_registry();
    check_golden_bytes("runtime.pb", &protobuf(&r));
}

#[test]
fn firmware_registry_every_format() {
    let (r, _) = common::firmware_registry();
    check_golden("firmware.prom", &encoded(r, Format::Text));
    check_golden("firmware.om.txt", &encoded(r, Format::OpenMetrics));
    check_golden_bytes("firmware.pb", &protobuf(r));
}

#[test]
fn native_registry_protobuf() {
    let (r, _, _) = common::native_registry();
    check_golden_bytes("native.pb", &protobuf(&r));
    check_golden("native.om.txt", &encoded(&r, Format::OpenMetrics));
}

#[test]
fn protobuf_is_not_text() {
    let (r, _) = common::runtime_registry();
    assert_eq!(
        metrics_core::encode(&r, Format::Protobuf, &mut String::new()),
        Err(metrics_core::Error::BinaryFormat)
    );
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
fn chunked_encoder_writes_the_same_protobuf_for_any_buffer_size() {
    let (r, _) = common::runtime_registry();
    let (native, _, _) = common::native_registry();
    let (fw, _) = common::firmware_registry();
    let registries: [&dyn Families; 3] = [&r, &native, fw];
    for r in registries {
        let whole = protobuf(r);
        assert!(!whole.is_empty());
        for size in [1, 2, 3, 7, 64, 100, 4096] {
            assert!(
                common::chunked_bytes(r, Format::Protobuf, size) == whole,
                "{size}-byte buffer"
            );
        }
    }
}

#[test]
fn chunked_protobuf_needs_two_slots_per_native_bucket() {
    let (r, _, _) = common::native_registry();
    // The widest series: 7 native buckets (14 slots).
    let mut enc: metrics_core::ChunkedEncoder<'_, _, 13> =
        metrics_core::ChunkedEncoder::new(&r, Format::Protobuf);
    let mut buf = [0u8; 64];
    assert_eq!(
        enc.fill(&mut buf),
        Err(metrics_core::Error::TooManyBuckets { capacity: 13 })
    );
    let mut enc: metrics_core::ChunkedEncoder<'_, _, 14> =
        metrics_core::ChunkedEncoder::new(&r, Format::Protobuf);
    let mut out = Vec::new();
    while let n @ 1.. = enc.fill(&mut buf).unwrap() {
        out.extend_from_slice(&buf[..n]);
    }
    assert_eq!(out, protobuf(&r));
}

#[test]
fn output_is_stable_across_scrapes() {
    let (r, _) = common::runtime_registry();
    let a = encoded(&r, Format::OpenMetrics);
    let b = encoded(&r, Format::OpenMetrics);
    assert_eq!(a, b, "two scrapes with no change give the same bytes");
}

#[test]
fn exemplar_registry_openmetrics() {
    let (r, _) = common::exemplar_registry();
    check_golden("exemplars.om.txt", &encoded(&r, Format::OpenMetrics));
}

/// The same UTF-8 registry under every escaping scheme, both text formats; the chunked
/// encoder writes the same bytes.
#[test]
fn utf8_registry_every_escaping_scheme() {
    use metrics_core::{encode_with, encoding::Options, Escaping};
    let (r, _, _) = common::utf8_registry();
    for escaping in [
        Escaping::AllowUtf8,
        Escaping::Underscores,
        Escaping::Dots,
        Escaping::Values,
    ] {
        // The protobuf exposition: names escaped the same way (raw with allow-utf-8).
        let options = Options::new().escaping(escaping);
        let mut pb = Vec::new();
        metrics_core::encode_bytes_with(&r, Format::Protobuf, options, &mut pb).unwrap();
        check_golden_bytes(&format!("utf8.{}.pb", escaping.as_str()), &pb);
        for size in [1, 7, 64] {
            let mut enc: metrics_core::ChunkedEncoder<'_, _> =
                metrics_core::ChunkedEncoder::with_options(&r, Format::Protobuf, options);
            let mut buf = vec![0u8; size];
            let mut chunked = Vec::new();
            while let n @ 1.. = enc.fill(&mut buf).unwrap() {
                chunked.extend_from_slice(&buf[..n]);
            }
            assert!(chunked == pb, "protobuf {escaping:?} {size}");
        }
        for (format, ext) in [(Format::Text, "prom"), (Format::OpenMetrics, "om.txt")] {
            let options = Options::new().escaping(escaping);
            let mut out = String::new();
            encode_with(&r, format, options, &mut out).unwrap();
            check_golden(&format!("utf8.{}.{ext}", escaping.as_str()), &out);
            for size in [1, 7, 64] {
                let mut enc: metrics_core::ChunkedEncoder<'_, _> =
                    metrics_core::ChunkedEncoder::with_options(&r, format, options);
                let mut buf = vec![0u8; size];
                let mut chunked = Vec::new();
                loop {
                    let n = enc.fill(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    chunked.extend_from_slice(&buf[..n]);
                }
                assert_eq!(
                    String::from_utf8(chunked).unwrap(),
                    out,
                    "{escaping:?} {size}"
                );
            }
        }
    }
}
