//! Writes the seed inputs of the fuzz targets from the project's real files and codec, into
//! `fuzz/corpus/<target>/seed_*` (run from anywhere: `cargo +nightly run --manifest-path
//! fuzz/Cargo.toml --example seeds`). The committed corpora (`fuzz/corpus/<target>/`) began
//! as these seeds plus what the fuzzer found, minimised with `cargo fuzz cmin`; see README.md.
//!
//! - `job_file`: `jobs/*.yaml` and the YAML examples of `builder-cli/JOB_FORMAT.md`.
//! - `frame_decoder`: real device answers (`SerialServer` over a registry with every metric
//!   type, both formats, request id 1 as the gateway's client sends first), an ERROR answer,
//!   a request, and damaged answers (a flipped byte, a dropped byte, garbage before), each
//!   behind the target's three bytes of settings.
//! - `gateway_merge`: the golden expositions of `metrics-core/tests/golden`, one device each
//!   and all four together (devices are separated by `0xFF`).
//! - `encoders` takes structured input (the `arbitrary` crate): it has no seeds; its corpus
//!   is the fuzzer's own.

use std::fs;
use std::path::{Path, PathBuf};

use metrics_core::{Format, Registry};
use metrics_exporter_embedded::{frame, FrameType, SerialServer};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join(format!("seed_{name}")), bytes).unwrap();
}

/// The YAML blocks of a Markdown file.
fn yaml_blocks(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in md.lines() {
        match (&mut block, line.trim_start()) {
            (None, l) if l.starts_with("```yaml") => block = Some(String::new()),
            (Some(b), "```") => {
                out.push(std::mem::take(b));
                block = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    out
}

fn device_registry() -> Registry {
    let mut r = Registry::new();
    r.counter("uart_rx_bytes", "Bytes received.")
        .unwrap()
        .inc_by(1234);
    let t = r
        .gauge_family("temperature_celsius", "Die \"temperature\".", &["sensor"])
        .unwrap();
    t.labels(&["core"]).set(41.5);
    t.labels(&["a\\b\nc"]).set(f64::NAN);
    let h = r
        .histogram(
            "tick_seconds",
            "Time in the timer interrupt.",
            &[0.001, 0.01, 0.1],
        )
        .unwrap();
    for v in [0.0005, 0.004, 0.2] {
        h.observe(v);
    }
    r
}

fn request(id: u8, kind: FrameType, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0; frame::MAX_FRAME];
    let n = frame::encode(kind, id, 0, payload, &mut out).unwrap();
    out.truncate(n);
    out
}

fn answer(registry: &Registry, req: &[u8]) -> Vec<u8> {
    let mut server: SerialServer<'_, _, 64> = SerialServer::new(registry);
    let mut out = Vec::new();
    server.handle(req, &mut out).unwrap();
    out
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = root.canonicalize().unwrap();
    let seeds = root.join("fuzz/corpus");

    let jobs = seeds.join("job_file");
    for e in fs::read_dir(root.join("jobs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            write(&jobs, &name, &fs::read(&p).unwrap());
        }
    }
    let md = fs::read_to_string(root.join("builder-cli/JOB_FORMAT.md")).unwrap();
    for (i, block) in yaml_blocks(&md).iter().enumerate() {
        write(&jobs, &format!("job_format_{i}.yaml"), block.as_bytes());
    }

    let frames = seeds.join("frame_decoder");
    let registry = device_registry();
    // The target's settings: pieces of 7 bytes, Response id 1, client reads of 13 bytes.
    let settings = [6u8, 1, 12];
    let with_settings = |wire: &[u8]| [&settings[..], wire].concat();
    for (name, format) in [("text", Format::Text), ("openmetrics", Format::OpenMetrics)] {
        let req = request(1, FrameType::Scrape, &[frame::format_byte(format)]);
        let wire = answer(&registry, &req);
        write(&frames, &format!("answer_{name}"), &with_settings(&wire));
        let mut flipped = wire.clone();
        flipped[20] ^= 0x10;
        write(
            &frames,
            &format!("flipped_{name}"),
            &with_settings(&flipped),
        );
        let mut dropped = wire.clone();
        dropped.remove(30);
        write(
            &frames,
            &format!("dropped_{name}"),
            &with_settings(&dropped),
        );
        let garbage = [&[0xA5, 0x5A, 0x00, 0xA5, 0x01][..], &wire].concat();
        write(
            &frames,
            &format!("garbage_{name}"),
            &with_settings(&garbage),
        );
    }
    let refused = answer(&registry, &request(1, FrameType::Scrape, &[7]));
    write(&frames, "answer_error", &with_settings(&refused));
    let req = request(1, FrameType::Scrape, &[0]);
    write(&frames, "request", &with_settings(&req));

    let merge = seeds.join("gateway_merge");
    let golden = root.join("metrics-core/tests/golden");
    let mut all = Vec::new();
    let mut names: Vec<_> = fs::read_dir(&golden)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names {
        let body = fs::read(&p).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        write(&merge, &name, &body);
        if !all.is_empty() {
            all.push(0xFF);
        }
        all.extend_from_slice(&body);
    }
    write(&merge, "all_golden", &all);
    println!("seeds written to {}", seeds.display());
}
