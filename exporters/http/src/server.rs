//! Starting and stopping an exporter: the listener, tiny_http, and a fixed set of workers.
//!
//! # Threads
//!
//! tiny_http runs one accept thread, and reads every connection's request heads on a thread
//! of its own pool, which grows up to one thread per open connection (idle pool threads end
//! after 5 s). It queues each complete request; the connection then waits until that request
//! is answered before it reads the next. The exporter's `workers` threads take requests
//! from that queue and do everything else: routing, encoding, compression, sending. Their
//! number is fixed, and nothing a client does can hold one for longer than the write
//! timeout (see `worker.rs` for request bodies, `response.rs` and `listener.rs` for slow
//! readers), so slow, idle or hostile connections cost tiny_http threads but never stall a
//! scrape. When tiny_http's accept loop fails, the workers start a new one (`servers.rs`).
//!
//! # Stopping
//!
//! [`Exporter::stop`] (or dropping the exporter) tells the workers to stop, wakes them,
//! joins them (each finishes the request it is answering and what is queued), then drops the
//! tiny_http servers, which ends their accept threads and closes the listener; `stop`
//! returns once a connection to the port is refused, so the port can be bound again at once.

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use metrics_core::Families;

use crate::listener;
use crate::self_metrics::{ErrorKind, SelfMetrics};
use crate::servers::Servers;
use crate::worker::{Shared, Worker};
use crate::{Config, Error};

/// How long a worker waits for a request before it checks whether to stop (it is also woken
/// at once on stop).
const POLL: Duration = Duration::from_millis(500);
/// How long [`Exporter::stop`] waits for tiny_http to close the listener.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// A running HTTP exporter: serves a registry on `/metrics` until stopped or dropped.
///
/// See the [crate documentation](crate) for the routes and an example.
#[derive(Debug)]
#[must_use = "dropping the exporter stops it: keep it for as long as it should serve"]
pub struct Exporter {
    local_addr: SocketAddr,
    running: Option<Running>,
}

struct Running {
    servers: Arc<Servers>,
    stopping: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl Exporter {
    /// Checks `config`, binds its address and starts serving `registry` (a
    /// [`metrics_core::Registry`], a [`metrics_core::StaticRegistry`] or anything that
    /// implements [`Families`]).
    ///
    /// Returns once the port is listening: a scrape can be made at once. Errors: an invalid
    /// setting or host ([`Error::InvalidConfig`], [`Error::InvalidAddress`]) before anything
    /// is bound; [`Error::Bind`] when the address cannot be bound (port in use...);
    /// [`Error::Spawn`] when a worker thread cannot be started.
    pub fn start(
        config: Config,
        registry: Arc<dyn Families + Send + Sync>,
    ) -> Result<Exporter, Error> {
        let address = config.validate()?;
        let tcp = listener::bind(address, config.write_timeout)?;
        let local_addr = tcp
            .local_addr()
            .map_err(|source| Error::Bind { address, source })?;
        let tls = config.web.as_ref().and_then(|w| w.tls_pem().cloned());
        let servers = Servers::new(tcp, listener::connectable(local_addr), tls)
            .map_err(|source| Error::Bind { address, source })?;
        let mut running = Running {
            servers: Arc::new(servers),
            stopping: Arc::new(AtomicBool::new(false)),
            workers: Vec::with_capacity(config.workers),
        };
        let shared = Arc::new(Shared {
            registry,
            self_metrics: config.self_metrics.then(SelfMetrics::new),
            config,
        });
        for i in 0..shared.config.workers {
            let worker = Worker::new(shared.clone());
            let servers = running.servers.clone();
            let stopping = running.stopping.clone();
            let spawned = thread::Builder::new()
                .name(format!("metrics-http-{i}"))
                .spawn(move || work(worker, &servers, &stopping));
            match spawned {
                Ok(handle) => running.workers.push(handle),
                Err(source) => {
                    running.stop(local_addr);
                    return Err(Error::Spawn { source });
                }
            }
        }
        Ok(Exporter {
            local_addr,
            running: Some(running),
        })
    }

    /// The address the exporter listens on, with the port the system picked when the
    /// configured port was 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The port the exporter listens on.
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// Stops serving: the workers finish the requests they are answering and end, the
    /// listener is closed and the port released. Dropping the exporter does the same.
    pub fn stop(self) {
        // `Drop` does the work; `stop` names it.
        drop(self);
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop(self.local_addr);
        }
    }
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

impl Running {
    fn stop(self, local_addr: SocketAddr) {
        self.stopping.store(true, Ordering::SeqCst);
        // Each `unblock` wakes one waiting `recv_timeout` (or ends one worker's final drain):
        // a worker uses at most two.
        self.servers.unblock(2 * self.workers.len());
        for w in self.workers {
            // A worker only ends by returning (panics are caught per request).
            let _ = w.join();
        }
        // The last reference: dropping the servers and the exporter's handle to the listener
        // ends tiny_http's accept thread, which closes its own.
        drop(self.servers);
        listener::wait_closed(local_addr, CLOSE_WAIT);
    }
}

/// A worker thread: answers requests until told to stop.
fn work(mut worker: Worker, servers: &Servers, stopping: &AtomicBool) {
    while !stopping.load(Ordering::SeqCst) {
        let server = servers.current();
        match server.recv_timeout(POLL) {
            Ok(Some(request)) => {
                servers.seen();
                serve(&mut worker, request);
            }
            // Timed out, or woken by `stop`.
            Ok(None) => {
                if servers.idle() {
                    worker.shared().count_error(ErrorKind::Accept);
                }
            }
            // tiny_http's accept loop failed and ended (it reports that once).
            Err(_) => {
                worker.shared().count_error(ErrorKind::Accept);
                servers.failed(&server);
            }
        }
        servers.repair();
        while let Some(request) = servers.retired_request() {
            servers.seen();
            serve(&mut worker, request);
        }
    }
    // Answer what is already queued: a connection whose request is never answered waits for
    // ever (tiny_http reads its next request only after the answer).
    while let Ok(Some(request)) = servers.current().try_recv() {
        serve(&mut worker, request);
    }
}

/// Answers one request. A panic (in a user's collector) must not cost a worker: unwinding
/// drops the request, and tiny_http answers a dropped request with 500.
fn serve(worker: &mut Worker, request: tiny_http::Request) {
    if catch_unwind(AssertUnwindSafe(|| worker.handle(request))).is_err() {
        worker.shared().count_error(ErrorKind::Panic);
    }
}
