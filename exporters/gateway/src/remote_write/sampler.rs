//! The sampler thread: at each target's interval, takes the page `/metrics` serves once
//! (one page serves every target due at that moment), encodes it for each due target (its
//! protocol version and external labels, snappy-compressed) and queues it. It never waits for
//! a receiver; a tick missed while a scrape of the devices was slow is skipped, not made up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics_core::remote_write::WriteOptions;

use super::queue::Batch;
use super::Shared;
use crate::family::{self, OwnedFamily};

/// Encodes `page` as one compressed write request for `shared`'s target at `timestamp_ms`.
pub fn batch(shared: &Shared, page: &[OwnedFamily], timestamp_ms: i64) -> Result<Batch, String> {
    let t = &shared.target;
    let labels: Vec<(&str, &str)> = t
        .external_labels
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let opts = WriteOptions {
        timestamp_ms,
        external_labels: &labels,
    };
    let mut raw = Vec::new();
    let samples =
        family::remote_write(page, t.version, &opts, &mut raw).map_err(|e| e.to_string())?;
    let mut body = vec![0; metrics_core::snappy::max_compressed_len(raw.len())];
    let n = metrics_core::snappy::compress(&raw, &mut body).map_err(|e| e.to_string())?;
    body.truncate(n);
    Ok(Batch {
        samples,
        timestamp_ms,
        body,
    })
}

/// Runs the sampler for `targets` (never returns).
pub fn run(targets: &[Arc<Shared>], source: &(dyn Fn() -> Vec<OwnedFamily> + Send)) {
    let start = Instant::now();
    let mut next: Vec<Instant> = vec![start; targets.len()];
    let mut encode_failed = vec![false; targets.len()];
    loop {
        let Some(&due) = next.iter().min() else {
            return;
        };
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
            continue;
        }
        let timestamp_ms = (super::unix_now() * 1000.0) as i64;
        let page = source();
        for (i, shared) in targets.iter().enumerate() {
            if next[i] > now {
                continue;
            }
            let interval = shared.target.interval.max(Duration::from_millis(1));
            while next[i] <= now {
                next[i] += interval;
            }
            match batch(shared, &page, timestamp_ms) {
                Ok(b) => {
                    let samples = b.samples;
                    let mut q = shared.lock();
                    let dropped = q.push(b);
                    let full = dropped > 0;
                    if full && !shared.dropping() {
                        eprintln!(
                            "metrics-gateway: remote write to `{}`: the queue is full ({} \
                             samples waiting at most, this page has {samples}): dropping the \
                             oldest (counted in gateway_remote_write_samples_dropped_total); \
                             raise queue.max_samples or bring the receiver back",
                            shared.target.name,
                            q.max_samples()
                        );
                    }
                    shared.set_dropping(full);
                    drop(q);
                    shared.ready.notify_all();
                    encode_failed[i] = false;
                }
                Err(e) => {
                    if !encode_failed[i] {
                        eprintln!(
                            "metrics-gateway: remote write to `{}`: cannot encode the page: {e}",
                            shared.target.name
                        );
                    }
                    encode_failed[i] = true;
                }
            }
        }
    }
}
