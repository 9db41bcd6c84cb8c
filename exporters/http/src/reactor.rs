//! The reactor: one thread that accepts connections, does TLS handshakes, reads request heads
//! and bodies (non-blocking, with epoll through mio), enforces every bound, and hands complete
//! requests to the workers. A connection waiting for its client never holds a worker.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::chunked;
use crate::connection::{Conn, Fill, Open, Phase};
use crate::handler::{reason, Handler, Refusal, Response};
use crate::rate_limit::RateLimit;
use crate::request::{self, Framing, Parsed};
use crate::tls::Reloading;
use crate::Config;

pub(crate) const LISTENER: Token = Token(usize::MAX - 1);
pub(crate) const WAKER: Token = Token(usize::MAX - 2);

/// A body up to this size is read whatever the route (and the handler answers, e.g. 405);
/// above it, only routes whose [`Handler::max_body`] allows it get their body read.
pub(crate) const SMALL_BODY: usize = 1024;
/// Bytes of a chunked body read ahead of decoding.
const CHUNKED_WINDOW: usize = 64 * 1024;
/// How often deadlines are checked.
const TICK: Duration = Duration::from_millis(100);
/// How long a refused connection is drained before it is closed.
const LINGER: Duration = Duration::from_secs(2);
/// Accept back-off after `EMFILE` and the like: first, and longest.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A complete request and its connection, for a worker.
pub(crate) struct Job {
    pub(crate) conn: Conn,
    pub(crate) request: Box<request::Request>,
}

/// The limits the reactor enforces (from [`Config`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) max_requests: usize,
    pub(crate) max_head_size: usize,
    pub(crate) head_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) write_timeout: Duration,
}

impl Limits {
    pub(crate) fn of(c: &Config) -> Limits {
        Limits {
            max_connections: c.max_connections,
            max_requests: c.max_requests,
            max_head_size: c.max_head_size,
            head_timeout: c.head_timeout,
            body_timeout: c.body_timeout,
            idle_timeout: c.idle_timeout,
            write_timeout: c.write_timeout,
        }
    }
}

/// The reactor's state; runs on its own thread until `stopping`.
pub(crate) struct Reactor<H: Handler> {
    pub(crate) poll: Poll,
    pub(crate) listener: TcpListener,
    pub(crate) handler: Arc<H>,
    pub(crate) limits: Limits,
    pub(crate) tls: Option<Arc<Reloading>>,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) jobs: Sender<Job>,
    pub(crate) returned: Receiver<Conn>,
    pub(crate) in_flight: Arc<AtomicUsize>,
    pub(crate) open: Arc<AtomicUsize>,
    pub(crate) stopping: Arc<AtomicBool>,
    pub(crate) conns: Vec<Option<Conn>>,
    pub(crate) free: Vec<usize>,
    pub(crate) accept_paused_until: Option<Instant>,
    pub(crate) backoff: Duration,
}

fn register(poll: &Poll, conn: &Conn, token: Token) -> io::Result<()> {
    let interest = if conn.tls.is_some() {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    };
    poll.registry()
        .register(&mut SourceFd(&conn.stream.as_raw_fd()), token, interest)
}

fn deregister(poll: &Poll, conn: &Conn) {
    let _ = poll
        .registry()
        .deregister(&mut SourceFd(&conn.stream.as_raw_fd()));
}

