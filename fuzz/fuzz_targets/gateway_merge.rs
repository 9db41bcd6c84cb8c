//! The gateway's exposition reader and merger on arbitrary device answers: up to four devices
//! (`dev0` to `dev3`), whose answers are the input split at each `0xFF` byte (a byte no UTF-8
//! text holds). Each answer goes the way the gateway's poller sends it: through
//! `limits::admit` (size, UTF-8, the parser, the series and label limits; small limits here,
//! so the fuzzer reaches the drop paths); rejected, the device is down; otherwise up with
//! what was admitted. Then `render::render` serves them all, in both formats.
//!
//! Asserted: no panic; the output always encodes (never the "cannot encode" fallback) and is
//! read by `metrics_core::parse` without error; each family has at most one HELP and one TYPE
//! line; no series appears twice (labels compared as Prometheus does, an empty value being an
//! absent label); every sample carries the `device` label of a device it came from; an
//! OpenMetrics answer ends with `# EOF`; and the gateway reads its own output back.

#![no_main]

use std::collections::HashSet;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use metrics_core::negotiate::Negotiated;
use metrics_core::parse::{Line, Parser};
use metrics_core::Format;
use metrics_gateway::limits::{self, Limits};
use metrics_gateway::poller::Status;
use metrics_gateway::{exposition, render};

/// Small enough that fuzzed answers cross each of them.
const LIMITS: Limits = Limits {
    max_response_bytes: 16 * 1024,
    max_series: 40,
    max_label_bytes: 96,
    max_label_names: 6,
};

const DEVICES: [&str; 4] = ["dev0", "dev1", "dev2", "dev3"];

fn unescape(e: metrics_core::parse::Escaped<'_>) -> String {
    let mut s = String::new();
    e.write_to(&mut s).unwrap();
    s
}

fn check(text: &str, format: Format) {
    let mut meta: HashSet<(&str, &str)> = HashSet::new();
    let mut series: HashSet<(&str, Vec<(&str, String)>)> = HashSet::new();
    let mut eof = false;
    for line in Parser::new(text) {
        let line = line.unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(!eof, "a line after # EOF\n{text}");
        match line {
            Line::Help { name, .. } => {
                assert!(
                    meta.insert((name, "HELP")),
                    "second HELP for {name}\n{text}"
                )
            }
            Line::Type { name, .. } => {
                assert!(
                    meta.insert((name, "TYPE")),
                    "second TYPE for {name}\n{text}"
                )
            }
            Line::Sample(s) => {
                let mut labels: Vec<(&str, String)> = s
                    .labels()
                    .map(|l| {
                        let (k, v) = l.unwrap();
                        (k, unescape(v))
                    })
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
                labels.sort();
                let device = labels.iter().find(|(k, _)| *k == "device");
                assert!(
                    device.is_some_and(|(_, d)| DEVICES.contains(&d.as_str())),
                    "{} without a device's label\n{text}",
                    s.name
                );
                assert!(
                    series.insert((s.name, labels)),
                    "{} {:?} twice\n{text}",
                    s.name,
                    s.raw_labels
                );
            }
            Line::Eof => eof = true,
            _ => {}
        }
    }
    assert_eq!(eof, format == Format::OpenMetrics, "# EOF\n{text}");
    if let Err(e) = exposition::read(text) {
        panic!("the gateway cannot read its own output: {e}\n{text}");
    }
}

fuzz_target!(|data: &[u8]| {
    let statuses: Vec<(String, Status)> = data
        .split(|b| *b == 0xFF)
        .zip(DEVICES)
        .map(|(answer, name)| {
            let admitted = limits::admit(answer, &LIMITS);
            let mut status = Status {
                up: admitted.is_ok(),
                duration: 0.25,
                frame_errors: 1,
                last_success: Some(1_700_000_000.5),
                ..Status::default()
            };
            match admitted {
                Ok(a) => {
                    status.families = Arc::new(a.families);
                    status.dropped_series = a.dropped;
                }
                Err(r) => status.rejected.add(r.reason(), 1),
            }
            (name.to_owned(), status)
        })
        .collect();
    for format in [Format::Text, Format::OpenMetrics] {
        let asked = Negotiated {
            format,
            ..Negotiated::DEFAULT
        };
        let out = render::render(&statuses, &asked);
        let text = std::str::from_utf8(&out).expect("the encoders write UTF-8");
        assert!(!text.starts_with("# cannot encode"), "{text}");
        check(text, format);
    }
});
