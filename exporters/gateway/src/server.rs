//! The HTTP side: `/metrics` (every device and the pushed totals), `/probe?target=<device>`
//! (one device), `/push/job/...` (with `--accept-pushes`), a landing page and `/-/healthy`,
//! served with tiny_http, over TLS and behind basic auth when a web config file says so.
//!
//! `exporters/http` serves one fixed registry on `/metrics` only; a probe needs a different
//! answer per request, so this serves tiny_http directly and encodes with the core. The web
//! config file is `exporters/http`'s [`WebConfig`] (exporter-toolkit's format).

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use metrics_exporter_http::{WebConfig, REALM};
use tiny_http::{Header, Method, Request, Response};

use crate::poller::Poller;
use crate::push::{PushResult, Pushes};
use crate::render;

/// What the server answers from.
#[derive(Clone, Debug)]
pub struct Routes {
    /// The devices.
    pub poller: Arc<Poller>,
    /// The push endpoint, when `--accept-pushes` is given.
    pub pushes: Option<Arc<Pushes>>,
    /// TLS and basic auth, from `--web-config-file`.
    pub web: Option<WebConfig>,
}

/// A body announced larger than this is not answered at all (the request is abandoned, as
/// `exporters/http` does): tiny_http would read the rest of it into a buffer of the announced
/// size when the request is dropped, and an absurd size aborts the process. Between the
/// limit and this, a 413 is answered and the rest of the body read and discarded.
const MAX_DRAINED_BODY: usize = 64 << 20;

/// An HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
}

const PLAIN: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

impl Answer {
    fn text(status: u16, body: impl Into<String>) -> Answer {
        Answer {
            status,
            content_type: PLAIN,
            body: body.into().into_bytes(),
        }
    }
}

/// Answers `target` (path and query) for a client whose `Accept` header is `accept`,
/// scraping the devices it asks for.
pub fn answer(routes: &Routes, target: &str, accept: Option<&str>) -> Answer {
    let poller = &*routes.poller;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let format = metrics_core::negotiate(accept);
    let exposition = |which: &[usize]| Answer {
        status: 200,
        content_type: format.content_type(),
        body: render::render(&poller.scrape(which), format),
    };
    match path {
        "/metrics" => {
            let all: Vec<usize> = (0..poller.names().count()).collect();
            let pushed = routes.pushes.as_ref().map(|p| p.families());
            let pushed = pushed
                .as_ref()
                .map(|(own, totals)| (own.as_slice(), totals.as_slice()));
            Answer {
                status: 200,
                content_type: format.content_type(),
                body: render::render_page(&poller.scrape(&all), pushed, format),
            }
        }
        "/probe" => {
            let targets: Vec<String> = query
                .split('&')
                .filter_map(|kv| kv.strip_prefix("target="))
                .map(percent_decode)
                .collect();
            match targets.as_slice() {
                [] => Answer::text(
                    400,
                    "missing target: ask /probe?target=<device> with a device name from /\n",
                ),
                [t] => match poller.index(t) {
                    Some(i) => exposition(&[i]),
                    None => Answer::text(
                        404,
                        format!(
                            "unknown target `{t}`: the devices are {}\n",
                            poller.names().collect::<Vec<_>>().join(", ")
                        ),
                    ),
                },
                _ => Answer::text(400, "give one target per probe\n"),
            }
        }
        "/" => {
            let devices: String = poller
                .names()
                .map(|n| format!("<li><a href=\"probe?target={n}\">{n}</a></li>\n"))
                .collect();
            Answer {
                status: 200,
                content_type: HTML,
                body: format!(
                    "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>metrics-gateway</title></head>\n<body>\n<h1>metrics-gateway</h1>\n<p><a href=\"metrics\">/metrics</a>: every device</p>\n<p>One device: /probe?target=</p>\n<ul>\n{devices}</ul>\n</body>\n</html>\n"
                )
                .into_bytes(),
            }
        }
        "/-/healthy" => Answer::text(200, "OK\n"),
        _ if path == "/push" || path.starts_with(crate::push::path::PREFIX) => Answer::text(
            405,
            "method not allowed: push with PUT or POST (the body holds this run's increments)\n",
        ),
        _ => Answer::text(404, "not found: try /metrics or /probe?target=<device>\n"),
    }
}

