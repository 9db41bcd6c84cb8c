//! Encodes the 10 000-series registry of the benchmarks N times: a fixed workload for
//! instruction counts that do not depend on machine noise.
//!
//! ```text
//! cargo build --release -p metrics-core --example encode_10k
//! valgrind --tool=callgrind target/release/examples/encode_10k text 1
//! valgrind --tool=callgrind target/release/examples/encode_10k text 11
//! ```
//! The difference of the two totals divided by 10 is the cost of one scrape.

#[path = "../tests/common/registry_10k.rs"]
#[allow(dead_code)]
mod registry_10k;

use metrics_core::Format;

fn main() {
    let mut args = std::env::args().skip(1);
    let format = match args.next().as_deref() {
        Some("openmetrics") => Format::OpenMetrics,
        Some("text") | None => Format::Text,
        Some(other) => {
            eprintln!("encode_10k: unknown format {other:?}: use text or openmetrics");
            std::process::exit(2);
        }
    };
    let times: usize = match args.next().map(|n| n.parse()) {
        None => 1,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("encode_10k: the count must be a whole number: {e}");
            std::process::exit(2);
        }
    };
    let r = registry_10k::registry_10k();
    let mut out = Vec::new();
    for _ in 0..times {
        out.clear();
        metrics_core::encode_to_vec(&r.registry, format, &mut out).expect("encode");
    }
    eprintln!("{} bytes per scrape, {times} scrapes", out.len());
}
