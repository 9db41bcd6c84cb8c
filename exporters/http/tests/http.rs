//! Every route, status code, header and body, through a real HTTP client on `127.0.0.1:0`.

mod common;

use std::net::TcpListener;
use std::sync::Arc;

use common::*;
use metrics_core::{Collect, Desc, Families, FamilyRef, Format, Kind, Visitor};
use metrics_exporter_http::{Config, Error, Exporter};

fn start(config: Config) -> (Sample, Exporter) {
    let s = sample();
    let e = Exporter::start(config, s.registry.clone()).unwrap();
    (s, e)
}

fn local() -> Config {
    Config::new("127.0.0.1", 0)
}

#[test]
fn port_zero_picks_a_free_port() {
    let (_s, e) = start(local());
    assert_ne!(e.port(), 0);
    assert_eq!(e.local_addr().port(), e.port());
    assert_eq!(e.local_addr().ip().to_string(), "127.0.0.1");
}

#[test]
fn landing_page() {
    let (_s, e) = start(local());
    let r = get(e.local_addr(), "/", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.text().starts_with("<!DOCTYPE html>"), "{}", r.text());
    assert!(r.text().contains("<a href=\"metrics\">"), "{}", r.text());
    // Keep-alive: no `Connection: close`.
    assert_eq!(r.header("connection"), None);
    assert!(r.header("date").is_some_and(|d| d.ends_with(" GMT")));

    let h = reply(client().head(url(e.local_addr(), "/")).call());
    assert_eq!(h.status, 200);
    assert!(h.body.is_empty());
    assert_eq!(
        h.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
}

#[test]
fn healthy() {
    let (_s, e) = start(local());
    let r = get(e.local_addr(), "/-/healthy", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "OK");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
}

#[test]
fn not_found() {
    let (_s, e) = start(local());
    for path in [
        "/nope",
        "/metrics/",
        "/metricsx",
        "/favicon.ico",
        "/-/ready",
    ] {
        let r = get(e.local_addr(), path, &[]);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert!(r.text().contains("/metrics"), "{}", r.text());
    }
    // Unknown path with another method: still 404.
    let r = reply(client().post(url(e.local_addr(), "/nope")).send_empty());
    assert_eq!(r.status, 404);
}

#[test]
fn other_methods_get_405_with_allow() {
    let (_s, e) = start(local());
    let a = client();
    for path in ["/metrics", "/", "/-/healthy"] {
        let url = url(e.local_addr(), path);
        for r in [
            reply(a.post(&url).send("x")),
            reply(a.put(&url).send_empty()),
            reply(a.delete(&url).call()),
            reply(a.options(&url).call()),
            reply(a.patch(&url).send("{}")),
        ] {
            assert_eq!(r.status, 405, "{path}");
            assert_eq!(r.header("allow"), Some("GET, HEAD"), "{path}");
            assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        }
    }
}

#[test]
fn metrics_negotiated_from_accept() {
    let (s, e) = start(local());
    let text = encoded(&s.registry, Format::Text);
    let om = encoded(&s.registry, Format::OpenMetrics);
    let pb = encoded(&s.registry, Format::Protobuf);
    for (accept, ct, body) in [
        (Some(PROMETHEUS_PROTOBUF_ACCEPT), PROTOBUF, &pb),
        (None, TEXT, &text),
        (Some("*/*"), TEXT, &text),
        (Some("text/plain"), TEXT, &text),
        (Some("text/plain;version=0.0.4"), TEXT, &text),
        (Some("application/json"), TEXT, &text),
        (Some(PROMETHEUS_ACCEPT), OPENMETRICS, &om),
        (Some("application/openmetrics-text"), OPENMETRICS, &om),
        (
            Some("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;q=0.9"),
            TEXT,
            &text,
        ),
    ] {
        let rq = client().get(url(e.local_addr(), "/metrics"));
        // ureq sends `Accept: */*` unless told otherwise.
        let rq = match accept {
            Some(a) => rq.header("Accept", a),
            None => rq.config().accept("").build(),
        };
        let r = reply(rq.call());
        assert_eq!(r.status, 200, "{accept:?}");
        assert_eq!(r.header("content-type"), Some(ct), "{accept:?}");
        assert_eq!(&r.body, body, "{accept:?}");
        assert_eq!(r.header("content-encoding"), None);
        assert_eq!(r.header("vary"), Some("Accept, Accept-Encoding"));
        assert_eq!(
            r.header("content-length"),
            Some(body.len().to_string().as_str())
        );
    }
    assert!(String::from_utf8_lossy(&om).ends_with("# EOF\n"));
    assert!(String::from_utf8_lossy(&text).contains("test_jobs_total 42\n"));
}

#[test]
fn metrics_head_has_the_get_headers_and_no_body() {
    let (_s, e) = start(local());
    let url = url(e.local_addr(), "/metrics?ignored=1");
    let a = client();
    for enc in ["identity", "gzip"] {
        let g = reply(
            a.get(&url)
                .header("Accept", PROMETHEUS_ACCEPT)
                .header("Accept-Encoding", enc)
                .call(),
        );
        let h = reply(
            a.head(&url)
                .header("Accept", PROMETHEUS_ACCEPT)
                .header("Accept-Encoding", enc)
                .call(),
        );
        assert_eq!((g.status, h.status), (200, 200));
        assert!(h.body.is_empty());
        assert!(!g.body.is_empty());
        for name in ["content-type", "content-length", "content-encoding", "vary"] {
            assert_eq!(g.header(name), h.header(name), "{name} ({enc})");
        }
        assert_eq!(h.header("content-type"), Some(OPENMETRICS));
    }
}

#[test]
fn gzip_when_accepted() {
    let (s, e) = start(local());
    let om = encoded(&s.registry, Format::OpenMetrics);
    let text = encoded(&s.registry, Format::Text);
    for (accept, ae, body) in [
        (PROMETHEUS_ACCEPT, "gzip", &om),
        ("text/plain", "gzip, deflate, br", &text),
        ("text/plain", "br;q=1, *;q=0.1", &text),
    ] {
        let r = get(
            e.local_addr(),
            "/metrics",
            &[("Accept", accept), ("Accept-Encoding", ae)],
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), Some("gzip"), "{ae}");
        assert_eq!(r.header("vary"), Some("Accept, Accept-Encoding"));
        assert_eq!(
            r.header("content-length"),
            Some(r.body.len().to_string().as_str())
        );
        assert_eq!(&gunzip(&r.body), body, "{ae}");
    }
    for ae in ["gzip;q=0", "deflate", "identity", "*;q=0"] {
        let r = get(e.local_addr(), "/metrics", &[("Accept-Encoding", ae)]);
        assert_eq!(r.header("content-encoding"), None, "{ae}");
        assert_eq!(r.body, text, "{ae}");
    }
}

