//! What an exporter listens on and how it bounds its work.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use metrics_core::{Families, Format};

use crate::{Error, Exporter, WebConfig};

/// The settings of an [`Exporter`]: address, worker threads, limits and options.
///
/// ```
/// use std::time::Duration;
/// use metrics_exporter_http::{Config, Format};
///
/// let config = Config::new("0.0.0.0", 9099)
///     .workers(2)
///     .write_timeout(Duration::from_secs(5))
///     .force_format(Some(Format::Text))
///     .self_metrics(true);
/// assert_eq!(config.socket_addr().unwrap().port(), 9099);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) workers: usize,
    pub(crate) max_head_size: usize,
    pub(crate) write_timeout: Duration,
    pub(crate) head_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_requests: usize,
    pub(crate) force_format: Option<Format>,
    pub(crate) gzip: bool,
    pub(crate) encode: metrics_core::encoding::Options,
    pub(crate) self_metrics: bool,
    pub(crate) web: Option<WebConfig>,
}

impl Config {
    /// Default number of worker threads.
    pub const DEFAULT_WORKERS: usize = 4;
    /// Default limit on the request line plus headers, in bytes.
    pub const DEFAULT_MAX_HEAD_SIZE: usize = 16 * 1024;
    /// Default time allowed to send one response.
    pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default time allowed for a whole request head, from its first byte (or from the
    /// connection's start).
    pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default time allowed for a request body, once its head has arrived.
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default time an idle keep-alive connection is kept open.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    /// Default cap on open connections.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
    /// Default cap on requests in flight (node_exporter's `--web.max-requests`).
    pub const DEFAULT_MAX_REQUESTS: usize = 40;

    /// Listen on `host` (an IPv4 or IPv6 address such as `0.0.0.0`, `127.0.0.1`, `::` or `::1`;
    /// IPv6 may be written in brackets) and `port` (0: the system picks a free port, which
    /// [`Exporter::local_addr`] tells). The host is checked by [`Exporter::start`], before
    /// anything is bound.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Config {
            host: host.into(),
            port,
            workers: Self::DEFAULT_WORKERS,
            max_head_size: Self::DEFAULT_MAX_HEAD_SIZE,
            write_timeout: Self::DEFAULT_WRITE_TIMEOUT,
            head_timeout: Self::DEFAULT_HEAD_TIMEOUT,
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            max_requests: Self::DEFAULT_MAX_REQUESTS,
            force_format: None,
            gzip: true,
            encode: metrics_core::encoding::Options::new(),
            self_metrics: false,
            web: None,
        }
    }

    /// The number of threads that answer requests (default [`Config::DEFAULT_WORKERS`], at
    /// least 1). It is fixed: however many clients connect, no more threads encode or send.
    #[must_use]
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// The largest request head (request line and headers) answered, in bytes (default
    /// [`Config::DEFAULT_MAX_HEAD_SIZE`]); a larger one gets `431 Request Header Fields Too
    /// Large`. Prometheus sends about 300 bytes.
    #[must_use]
    pub fn max_head_size(mut self, bytes: usize) -> Self {
        self.max_head_size = bytes;
        self
    }

    /// The longest time a worker spends sending one response (default
    /// [`Config::DEFAULT_WRITE_TIMEOUT`], which is Prometheus' default scrape timeout), so a
    /// client that does not read cannot hold a worker. Also the send timeout of every accepted
    /// socket (`SO_SNDTIMEO`). Must not be zero.
    #[must_use]
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// The longest time a client may take to send a whole request head (default
    /// [`Config::DEFAULT_HEAD_TIMEOUT`]), counted from the connection's start or, on a
    /// keep-alive connection, from the head's first byte; not per read, so a client that
    /// trickles a byte at a time gets no more. Past it: `408 Request Timeout` and the
    /// connection closed (a connection that sent nothing is closed without an answer).
    #[must_use]
    pub fn head_timeout(mut self, timeout: Duration) -> Self {
        self.head_timeout = timeout;
        self
    }

    /// The longest time a client may take to send a request body the route accepts, once the
    /// head has arrived (default [`Config::DEFAULT_BODY_TIMEOUT`]). Past it: 408, connection
    /// closed. The exporter's routes take no body (413 without reading it).
    #[must_use]
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// How long a keep-alive connection may wait for its next request (default
    /// [`Config::DEFAULT_IDLE_TIMEOUT`]); then it is closed.
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The most connections open at once (default [`Config::DEFAULT_MAX_CONNECTIONS`]). A
    /// connection accepted past it closes the open connection that has waited longest for
    /// its client (idle, or sending a head or body); with every connection at a worker, the new
    /// one is answered 503 and closed. So descriptors stay bounded and a new scrape always gets
    /// in.
    #[must_use]
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// The most requests in flight (queued for or at a worker) at once (default
    /// [`Config::DEFAULT_MAX_REQUESTS`], as node_exporter's `--web.max-requests`). Past it:
    /// `503 Service Unavailable` with `Retry-After: 1`, connection closed.
    #[must_use]
    pub fn max_requests(mut self, requests: usize) -> Self {
        self.max_requests = requests;
        self
    }

    /// Serve this format whatever the `Accept` header says (`None`, the default: negotiate
    /// with [`metrics_core::negotiate()`], which picks OpenMetrics when the scraper prefers it
    /// and the text format 0.0.4 otherwise).
    #[must_use]
    pub fn force_format(mut self, format: Option<Format>) -> Self {
        self.force_format = format;
        self
    }

    /// Show (`true`, the default) or leave out (`false`) the OpenMetrics `_created` samples of
    /// counters and histograms, as client_python's `PROMETHEUS_DISABLE_CREATED_SERIES` does
    /// (fewer series for a Prometheus that does not use them; the text format never has
    /// them).
    #[must_use]
    pub fn created(mut self, enabled: bool) -> Self {
        self.encode = self.encode.created(enabled);
        self
    }

    /// Compress `/metrics` with gzip when the request's `Accept-Encoding` allows it (default
    /// on).
    #[must_use]
    pub fn gzip(mut self, enabled: bool) -> Self {
        self.gzip = enabled;
        self
    }

    /// Append the exporter's own metrics to `/metrics` (default off):
    /// `http_exporter_scrapes_total{format,code}`, `http_exporter_errors_total{kind}` and
    /// `http_exporter_encode_duration_seconds`.
    #[must_use]
    pub fn self_metrics(mut self, enabled: bool) -> Self {
        self.self_metrics = enabled;
        self
    }

    /// Serve with TLS and/or require basic auth as the web configuration file says
    /// ([`WebConfig::from_file`]); `None` (the default): plain HTTP, no auth.
    #[must_use]
    pub fn web_config(mut self, web: Option<WebConfig>) -> Self {
        self.web = web;
        self
    }

    /// The address to bind, or [`Error::InvalidAddress`] when the host is not an IP address.
    pub fn socket_addr(&self) -> Result<SocketAddr, Error> {
        let host = self.host.trim();
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match bare.parse::<IpAddr>() {
            // Brackets only around IPv6.
            Ok(IpAddr::V4(_)) if bare.len() != host.len() => Err(self.invalid_address()),
            Ok(ip) => Ok(SocketAddr::new(ip, self.port)),
            Err(_) => Err(self.invalid_address()),
        }
    }

    fn invalid_address(&self) -> Error {
        Error::InvalidAddress {
            host: self.host.clone(),
        }
    }

    /// Checks every setting; the address last.
    pub(crate) fn validate(&self) -> Result<SocketAddr, Error> {
        if self.workers == 0 {
            return Err(Error::InvalidConfig {
                reason: "workers must be at least 1",
            });
        }
        if self.workers > 1024 {
            return Err(Error::InvalidConfig {
                reason: "workers must be at most 1024",
            });
        }
        if self.write_timeout.is_zero() {
            return Err(Error::InvalidConfig {
                reason: "write_timeout must be longer than zero",
            });
        }
        for (t, reason) in [
            (self.head_timeout, "head_timeout must be longer than zero"),
            (self.body_timeout, "body_timeout must be longer than zero"),
            (self.idle_timeout, "idle_timeout must be longer than zero"),
        ] {
            if t.is_zero() {
                return Err(Error::InvalidConfig { reason });
            }
        }
        if self.max_connections < 2 {
            return Err(Error::InvalidConfig {
                reason: "max_connections must be at least 2",
            });
        }
        if self.max_requests == 0 {
            return Err(Error::InvalidConfig {
                reason: "max_requests must be at least 1",
            });
        }
        if self.max_head_size < 64 {
            return Err(Error::InvalidConfig {
                reason: "max_head_size must be at least 64 bytes",
            });
        }
        self.socket_addr()
    }

    /// Starts an exporter with these settings; see [`Exporter::start`].
    pub fn start(self, registry: Arc<dyn Families + Send + Sync>) -> Result<Exporter, Error> {
        Exporter::start(self, registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(host: &str) -> Result<SocketAddr, Error> {
        Config::new(host, 9099).socket_addr()
    }

    #[test]
    fn ip_literals() {
        assert_eq!(addr("0.0.0.0").unwrap().to_string(), "0.0.0.0:9099");
        assert_eq!(addr(" 127.0.0.1 ").unwrap().to_string(), "127.0.0.1:9099");
        assert_eq!(addr("::1").unwrap().to_string(), "[::1]:9099");
        assert_eq!(addr("[::1]").unwrap().to_string(), "[::1]:9099");
        assert_eq!(addr("::").unwrap().to_string(), "[::]:9099");
    }

    #[test]
    fn everything_else_is_rejected() {
        for host in [
            "",
            "localhost",
            "example.com",
            "256.0.0.1",
            "127.0.0.1:80",
            "[127.0.0.1]",
            "[::1",
            "::1]",
            "1.2.3",
            "::g",
        ] {
            match addr(host) {
                Err(Error::InvalidAddress { host: h }) => assert_eq!(h, host),
                other => panic!("{host:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn limits_are_checked_before_the_address() {
        let e = Config::new("nope", 0).workers(0).validate().unwrap_err();
        assert!(e.to_string().contains("workers"), "{e}");
        let e = Config::new("127.0.0.1", 0)
            .write_timeout(Duration::ZERO)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("write_timeout"), "{e}");
        let e = Config::new("127.0.0.1", 0)
            .max_head_size(10)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("max_head_size"), "{e}");
        assert!(Config::new("127.0.0.1", 0).validate().is_ok());
    }
}
