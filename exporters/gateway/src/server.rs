//! The HTTP side: `/metrics` (every device), `/probe?target=<device>` (one device), a landing
//! page and `/-/healthy`, served with tiny_http.
//!
//! `exporters/http` serves one fixed registry on `/metrics` only; a probe needs a different
//! answer per request, so this serves tiny_http directly and encodes with the core.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use tiny_http::{Header, Method, Request, Response};

use crate::poller::Poller;
use crate::render;

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
pub fn answer(poller: &Poller, target: &str, accept: Option<&str>) -> Answer {
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
            exposition(&all)
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
    pub fn start(addr: SocketAddr, poller: Arc<Poller>, workers: usize) -> io::Result<Server> {
        let http = tiny_http::Server::http(addr).map_err(io::Error::other)?;
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
            let poller = poller.clone();
            server.workers.push(
                thread::Builder::new()
                    .name(format!("gateway-http-{i}"))
                    .spawn(move || {
                        for request in http.incoming_requests() {
                            respond(&poller, request);
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

fn respond(poller: &Poller, request: Request) {
    let a = if matches!(request.method(), Method::Get | Method::Head) {
        let accept = request
            .headers()
            .iter()
            .find(|h| h.field.equiv("Accept"))
            .map(|h| h.value.as_str().to_owned());
        answer(poller, request.url(), accept.as_deref())
    } else {
        Answer::text(405, "method not allowed: use GET\n")
    };
    let mut response = Response::from_data(a.body).with_status_code(a.status);
    if let Ok(h) = Header::from_bytes("Content-Type", a.content_type) {
        response.add_header(h);
    }
    if a.status == 405 {
        if let Ok(h) = Header::from_bytes("Allow", "GET, HEAD") {
            response.add_header(h);
        }
    }
    // A client that went away is not an error of the gateway.
    let _ = request.respond(response);
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