#[test]
fn gzip_can_be_turned_off() {
    let (s, e) = start(local().gzip(false));
    let r = get(e.local_addr(), "/metrics", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("vary"), Some("Accept"));
    assert_eq!(r.body, encoded(&s.registry, Format::Text));
}

#[test]
fn forced_format() {
    let (s, e) = start(local().force_format(Some(Format::Text)));
    let r = get(e.local_addr(), "/metrics", &[("Accept", PROMETHEUS_ACCEPT)]);
    assert_eq!(r.header("content-type"), Some(TEXT));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(r.body, encoded(&s.registry, Format::Text));

    let (s, e) = start(local().force_format(Some(Format::OpenMetrics)).gzip(false));
    let r = get(e.local_addr(), "/metrics", &[("Accept", "text/plain")]);
    assert_eq!(r.header("content-type"), Some(OPENMETRICS));
    assert_eq!(r.header("vary"), None);
    assert_eq!(r.body, encoded(&s.registry, Format::OpenMetrics));
}

#[test]
fn values_change_between_scrapes() {
    let (s, e) = start(local());
    s.jobs.inc();
    s.temperature.set(-3.25);
    s.requests.labels(&["GET", "200"]).inc();
    let body = get(e.local_addr(), "/metrics", &[]).text().to_owned();
    assert!(body.contains("test_jobs_total 43\n"), "{body}");
    assert!(body.contains("test_temperature_celsius -3.25\n"), "{body}");
    assert!(
        body.contains("test_requests_total{method=\"GET\",code=\"200\"} 8\n"),
        "{body}"
    );
    assert!(body.contains("test_latency_seconds_count 10\n"), "{body}");
}

