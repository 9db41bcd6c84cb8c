//! The bounds of the connection layer, one at a time, on a [`Server`] with a test handler:
//! the connection cap, requests in flight, the rate limit, keep-alive and its idle timeout,
//! a route with a bounded body.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use metrics_exporter_http::{Config, Handler, Refusal, Request, Response, Server, WebConfig};

/// Echoes the body of `PUT /echo` (up to 16 bytes); `GET /slow` sleeps 500 ms; counts
/// refusals.
#[derive(Default)]
struct Test {
    refusals: Mutex<Vec<Refusal>>,
    slow_running: AtomicUsize,
}

/// The handler the server owns; the test keeps another handle to the same state.
struct H(Arc<Test>);

impl std::ops::Deref for H {
    type Target = Test;
    fn deref(&self) -> &Test {
        &self.0
    }
}

impl Handler for H {
    type Worker = ();

    fn worker(&self) {}

    fn max_body(&self, request: &Request) -> usize {
        if request.path() == "/echo" {
            16
        } else {
            0
        }
    }

    fn handle(&self, _: &mut (), request: &Request, response: &mut Response) {
        match request.path() {
            "/echo" => {
                response.body(request.body());
            }
            "/slow" => {
                self.slow_running.fetch_add(1, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(500));
                response.body(b"slow");
            }
            _ => {
                response.body(b"ok");
            }
        }
    }

    fn refused(&self, refusal: Refusal) {
        self.refusals.lock().unwrap().push(refusal);
    }
}

impl Test {
    fn count(&self, r: Refusal) -> usize {
        self.refusals
            .lock()
            .unwrap()
            .iter()
            .filter(|x| **x == r)
            .count()
    }
}

fn start(config: Config) -> (Arc<Test>, Server) {
    let t = Arc::new(Test::default());
    let s = Server::start(&config, H(t.clone())).unwrap();
    (t, s)
}

fn local() -> Config {
    Config::new("127.0.0.1", 0)
}

/// Sends `request` and reads one answer (head and `Content-Length` body): `(status line,
/// whole answer)`.
fn exchange(s: &mut TcpStream, request: &[u8]) -> (String, String) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    read_answer(s)
}

fn read_answer(s: &mut TcpStream) -> (String, String) {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => got.push(byte[0]),
            _ => return (String::new(), String::from_utf8_lossy(&got).into_owned()),
        }
    }
    let head = String::from_utf8_lossy(&got).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).unwrap();
    let status = head.lines().next().unwrap_or("").to_string();
    (status, head + &String::from_utf8_lossy(&body))
}

/// True once the server has closed `s` (EOF or reset) within `wait`.
fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "{what}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection_until_the_idle_timeout() {
    let (_t, server) = start(local().idle_timeout(Duration::from_millis(300)));
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    for _ in 0..5 {
        let (status, answer) = exchange(&mut s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(status, "HTTP/1.1 200 OK", "{answer}");
        assert!(!answer.contains("Connection: close"), "{answer}");
    }
    // Two pipelined requests: both answered, in order.
    s.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_answer(&mut s).0, "HTTP/1.1 200 OK");
    assert_eq!(read_answer(&mut s).0, "HTTP/1.1 200 OK");
    // Idle past the timeout: closed.
    assert!(closed_within(&mut s, Duration::from_secs(3)));
    // `Connection: close` is honoured.
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    let (_, answer) = exchange(&mut s, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert!(answer.contains("Connection: close\r\n"), "{answer}");
    assert!(closed_within(&mut s, Duration::from_secs(3)));
    eventually("no connection left", || server.open_connections() == 0);
}

#[test]
fn the_oldest_idle_connection_is_closed_past_the_cap_and_a_new_one_is_served() {
    let (t, server) = start(local().max_connections(8));
    let addr = server.local_addr();
    let mut idle: Vec<TcpStream> = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(addr).unwrap());
        // One at a time: the order of arrival is the order of age.
        eventually("accepted", || server.open_connections() == idle.len());
    }
    // A ninth: the first idle one makes room, and the new one is answered.
    let mut s = TcpStream::connect(addr).unwrap();
    let (status, _) = exchange(&mut s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(closed_within(&mut idle[0], Duration::from_secs(3)));
    assert!(!closed_within(&mut idle[7], Duration::from_millis(100)));
    assert!(server.open_connections() <= 8);
    assert_eq!(t.count(Refusal::ConnectionLimit), 1);
}

