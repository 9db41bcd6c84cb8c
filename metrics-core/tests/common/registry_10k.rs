//! The 10 000-series run-time registry the benchmarks and the allocation test share:
//! 6 counter families and 3 gauge families of 1000 series each, and a histogram family of
//! 1000 series with 4 bounds. Included with `#[path]` by `benches/core.rs` and
//! `tests/alloc_free.rs`.

use std::sync::Arc;

use metrics_core::{Counter, DynHistogram, Family, Gauge, Registry};

/// Label values per family.
pub const LABEL_VALUES: usize = 1_000;

/// The registry and handles to its families.
pub struct Registry10k {
    pub registry: Registry,
    pub counters: Vec<Arc<Family<Counter>>>,
    pub gauges: Vec<Arc<Family<Gauge>>>,
    pub latency: Arc<Family<DynHistogram>>,
    pub values: Vec<String>,
}

pub fn registry_10k() -> Registry10k {
    let mut registry = Registry::new();
    let values: Vec<String> = (0..LABEL_VALUES).map(|i| format!("v{i}")).collect();
    let counters = (0..6u64)
        .map(|f| {
            let family = registry
                .counter_family(
                    &format!("requests_{f}"),
                    "Requests served.",
                    &["route", "code"],
                )
                .unwrap();
            for v in &values {
                family.labels(&[v, "200"]).inc_by(f + 1);
            }
            family
        })
        .collect();
    let gauges = (0..3)
        .map(|f| {
            let family = registry
                .gauge_family(&format!("queue_depth_{f}"), "Queue depth.", &["queue"])
                .unwrap();
            for (i, v) in values.iter().enumerate() {
                family.labels(&[v]).set(i as f64 * 0.5);
            }
            family
        })
        .collect();
    let latency = registry
        .histogram_family(
            "rpc_seconds",
            "RPC latency.",
            &["method"],
            &[0.01, 0.1, 1.0, 10.0],
        )
        .unwrap();
    for (i, v) in values.iter().enumerate() {
        latency.labels(&[v]).observe(i as f64 / 100.0);
    }
    Registry10k {
        registry,
        counters,
        gauges,
        latency,
        values,
    }
}
