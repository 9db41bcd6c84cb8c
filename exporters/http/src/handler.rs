//! What a [`Server`](crate::Server) asks of the application: a [`Handler`] that turns a
//! [`Request`] into a [`Response`], and the refusals it may count.

use std::borrow::Cow;

use crate::Request;

/// The application behind a [`Server`](crate::Server): answers one request at a time on each
/// worker thread.
///
/// The server does everything else: accepting, TLS, reading and bounding request heads and
/// bodies (by `Content-Length` or chunked), keep-alive, refusals (400, 408, 413, 429, 431,
/// 503), writing the answer within the write timeout. A handler never touches a socket, so a client can hold a worker only
/// while its answer is being written.
pub trait Handler: Send + Sync + 'static {
    /// Per-worker state (buffers, compressors), made once per worker thread.
    type Worker: Send + 'static;

    /// Makes one worker's state.
    fn worker(&self) -> Self::Worker;

    /// The largest body this request may carry, in bytes (default 0: none). A request that
    /// announces more is answered 413 without any of its body being read, and its connection
    /// closed; a body within the limit is read (within the body timeout) before
    /// [`Handler::handle`] is called.
    fn max_body(&self, request: &Request) -> usize {
        let _ = request;
        0
    }

    /// Answers a request whose body is larger than [`Handler::max_body`] (announced by its
    /// `Content-Length`, or found while decoding a chunked body); `response` holds the default
    /// answer, a 413. The connection is closed after it, the rest of the body unread. Runs on
    /// the reactor thread: keep it short (count, set a message).
    fn body_too_large(&self, request: &Request, response: &mut Response) {
        let _ = (request, response);
    }

    /// Answers `request` into `response` (reset before each call: 200, no headers, an empty
    /// body). Panics are caught: the client gets a 500 and the worker carries on.
    fn handle(&self, worker: &mut Self::Worker, request: &Request, response: &mut Response);

    /// Called for every request or connection the server refuses or gives up on (default:
    /// nothing), to count them.
    fn refused(&self, refusal: Refusal) {
        let _ = refusal;
    }
}

/// Why the server refused a request or closed a connection on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// Not HTTP/1.x, or an invalid `Content-Length`: 400, connection closed.
    Malformed,
    /// The head did not arrive whole within the head timeout: 408, connection closed.
    HeadTimeout,
    /// The head is larger than `max_head_size`, or has more than 64 header lines: 431,
    /// connection closed.
    HeadTooLarge,
    /// A body larger than the route takes (1 KiB on routes that take none): 413 (as
    /// [`Handler::body_too_large`] says), connection closed, the rest of the body unread.
    BodyTooLarge,
    /// The body did not arrive whole within the body timeout: 408, connection closed.
    BodyTimeout,
    /// `max_requests` requests were already in flight: 503, connection closed.
    TooManyRequests,
    /// The `rate_limit` of the web configuration: 429.
    RateLimited,
    /// `max_connections` connections were open: the oldest idle one was closed to make room
    /// (or, with none idle, the new one was answered 503 and closed).
    ConnectionLimit,
    /// `accept` failed (out of descriptors, `EMFILE`/`ENFILE`, out of memory): the accept
    /// loop backs off and goes on.
    Accept,
    /// A TLS handshake failed (no, or an unknown, client certificate; a SAN not allowed; not
    /// TLS at all).
    Tls,
    /// An answer could not be written: the client went away or did not read it within the
    /// write timeout.
    Write,
    /// The handler panicked: 500.
    Panic,
}

impl Refusal {
    /// Every refusal.
    pub const ALL: [Refusal; 12] = [
        Refusal::Malformed,
        Refusal::HeadTimeout,
        Refusal::HeadTooLarge,
        Refusal::BodyTooLarge,
        Refusal::BodyTimeout,
        Refusal::TooManyRequests,
        Refusal::RateLimited,
        Refusal::ConnectionLimit,
        Refusal::Accept,
        Refusal::Tls,
        Refusal::Write,
        Refusal::Panic,
    ];

    /// A short name, for a metric label: `malformed`, `head_timeout`, `head_too_large`,
    /// `body_too_large`, `body_timeout`, `too_many_requests`, `rate_limited`,
    /// `connection_limit`, `accept`, `tls`, `write`, `panic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::HeadTimeout => "head_timeout",
            Refusal::HeadTooLarge => "head_too_large",
            Refusal::BodyTooLarge => "body_too_large",
            Refusal::BodyTimeout => "body_timeout",
            Refusal::TooManyRequests => "too_many_requests",
            Refusal::RateLimited => "rate_limited",
            Refusal::ConnectionLimit => "connection_limit",
            Refusal::Accept => "accept",
            Refusal::Tls => "tls",
            Refusal::Write => "write",
            Refusal::Panic => "panic",
        }
    }
}

/// The answer a [`Handler`] fills in. The server adds `Date`, `Content-Length`, the
/// web configuration's `http_server_config.headers` and, when it closes the connection,
/// `Connection: close`; a `HEAD` request gets the headers without the body.
#[derive(Debug)]
pub struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: Cow<'static, str>,
    pub(crate) headers: Vec<(&'static str, Cow<'static, str>)>,
    /// The body. Cleared (its capacity kept) before each request.
    pub body: Vec<u8>,
    pub(crate) close: bool,
}

impl Default for Response {
    fn default() -> Self {
        Response {
            status: 200,
            content_type: Cow::Borrowed("text/plain; charset=utf-8"),
            headers: Vec::new(),
            body: Vec::new(),
            close: false,
        }
    }
}

impl Response {
    pub(crate) fn reset(&mut self) {
        self.status = 200;
        self.content_type = Cow::Borrowed("text/plain; charset=utf-8");
        self.headers.clear();
        self.body.clear();
        self.close = false;
    }

    /// Sets the status code (default 200).
    pub fn status(&mut self, status: u16) -> &mut Self {
        self.status = status;
        self
    }

    /// Sets `Content-Type` (default `text/plain; charset=utf-8`).
    pub fn content_type(&mut self, value: impl Into<Cow<'static, str>>) -> &mut Self {
        self.content_type = value.into();
        self
    }

    /// Adds a header (not `Content-Length`, `Date`, `Connection`: the server writes those).
    pub fn header(&mut self, name: &'static str, value: impl Into<Cow<'static, str>>) -> &mut Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Replaces the body.
    pub fn body(&mut self, body: &[u8]) -> &mut Self {
        self.body.clear();
        self.body.extend_from_slice(body);
        self
    }

    /// Closes the connection after this answer.
    pub fn close(&mut self) -> &mut Self {
        self.close = true;
        self
    }
}

/// The reason phrase of a status code.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        507 => "Insufficient Storage",
        _ => "Unknown",
    }
}
