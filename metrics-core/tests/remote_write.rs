//! Remote-Write requests and Snappy, read back by decoders nobody here wrote: Python's cramjam
//! (Snappy) and Google's protobuf runtime (scripts/check_remote_write.py). The requests of the
//! registry every conformance test uses must decode to exactly its samples, with the external
//! label, the timestamp and sorted labels; random inputs must round-trip through Snappy; a
//! 10k-series request must compress at least 3x.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use metrics_core::remote_write::{self, FixedBytes, Version, WriteOptions};
use metrics_core::{snappy, Registry};

fn check(args: &[&std::ffi::OsStr]) -> std::process::Output {
    let out = Command::new(common::python())
        .arg(common::workspace().join("scripts/check_remote_write.py"))
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {:?} ({e}): run `bash scripts/setup.sh` (it makes .venv with \
                 cramjam and protobuf) or set PYTHON",
                common::python()
            )
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn compressed(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0; snappy::max_compressed_len(raw.len())];
    let n = snappy::compress(raw, &mut out).unwrap();
    out.truncate(n);
    out
}

/// A sample as both sides see it: name and labels (le as a float) -> value.
type Samples = BTreeMap<String, String>;

fn key(labels: &BTreeMap<String, String>) -> String {
    let mut s = String::new();
    for (k, v) in labels {
        let v = if k == "le" {
            format!("{:?}", v.parse::<f64>().unwrap())
        } else {
            v.clone()
        };
        s.push_str(&format!("{k}={v:?},"));
    }
    s
}

fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v:?}")
    }
}

#[test]
#[ignore = "needs python with cramjam and protobuf (scripts/setup.sh); run via scripts/test.sh"]
fn both_versions_decode_to_the_registrys_samples() {
    let (registry, samples) = common::runtime_registry();
    let mut want = Samples::new();
    for s in &samples {
        let mut labels: BTreeMap<String, String> = s
            .labels
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .cloned()
            .collect();
        labels.insert("__name__".into(), s.name.clone());
        labels
            .entry("site".into())
            .or_insert_with(|| "lab 1".into());
        want.insert(key(&labels), value(s.value));
    }
    let dir = tempfile::tempdir().unwrap();
    let opts = WriteOptions {
        timestamp_ms: 1_700_000_000_123,
        external_labels: &[("site", "lab 1")],
    };
    for (version, name) in [(Version::V1, "v1"), (Version::V2, "v2")] {
        let mut raw = Vec::new();
        let n = remote_write::encode(&registry, version, &opts, &mut raw).unwrap();
        assert_eq!(n, samples.len(), "{name}: one series per sample");
        // The same bytes into a fixed buffer (firmware), and a too-small one refused.
        let mut buf = vec![0u8; raw.len()];
        let mut fixed = FixedBytes::new(&mut buf);
        remote_write::encode(&registry, version, &opts, &mut fixed).unwrap();
        assert_eq!(fixed.as_slice(), &raw[..]);
        let mut short = vec![0u8; raw.len() - 1];
        assert!(
            remote_write::encode(&registry, version, &opts, &mut FixedBytes::new(&mut short))
                .is_err()
        );

        let file = dir.path().join(format!("{name}.snappy"));
        std::fs::write(&file, compressed(&raw)).unwrap();
        let out = check(&["request".as_ref(), name.as_ref(), file.as_os_str()]);
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut decoded = Samples::new();
        for s in got["series"].as_array().unwrap() {
            assert_eq!(s["timestamp"], 1_700_000_000_123_i64, "{name}: {s}");
            let labels: BTreeMap<String, String> =
                serde_json::from_value(s["labels"].clone()).unwrap();
            let v = match &s["value"] {
                serde_json::Value::String(t) if t == "NaN" => f64::NAN,
                serde_json::Value::String(t) if t == "+Inf" => f64::INFINITY,
                serde_json::Value::String(t) if t == "-Inf" => f64::NEG_INFINITY,
                v => v.as_f64().unwrap(),
            };
            decoded.insert(key(&labels), value(v));
            if name == "v2" {
                let ty = s["metadata"]["type"].as_i64().unwrap();
                assert!((1..=3).contains(&ty), "{s}");
            }
        }
        assert_eq!(decoded, want, "{name}");
        if name == "v1" {
            let md = got["metadata"].as_array().unwrap();
            assert!(
                md.iter()
                    .any(|m| m["name"] == "worker_busy_seconds" && m["unit"] == "seconds"),
                "{md:?}"
            );
        }
    }
}

#[test]
#[ignore = "needs python with cramjam (scripts/setup.sh); run via scripts/test.sh"]
fn snappy_output_decodes_with_cramjam_and_a_large_request_compresses_3x() {
    let dir = tempfile::tempdir().unwrap();
    // Seeded inputs of many lengths and mixes of noise and repetition.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for case in 0..40 {
        let len = (next() % 200_000) as usize;
        let alphabet = 1 + (next() % 255) as u8;
        let mut raw = Vec::with_capacity(len);
        while raw.len() < len {
            if next() % 3 == 0 && raw.len() > 8 {
                // A repeat of something earlier.
                let back = 1 + (next() as usize % raw.len().min(70_000));
                let n = (next() % 300) as usize;
                for _ in 0..n {
                    raw.push(raw[raw.len() - back]);
                }
            } else {
                raw.push((next() % u64::from(alphabet)) as u8);
            }
        }
        raw.truncate(len);
        let c = dir.path().join(format!("{case}.snappy"));
        let r = dir.path().join(format!("{case}.raw"));
        std::fs::write(&c, compressed(&raw)).unwrap();
        std::fs::write(&r, &raw).unwrap();
        check(&["snappy".as_ref(), c.as_os_str(), r.as_os_str()]);
    }

    // 10k series of a labelled counter family, as Remote-Write 1.0 and 2.0.
    let mut registry = Registry::new();
    let family = registry
        .counter_family("http_requests", "Requests.", &["method", "path", "code"])
        .unwrap();
    for i in 0..10_000u64 {
        let path = format!("/api/v1/items/{}", i / 10);
        let code = ["200", "404", "500", "503", "301"][(i % 5) as usize];
        let method = ["GET", "POST"][(i % 2) as usize];
        family.labels(&[method, &path, code]).inc_by(i * 7);
    }
    let opts = WriteOptions {
        timestamp_ms: 1_700_000_000_000,
        external_labels: &[],
    };
    for version in [Version::V1, Version::V2] {
        let mut raw = Vec::new();
        assert_eq!(
            remote_write::encode(&registry, version, &opts, &mut raw).unwrap(),
            10_000
        );
        let c = compressed(&raw);
        let ratio = raw.len() as f64 / c.len() as f64;
        eprintln!(
            "{version:?}: {} -> {} bytes ({ratio:.1}x)",
            raw.len(),
            c.len()
        );
        assert!(ratio >= 3.0, "{version:?}: {ratio:.2}x");
        let cf = dir.path().join("big.snappy");
        let rf = dir.path().join("big.raw");
        std::fs::write(&cf, &c).unwrap();
        std::fs::write(&rf, &raw).unwrap();
        check(&["snappy".as_ref(), cf.as_os_str(), rf.as_os_str()]);
    }
}