#[test]
fn requests_past_max_requests_get_503() {
    let (t, server) = start(local().workers(1).max_requests(2));
    let addr = server.local_addr();
    let slow: Vec<_> = (0..2)
        .map(|_| {
            thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                exchange(&mut s, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").0
            })
        })
        .collect();
    // Both in flight (one at the worker, one queued) before the third.
    eventually("a slow request running", || {
        t.slow_running.load(Ordering::SeqCst) >= 1
    });
    thread::sleep(Duration::from_millis(50));
    let mut s = TcpStream::connect(addr).unwrap();
    let (status, answer) = exchange(&mut s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable", "{answer}");
    assert!(answer.contains("Retry-After: 1\r\n"), "{answer}");
    for h in slow {
        assert_eq!(h.join().unwrap(), "HTTP/1.1 200 OK");
    }
    assert_eq!(t.count(Refusal::TooManyRequests), 1);
    // Once they are done, requests go through again.
    let mut s = TcpStream::connect(addr).unwrap();
    assert_eq!(
        exchange(&mut s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").0,
        "HTTP/1.1 200 OK"
    );
}

fn web(dir: &Path, text: &str) -> WebConfig {
    let f = dir.join("web.yml");
    std::fs::write(&f, text).unwrap();
    WebConfig::from_file(&f).unwrap()
}

#[test]
fn the_rate_limit_answers_429_past_the_burst() {
    let dir = tempfile::tempdir().unwrap();
    let w = web(
        dir.path(),
        "rate_limit:\n  interval: 1h\n  burst: 3\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n",
    );
    let (t, server) = start(local().web_config(Some(w)));
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    for _ in 0..3 {
        let (status, answer) = exchange(&mut s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(answer.contains("X-Frame-Options: deny\r\n"), "{answer}");
    }
    let (status, _) = exchange(&mut s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 429 Too Many Requests");
    assert_eq!(t.count(Refusal::RateLimited), 1);
}

fn addr_request(addr: SocketAddr, request: &[u8]) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    exchange(&mut s, request)
}

#[test]
fn a_route_takes_a_bounded_body() {
    let (t, server) = start(local().body_timeout(Duration::from_millis(300)));
    let addr = server.local_addr();
    let (status, answer) = addr_request(
        addr,
        b"PUT /echo HTTP/1.1\r\nContent-Length: 16\r\n\r\n0123456789abcdef",
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(answer.ends_with("\r\n\r\n0123456789abcdef"), "{answer}");
    // The body in pieces.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"PUT /echo HTTP/1.1\r\nContent-Length: 4\r\n\r\nab")
        .unwrap();
    thread::sleep(Duration::from_millis(50));
    let (status, answer) = exchange(&mut s, b"cd");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(answer.ends_with("\r\n\r\nabcd"), "{answer}");
    // `Expect: 100-continue`: the interim answer first, then the body is sent.
    let mut s = TcpStream::connect(addr).unwrap();
    let (status, _) = exchange(
        &mut s,
        b"PUT /echo HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(status, "HTTP/1.1 100 Continue");
    let (status, answer) = exchange(&mut s, b"xyz");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(answer.ends_with("\r\n\r\nxyz"), "{answer}");
    // Chunked, in pieces, then another request on the same connection.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        .unwrap();
    thread::sleep(Duration::from_millis(50));
    let (status, answer) = exchange(&mut s, b"2;x=y\r\nde\r\n0\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(answer.ends_with("\r\n\r\nabcde"), "{answer}");
    let (status, _) = exchange(&mut s, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    // Chunked past the route's limit (and the 1 KiB every route takes): 413.
    let mut big = b"PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        big.extend_from_slice(b"200\r\n");
        big.extend_from_slice(&[b'x'; 0x200]);
        big.extend_from_slice(b"\r\n");
    }
    let (status, _) = addr_request(addr, &big);
    assert_eq!(status, "HTTP/1.1 413 Content Too Large");
    // Over the route's limit (and the 1 KiB every route reads): 413, unread.
    let (status, _) = addr_request(
        addr,
        b"PUT /echo HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n",
    );
    assert_eq!(status, "HTTP/1.1 413 Content Too Large");
    // A body that stops coming: 408 at the body timeout.
    let (status, _) = addr_request(addr, b"PUT /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nab");
    assert_eq!(status, "HTTP/1.1 408 Request Timeout");
    assert_eq!(t.count(Refusal::BodyTooLarge), 2);
    assert_eq!(t.count(Refusal::BodyTimeout), 1);
}

#[test]
fn a_handler_that_panics_gets_500_and_the_worker_carries_on() {
    struct Panics;
    impl Handler for Panics {
        type Worker = ();
        fn worker(&self) {}
        fn handle(&self, _: &mut (), request: &Request, response: &mut Response) {
            assert_ne!(request.path(), "/panic", "a panicking handler");
            response.body(b"ok");
        }
    }
    let server = Server::start(&local().workers(1), Panics).unwrap();
    let addr = server.local_addr();
    let (status, answer) = addr_request(addr, b"GET /panic HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 500 Internal Server Error");
    assert!(answer.contains("Connection: close\r\n"), "{answer}");
    assert_eq!(
        addr_request(addr, b"GET / HTTP/1.1\r\n\r\n").0,
        "HTTP/1.1 200 OK"
    );
}
