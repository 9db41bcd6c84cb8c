//! Outside parsers read what we encode: `promtool check metrics` (Prometheus' own linter) and
//! Python `prometheus_client`'s text and strict OpenMetrics parsers, with every parsed value
//! compared to what the test set; the protobuf exposition decoded by Python's `protobuf`
//! package with the message classes protoc generated from client_model's `metrics.proto`.
//! Run by `scripts/test.sh`, which installs them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use metrics_core::{encode_bytes, Families, Format};

fn write_exposition<F: Families + ?Sized>(
    dir: &Path,
    name: &str,
    r: &F,
    format: Format,
) -> PathBuf {
    let mut out = Vec::new();
    encode_bytes(r, format, &mut out).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, out).unwrap();
    path
}

fn promtool_clean(file: &Path) {
    let input = std::fs::File::open(file).unwrap();
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(input)
        .output()
        .expect("promtool not found: run scripts/setup.sh (Debian package `prometheus`)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "promtool check metrics on {}: {}\n{stdout}{stderr}",
        file.display(),
        out.status
    );
}

fn python_round_trip(format: &str, file: &Path, expected: &[common::Sample], dir: &Path) {
    python_check(format, file, expected, None, dir);
}

/// `check_exposition.py` on `file`; with `natives`, also the native buckets (protobuf).
fn python_check(
    format: &str,
    file: &Path,
    expected: &[common::Sample],
    natives: Option<&[common::NativeExpect]>,
    dir: &Path,
) {
    let name = file.file_name().unwrap().to_string_lossy();
    let json = dir.join(format!("{name}.expected.json"));
    std::fs::write(&json, common::to_json(expected)).unwrap();
    let mut cmd = Command::new(common::python());
    cmd.arg(common::workspace().join("scripts/check_exposition.py"))
        .arg(format)
        .arg(file)
        .arg(&json);
    if let Some(natives) = natives {
        let native_json = dir.join(format!("{name}.native.json"));
        std::fs::write(&native_json, common::natives_json(natives)).unwrap();
        cmd.arg(native_json);
    }
    let out = cmd
        .output()
        .expect("python venv not found: run scripts/setup.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "prometheus_client {format} parser on {}:\n{stdout}{stderr}",
        file.display()
    );
    eprintln!("{}", stdout.trim());
}

#[test]
#[ignore = "needs promtool (Debian prometheus); run via scripts/test.sh"]
fn promtool_accepts_text_output_without_lint_complaints() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = common::runtime_registry();
    promtool_clean(&write_exposition(
        dir.path(),
        "runtime.prom",
        &r,
        Format::Text,
    ));
    let (fw, _) = common::firmware_registry();
    promtool_clean(&write_exposition(
        dir.path(),
        "firmware.prom",
        fw,
        Format::Text,
    ));
}

#[test]
#[ignore = "needs python prometheus_client and protobuf; run via scripts/test.sh"]
fn python_parsers_read_back_every_value() {
    let dir = tempfile::tempdir().unwrap();
    let (r, expected) = common::runtime_registry();
    for (fmt, format, name) in [
        ("text", Format::Text, "runtime.prom"),
        ("openmetrics", Format::OpenMetrics, "runtime.om.txt"),
        ("protobuf", Format::Protobuf, "runtime.pb"),
    ] {
        let file = write_exposition(dir.path(), name, &r, format);
        python_round_trip(fmt, &file, &expected, dir.path());
    }
    let (fw, expected) = common::firmware_registry();
    for (fmt, format, name) in [
        ("text", Format::Text, "firmware.prom"),
        ("openmetrics", Format::OpenMetrics, "firmware.om.txt"),
        ("protobuf", Format::Protobuf, "firmware.pb"),
    ] {
        let file = write_exposition(dir.path(), name, fw, format);
        python_round_trip(fmt, &file, &expected, dir.path());
    }
}

/// A native histogram's exemplars (protobuf `exemplars`, field 16, timestamped ones only) and
/// its classic buckets' (in their `Bucket`s), read back by Python's protobuf.
#[test]
#[ignore = "needs python protobuf; run via scripts/test.sh"]
fn python_protobuf_reads_back_native_histogram_exemplars() {
    let dir = tempfile::tempdir().unwrap();
    let (r, expected, natives) = common::native_exemplar_registry();
    let file = write_exposition(dir.path(), "native_exemplars.pb", &r, Format::Protobuf);
    python_check("protobuf", &file, &expected, Some(&natives), dir.path());
}

