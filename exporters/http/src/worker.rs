//! The exporter's [`Handler`]: its routes, basic auth, the registry encoded in the
//! negotiated format, gzip.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use metrics_core::Families;

use crate::chain::Chain;
use crate::gzip::{accepts_gzip, Gzip};
use crate::handler::{Handler, Refusal, Response};
use crate::routes::{self, Route};
use crate::self_metrics::{ErrorKind, SelfMetrics};
use crate::{Config, Request};

/// The `WWW-Authenticate` challenge of a 401.
const CHALLENGE: &str = "Basic realm=\"metrics\", charset=\"UTF-8\"";

/// What all workers share, read-only.
pub(crate) struct Exposition {
    pub(crate) registry: Arc<dyn Families + Send + Sync>,
    pub(crate) config: Config,
    pub(crate) self_metrics: Option<Arc<SelfMetrics>>,
}

impl std::fmt::Debug for Exposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exposition")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Exposition {
    fn count_error(&self, kind: ErrorKind) {
        if let Some(m) = &self.self_metrics {
            m.error(kind);
        }
    }
}

/// One worker's buffers, reused for every request: after the first few scrapes have grown
/// them, answering a scrape allocates nothing here.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    /// The gzip-compressed body.
    compressed: Vec<u8>,
    /// Created on the first request that accepts gzip.
    gzip: Option<Gzip>,
}

impl Handler for Exposition {
    type Worker = Buffers;

    fn worker(&self) -> Buffers {
        Buffers::default()
    }

    fn refused(&self, refusal: Refusal) {
        self.count_error(ErrorKind::Refused(refusal));
    }

    fn handle(&self, buffers: &mut Buffers, request: &Request, r: &mut Response) {
        if let Some(web) = &self.config.web {
            if !web.authorize(request.header("Authorization")) {
                self.count_error(ErrorKind::Unauthorized);
                r.status(401)
                    .header("WWW-Authenticate", CHALLENGE)
                    .body(b"Unauthorized: this exporter needs basic auth\n");
                return;
            }
        }
        let route = routes::route(request.target());
        if route != Route::NotFound && !routes::allowed(request.method()) {
            r.status(405)
                .header("Allow", routes::ALLOW)
                .body(b"Method not allowed: use GET or HEAD\n");
            return;
        }
        match route {
            Route::Landing => {
                r.content_type(routes::HTML)
                    .body(routes::LANDING_PAGE.as_bytes());
            }
            Route::Healthy => {
                r.body(b"OK");
            }
            Route::Metrics => self.metrics(buffers, request, r),
            Route::NotFound => {
                r.status(404).body(b"Not found: try /metrics\n");
            }
        }
    }
}

impl Exposition {
    fn metrics(&self, buffers: &mut Buffers, request: &Request, r: &mut Response) {
        let config = &self.config;
        // Format, text version and the escaping of UTF-8 names, as the scraper asked; a
        // forced format keeps the asked escaping (names stay what the scraper can read).
        let mut negotiated = metrics_core::negotiate::negotiate_accept(request.header("Accept"));
        if let Some(f) = config.force_format {
            negotiated.format = f;
        }
        let format = negotiated.format;

        let started = Instant::now();
        let options = config.encode.escaping(negotiated.escaping);
        let body = &mut r.body;
        let encoded = match &self.self_metrics {
            Some(own) => metrics_core::encode_bytes_with(
                &Chain {
                    first: &*self.registry,
                    second: own.registry(),
                },
                format,
                options,
                body,
            ),
            None => metrics_core::encode_bytes_with(&*self.registry, format, options, body),
        };
        let took = started.elapsed();

        if let Err(e) = encoded {
            if let Some(m) = &self.self_metrics {
                m.scrape(format, false);
                m.error(ErrorKind::Encode);
            }
            r.body.clear();
            let _ = writeln!(r.body, "Cannot encode the metrics: {e}");
            r.status(500);
            return;
        }
        if let Some(m) = &self.self_metrics {
            m.encoded(took);
            m.scrape(format, true);
        }
        r.content_type(negotiated.content_type());
        if config.gzip && accepts_gzip(request.header("Accept-Encoding")) {
            let gz = buffers.gzip.get_or_insert_with(Gzip::new);
            if gz.compress(&r.body, &mut buffers.compressed).is_ok() {
                std::mem::swap(&mut r.body, &mut buffers.compressed);
                r.header("Content-Encoding", "gzip");
            }
        }
        let vary = match (config.force_format.is_none(), config.gzip) {
            (true, true) => Some("Accept, Accept-Encoding"),
            (true, false) => Some("Accept"),
            (false, true) => Some("Accept-Encoding"),
            (false, false) => None,
        };
        if let Some(v) = vary {
            r.header("Vary", v);
        }
    }
}