#[test]
fn self_metrics_follow_the_registry_with_one_eof() {
    let (_s, e) = start(local().self_metrics(true));
    for _ in 0..3 {
        get(e.local_addr(), "/metrics", &[("Accept", PROMETHEUS_ACCEPT)]);
    }
    get(e.local_addr(), "/metrics", &[("Accept", "text/plain")]);
    for _ in 0..2 {
        let r = get(
            e.local_addr(),
            "/metrics",
            &[("Accept", PROMETHEUS_PROTOBUF_ACCEPT)],
        );
        assert_eq!(r.header("content-type"), Some(PROTOBUF));
    }
    let r = get(e.local_addr(), "/metrics", &[("Accept", PROMETHEUS_ACCEPT)]);
    let body = r.text();
    assert_eq!(body.matches("# EOF").count(), 1, "{body}");
    assert!(body.ends_with("# EOF\n"));
    // The user's registry first, then the exporter's.
    assert!(body.find("test_jobs").unwrap() < body.find("http_exporter_").unwrap());
    for line in [
        // The scrape being answered is counted after it is encoded.
        "http_exporter_scrapes_total{format=\"openmetrics\",code=\"200\"} 3\n",
        "http_exporter_scrapes_total{format=\"text\",code=\"200\"} 1\n",
        "http_exporter_scrapes_total{format=\"protobuf\",code=\"200\"} 2\n",
        "http_exporter_errors_total{kind=\"encode\"} 0\n",
        "http_exporter_encode_duration_seconds_count 6\n",
    ] {
        assert!(body.contains(line), "{line} in\n{body}");
    }

    // Without the option, nothing of it.
    let (_s, e) = start(local());
    assert!(!get(e.local_addr(), "/metrics", &[])
        .text()
        .contains("http_exporter_"));
}

/// A collector that fails or panics when encoded.
struct Broken {
    panic: bool,
}

impl Collect for Broken {
    fn series_count(&self) -> usize {
        1
    }
    fn collect(&self, _: usize, _: &mut Visitor<'_>) -> Result<(), metrics_core::Error> {
        if self.panic {
            panic!("collector panicked (expected by the test)");
        }
        Err(metrics_core::Error::KindMismatch)
    }
}

struct BrokenRegistry(Broken);

impl Families for BrokenRegistry {
    fn family_count(&self) -> usize {
        1
    }
    fn family(&self, index: usize) -> Option<FamilyRef<'_>> {
        (index == 0).then(|| FamilyRef {
            desc: Desc::new("broken", "Fails."),
            kind: Kind::Gauge,
            metric: &self.0,
        })
    }
}

#[test]
fn encode_error_is_500() {
    let e = Exporter::start(
        local().self_metrics(true),
        Arc::new(BrokenRegistry(Broken { panic: false })),
    )
    .unwrap();
    let r = get(e.local_addr(), "/metrics", &[]);
    assert_eq!(r.status, 500);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(
        r.text().starts_with("Cannot encode the metrics: "),
        "{}",
        r.text()
    );
    // The health check and the landing page still work.
    assert_eq!(get(e.local_addr(), "/-/healthy", &[]).status, 200);
}

