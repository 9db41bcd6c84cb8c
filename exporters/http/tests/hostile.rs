//! Slow, idle and hostile clients cannot stall scrapes.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use metrics_core::{Counter, Desc, Registry};
use metrics_exporter_http::{Config, Exporter};

/// A scrape as Prometheus makes it, which must succeed within one second.
fn scrape_within_a_second(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    let r = reply(
        agent(Duration::from_secs(1))
            .get(url(addr, "/metrics"))
            .header("Accept", PROMETHEUS_ACCEPT)
            .header("Accept-Encoding", "gzip")
            .call(),
    );
    let took = started.elapsed();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(OPENMETRICS));
    let body = String::from_utf8(gunzip(&r.body)).unwrap();
    assert!(body.contains("test_jobs_total 42\n"), "{body}");
    assert!(took < Duration::from_secs(1), "scrape took {took:?}");
    took
}

/// The status line a connection received within `wait`, or "" if it was closed without one
/// (or nothing came).
fn status_line(s: &mut TcpStream, wait: Duration) -> String {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while !got.windows(2).any(|w| w == b"\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&got);
    line.lines().next().unwrap_or("").to_owned()
}

#[test]
fn idle_malformed_oversized_trickling_and_body_clients_do_not_stall_scrapes() {
    let s = sample();
    let e = Exporter::start(
        Config::new("127.0.0.1", 0)
            .workers(2)
            .max_head_size(8 * 1024)
            .head_timeout(Duration::from_secs(2))
            .self_metrics(true),
        s.registry.clone(),
    )
    .unwrap();
    let addr = e.local_addr();
    scrape_within_a_second(addr);

    // 64 connections that never send a byte.
    let idle: Vec<TcpStream> = (0..64).map(|_| TcpStream::connect(addr).unwrap()).collect();

    // A client that trickles a request, one byte per second: the head deadline is for the
    // whole head, so it gets a 408 after 2 s however regularly it sends.
    let mut trickling = TcpStream::connect(addr).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let trickler = {
        let stop = stop.clone();
        let mut s = trickling.try_clone().unwrap();
        thread::spawn(move || {
            let request = b"GET /metrics HTTP/1.1\r\nHost: trickle\r\nX-Slow: "
                .iter()
                .cycle();
            for byte in request {
                if stop.load(Ordering::SeqCst) || s.write_all(&[*byte]).is_err() {
                    break;
                }
                thread::sleep(Duration::from_secs(1));
            }
        })
    };

    // A malformed request (400, connection closed)...
    let mut malformed = TcpStream::connect(addr).unwrap();
    malformed.write_all(b"NOT AN HTTP REQUEST\r\n\r\n").unwrap();
    // ... binary garbage, a TLS hello on the plain port (400)...
    let mut binary = TcpStream::connect(addr).unwrap();
    binary
        .write_all(b"\x16\x03\x01\x02\x00\x01\xfc\r\n\r\n")
        .unwrap();
    // ... an oversized header, 1 MiB (431 after reading at most 8 KiB + 1 of it)...
    let mut oversized = TcpStream::connect(addr).unwrap();
    let mut request = b"GET /metrics HTTP/1.1\r\nHost: big\r\nX-Big: ".to_vec();
    request.resize(request.len() + (1 << 20), b'a');
    request.extend_from_slice(b"\r\n\r\n");
    oversized.write_all(&request).unwrap();
    // ... a body sent slowly, and one whose announced size is absurd: 413 at once, without
    // reading or allocating them.
    let mut slow_body = TcpStream::connect(addr).unwrap();
    slow_body
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: b\r\nContent-Length: 5000\r\n\r\nab")
        .unwrap();
    let mut absurd_body = TcpStream::connect(addr).unwrap();
    absurd_body
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: b\r\nContent-Length: 100000000000\r\n\r\n")
        .unwrap();
    // ... and a chunked body with a 64 KiB chunk (413 once its size line is read).
    let mut chunked = TcpStream::connect(addr).unwrap();
    chunked
        .write_all(
            b"POST /metrics HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n",
        )
        .unwrap();

    // Meanwhile, scrapes succeed within a second, more of them than there are workers.
    let mut slowest = Duration::ZERO;
    for _ in 0..8 {
        slowest = slowest.max(scrape_within_a_second(addr));
    }
    eprintln!("slowest scrape among hostile clients: {slowest:?}");

    // The hostile requests got their answers.
    let wait = Duration::from_secs(5);
    assert_eq!(
        status_line(&mut malformed, wait),
        "HTTP/1.1 400 Bad Request"
    );
    assert_eq!(status_line(&mut binary, wait), "HTTP/1.1 400 Bad Request");
    assert_eq!(
        status_line(&mut oversized, wait),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    assert_eq!(
        status_line(&mut slow_body, wait),
        "HTTP/1.1 413 Content Too Large"
    );
    assert_eq!(
        status_line(&mut absurd_body, wait),
        "HTTP/1.1 413 Content Too Large"
    );
    assert_eq!(
        status_line(&mut chunked, wait),
        "HTTP/1.1 413 Content Too Large"
    );
    assert_eq!(
        status_line(&mut trickling, wait),
        "HTTP/1.1 408 Request Timeout"
    );
    // The connections that never sent anything are closed at the head timeout, unanswered.
    for mut c in idle {
        assert_eq!(status_line(&mut c, wait), "");
    }
    let body = String::from_utf8(gunzip(
        &get(addr, "/metrics", &[("Accept-Encoding", "gzip")]).body,
    ))
    .unwrap();
    for (kind, n) in [
        ("malformed", 2),
        ("head_too_large", 1),
        ("body_too_large", 3),
        ("head_timeout", 65),
    ] {
        let line = format!("http_exporter_errors_total{{kind=\"{kind}\"}} {n}\n");
        assert!(body.contains(&line), "{line} in\n{body}");
    }
    scrape_within_a_second(addr);

    stop.store(true, Ordering::SeqCst);
    trickler.join().unwrap();
    drop((
        malformed,
        binary,
        oversized,
        slow_body,
        absurd_body,
        chunked,
    ));
    e.stop();
}

/// A registry whose text output is about 16 MB: more than the kernel buffers of a
/// connection hold, so a client that does not read blocks the sender.
fn big_registry() -> Arc<Registry> {
    let mut r = Registry::new();
    let family = r
        .family::<Counter>(Desc::new("big", "Big.").labels(&["value"]), (), None)
        .unwrap();
    let long = "v".repeat(8000);
    for i in 0..2000 {
        family.labels(&[&format!("{i}{long}")]).inc();
    }
    Arc::new(r)
}

#[test]
fn a_client_that_does_not_read_holds_a_worker_at_most_about_twice_the_write_timeout() {
    let registry = big_registry();
    let e = Exporter::start(
        Config::new("127.0.0.1", 0)
            .workers(1)
            .gzip(false)
            .write_timeout(Duration::from_millis(500))
            .self_metrics(true),
        registry,
    )
    .unwrap();
    let addr = e.local_addr();

    // A client with a tiny receive window that asks for the metrics and never reads.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut stuck: TcpStream = socket.into();
    stuck
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: stuck\r\n\r\n")
        .unwrap();
    thread::sleep(Duration::from_millis(100));

    // The only worker is now writing to it; it gives up after the write timeout (plus at most
    // one socket send timeout), then answers this one.
    let started = Instant::now();
    let r = reply(
        agent(Duration::from_secs(10))
            .get(url(addr, "/metrics"))
            .call(),
    );
    let took = started.elapsed();
    assert_eq!(r.status, 200);
    assert!(r.body.len() > 16_000_000, "{}", r.body.len());
    assert!(took < Duration::from_secs(3), "{took:?}");
    let tail = String::from_utf8_lossy(&r.body[r.body.len() - 4000..]).into_owned();
    assert!(
        tail.contains("http_exporter_errors_total{kind=\"write\"} 1\n"),
        "{tail}"
    );
    eprintln!("scrape behind a client that does not read: {took:?}");
    drop(stuck);
}
