//! The floor: the least work the hardware allows for each result.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::{series_value, Workloads, KINDS, ROUTES};

/// One `fetch_add`; a linear match of the two values then one `fetch_add`; a hand-written
/// writer over `(value, count)` pairs. No histogram floor is given.
#[derive(Debug)]
pub struct Limit;

/// The 18 `(kind, route)` pairs and their counters, matched linearly.
#[derive(Debug)]
pub struct Linear {
    keys: Vec<(&'static str, &'static str)>,
    counts: Vec<AtomicU64>,
}

/// Writes `v` in decimal.
fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

impl Workloads for Limit {
    const NAME: &'static str = "limit";
    type Counter = AtomicU64;
    fn counter() -> AtomicU64 {
        AtomicU64::new(0)
    }
    #[inline]
    fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
    type Labelled = Linear;
    fn labelled() -> Linear {
        let keys: Vec<_> = KINDS
            .iter()
            .flat_map(|k| ROUTES.iter().map(move |r| (*k, *r)))
            .collect();
        let counts = keys.iter().map(|_| AtomicU64::new(0)).collect();
        Linear { keys, counts }
    }
    #[inline]
    fn labelled_inc(l: &Linear, kind: &'static str, route: &'static str) {
        if let Some(i) = l.keys.iter().position(|(k, r)| *k == kind && *r == route) {
            l.counts[i].fetch_add(1, Ordering::Relaxed);
        }
    }
    type Histogram = ();
    fn histogram() {}
    fn observe(_: &(), _: f64) {
        unreachable!("no histogram floor is benchmarked")
    }
    type Registry = (Vec<(String, AtomicU64)>, Vec<u8>);
    fn registry(n: usize) -> Self::Registry {
        let series = (0..n)
            .map(|i| (series_value(i), AtomicU64::new(1)))
            .collect();
        (series, Vec::new())
    }
    fn encode((series, out): &mut Self::Registry) -> usize {
        out.clear();
        out.extend_from_slice(b"# HELP counters_total help text\n# TYPE counters_total counter\n");
        for (value, count) in series.iter() {
            out.extend_from_slice(b"counters_total{kind=\"");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\"} ");
            push_u64(out, count.load(Ordering::Relaxed));
            out.push(b'\n');
        }
        out.len()
    }
}
