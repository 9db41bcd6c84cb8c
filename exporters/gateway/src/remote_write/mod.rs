//! Remote-Write: the gateway sends what `/metrics` serves (the devices' merged series, the
//! pushed totals, its own metrics) to one or more receivers at each target's interval, so a
//! site behind NAT can write to a central Prometheus, Mimir, Thanos Receive or
//! VictoriaMetrics.
//!
//! One sampler thread takes the page and queues it per target ([`sampler`]); each target has
//! its bounded [`queue`] and its own sender thread ([`sender`]), so a slow or down receiver
//! holds up nobody else. Encoding and Snappy are the core's.

pub mod client;
pub mod file;
pub mod queue;
pub mod sampler;
pub mod sender;
pub mod target;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;

use metrics_core::Kind;

use crate::family::OwnedFamily;
use client::Client;
use queue::Queue;
pub use target::Target;

/// One target's state, shared by the sampler, its sender and `/metrics`.
#[derive(Debug)]
pub struct Shared {
    /// Its settings.
    pub target: Target,
    client: Client,
    queue: Mutex<Queue>,
    /// Signalled when a batch is queued.
    ready: Condvar,
    /// The latest page dropped queued samples (said once per episode).
    dropping: AtomicBool,
}

impl Shared {
    /// The queue (a poisoned lock only means a thread panicked holding it; the data is plain).
    pub fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn dropping(&self) -> bool {
        self.dropping.load(Ordering::Relaxed)
    }

    fn set_dropping(&self, v: bool) {
        self.dropping.store(v, Ordering::Relaxed);
    }
}

/// The Remote-Write targets.
#[derive(Debug)]
pub struct RemoteWrite {
    targets: Vec<Arc<Shared>>,
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl RemoteWrite {
    /// The targets, with their clients built (a CA file that cannot be read is an error);
    /// nothing is sent before [`start`](RemoteWrite::start).
    pub fn new(targets: Vec<Target>) -> Result<RemoteWrite, String> {
        let mut out = Vec::new();
        for t in targets {
            let client = Client::new(&t).map_err(|e| format!("remote write `{}`: {e}", t.name))?;
            out.push(Arc::new(Shared {
                queue: Mutex::new(Queue::new(t.max_samples)),
                target: t,
                client,
                ready: Condvar::new(),
                dropping: AtomicBool::new(false),
            }));
        }
        Ok(RemoteWrite { targets: out })
    }

    /// The targets.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().map(|s| &s.target)
    }

    /// Starts the sampler, which takes pages from `source`, and one sender per target.
    pub fn start(
        &self,
        source: impl Fn() -> Vec<OwnedFamily> + Send + 'static,
    ) -> std::io::Result<()> {
        if self.targets.is_empty() {
            return Ok(());
        }
        for (i, s) in self.targets.iter().enumerate() {
            let s = s.clone();
            thread::Builder::new()
                .name(format!("remote-write-{i}"))
                .spawn(move || sender::run(&s))?;
        }
        let targets = self.targets.clone();
        thread::Builder::new()
            .name("remote-write-sampler".into())
            .spawn(move || sampler::run(&targets, &source))?;
        Ok(())
    }

    /// The gateway's own Remote-Write metrics, per target (labels `target` and `url`).
    pub fn families(&self) -> Vec<OwnedFamily> {
        if self.targets.is_empty() {
            return Vec::new();
        }
        let fam = |name: &str, help: &str, kind| {
            OwnedFamily::new(name, help, kind).labels(&["target", "url"])
        };
        let counter = |name: &str, help: &str| fam(name, help, Kind::Counter);
        let mut f = [
            counter(
                "gateway_remote_write_samples_queued",
                "Samples put in the target's queue (one per series of each page).",
            ),
            counter(
                "gateway_remote_write_samples_sent",
                "Samples the receiver took (2xx).",
            ),
            counter(
                "gateway_remote_write_samples_failed",
                "Samples the receiver refused for good (a 4xx other than 429): dropped, not \
                 retried.",
            ),
            counter(
                "gateway_remote_write_samples_dropped",
                "Samples dropped because the target's queue was full (the oldest first).",
            ),
            counter(
                "gateway_remote_write_samples_retried",
                "Samples of attempts that failed (connection error, timeout, 5xx, 429) and were \
                 tried again.",
            ),
            counter(
                "gateway_remote_write_requests_queued",
                "Requests (pages) put in the target's queue.",
            ),
            counter(
                "gateway_remote_write_requests_sent",
                "Requests the receiver took.",
            ),
            counter(
                "gateway_remote_write_requests_failed",
                "Requests the receiver refused for good.",
            ),
            counter(
                "gateway_remote_write_requests_dropped",
                "Requests dropped because the queue was full.",
            ),
            counter(
                "gateway_remote_write_requests_retried",
                "Attempts that failed and were tried again.",
            ),
            fam(
                "gateway_remote_write_queue_samples",
                "Samples in the queue: waiting, and the request being sent.",
                Kind::Gauge,
            ),
            fam(
                "gateway_remote_write_queue_requests",
                "Requests in the queue: waiting, and the one being sent.",
                Kind::Gauge,
            ),
            fam(
                "gateway_remote_write_queue_max_samples",
                "The most samples that wait in the queue (queue.max_samples), the request \
                 being sent besides.",
                Kind::Gauge,
            ),
            fam(
                "gateway_remote_write_last_success_timestamp_seconds",
                "Unix time of the last request the receiver took; 0 before the first.",
                Kind::Gauge,
            ),
        ];
        for s in &self.targets {
            let url = s.target.shown_url();
            let labels = [s.target.name.as_str(), url.as_str()];
            // One lock: the counts of a target are consistent with each other.
            let (c, samples, requests, max) = {
                let q = s.lock();
                (q.counts(), q.samples(), q.requests(), q.max_samples())
            };
            let (cs, cr) = (c.samples, c.requests);
            let values = [
                cs.queued as f64,
                cs.sent as f64,
                cs.failed as f64,
                cs.dropped as f64,
                cs.retried as f64,
                cr.queued as f64,
                cr.sent as f64,
                cr.failed as f64,
                cr.dropped as f64,
                cr.retried as f64,
                samples as f64,
                requests as f64,
                max as f64,
                c.last_success.unwrap_or(0.0),
            ];
            for (fam, v) in f.iter_mut().zip(values) {
                fam.push(&labels, v);
            }
        }
        f.into_iter().collect()
    }
}
