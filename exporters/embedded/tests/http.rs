//! The HTTP/1.x server over real TCP sockets: a real HTTP client (ureq), raw requests for the
//! error answers, a real Prometheus scraping it, and arbitrary bytes that never make it panic.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use metrics_core::Format;
use metrics_exporter_embedded::{embedded_io, HttpServer};
use proptest::prelude::*;

/// A `std` TCP stream as the `embedded_io` stream a firmware's network stack would hand over.
struct Tcp(TcpStream);

#[derive(Debug)]
struct IoError(#[allow(dead_code)] std::io::Error);

impl embedded_io::Error for IoError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

impl embedded_io::ErrorType for Tcp {
    type Error = IoError;
}

impl embedded_io::Read for Tcp {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        self.0.read(buf).map_err(IoError)
    }
}

impl embedded_io::Write for Tcp {
    fn write(&mut self, buf: &[u8]) -> Result<usize, IoError> {
        self.0.write(buf).map_err(IoError)
    }
    fn flush(&mut self) -> Result<(), IoError> {
        self.0.flush().map_err(IoError)
    }
}

/// Serves the test registry on a loopback port, one request per connection, forever.
fn serve() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut server: HttpServer<'_, _, 512, 48> = HttpServer::new(&common::REGISTRY);
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut tcp = Tcp(stream);
            let _ = server.serve(&mut tcp);
            // Lingering close, as the server's docs ask: an error answer may leave request
            // bytes unread, and closing over them would reset the connection before the
            // client read the answer.
            let _ = tcp.0.shutdown(std::net::Shutdown::Write);
            tcp.0
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let _ = std::io::copy(&mut (&tcp.0).take(64 * 1024), &mut std::io::sink());
        }
    });
    addr
}

/// Sends `request` as is and reads the whole answer (the server closes the connection).
fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn get(addr: SocketAddr, accept: Option<&str>) -> (u16, String, Option<String>, Vec<u8>) {
    let agent = test_support::agent(Duration::from_secs(10));
    let mut req = agent.get(format!("http://{addr}/metrics"));
    if let Some(a) = accept {
        req = req.header("Accept", a);
    }
    let mut res = req.call().unwrap();
    let header = |n: &str| {
        res.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let ct = header("content-type").unwrap();
    let te = header("transfer-encoding");
    let status = res.status().as_u16();
    let body = res.body_mut().read_to_vec().unwrap();
    (status, ct, te, body)
}

#[test]
fn get_metrics_streams_the_negotiated_format_chunked() {
    let addr = serve();
    let _guard = common::lock();
    common::JITTER.observe(0.02);
    let (status, ct, te, body) = get(addr, None);
    assert_eq!(status, 200);
    assert_eq!(ct, Format::Text.content_type());
    assert_eq!(te.as_deref(), Some("chunked"));
    assert_eq!(body, common::expected(Format::Text));

    let prometheus_3 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    let (status, ct, _, body) = get(addr, Some(prometheus_3));
    assert_eq!(status, 200);
    assert_eq!(ct, Format::OpenMetrics.content_type());
    assert_eq!(body, common::expected(Format::OpenMetrics));
    assert!(body.ends_with(b"# EOF\n"));

    let native_histograms_on = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
    let (status, ct, te, body) = get(addr, Some(native_histograms_on));
    assert_eq!(status, 200);
    assert_eq!(ct, Format::Protobuf.content_type());
    assert_eq!(te.as_deref(), Some("chunked"));
    assert_eq!(body, common::expected(Format::Protobuf));
}

#[test]
fn http_1_0_gets_the_body_until_close_and_head_gets_no_body() {
    let addr = serve();
    let _guard = common::lock();
    let answer = raw(addr, b"GET /metrics?x=1 HTTP/1.0\r\nHost: d\r\n\r\n");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding"),
        "{head}"
    );
    assert!(head.contains("Connection: close"), "{head}");
    assert_eq!(body.as_bytes(), common::expected(Format::Text));

    let answer = raw(addr, b"HEAD /metrics HTTP/1.1\r\nHost: d\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n"), "HEAD has no body: {answer}");
}