/// `%XX` and `+` decoded; an invalid escape is kept as written.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A running HTTP server; stops when dropped.
pub struct Server {
    http: Arc<tiny_http::Server>,
    addr: SocketAddr,
    workers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

impl Server {
    /// Listens on `addr` and answers with `workers` threads (each request scrapes devices,
    /// so several let scrapes of different targets overlap).
    pub fn start(addr: SocketAddr, routes: Routes, workers: usize) -> io::Result<Server> {
        let http = match routes
            .web
            .as_ref()
            .and_then(WebConfig::tls_certificate_and_key)
        {
            Some((certificate, private_key)) => tiny_http::Server::https(
                addr,
                tiny_http::SslConfig {
                    certificate: certificate.to_vec(),
                    private_key: private_key.to_vec(),
                },
            ),
            None => tiny_http::Server::http(addr),
        }
        .map_err(io::Error::other)?;
        let addr = http
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("not an IP listener"))?;
        let http = Arc::new(http);
        let mut server = Server {
            http,
            addr,
            workers: Vec::new(),
        };
        for i in 0..workers.max(1) {
            let http = server.http.clone();
            let routes = routes.clone();
            server.workers.push(
                thread::Builder::new()
                    .name(format!("gateway-http-{i}"))
                    .spawn(move || {
                        for request in http.incoming_requests() {
                            respond(&routes, request);
                        }
                    })?,
            );
        }
        Ok(server)
    }

    /// The address listened on (with the port the system picked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for _ in &self.workers {
            self.http.unblock();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

fn header(request: &Request, name: &'static str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str().to_owned())
}

fn respond(routes: &Routes, mut request: Request) {
    let path = request.url().split('?').next().unwrap_or("").to_owned();
    let push_path = path == "/push" || path.starts_with(crate::push::path::PREFIX);
    let pushes = routes.pushes.as_deref().filter(|_| push_path);
    let a = if !routes
        .web
        .as_ref()
        .is_none_or(|w| w.authorize(header(&request, "Authorization").as_deref()))
    {
        if let Some(p) = pushes {
            p.count(PushResult::Unauthorized);
        }
        Answer::text(401, "unauthorized: this gateway needs basic auth\n")
    } else if let Some(p) =
        pushes.filter(|_| matches!(request.method(), Method::Put | Method::Post))
    {
        match read_body(&mut request, p) {
            Ok(body) => {
                let a = p.push(
                    &path,
                    header(&request, "Content-Type").as_deref(),
                    header(&request, "Idempotency-Key").as_deref(),
                    &body,
                );
                Answer::text(a.status, a.body)
            }
            Err(None) => {
                // Announced absurdly large: abandoned unanswered (see MAX_DRAINED_BODY).
                p.count(PushResult::TooLarge);
                std::mem::forget(request);
                return;
            }
            Err(Some(a)) => Answer::text(a.status, a.body),
        }
    } else if let Some(p) = pushes {
        let a = p.refuse(
            PushResult::MethodNotAllowed,
            "method not allowed: push with PUT or POST (the body holds this run's increments; \
             a group is forgotten after --push-group-ttl, there is no DELETE)",
        );
        Answer::text(a.status, a.body)
    } else if push_path && routes.pushes.is_none() {
        Answer::text(
            404,
            "not found: the push endpoint is off; start metrics-gateway with --accept-pushes\n",
        )
    } else if matches!(request.method(), Method::Get | Method::Head) {
        let accept = header(&request, "Accept");
        answer(routes, request.url(), accept.as_deref())
    } else {
        Answer::text(405, "method not allowed: use GET\n")
    };
    let mut response = Response::from_data(a.body).with_status_code(a.status);
    if let Ok(h) = Header::from_bytes("Content-Type", a.content_type) {
        response.add_header(h);
    }
    if a.status == 405 {
        let allow = if push_path { "PUT, POST" } else { "GET, HEAD" };
        if let Ok(h) = Header::from_bytes("Allow", allow) {
            response.add_header(h);
        }
    }
    if a.status == 401 {
        if let Ok(h) = Header::from_bytes("WWW-Authenticate", format!("Basic realm=\"{REALM}\"")) {
            response.add_header(h);
        }
    }
    // A client that went away is not an error of the gateway.
    let _ = request.respond(response);
}

/// The body of a push, at most `--push-max-body-size` bytes (never more than one byte past it
/// read). `Err(Some)`: a 413 to answer (counted); `Err(None)`: announced so large the request
/// is abandoned.
fn read_body(
    request: &mut Request,
    pushes: &Pushes,
) -> Result<Vec<u8>, Option<crate::push::PushAnswer>> {
    let max = pushes.max_body_bytes();
    match request.body_length() {
        Some(n) if n > MAX_DRAINED_BODY.max(max) => return Err(None),
        Some(n) if n > max => {
            return Err(Some(
                pushes.refuse(PushResult::TooLarge, pushes.too_large()),
            ))
        }
        _ => {}
    }
    let mut body = Vec::new();
    let read = request
        .as_reader()
        .take(max as u64 + 1)
        .read_to_end(&mut body);
    match read {
        Err(e) => Err(Some(
            pushes.refuse(PushResult::Malformed, format!("cannot read the body: {e}")),
        )),
        Ok(_) if body.len() > max => Err(Some(
            pushes.refuse(PushResult::TooLarge, pushes.too_large()),
        )),
        Ok(_) => Ok(body),
    }
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn decodes_targets() {
        assert_eq!(percent_decode("board-1"), "board-1");
        assert_eq!(percent_decode("a%3Ab"), "a:b");
        assert_eq!(percent_decode("a+b"), "a b");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