#[test]
#[ignore = "needs python protobuf; run via scripts/test.sh"]
fn python_protobuf_reads_back_native_histograms_and_start_times() {
    let dir = tempfile::tempdir().unwrap();
    let (r, expected, natives) = common::native_registry();
    let file = write_exposition(dir.path(), "native.pb", &r, Format::Protobuf);
    python_check("protobuf", &file, &expected, Some(&natives), dir.path());
    // The same registry in OpenMetrics: classic buckets (`+Inf` alone for native-only
    // histograms) and the same `_created` samples.
    let file = write_exposition(dir.path(), "native.om.txt", &r, Format::OpenMetrics);
    python_round_trip("openmetrics", &file, &expected, dir.path());
}

/// The strict OpenMetrics parser reads every exemplar (labels, value, timestamp) and every
/// `_created` sample back to what was set; promtool accepts the text format of the same
/// registry (no exemplars there).
#[test]
#[ignore = "needs python prometheus_client and promtool; run via scripts/test.sh"]
fn python_reads_back_exemplars_and_created() {
    let dir = tempfile::tempdir().unwrap();
    let (r, expected) = common::exemplar_registry();
    let file = write_exposition(dir.path(), "exemplars.om.txt", &r, Format::OpenMetrics);
    python_round_trip("openmetrics", &file, &expected, dir.path());
    let without_created: Vec<_> = expected
        .iter()
        .filter(|s| !s.name.ends_with("_created"))
        .map(|s| common::Sample {
            exemplar: None,
            ..s.clone()
        })
        .collect();
    let file = write_exposition(dir.path(), "exemplars.prom", &r, Format::Text);
    python_round_trip("text", &file, &without_created, dir.path());
    promtool_clean(&file);
    // Protobuf without `created_timestamp`s (Options::created(false)), with every exemplar.
    let without_created_samples: Vec<_> = expected
        .iter()
        .filter(|s| !s.name.ends_with("_created"))
        .cloned()
        .collect();
    let mut pb = Vec::new();
    metrics_core::encode_bytes_with(
        &r,
        Format::Protobuf,
        metrics_core::encoding::Options::new().created(false),
        &mut pb,
    )
    .unwrap();
    let file = dir.path().join("exemplars.pb");
    std::fs::write(&file, pb).unwrap();
    python_round_trip("protobuf", &file, &without_created_samples, dir.path());
}

/// prometheus_client's parsers (text and strict OpenMetrics) read the UTF-8 registry with
/// quoted names (`allow-utf-8`) and escaped ones (`underscores`) back to what was set;
/// promtool accepts the escaped text format.
#[test]
#[ignore = "needs python prometheus_client, protobuf and promtool; run via scripts/test.sh"]
fn python_reads_utf8_names_quoted_and_escaped() {
    use metrics_core::{encode_with, encoding::Options, Escaping};
    let dir = tempfile::tempdir().unwrap();
    let (r, utf8, underscores) = common::utf8_registry();
    for (escaping, expected) in [
        (Escaping::AllowUtf8, &utf8),
        (Escaping::Underscores, &underscores),
    ] {
        for (fmt, format, ext) in [
            ("text", Format::Text, "prom"),
            ("openmetrics", Format::OpenMetrics, "om.txt"),
        ] {
            let mut out = String::new();
            encode_with(&r, format, Options::new().escaping(escaping), &mut out).unwrap();
            let file = dir.path().join(format!("utf8.{}.{ext}", escaping.as_str()));
            std::fs::write(&file, out).unwrap();
            python_round_trip(fmt, &file, expected, dir.path());
            if escaping == Escaping::Underscores && format == Format::Text {
                promtool_clean(&file);
            }
        }
        let mut out = Vec::new();
        metrics_core::encode_bytes_with(
            &r,
            Format::Protobuf,
            Options::new().escaping(escaping),
            &mut out,
        )
        .unwrap();
        let file = dir.path().join(format!("utf8.{}.pb", escaping.as_str()));
        std::fs::write(&file, out).unwrap();
        python_round_trip("protobuf", &file, expected, dir.path());
    }
}
