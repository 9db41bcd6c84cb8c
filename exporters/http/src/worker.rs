//! One worker thread's state and how it answers a request.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use metrics_core::Families;
use tiny_http::{Method, Request};

use crate::chain::Chain;
use crate::gzip::{accepts_gzip, Gzip};
use crate::response::{self, Response, Status};
use crate::routes::{self, Route};
use crate::self_metrics::{ErrorKind, SelfMetrics};
use crate::Config;

/// The `WWW-Authenticate` challenge of a 401.
const CHALLENGE: &str = "Basic realm=\"metrics\", charset=\"UTF-8\"";

/// What all workers share, read-only.
pub(crate) struct Shared {
    pub(crate) registry: Arc<dyn Families + Send + Sync>,
    pub(crate) config: Config,
    pub(crate) self_metrics: Option<SelfMetrics>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn count_error(&self, kind: ErrorKind) {
        if let Some(m) = &self.self_metrics {
            m.error(kind);
        }
    }
}

/// One worker's buffers, reused for every request: after the first few scrapes have grown
/// them, answering a scrape allocates nothing here (tiny_http allocates the request itself).
#[derive(Debug)]
pub(crate) struct Worker {
    shared: Arc<Shared>,
    /// The encoded registry (or an error message).
    body: Vec<u8>,
    /// The gzip-compressed body.
    compressed: Vec<u8>,
    /// Status line and headers.
    head: Vec<u8>,
    /// Created on the first request that accepts gzip.
    gzip: Option<Gzip>,
}

impl Worker {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Worker {
            shared,
            body: Vec::new(),
            compressed: Vec::new(),
            head: Vec::new(),
            gzip: None,
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Answers one request.
    pub(crate) fn handle(&mut self, request: Request) {
        if streams_body(&request) {
            // tiny_http reads bodies over 1 KiB lazily, and dropping (or answering) such a
            // request makes the dropping thread read the rest of the body first, with no
            // timeout, into a buffer of the announced size: a client that announces a large
            // body and sends it slowly would hold this worker, and an absurd Content-Length
            // aborts the process on allocation failure. No route takes a body, so the request
            // is abandoned unanswered instead: its connection and the tiny_http thread waiting
            // on it are leaked (unbounded over many such requests: see the README's limits)
            // rather than a stalled worker.
            self.shared.count_error(ErrorKind::RequestBody);
            std::mem::forget(request);
            return;
        }
        if head_size(&request) > self.shared.config.max_head_size {
            self.shared.count_error(ErrorKind::HeadTooLarge);
            let r = Response::new(
                Status::HeadTooLarge,
                routes::PLAIN,
                b"Request header fields too large\n",
            );
            return self.send(request, &r);
        }
        if let Some(web) = &self.shared.config.web {
            if !web.authorize(header(&request, "Authorization")) {
                let mut r = Response::new(
                    Status::Unauthorized,
                    routes::PLAIN,
                    b"Unauthorized: this exporter needs basic auth\n",
                );
                r.www_authenticate = Some(CHALLENGE);
                return self.send(request, &r);
            }
        }
        let route = routes::route(request.url());
        if route != Route::NotFound && !routes::allowed(request.method()) {
            let mut r = Response::new(
                Status::MethodNotAllowed,
                routes::PLAIN,
                b"Method not allowed: use GET or HEAD\n",
            );
            r.allow = Some(routes::ALLOW);
            return self.send(request, &r);
        }
        match route {
            Route::Landing => {
                let r = Response::new(Status::Ok, routes::HTML, routes::LANDING_PAGE.as_bytes());
                self.send(request, &r);
            }
            Route::Healthy => self.send(request, &Response::new(Status::Ok, routes::PLAIN, b"OK")),
            Route::Metrics => self.metrics(request),
            Route::NotFound => {
                let r = Response::new(
                    Status::NotFound,
                    routes::PLAIN,
                    b"Not found: try /metrics\n",
                );
                self.send(request, &r);
            }
        }
    }

    fn metrics(&mut self, request: Request) {
        let shared = &*self.shared;
        let config = &shared.config;
        let format = config
            .force_format
            .unwrap_or_else(|| metrics_core::negotiate(header(&request, "Accept")));

        self.body.clear();
        let started = Instant::now();
        let encoded = match &shared.self_metrics {
            Some(own) => metrics_core::encode_to_vec(
                &Chain {
                    first: &*shared.registry,
                    second: own.registry(),
                },
                format,
                &mut self.body,
            ),
            None => metrics_core::encode_to_vec(&*shared.registry, format, &mut self.body),
        };
        let took = started.elapsed();

        if let Err(e) = encoded {
            if let Some(m) = &shared.self_metrics {
                m.scrape(format, false);
                m.error(ErrorKind::Encode);
            }
            self.body.clear();
            let _ = writeln!(self.body, "Cannot encode the metrics: {e}");
            let r = Response::new(Status::InternalError, routes::PLAIN, &self.body);
            r.write_head(&mut self.head);
            return send_written(shared, request, &self.head, r.body);
        }
        if let Some(m) = &shared.self_metrics {
            m.encoded(took);
            m.scrape(format, true);
        }

        let mut gzipped = false;
        if config.gzip && accepts_gzip(header(&request, "Accept-Encoding")) {
            let gz = self.gzip.get_or_insert_with(Gzip::new);
            gzipped = gz.compress(&self.body, &mut self.compressed).is_ok();
        }
        let mut r = Response::new(
            Status::Ok,
            format.content_type(),
            if gzipped {
                &self.compressed
            } else {
                &self.body
            },
        );
        r.gzip = gzipped;
        r.vary = match (config.force_format.is_none(), config.gzip) {
            (true, true) => Some("Accept, Accept-Encoding"),
            (true, false) => Some("Accept"),
            (false, true) => Some("Accept-Encoding"),
            (false, false) => None,
        };
        r.write_head(&mut self.head);
        send_written(shared, request, &self.head, r.body);
    }

    fn send(&mut self, request: Request, response: &Response<'_>) {
        response.write_head(&mut self.head);
        send_written(&self.shared, request, &self.head, response.body);
    }
}

/// Sends a response whose head is already in `head`.
fn send_written(shared: &Shared, request: Request, head: &[u8], body: &[u8]) {
    let head_only = *request.method() == Method::Head;
    let deadline = Instant::now() + shared.config.write_timeout;
    let mut writer = request.into_writer();
    if response::send(&mut *writer, head, body, head_only, deadline).is_err() {
        shared.count_error(ErrorKind::Write);
    }
}

/// The first value of header `name`.
fn header<'r>(request: &'r Request, name: &'static str) -> Option<&'r str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

/// True when tiny_http left the request body on the socket, to be read when the request is
/// dropped: a Content-Length over 1 KiB, or any body with `Expect` (tiny_http reads bodies up
/// to 1 KiB before handing the request over; chunked bodies are not drained on drop).
fn streams_body(request: &Request) -> bool {
    match request.body_length() {
        Some(n) if n > 1024 => true,
        Some(n) if n > 0 => header(request, "Expect").is_some(),
        _ => false,
    }
}

/// The size of the request head as sent: request line, header lines, blank line.
fn head_size(request: &Request) -> usize {
    // "METHOD SP target SP HTTP/1.1 CRLF"
    let line = request.method().as_str().len() + request.url().len() + 12;
    let headers: usize = request
        .headers()
        .iter()
        .map(|h| h.field.as_str().as_str().len() + h.value.as_str().len() + 4)
        .sum();
    line + headers + 2
}
