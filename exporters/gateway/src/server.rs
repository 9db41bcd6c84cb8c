//! The HTTP side: `/metrics` (every device and the pushed totals), `/probe?target=<device>`
//! (one device; 503 once its series are stale), `/targets` (the devices for Prometheus'
//! `http_sd_configs`), `/push/job/...` (with `--accept-pushes`), a landing page and `/-/healthy`,
//! over TLS, with client certificates and behind basic auth when a web config file says so.
//!
//! Served by `exporters/http`'s bounded connection layer ([`metrics_exporter_http::Server`]:
//! fixed workers, connection cap, head and body deadlines, bodies refused unread past their
//! route's limit) with a [`Handler`] of its own: a probe needs a different answer per request,
//! and a push a body of up to `--push-max-body-size`. The web config file is
//! `exporters/http`'s [`WebConfig`] (exporter-toolkit's format, whole).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use metrics_exporter_http::{Config, Handler, Request, Response, WebConfig, REALM};

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
    /// The Remote-Write targets, whose metrics `/metrics` serves too.
    pub remote_write: Option<Arc<crate::remote_write::RemoteWrite>>,
}

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
    let asked = metrics_core::negotiate::negotiate_accept(accept);
    let exposition = |which: &[usize]| {
        let statuses = poller.scrape(which);
        match crate::stale::refusal(&statuses[0].0, &statuses[0].1) {
            Some(why) => Answer::text(503, why),
            None => Answer {
                status: 200,
                content_type: asked.content_type(),
                body: render::render(&statuses, &asked),
            },
        }
    };
    match path {
        "/metrics" => Answer {
            status: 200,
            content_type: asked.content_type(),
            body: render::encode_page(
                &render::collect(
                    poller,
                    routes.pushes.as_deref(),
                    routes.remote_write.as_deref(),
                ),
                &asked,
            ),
        },
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
                    "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>metrics-gateway</title></head>\n<body>\n<h1>metrics-gateway</h1>\n<p><a href=\"metrics\">/metrics</a>: every device</p>\n<p><a href=\"targets\">/targets</a>: the devices for Prometheus' http_sd_configs</p>\n<p>One device: /probe?target=</p>\n<ul>\n{devices}</ul>\n</body>\n</html>\n"
                )
                .into_bytes(),
            }
        }
        "/targets" => Answer {
            status: 200,
            content_type: crate::targets::CONTENT_TYPE,
            body: crate::targets::http_sd(poller.devices(), &poller.device_ids()),
        },
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
    http: metrics_exporter_http::Server,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.http.local_addr())
            .finish()
    }
}

impl Server {
    /// Listens on `addr` and answers with `workers` threads (each request scrapes devices,
    /// so several let scrapes of different targets overlap), with `exporters/http`'s
    /// default bounds (connections, requests in flight, head and body deadlines).
    pub fn start(addr: SocketAddr, routes: Routes, workers: usize) -> io::Result<Server> {
        let config = Config::new(addr.ip().to_string(), addr.port())
            .workers(workers.max(1))
            .web_config(routes.web.clone());
        let http = metrics_exporter_http::Server::start(&config, Gateway { routes })
            .map_err(io::Error::other)?;
        Ok(Server { http })
    }

    /// The address listened on (with the port the system picked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.http.local_addr()
    }
}

/// The gateway's [`Handler`].
struct Gateway {
    routes: Routes,
}

/// Whether `path` is the push endpoint's.
fn is_push_path(path: &str) -> bool {
    path == "/push" || path.starts_with(crate::push::path::PREFIX)
}

impl Gateway {
    /// The push endpoint, when on and `request` is for it.
    fn pushes(&self, request: &Request) -> Option<&Pushes> {
        self.routes
            .pushes
            .as_deref()
            .filter(|_| is_push_path(request.path()))
    }
}

impl Handler for Gateway {
    type Worker = ();

    fn worker(&self) {}

    /// Pushes (PUT, POST) take a body of up to `--push-max-body-size`; nothing else does.
    fn max_body(&self, request: &Request) -> usize {
        match self.pushes(request) {
            Some(p) if matches!(request.method(), "PUT" | "POST") => p.max_body_bytes(),
            _ => 0,
        }
    }

    fn body_too_large(&self, request: &Request, response: &mut Response) {
        if let Some(p) = self.pushes(request) {
            let a = p.refuse(PushResult::TooLarge, p.too_large());
            response.status(a.status).body(a.body.as_bytes());
        }
    }

    fn handle(&self, _: &mut (), request: &Request, response: &mut Response) {
        let a = respond(&self.routes, request);
        let push_path = is_push_path(request.path());
        response
            .status(a.status)
            .content_type(a.content_type)
            .body(&a.body);
        if a.status == 405 {
            response.header("Allow", if push_path { "PUT, POST" } else { "GET, HEAD" });
        }
        if a.status == 401 {
            response.header("WWW-Authenticate", format!("Basic realm=\"{REALM}\""));
        }
    }
}

fn respond(routes: &Routes, request: &Request) -> Answer {
    let path = request.path();
    let push_path = is_push_path(path);
    let pushes = routes.pushes.as_deref().filter(|_| push_path);
    let method = request.method();
    if !routes
        .web
        .as_ref()
        .is_none_or(|w| w.authorize(request.header("Authorization")))
    {
        if let Some(p) = pushes {
            p.count(PushResult::Unauthorized);
        }
        Answer::text(401, "unauthorized: this gateway needs basic auth\n")
    } else if let Some(p) = pushes.filter(|_| matches!(method, "PUT" | "POST")) {
        let a = p.push(
            path,
            request.header("Content-Type"),
            request.header("Idempotency-Key"),
            request.body(),
        );
        Answer::text(a.status, a.body)
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
    } else if matches!(method, "GET" | "HEAD") {
        answer(routes, request.target(), request.header("Accept"))
    } else {
        Answer::text(405, "method not allowed: use GET\n")
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
