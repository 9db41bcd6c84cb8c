//! A bounded HTTP/1.1 server: one reactor thread (accept, TLS, request heads and bodies, every
//! limit) and a fixed pool of workers that run a [`Handler`] and write its answers. The
//! exporter serves its registry with it, and `metrics-gateway` its routes.

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use mio::{Poll, Waker};

use crate::connection::Conn;
use crate::handler::{Handler, Refusal, Response};
use crate::listener;
use crate::rate_limit::RateLimit;
use crate::reactor::{Job, Limits, Reactor, LISTENER, WAKER};
use crate::response;
use crate::tls::Reloading;
use crate::{Config, Error};

/// A running server: answers with its handler until stopped or dropped.
///
/// ```
/// use metrics_exporter_http::{Config, Handler, Request, Response, Server};
///
/// struct Hello;
/// impl Handler for Hello {
///     type Worker = ();
///     fn worker(&self) {}
///     fn handle(&self, _: &mut (), request: &Request, response: &mut Response) {
///         response.body(format!("hello from {}\n", request.path()).as_bytes());
///     }
/// }
///
/// let server = Server::start(&Config::new("127.0.0.1", 0), Hello)?;
/// let address = server.local_addr();
/// server.stop();
/// # Ok::<(), metrics_exporter_http::Error>(())
/// ```
#[must_use = "dropping the server stops it"]
pub struct Server {
    local_addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    waker: Arc<Waker>,
    reactor: Option<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
    open: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

/// What the workers share.
struct Shared<H> {
    handler: Arc<H>,
    jobs: Mutex<Receiver<Job>>,
    returned: Sender<Conn>,
    waker: Arc<Waker>,
    in_flight: Arc<AtomicUsize>,
    stopping: Arc<AtomicBool>,
    extra_headers: Vec<(String, String)>,
    limits: Limits,
}

impl Server {
    /// Checks `config`, binds its address and serves `handler` with `config.workers` threads
    /// and one reactor thread. Returns once the port is listening.
    pub fn start<H: Handler>(config: &Config, handler: H) -> Result<Server, Error> {
        let address = config.validate()?;
        let tcp = listener::bind(address)?;
        let bind_err = |source| Error::Bind { address, source };
        let local_addr = tcp.local_addr().map_err(bind_err)?;
        tcp.set_nonblocking(true).map_err(bind_err)?;
        let web = config.web.as_ref();
        let tls = match web.and_then(|w| w.tls_settings()) {
            None => None,
            Some(t) => Some(Arc::new(Reloading::new(t.clone()).map_err(|message| {
                Error::WebConfig {
                    file: web.map(|w| w.file().to_path_buf()).unwrap_or_default(),
                    message,
                }
            })?)),
        };
        let poll = Poll::new().map_err(|source| Error::Spawn { source })?;
        let waker =
            Arc::new(Waker::new(poll.registry(), WAKER).map_err(|source| Error::Spawn { source })?);
        {
            use std::os::fd::AsRawFd;
            poll.registry()
                .register(
                    &mut mio::unix::SourceFd(&tcp.as_raw_fd()),
                    LISTENER,
                    mio::Interest::READABLE,
                )
                .map_err(bind_err)?;
        }
        let handler = Arc::new(handler);
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let (returned_tx, returned_rx) = mpsc::channel();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let limits = Limits::of(config);
        let shared = Arc::new(Shared {
            handler: handler.clone(),
            jobs: Mutex::new(jobs_rx),
            returned: returned_tx,
            waker: waker.clone(),
            in_flight: in_flight.clone(),
            stopping: stopping.clone(),
            extra_headers: web
                .map(|w| w.response_headers().to_vec())
                .unwrap_or_default(),
            limits,
        });
        let reactor = Reactor {
            poll,
            listener: tcp,
            handler,
            limits,
            tls,
            rate_limit: web
                .and_then(|w| w.rate_limit())
                .map(|(interval, burst)| RateLimit::new(interval, burst)),
            jobs: jobs_tx,
            returned: returned_rx,
            in_flight,
            open: open.clone(),
            stopping: stopping.clone(),
            conns: Vec::new(),
            free: Vec::new(),
            accept_paused_until: None,
            backoff: std::time::Duration::from_millis(10),
        };
        let mut server = Server {
            local_addr,
            stopping,
            waker,
            reactor: None,
            workers: Vec::with_capacity(config.workers),
            open,
        };
        for i in 0..config.workers {
            let shared = shared.clone();
            let spawned = thread::Builder::new()
                .name(format!("metrics-http-{i}"))
                .spawn(move || work(&shared));
            match spawned {
                Ok(handle) => server.workers.push(handle),
                Err(source) => {
                    // The workers end once the reactor (and its job queue) is gone.
                    drop(reactor);
                    return Err(Error::Spawn { source });
                }
            }
        }
        drop(shared);
        let spawned = thread::Builder::new()
            .name("metrics-accept".into())
            .spawn(move || reactor.run());
        match spawned {
            Ok(handle) => server.reactor = Some(handle),
            Err(source) => return Err(Error::Spawn { source }),
        }
        Ok(server)
    }

    /// The address listened on, with the port the system picked for port 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connections open now (waiting for a request, or with a worker).
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Stops: the listener and every idle connection are closed at once, the workers answer
    /// the requests they hold and end, and this returns once every thread has ended (the port
    /// is free again).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
        if let Some(r) = self.reactor.take() {
            // Dropping the reactor drops the job queue's sender: the workers end once it
            // is empty.
            let _ = r.join();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// A worker thread: answers requests until the reactor is gone.
fn work<H: Handler>(shared: &Shared<H>) {
    let handler = &*shared.handler;
    let mut state = handler.worker();
    let mut response = Response::default();
    let mut head = Vec::new();
    loop {
        let job = shared
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        let Ok(Job { mut conn, request }) = job else {
            return;
        };
        response.reset();
        let answered = catch_unwind(AssertUnwindSafe(|| {
            handler.handle(&mut state, &request, &mut response)
        }));
        if answered.is_err() {
            handler.refused(Refusal::Panic);
            response.reset();
            response
                .status(500)
                .body(b"Internal server error\n")
                .close();
        }
        let keep =
            request.keep_alive() && !response.close && !shared.stopping.load(Ordering::SeqCst);
        response::write_head(&response, &shared.extra_headers, !keep, &mut head);
        let deadline = Instant::now() + shared.limits.write_timeout;
        let sent = response::send(
            &mut conn.writer(),
            &head,
            &response.body,
            request.is_head(),
            deadline,
        );
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        if sent.is_err() {
            handler.refused(Refusal::Write);
            continue;
        }
        if !keep || conn.set_blocking(false).is_err() {
            conn.close();
            continue;
        }
        if shared.returned.send(conn).is_ok() {
            let _ = shared.waker.wake();
        }
    }
}
