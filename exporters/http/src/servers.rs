//! The tiny_http server, and its replacement when tiny_http's accept loop ends.
//!
//! tiny_http's accept thread ends for good, and with it the exporter for the rest of the
//! process, in two ways: `accept` returns an error (out of file descriptors, out of memory,
//! one of the network errors Linux reports through `accept`), which tiny_http reports once
//! through `recv`; or the thread panics, silently, when it cannot duplicate an accepted
//! socket (out of file descriptors again: the usual outcome of a connection flood) or spawn
//! a connection thread. So:
//!
//! - The exporter keeps its own handle to the listening socket (tiny_http gets a duplicate):
//!   the socket keeps listening and queueing connections whatever happens to tiny_http.
//! - A silent death is detected with a probe: when no request has arrived for
//!   [`SILENCE`], an idle worker connects to the exporter and sends a request; if a worker
//!   is idle again [`PROBE_TIMEOUT`] later and the probe has not arrived, the accept loop is
//!   taken for dead. A busy exporter is never probed; an idle one costs a loopback
//!   connection every few seconds.
//! - The workers then start a new tiny_http server on the socket, retrying with a back-off
//!   while the cause lasts. The old server is kept as *retired*: connections it accepted may
//!   still send a request, and a request left unanswered would hold its connection for ever.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tiny_http::{Request, Server};

use crate::web_config::Tls;

/// Retired servers kept for their connections' last requests; the oldest goes beyond this.
const MAX_RETIRED: usize = 8;
/// Wait between attempts to start a new server, doubling up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Time without any request after which an idle worker probes the accept loop.
pub(crate) const SILENCE: Duration = Duration::from_secs(5);
/// Time after which a probe that has not arrived means the accept loop is dead.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait to connect a probe (a full backlog drops connection attempts).
const PROBE_CONNECT: Duration = Duration::from_millis(200);
/// The probe: a health check, HTTP/1.0 so that tiny_http closes the connection after it.
const PROBE: &[u8] = b"GET /-/healthy HTTP/1.0\r\nUser-Agent: metrics-exporter-http probe\r\n\r\n";

/// The current tiny_http server over a listening socket, and the ones it replaced.
pub(crate) struct Servers {
    listener: TcpListener,
    /// Where a probe connects to reach the listener.
    probe_addr: SocketAddr,
    /// TLS certificate and key, when serving HTTPS.
    tls: Option<Tls>,
    current: Mutex<Arc<Server>>,
    retired: Mutex<Vec<Arc<Server>>>,
    /// When the current server's accept loop failed, the time of the next restart attempt and
    /// the back-off after it.
    broken: Mutex<Option<(Instant, Duration)>>,
    /// Reference point of `last_request`.
    epoch: Instant,
    /// When the last request arrived (or the last probe was tried), in milliseconds since
    /// `epoch`.
    last_request: AtomicU64,
    /// Requests that arrived so far.
    requests: AtomicU64,
    /// The probe in flight.
    probe: Mutex<Option<Probe>>,
}

/// A probe request sent to the exporter itself.
#[derive(Debug)]
struct Probe {
    /// Kept open until the answer arrives (or the accept loop is declared dead).
    _stream: TcpStream,
    sent: Instant,
    /// `Servers::requests` when it was sent: a higher count means a request got through.
    requests: u64,
}

