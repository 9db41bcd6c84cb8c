//! The gateway's push endpoint on arbitrary pushes, through the code its HTTP workers run:
//! `push::body::parse` (the core's parser, types, increments, histograms) then
//! `push::store::Store::apply` (idempotency keys, type and bucket conflicts, label clashes,
//! the series limit), on one store that every push of the input goes to in turn, so later
//! pushes meet what earlier ones stored.
//!
//! Input: a flag byte per push, then its body; pushes are separated by `0xFF` (a byte no
//! UTF-8 text holds). The flag picks the format (bit 0: OpenMetrics), the group (bits 1-2,
//! `job@base64/YQ` being the same group as `job/a`), an idempotency key (bit 3, one of four
//! keys by bits 4-5) and whether the body is a push path instead (bit 6: `path::parse`).
//!
//! Asserted: no panic; a refused push (and an `already counted` one) leaves the store
//! byte-identical as the state file writes it; an accepted one keeps the store's state file
//! reading back to the same bytes; the served families encode in both formats into text the
//! core's parser reads, with one HELP and TYPE per family and no series twice; and every
//! counter total and histogram bucket is what the accepted pushes added up to.

#![no_main]

use std::collections::{HashMap, HashSet};

use libfuzzer_sys::fuzz_target;
use metrics_core::parse::{Line, Parser};
use metrics_core::Format;
use metrics_gateway::family;
use metrics_gateway::push::body::{self, BodyFormat, PushKind, PushValue};
use metrics_gateway::push::path;
use metrics_gateway::push::state_file;
use metrics_gateway::push::store::{Applied, Store, StoreLimits};

const GROUPS: [&str; 4] = [
    "/push/job/a",
    "/push/job/a/i/1",
    "/push/job/b/i@base64/=",
    "/push/job@base64/YQ",
];
const KEYS: [&str; 4] = ["k0", "k1", "run-7/step", ""];

/// What the store held before the fuzzed pushes: families of each type for the checks.
const SEED: &[u8] = b"# TYPE c counter\nc_total{s=\"x\"} 1\n# TYPE g gauge\ng 2\n\
# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\n";

fn check_page(families: &[metrics_gateway::family::OwnedFamily]) {
    for format in [Format::Text, Format::OpenMetrics] {
        let mut out = Vec::new();
        family::encode(families, format, &mut out).expect("the served families encode");
        let text = String::from_utf8(out).expect("UTF-8");
        let mut meta = HashSet::new();
        let mut series = HashSet::new();
        for line in Parser::new(&text) {
            match line.unwrap_or_else(|e| panic!("{e}\n{text}")) {
                Line::Help { name, .. } => assert!(meta.insert((name, 0)), "HELP twice\n{text}"),
                Line::Type { name, .. } => assert!(meta.insert((name, 1)), "TYPE twice\n{text}"),
                Line::Sample(s) => {
                    let mut labels: Vec<(&str, String)> = s
                        .labels()
                        .map(|l| {
                            let (k, v) = l.unwrap();
                            let mut u = String::new();
                            v.write_to(&mut u).unwrap();
                            (k, u)
                        })
                        .filter(|(_, v)| !v.is_empty())
                        .collect();
                    labels.sort();
                    assert!(
                        labels.iter().any(|(k, _)| *k == "job"),
                        "no job label\n{text}"
                    );
                    assert!(series.insert((s.name, labels)), "a series twice\n{text}");
                }
                _ => {}
            }
        }
    }
}

/// Per (group, family, labels): the counter sum and histogram buckets the accepted pushes
/// add up to, computed here from the parsed pushes, independently of the store.
type Expected = HashMap<(usize, String, Vec<(String, String)>), (f64, Vec<u64>)>;

fn group_index(path: &str) -> usize {
    // `job@base64/YQ` is `job/a`.
    match GROUPS.iter().position(|g| *g == path) {
        Some(3) | None => 0,
        Some(i) => i,
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = StoreLimits {
        max_series_per_group: 40,
        ttl_ms: None,
    };
    let mut store = Store::new(limits);
    let seed = body::parse(SEED, BodyFormat::Text).unwrap();
    let seed_group = path::parse("/push/job/seed").unwrap();
    store.apply(&seed_group, &seed, None, 0).unwrap();
    let mut expected: Expected = HashMap::new();

    for (n, chunk) in data.split(|b| *b == 0xFF).enumerate().take(16) {
        let Some((&flags, rest)) = chunk.split_first() else {
            continue;
        };
        if flags & 0x40 != 0 {
            if let Ok(text) = std::str::from_utf8(rest) {
                if let Ok(g) = path::parse(text) {
                    assert!(!g.labels.is_empty() && g.labels[0].0 == "job");
                    assert!(!g.labels[0].1.is_empty());
                }
            }
            continue;
        }
        let format = if flags & 1 != 0 {
            BodyFormat::OpenMetrics
        } else {
            BodyFormat::Text
        };
        let group_path = GROUPS[usize::from(flags >> 1) & 3];
        let grouping = path::parse(group_path).unwrap();
        let key = (flags & 8 != 0).then(|| KEYS[usize::from(flags >> 4) & 3]);
        let before = state_file::to_bytes(&store);
        let parsed = body::parse(rest, format);
        let result = parsed
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|p| store.apply(&grouping, p, key, n as u64));
        let after = state_file::to_bytes(&store);
        match result {
            Err(_) | Ok(Applied::AlreadyCounted) => {
                assert!(
                    before == after,
                    "a refused or repeated push changed the store"
                )
            }
            Ok(Applied::Counted) => {
                let back = state_file::from_bytes(&after, limits).expect("the state reads back");
                assert!(
                    state_file::to_bytes(&back) == after,
                    "the state file round trip"
                );
                let g = group_index(group_path);
                for f in &parsed.unwrap().families {
                    for s in &f.series {
                        let e = expected
                            .entry((g, f.name.clone(), s.labels.clone()))
                            .or_insert((0.0, Vec::new()));
                        match (&s.value, f.kind) {
                            (PushValue::Number(v), PushKind::Counter) => e.0 += v,
                            (PushValue::Histogram { buckets, .. }, _) => {
                                e.1.resize(buckets.len(), 0);
                                for (a, b) in e.1.iter_mut().zip(buckets) {
                                    *a += b;
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    // The totals are what the accepted pushes add up to.
    for (grouping, group) in store.groups() {
        if grouping.get("job") == Some("seed") {
            continue;
        }
        let path = if grouping.get("i") == Some("1") {
            1
        } else if grouping.get("job") == Some("b") {
            2
        } else {
            0
        };
        for (name, f) in &group.families {
            for (labels, total) in &f.series {
                let e = expected.get(&(path, name.clone(), labels.clone()));
                match total {
                    metrics_gateway::push::store::Total::Number(v)
                        if f.kind == PushKind::Counter =>
                    {
                        let want = e.map_or(0.0, |e| e.0);
                        assert!(
                            *v == want || (v - want).abs() <= 1e-9 * want.abs(),
                            "{name}: {v} != {want}"
                        );
                    }
                    metrics_gateway::push::store::Total::Histogram { buckets, .. } => {
                        assert_eq!(Some(buckets), e.map(|e| &e.1), "{name}");
                    }
                    _ => {}
                }
            }
        }
    }
    check_page(&store.families());
});