/// A short plain-text refusal with `Connection: close`.
fn refusal_bytes(status: u16, message: &str) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n",
        reason(status),
        message.len()
    );
    if status == 429 || status == 503 {
        out.push_str("Retry-After: 1\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out.push_str(message);
    out.into_bytes()
}

impl<H: Handler> Reactor<H> {
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(256);
        let mut next_tick = Instant::now() + TICK;
        while !self.stopping.load(Ordering::SeqCst) {
            let now = Instant::now();
            let timeout = next_tick.saturating_duration_since(now);
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    // Cannot happen with a valid epoll descriptor; do not spin.
                    std::thread::sleep(TICK);
                }
                continue;
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    WAKER => {}
                    Token(i) => self.ready(i),
                }
            }
            // Connections back from the workers (woken through WAKER, or found here anyway).
            while let Ok(conn) = self.returned.try_recv() {
                self.take_back(conn);
            }
            let now = Instant::now();
            if now >= next_tick {
                next_tick = now + TICK;
                self.tick(now);
            }
        }
        // Dropping the reactor closes the listener and every connection it holds.
    }

    fn insert(&mut self, conn: Conn) -> Option<usize> {
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.conns.push(None);
                self.conns.len() - 1
            }
        };
        if register(&self.poll, &conn, Token(i)).is_err() {
            self.free.push(i);
            return None;
        }
        self.conns[i] = Some(conn);
        Some(i)
    }

    fn remove(&mut self, i: usize) -> Option<Conn> {
        let conn = self.conns.get_mut(i)?.take()?;
        deregister(&self.poll, &conn);
        self.free.push(i);
        Some(conn)
    }

    /// Accepts every pending connection.
    fn accept_all(&mut self) {
        if self.accept_paused_until.is_some() {
            return;
        }
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    self.backoff = FIRST_BACKOFF;
                    self.accepted(stream, peer);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) => {}
                Err(_) => {
                    // Out of descriptors (EMFILE, ENFILE) or memory: free one descriptor by
                    // closing the oldest idle connection, and try again after a back-off.
                    self.handler.refused(Refusal::Accept);
                    if let Some(i) = self.oldest_idle() {
                        self.remove(i);
                        self.handler.refused(Refusal::ConnectionLimit);
                    }
                    self.accept_paused_until = Some(Instant::now() + self.backoff);
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                    return;
                }
            }
        }
    }

    fn accepted(&mut self, stream: TcpStream, peer: std::net::SocketAddr) {
        let now = Instant::now();
        if self.open.load(Ordering::SeqCst) >= self.limits.max_connections {
            match self.oldest_idle() {
                Some(i) => {
                    self.remove(i);
                    self.handler.refused(Refusal::ConnectionLimit);
                }
                None => {
                    // Every connection is with a worker: this one is refused.
                    self.handler.refused(Refusal::ConnectionLimit);
                    let _ = stream.set_nonblocking(true);
                    let mut conn = Conn::new(
                        stream,
                        None,
                        peer,
                        Phase::Closing { until: now },
                        Open::new(&self.open),
                    );
                    conn.send_nonblocking(&refusal_bytes(
                        503,
                        "Service unavailable: too many connections\n",
                    ));
                    return;
                }
            }
        }
        if stream.set_nonblocking(true).is_err()
            || stream.set_nodelay(true).is_err()
            || stream
                .set_write_timeout(Some(self.limits.write_timeout))
                .is_err()
        {
            return;
        }
        let tls = match &self.tls {
            None => None,
            Some(t) => match rustls::ServerConnection::new(t.current()) {
                Ok(c) => Some(Box::new(c)),
                Err(_) => {
                    self.handler.refused(Refusal::Tls);
                    return;
                }
            },
        };
        let phase = Phase::Head {
            until: now + self.limits.head_timeout,
        };
        let conn = Conn::new(stream, tls, peer, phase, Open::new(&self.open));
        if let Some(i) = self.insert(conn) {
            // The request is often there already.
            self.ready(i);
        }
    }

    /// The connection waiting on its client that received nothing for the longest time.
    fn oldest_idle(&self) -> Option<usize> {
        self.conns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| (i, c.last_active)))
            .min_by_key(|(_, t)| *t)
            .map(|(i, _)| i)
    }

    /// A connection came back from a worker after a keep-alive answer.
    fn take_back(&mut self, mut conn: Conn) {
        let now = Instant::now();
        conn.phase = if conn.buf.is_empty() {
            Phase::Idle {
                until: now + self.limits.idle_timeout,
            }
        } else {
            Phase::Head {
                until: now + self.limits.head_timeout,
            }
        };
        if let Some(i) = self.insert(conn) {
            self.ready(i);
        }
    }

    /// Refuses the request on connection `i`: a short answer, then the connection lingers
    /// (draining) until the client closes or [`LINGER`] has passed.
    fn refuse(&mut self, i: usize, refusal: Refusal, status: u16, message: &str) {
        self.handler.refused(refusal);
        if let Some(conn) = self.conns[i].as_mut() {
            conn.send_nonblocking(&refusal_bytes(status, message));
            conn.buf = Vec::new();
            conn.phase = Phase::Closing {
                until: Instant::now() + LINGER,
            };
        }
    }

    /// Answers, as the handler says, a request whose body is larger than its route takes.
    fn body_too_large(&mut self, i: usize, request: &request::Request) {
        let mut r = Response::default();
        r.status(413).body(b"Content too large for this path\n");
        self.handler.body_too_large(request, &mut r);
        let mut bytes = Vec::new();
        crate::response::write_head(&r, &[], true, &mut bytes);
        if !request.is_head() {
            bytes.extend_from_slice(&r.body);
        }
        self.handler.refused(Refusal::BodyTooLarge);
        if let Some(conn) = self.conns[i].as_mut() {
            conn.send_nonblocking(&bytes);
            conn.buf = Vec::new();
            conn.phase = Phase::Closing {
                until: Instant::now() + LINGER,
            };
        }
    }

    /// Connection `i` is readable or writable.
    fn ready(&mut self, i: usize) {
        // Head, then body: rounds of reading while each makes progress.
        loop {
            let Some(conn) = self.conns.get_mut(i).and_then(Option::as_mut) else {
                return;
            };
            if conn.wants_write && conn.flush_tls().is_err() {
                self.remove(i);
                return;
            }
            let limit = match &conn.phase {
                Phase::Idle { .. } | Phase::Head { .. } => self.limits.max_head_size + 1,
                Phase::Body { remaining, .. } => *remaining,
                Phase::Chunked { .. } => CHUNKED_WINDOW,
                Phase::Closing { .. } => 0,
            };
            if let Phase::Closing { .. } = conn.phase {
                // Drain and drop.
                conn.buf.clear();
                loop {
                    match conn.fill(64 * 1024) {
                        Fill::Open if conn.buf.len() >= 64 * 1024 => conn.buf.clear(),
                        Fill::Open => {
                            conn.buf = Vec::new();
                            return;
                        }
                        Fill::Eof | Fill::Failed => {
                            self.remove(i);
                            return;
                        }
                    }
                }
            }
            let before = conn.buf.len();
            let was_handshaking = conn.handshaking();
            let filled = conn.fill(limit);
            let now = Instant::now();
            if conn.buf.len() > before {
                conn.last_active = now;
                if let Phase::Idle { .. } = conn.phase {
                    conn.phase = Phase::Head {
                        until: now + self.limits.head_timeout,
                    };
                }
            }
            if filled == Fill::Failed {
                if was_handshaking || conn.tls.as_ref().is_some_and(|_| conn.requests == 0) {
                    self.handler.refused(Refusal::Tls);
                }
                self.remove(i);
                return;
            }
            let eof = filled == Fill::Eof;
            let full = filled == Fill::Open && conn.buf.len() >= limit;
            match self.progress(i, full) {
                Progress::Waiting if eof => {
                    self.remove(i);
                    return;
                }
                Progress::Waiting | Progress::Done => return,
                Progress::Again => {}
            }
        }
    }

    /// Parses what connection `i` received: refuses, dispatches, or waits for more.
    fn progress(&mut self, i: usize, full: bool) -> Progress {
        let Some(conn) = self.conns[i].as_mut() else {
            return Progress::Done;
        };
        let now = Instant::now();
        match &mut conn.phase {
            Phase::Idle { .. } | Phase::Closing { .. } => Progress::Waiting,
            Phase::Head { .. } => match request::parse(&conn.buf, conn.peer) {
                Parsed::Partial if conn.buf.len() > self.limits.max_head_size => {
                    self.refuse(
                        i,
                        Refusal::HeadTooLarge,
                        431,
                        "Request header fields too large\n",
                    );
                    Progress::Done
                }
                Parsed::Partial => Progress::Waiting,
                Parsed::TooManyHeaders => {
                    self.refuse(
                        i,
                        Refusal::HeadTooLarge,
                        431,
                        "Request header fields too large\n",
                    );
                    Progress::Done
                }
                Parsed::Malformed => {
                    self.refuse(i, Refusal::Malformed, 400, "Bad request\n");
                    Progress::Done
                }
                Parsed::Head(mut request) => {
                    if request.head_len() > self.limits.max_head_size {
                        self.refuse(
                            i,
                            Refusal::HeadTooLarge,
                            431,
                            "Request header fields too large\n",
                        );
                        return Progress::Done;
                    }
                    conn.buf.drain(..request.head_len());
                    let (length, chunked) = match request.framing() {
                        Framing::Length(n) => (n, false),
                        Framing::Chunked => (0, true),
                        Framing::Invalid => {
                            self.refuse(
                                i,
                                Refusal::Malformed,
                                400,
                                "Bad request: Content-Length\n",
                            );
                            return Progress::Done;
                        }
                    };
                    let max_body = SMALL_BODY.max(self.handler.max_body(&request));
                    // A client that waits for `100 Continue` before sending an accepted body
                    // (curl does above 1 KiB) gets it at once.
                    let expects_continue = request
                        .header("Expect")
                        .is_some_and(|e| e.trim().eq_ignore_ascii_case("100-continue"));
                    let continue_now = |conn: &mut Conn| {
                        if expects_continue && conn.buf.is_empty() {
                            conn.send_interim(b"HTTP/1.1 100 Continue\r\n\r\n");
                        }
                    };
                    if chunked {
                        continue_now(conn);
                        conn.phase = Phase::Chunked {
                            until: now + self.limits.body_timeout,
                            request,
                            state: chunked::State::Size,
                            total: 0,
                            limit: max_body,
                        };
                        return Progress::Again;
                    }
                    if length > max_body {
                        self.body_too_large(i, &request);
                        return Progress::Done;
                    }
                    let now_in_buf = length.min(conn.buf.len());
                    request.push_body(&conn.buf[..now_in_buf]);
                    conn.buf.drain(..now_in_buf);
                    let remaining = length - now_in_buf;
                    if remaining == 0 {
                        self.dispatch(i, request);
                        Progress::Done
                    } else {
                        continue_now(conn);
                        conn.phase = Phase::Body {
                            until: now + self.limits.body_timeout,
                            request,
                            remaining,
                        };
                        Progress::Again
                    }
                }
            },
            Phase::Chunked {
                request,
                state,
                total,
                limit,
                ..
            } => {
                let limit = *limit;
                let decoded = chunked::decode(
                    state,
                    &mut conn.buf,
                    &mut |b| request.push_body(b),
                    total,
                    limit,
                );
                match decoded {
                    Ok(true) => {
                        let phase =
                            std::mem::replace(&mut conn.phase, Phase::Closing { until: now });
                        if let Phase::Chunked { request, .. } = phase {
                            self.dispatch(i, request);
                        }
                        Progress::Done
                    }
                    Ok(false) if full => Progress::Again,
                    Ok(false) => Progress::Waiting,
                    Err(chunked::Error::Malformed) => {
                        self.refuse(i, Refusal::Malformed, 400, "Bad request: chunked body\n");
                        Progress::Done
                    }
                    Err(chunked::Error::TooLarge) => {
                        let phase =
                            std::mem::replace(&mut conn.phase, Phase::Closing { until: now });
                        if let Phase::Chunked { request, .. } = phase {
                            self.body_too_large(i, &request);
                        }
                        Progress::Done
                    }
                }
            }
            Phase::Body {
                request, remaining, ..
            } => {
                let n = (*remaining).min(conn.buf.len());
                request.push_body(&conn.buf[..n]);
                conn.buf.drain(..n);
                *remaining -= n;
                if *remaining == 0 {
                    let phase = std::mem::replace(&mut conn.phase, Phase::Closing { until: now });
                    if let Phase::Body { request, .. } = phase {
                        self.dispatch(i, request);
                    }
                    Progress::Done
                } else {
                    Progress::Waiting
                }
            }
        }
    }

    /// Hands a complete request to the workers, unless a limit refuses it.
    fn dispatch(&mut self, i: usize, request: Box<request::Request>) {
        if let Some(limit) = &mut self.rate_limit {
            if !limit.allow(Instant::now()) {
                self.refuse(
                    i,
                    Refusal::RateLimited,
                    429,
                    "Too many requests: rate limited\n",
                );
                return;
            }
        }
        if self.in_flight.load(Ordering::SeqCst) >= self.limits.max_requests {
            self.refuse(
                i,
                Refusal::TooManyRequests,
                503,
                "Service unavailable: too many requests in flight\n",
            );
            return;
        }
        let Some(mut conn) = self.remove(i) else {
            return;
        };
        if conn.set_blocking(true).is_err() {
            return;
        }
        conn.requests += 1;
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = self.jobs.send(Job { conn, request }) {
            // The workers are gone (stopping).
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            drop(e);
        }
    }

    /// Closes connections past their deadline, and resumes accepting after a back-off.
    fn tick(&mut self, now: Instant) {
        if self.accept_paused_until.is_some_and(|t| now >= t) {
            self.accept_paused_until = None;
            self.accept_all();
        }
        for i in 0..self.conns.len() {
            let Some(conn) = &self.conns[i] else {
                continue;
            };
            match &conn.phase {
                Phase::Idle { until } | Phase::Closing { until } if now >= *until => {
                    self.remove(i);
                }
                Phase::Head { until } if now >= *until => {
                    if conn.buf.is_empty() && !conn.handshaking() {
                        // Never sent anything: closed without an answer.
                        self.handler.refused(Refusal::HeadTimeout);
                        self.remove(i);
                    } else if conn.handshaking() {
                        self.handler.refused(Refusal::Tls);
                        self.remove(i);
                    } else {
                        self.refuse(
                            i,
                            Refusal::HeadTimeout,
                            408,
                            "Request timeout: the head took too long\n",
                        );
                    }
                }
                Phase::Body { until, .. } | Phase::Chunked { until, .. } if now >= *until => {
                    self.refuse(
                        i,
                        Refusal::BodyTimeout,
                        408,
                        "Request timeout: the body took too long\n",
                    );
                }
                _ => {}
            }
        }
    }
}

/// What parsing gave.
enum Progress {
    /// Needs more bytes.
    Waiting,
    /// Read again (a body follows the head).
    Again,
    /// Dispatched or refused.
    Done,
}