impl std::fmt::Debug for Servers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Servers")
            .field("listener", &self.listener)
            .field("retired", &lock(&self.retired).len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data stays consistent whatever panicked while holding the lock.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A tiny_http server on a duplicate of `listener`, over TLS when `tls` is given.
fn serve(listener: &TcpListener, tls: Option<&Tls>) -> io::Result<Server> {
    let ssl = tls.map(|t| tiny_http::SslConfig {
        certificate: t.certificate.clone(),
        private_key: t.private_key.clone(),
    });
    Server::from_listener(listener.try_clone()?, ssl).map_err(|e| io::Error::other(e.to_string()))
}

impl Servers {
    /// Starts the first server on `listener`, which a client reaches at `probe_addr`.
    /// With `tls`, the probe (plain HTTP) is off: a silent death of the accept loop is then
    /// not detected, only one that `recv` reports.
    pub(crate) fn new(
        listener: TcpListener,
        probe_addr: SocketAddr,
        tls: Option<Tls>,
    ) -> io::Result<Self> {
        // tiny_http panics on a key it cannot parse: a clear error instead.
        let first =
            std::panic::catch_unwind(|| serve(&listener, tls.as_ref())).map_err(|_| {
                io::Error::other(
                    "the TLS certificate or key cannot be used (tiny_http rejected it)",
                )
            })??;
        Ok(Servers {
            listener,
            probe_addr,
            tls,
            current: Mutex::new(Arc::new(first)),
            retired: Mutex::new(Vec::new()),
            broken: Mutex::new(None),
            epoch: Instant::now(),
            last_request: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            probe: Mutex::new(None),
        })
    }

    fn millis(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// Records that a request arrived: the accept loop works.
    pub(crate) fn seen(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.last_request
            .store(self.millis(Instant::now()), Ordering::Relaxed);
    }

    /// Called by a worker that found no request for a while: probes the accept loop after a
    /// silence, and declares it dead (returns true) when the probe has not arrived in time.
    pub(crate) fn idle(&self) -> bool {
        let now = Instant::now();
        let mut probe = lock(&self.probe);
        let Some(p) = &*probe else {
            if self.tls.is_none() {
                *probe = self.probe_after_silence(now);
            }
            return false;
        };
        if self.requests.load(Ordering::Relaxed) > p.requests {
            // A request got through since the probe was sent: the accept loop works.
            *probe = None;
            return false;
        }
        if now.duration_since(p.sent) <= PROBE_TIMEOUT {
            return false;
        }
        *probe = None;
        drop(probe);
        self.failed(&self.current());
        true
    }

    /// When no request has arrived for [`SILENCE`], sends a probe (`None` when it is not time
    /// yet, or the probe could not be sent).
    fn probe_after_silence(&self, now: Instant) -> Option<Probe> {
        let last = self.last_request.load(Ordering::Relaxed);
        if self.millis(now) < last + SILENCE.as_millis() as u64 {
            return None;
        }
        // Whatever happens now, the next probe waits for another silence.
        self.last_request.store(self.millis(now), Ordering::Relaxed);
        let requests = self.requests.load(Ordering::Relaxed);
        // A failed connect or write is no evidence either way.
        let mut stream = TcpStream::connect_timeout(&self.probe_addr, PROBE_CONNECT).ok()?;
        stream.write_all(PROBE).ok()?;
        Some(Probe {
            _stream: stream,
            sent: now,
            requests,
        })
    }

    /// The server to take requests from.
    pub(crate) fn current(&self) -> Arc<Server> {
        lock(&self.current).clone()
    }

    /// Reports that `server`'s accept loop failed (its `recv` returned an error).
    pub(crate) fn failed(&self, server: &Arc<Server>) {
        if Arc::ptr_eq(server, &lock(&self.current)) {
            let mut broken = lock(&self.broken);
            if broken.is_none() {
                *broken = Some((Instant::now(), FIRST_BACKOFF));
            }
        }
    }

    /// If the current server's accept loop failed and the back-off has passed, starts a new
    /// server and retires the old one. Cheap when nothing failed.
    pub(crate) fn repair(&self) {
        let mut broken = lock(&self.broken);
        let Some((at, backoff)) = *broken else {
            return;
        };
        if Instant::now() < at {
            return;
        }
        // tiny_http panics when it cannot spawn its accept thread: treat it as a failure.
        let started = std::panic::catch_unwind(|| serve(&self.listener, self.tls.as_ref()));
        match started {
            Ok(Ok(server)) => {
                let old = std::mem::replace(&mut *lock(&self.current), Arc::new(server));
                let mut retired = lock(&self.retired);
                if retired.len() == MAX_RETIRED {
                    retired.remove(0);
                }
                retired.push(old);
                *broken = None;
            }
            _ => *broken = Some((Instant::now() + backoff, (backoff * 2).min(MAX_BACKOFF))),
        }
    }

    /// A request queued on a retired server, if any.
    pub(crate) fn retired_request(&self) -> Option<Request> {
        let retired = lock(&self.retired);
        retired
            .iter()
            .find_map(|server| server.try_recv().ok().flatten())
    }

    /// Wakes `n` workers waiting on the current server.
    pub(crate) fn unblock(&self, n: usize) {
        let current = lock(&self.current);
        for _ in 0..n {
            current.unblock();
        }
    }
}
