//! Out of file descriptors, `accept` fails with `EMFILE`: the accept loop counts it, closes
//! its oldest idle connection (if any), backs off and goes on, so the exporter serves again
//! once descriptors are free. Alone in its test binary: it uses up every file descriptor of
//! the process.

#![cfg(unix)]

mod common;

use std::fs::File;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use metrics_exporter_http::{Config, Exporter};

#[test]
fn serves_again_after_running_out_of_file_descriptors() {
    let s = sample();
    let e = Exporter::start(
        Config::new("127.0.0.1", 0).workers(2).self_metrics(true),
        s.registry.clone(),
    )
    .unwrap();
    let addr = e.local_addr();
    assert_eq!(get(addr, "/metrics", &[]).status, 200);

    // A client socket made while descriptors are left, connected when none is.
    let client = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let mut hog = Vec::new();
    while let Ok(f) = File::open("/dev/null") {
        hog.push(f);
    }
    eprintln!("{} file descriptors in use", hog.len());
    client.connect(&addr.into()).unwrap();
    // The reactor's accept fails (EMFILE) until descriptors are free again.
    thread::sleep(Duration::from_millis(500));
    drop(hog);
    drop(client);

    // Scrapes work again, after at most the longest back-off (1 s).
    let started = Instant::now();
    let body = loop {
        let attempt = agent(Duration::from_secs(2))
            .get(url(addr, "/metrics"))
            .call();
        if let Ok(mut r) = attempt {
            assert_eq!(r.status(), 200);
            break r.body_mut().read_to_string().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the exporter did not recover"
        );
    };
    eprintln!("serving again after {:?}", started.elapsed());
    let accept_errors: f64 = body
        .lines()
        .find_map(|l| l.strip_prefix("http_exporter_errors_total{kind=\"accept\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(accept_errors >= 1.0, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(body.contains("test_jobs_total 42\n"));

    // And it still stops cleanly.
    e.stop();
    assert!(std::net::TcpStream::connect(addr).is_err());
}