#[test]
fn a_panicking_collector_costs_no_worker() {
    let e = Exporter::start(
        local().workers(1),
        Arc::new(BrokenRegistry(Broken { panic: true })),
    )
    .unwrap();
    for _ in 0..3 {
        // The server answers a request whose handler panicked with 500.
        assert_eq!(get(e.local_addr(), "/metrics", &[]).status, 500);
    }
    // The single worker is still there.
    assert_eq!(get(e.local_addr(), "/-/healthy", &[]).status, 200);
}

#[test]
fn oversized_head_is_431() {
    let (_s, e) = start(local().max_head_size(1024));
    let big = "x".repeat(2000);
    let r = get(e.local_addr(), "/metrics", &[("X-Big", &big)]);
    assert_eq!(r.status, 431);
    let r = get(e.local_addr(), "/metrics", &[("X-Small", "y")]);
    assert_eq!(r.status, 200);
}

#[test]
fn malformed_request_is_400() {
    let (_s, e) = start(local());
    let answer = raw(e.local_addr(), b"THIS IS NOT HTTP\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer:?}");
    // HTTP/1.0 without Host works, and the server closes the connection after it.
    let answer = raw(e.local_addr(), b"GET /-/healthy HTTP/1.0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer:?}");
    assert!(answer.ends_with("\r\n\r\nOK"), "{answer:?}");
}

#[test]
fn ipv6_loopback() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback on this machine: nothing to test");
        return;
    }
    for host in ["::1", "[::1]"] {
        let (_s, e) = start(Config::new(host, 0));
        assert_eq!(e.local_addr().ip().to_string(), "::1");
        let r = get(e.local_addr(), "/metrics", &[]);
        assert_eq!(r.status, 200);
        assert!(r.text().contains("test_jobs_total 42\n"));
    }
}

#[test]
fn invalid_address_is_rejected_before_binding() {
    for host in [
        "",
        "localhost",
        "example.com",
        "300.1.1.1",
        "127.0.0.1:9099",
        "::1::2",
    ] {
        let err = Exporter::start(Config::new(host, 0), sample().registry).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidAddress { host: h } if h == host),
            "{host:?}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&format!("{host:?}")), "{message}");
        assert!(message.contains("IP address"), "{message}");
    }
}

#[test]
fn invalid_settings_are_rejected() {
    let err = Exporter::start(local().workers(0), sample().registry).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    assert!(err.to_string().contains("workers"), "{err}");
}

#[test]
fn port_in_use_names_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = Exporter::start(Config::new("127.0.0.1", port), sample().registry).unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("in use"), "{message}");
    assert!(message.contains("choose another port"), "{message}");
    assert!(message.contains("port 0"), "{message}");
    match &err {
        Error::Bind { address, source } => {
            assert_eq!(address.port(), port);
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
        }
        other => panic!("{other:?}"),
    }
    assert!(std::error::Error::source(&err).is_some());

    // The same with an exporter holding the port.
    let (_s, first) = start(local());
    let err =
        Exporter::start(Config::new("127.0.0.1", first.port()), sample().registry).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("cannot listen on 127.0.0.1:{}", first.port())),
        "{err}"
    );
}

#[test]
fn stop_releases_the_port() {
    for _ in 0..3 {
        let (_s, e) = start(local().workers(3));
        let addr = e.local_addr();
        assert_eq!(get(addr, "/metrics", &[]).status, 200);
        e.stop();
        // Nothing listens any more, and the port can be bound again at once.
        let refused = std::net::TcpStream::connect(addr).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
        let again = TcpListener::bind(addr).expect("port released");
        drop(again);
        // ... also by a new exporter on the same port.
        let (_s, e) = start(Config::new("127.0.0.1", addr.port()));
        assert_eq!(get(e.local_addr(), "/-/healthy", &[]).status, 200);
        drop(e);
        assert!(std::net::TcpStream::connect(addr).is_err());
    }
}