#[test]
fn bad_requests_get_their_status() {
    let addr = serve();
    let status = |req: &[u8]| {
        let a = raw(addr, req);
        a.get(9..12).unwrap_or_default().to_string() + &a
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), "404"),
        (b"GET /metricsX HTTP/1.1\r\n\r\n".to_vec(), "404"),
        (
            b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n".to_vec(),
            "405",
        ),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
            "400",
        ), // a TLS hello
        (
            b"GET /metrics HTTP/1.1\r\nBad Header\r\n\r\n".to_vec(),
            "400",
        ),
        (b"GET /metrics HTTP/1.1\r\n".to_vec(), "400"), // cut: the client closes its side
        (
            [
                b"GET /metrics HTTP/1.1\r\nX: ".as_slice(),
                &[b'a'; 600],
                b"\r\n\r\n",
            ]
            .concat(),
            "431",
        ),
        (
            [
                b"GET /metrics HTTP/1.1\r\n".to_vec(),
                b"A: b\r\n".repeat(30),
                b"\r\n".to_vec(),
            ]
            .concat(),
            "431",
        ),
    ];
    for (req, want) in cases {
        let got = if req.ends_with(b"HTTP/1.1\r\n") {
            // Half-close so that the server sees the end of the request.
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(&req).unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out.get(9..12).unwrap_or_default().to_string() + &out
        } else {
            status(&req)
        };
        assert_eq!(
            &got[..3],
            want,
            "{:?} -> {got}",
            String::from_utf8_lossy(&req)
        );
        // A complete, well-framed answer: Content-Length matches the body.
        let (head, body) = got[3..].split_once("\r\n\r\n").unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), len, "{got}");
        if want == "405" {
            assert!(head.contains("\r\nAllow: GET, HEAD"), "{head}");
        }
    }
}

#[test]
#[ignore = "needs prometheus; run via scripts/test.sh"]
fn prometheus_scrapes_the_device_directly() {
    scraped_by(test_support::Tool::PROMETHEUS, "");
}

#[test]
#[ignore = "needs prometheus 3 (scripts/setup.sh extracts 3.5.3 from Debian forky); run via scripts/test.sh"]
fn prometheus_3_scrapes_the_device_in_protobuf() {
    scraped_by(
        test_support::Tool::PROMETHEUS3,
        "    scrape_protocols: [PrometheusProto]\n",
    );
}

/// `tool` scrapes the device (its job configured with `extra`) and stores what it holds.
fn scraped_by(tool: test_support::Tool, extra: &str) {
    let addr = serve();
    // Held throughout: the other Prometheus test changes the same statics.
    let _guard = common::lock();
    /// Observations above 1.0 so far (one per call; no other test of this file makes any).
    static ABOVE_ONE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    common::TICKS.inc_by(41);
    common::JITTER.observe(0.5);
    common::JITTER.observe(5.0);
    let above = ABOVE_ONE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    let p = test_support::Prometheus::start_tool(
        tool,
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: device\n{extra}    static_configs:\n      - targets: ['{addr}']\n"
        ),
        |_| {},
    );
    p.expect("up{job=\"device\"}", 1.0);
    let ticks = common::TICKS.get() as f64;
    p.expect("ticks_total{job=\"device\"}", ticks);
    p.expect("level{job=\"device\"}", common::LEVEL.get());
    let count = p
        .value("jitter_seconds_count{job=\"device\"}")
        .expect("the histogram");
    p.expect("jitter_seconds_bucket{job=\"device\",le=\"+Inf\"}", count);
    p.expect(
        "jitter_seconds_bucket{job=\"device\",le=\"1.0\"}",
        count - above as f64,
    );
}

/// An in-memory stream: the request in pieces, the answer collected.
struct Mem<'a> {
    input: &'a [u8],
    piece: usize,
    out: Vec<u8>,
}

impl embedded_io::ErrorType for Mem<'_> {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Mem<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = self.input.len().min(buf.len()).min(self.piece);
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

impl embedded_io::Write for Mem<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Any bytes, in any pieces: no panic, and the answer is one of the documented ones.
    #[test]
    fn any_bytes_get_a_documented_answer(
        prefix in prop::sample::select(vec![&b""[..], b"GET ", b"GET /metrics HTTP/1.1\r\n", b"HEAD /metrics HTTP/1.0\r\nAccept: "]),
        bytes in proptest::collection::vec(any::<u8>(), 0..700),
        piece in 1usize..64,
    ) {
        let input = [prefix, &bytes].concat();
        let mut io = Mem { input: &input, piece, out: Vec::new() };
        let mut server: HttpServer<'_, _, 256, 32> = HttpServer::new(&common::REGISTRY);
        let Ok(status) = server.serve(&mut io);
        prop_assert!([0, 200, 400, 404, 405, 431].contains(&status), "{}", status);
        if status == 0 {
            prop_assert!(input.is_empty() && io.out.is_empty());
        } else {
            let line = format!("HTTP/1.1 {status} ");
            prop_assert!(io.out.starts_with(line.as_bytes()));
        }
    }
}
