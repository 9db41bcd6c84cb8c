//! Helpers shared by the integration tests: a registry with known values, an HTTP client
//! that reports every status, and raw-socket requests.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use metrics_core::{Counter, DynHistogram, Family, Gauge, Registry};

pub const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The `Accept` header Prometheus 2.42 sends.
/// What Prometheus 3.5 sends with native histograms on.
pub const PROMETHEUS_PROTOBUF_ACCEPT: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
pub const PROTOBUF: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
pub const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Handles to the metrics of [`sample`].
pub struct Sample {
    pub registry: Arc<Registry>,
    pub jobs: Arc<Counter>,
    pub temperature: Arc<Gauge>,
    pub latency: Arc<DynHistogram>,
    pub requests: Arc<Family<Counter>>,
}

/// A counter at 42, a gauge at 21.5, a histogram over 0.1/0.5/1/5 holding
/// 0.05 ×2, 0.3 ×4, 0.7 ×2, 3 ×2 (median by interpolation: 0.4), and a labelled counter.
pub fn sample() -> Sample {
    let mut r = Registry::new();
    let jobs = r.counter("test_jobs", "Jobs run.").unwrap();
    let temperature = r.gauge("test_temperature_celsius", "Temperature.").unwrap();
    let latency = r
        .histogram("test_latency_seconds", "Latency.", &[0.1, 0.5, 1.0, 5.0])
        .unwrap();
    let requests = r
        .counter_family("test_requests", "Requests.", &["method", "code"])
        .unwrap();
    jobs.inc_by(42);
    temperature.set(21.5);
    for (v, n) in [(0.05, 2), (0.3, 4), (0.7, 2), (3.0, 2)] {
        for _ in 0..n {
            latency.observe(v);
        }
    }
    requests.labels(&["GET", "200"]).inc_by(7);
    requests.labels(&["POST", "500"]).inc();
    Sample {
        registry: Arc::new(r),
        jobs,
        temperature,
        latency,
        requests,
    }
}

/// A client that returns 4xx/5xx as responses, with a timeout.
pub use test_support::agent;

/// A response, read completely.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// Reads a ureq response.
pub fn reply(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut r = r.expect("request failed");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

/// The client of most tests: [`agent`] with a 5 s timeout.
pub fn client() -> ureq::Agent {
    agent(Duration::from_secs(5))
}

/// `http://{addr}{path}`.
pub fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

/// `GET http://{addr}{path}` with extra headers.
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut rq = client().get(url(addr, path));
    for (k, v) in headers {
        rq = rq.header(*k, *v);
    }
    reply(rq.call())
}

/// Sends `request` on a fresh connection and reads until the server closes it (or 5 s).
pub fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Decompresses a gzip body.
pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("a valid gzip body");
    out
}

/// The registry encoded the way the exporter must serve it.
pub fn encoded(registry: &Registry, format: metrics_core::Format) -> Vec<u8> {
    let mut out = Vec::new();
    metrics_core::encode_to_vec(registry, format, &mut out).unwrap();
    out
}
