//! Remote-Write against a small fake receiver on a real socket (fault injection): a 400 is
//! dropped and counted, never retried, and said once; 503s are retried with backoff; a tiny
//! queue drops the oldest batches, and every sample is accounted for exactly:
//! `queued == sent + failed + dropped + queue`, with the receiver's own count of the answers
//! it gave equal to the gateway's `sent` and `retried`; a 429's `Retry-After` is waited; over
//! TLS the receiver's CA comes from `tls.ca_file` (the webpki roots refuse it). (Real receivers, Prometheus 3.5.3 and
//! VictoriaMetrics, with QEMU firmware: `tests/remote_write_backends.rs`.)

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// What the receiver answers to one request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Reply {
    Status(u16, &'static str),
    /// Never answers (the connection is held open).
    Hang,
}

/// One request as received.
#[derive(Clone, Debug)]
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
    reply: Reply,
    at: Instant,
}

/// A Remote-Write receiver on 127.0.0.1 answering its `script` in order, then `then`.
struct Receiver {
    port: u16,
    log: Arc<Mutex<Vec<Received>>>,
    scheme: &'static str,
}

impl Receiver {
    fn start(script: Vec<Reply>, then: Reply) -> Receiver {
        Receiver::start_with(script, then, None)
    }

    /// Over TLS with `tls`'s certificate when given.
    fn start_with(
        script: Vec<Reply>,
        then: Reply,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log: Arc<Mutex<Vec<Received>>> = Arc::default();
        let l = log.clone();
        let scheme = if tls.is_some() { "https" } else { "http" };
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (l, script, tls) = (l.clone(), script.clone(), tls.clone());
                thread::spawn(move || match tls {
                    Some(config) => {
                        let server = rustls::ServerConnection::new(config).unwrap();
                        serve(rustls::StreamOwned::new(server, conn), &l, &script, then)
                    }
                    None => serve(conn, &l, &script, then),
                });
            }
        });
        Receiver { port, log, scheme }
    }

    fn url(&self) -> String {
        format!("{}://127.0.0.1:{}/api/v1/write", self.scheme, self.port)
    }

    fn answered(&self, reply: Reply) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.reply == reply)
            .count()
    }

    fn requests(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }
}

fn serve(conn: impl Read + Write, log: &Mutex<Vec<Received>>, script: &[Reply], then: Reply) {
    let mut reader = BufReader::new(conn);
    loop {
        let mut headers = HashMap::new();
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        // The reply is chosen, and logged, under one lock: requests are numbered in order.
        let reply = {
            let mut log = log.lock().unwrap();
            let reply = script.get(log.len()).copied().unwrap_or(then);
            log.push(Received {
                headers,
                body,
                reply,
                at: Instant::now(),
            });
            reply
        };
        match reply {
            Reply::Hang => loop {
                thread::park();
            },
            Reply::Status(code, text) => {
                let retry_after = if code == 429 {
                    "Retry-After: 1\r\n"
                } else {
                    ""
                };
                let answer = format!(
                    "HTTP/1.1 {code} X\r\nContent-Type: text/plain\r\n{retry_after}Content-Length: {}\r\n\r\n{text}",
                    text.len()
                );
                let conn = reader.get_mut();
                if conn
                    .write_all(answer.as_bytes())
                    .and_then(|()| conn.flush())
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

const OK: Reply = Reply::Status(200, "");
const UNAVAILABLE: Reply = Reply::Status(503, "TSDB not ready\n");
const BAD: Reply = Reply::Status(400, "out of order sample\n");

/// The gateway's own Remote-Write counts of target `name`, from one `/metrics` read.
#[derive(Debug, Default)]
struct Counts {
    samples: HashMap<&'static str, f64>,
    requests: HashMap<&'static str, f64>,
    queue_samples: f64,
    queue_requests: f64,
}

fn counts(g: &Gateway, name: &str, url: &str) -> Counts {
    let (status, text) = get(&g.url("/metrics"));
    assert_eq!(status, 200);
    let labels = format!("target=\"{name}\",url=\"{url}\"");
    let v = |metric: &str| {
        value(&text, metric, &labels).unwrap_or_else(|| panic!("no {metric}{{{labels}}}:\n{text}"))
    };
    let mut c = Counts::default();
    for what in ["queued", "sent", "failed", "dropped", "retried"] {
        c.samples.insert(
            what,
            v(&format!("gateway_remote_write_samples_{what}_total")),
        );
        c.requests.insert(
            what,
            v(&format!("gateway_remote_write_requests_{what}_total")),
        );
    }
    c.queue_samples = v("gateway_remote_write_queue_samples");
    c.queue_requests = v("gateway_remote_write_queue_requests");
    c
}

/// `queued == sent + failed + dropped + in the queue`, in samples and in requests.
fn assert_balanced(c: &Counts) {
    let (s, r) = (&c.samples, &c.requests);
    assert_eq!(
        s["queued"],
        s["sent"] + s["failed"] + s["dropped"] + c.queue_samples,
        "samples: {c:?}"
    );
    assert_eq!(
        r["queued"],
        r["sent"] + r["failed"] + r["dropped"] + c.queue_requests,
        "requests: {c:?}"
    );
}

fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

fn gateway(dir: &tempfile::TempDir, config: &str) -> Gateway {
    let file = dir.path().join("gateway.yaml");
    std::fs::write(&file, config).unwrap();
    let state = dir.path().join("pushes.json");
    Gateway::start(&[
        "--accept-pushes",
        "--push-state-file",
        state.to_str().unwrap(),
        "--config",
        file.to_str().unwrap(),
    ])
}

#[test]
fn a_400_is_dropped_counted_and_said_once_never_retried() {
    let r = Receiver::start(vec![BAD, BAD, BAD], OK);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("password"), "s3cret\n").unwrap();
    let g = gateway(
        &dir,
        &format!(
            "remote_write:\n  - url: {}\n    name: central\n    interval: 100ms\n    \
             basic_auth: {{username: site7, password_file: password}}\n    \
             queue: {{min_backoff: 10ms, max_backoff: 20ms}}\n",
            r.url()
        ),
    );
    let c = wait_until(
        "two requests sent after the three refused",
        Duration::from_secs(20),
        || {
            let c = counts(&g, "central", &r.url());
            (c.requests["sent"] >= 2.0).then_some(c)
        },
    );
    assert_eq!(c.requests["failed"], 3.0, "{c:?}");
    assert_eq!(c.requests["retried"], 0.0, "{c:?}");
    assert_eq!(c.samples["retried"], 0.0, "{c:?}");
    assert_eq!(c.requests["dropped"], 0.0, "{c:?}");
    assert!(c.samples["failed"] >= 3.0, "{c:?}");
    assert_balanced(&c);
    assert_eq!(
        r.answered(BAD),
        3,
        "every refused request reached the receiver once"
    );
    let log = g.log_with("refused a request");
    assert_eq!(
        log.matches("refused a request").count(),
        1,
        "one distinct answer, said once:\n{log}"
    );
    assert!(
        log.contains("400 Bad Request: out of order sample"),
        "{log}"
    );
    for req in r.requests() {
        let h = &req.headers;
        assert_eq!(h["content-encoding"], "snappy");
        assert_eq!(h["content-type"], "application/x-protobuf");
        assert_eq!(h["x-prometheus-remote-write-version"], "0.1.0");
        // base64("site7:s3cret")
        assert_eq!(h["authorization"], "Basic c2l0ZTc6czNjcmV0");
        assert!(!req.body.is_empty());
    }
}

#[test]
fn a_tiny_queue_drops_the_oldest_and_counts_every_sample() {
    // Five 503s (retried with backoff while pages queue up and the oldest are dropped), three
    // requests taken, then a receiver that never answers: the sender holds that request, so
    // the counts of the sender are still while the sampler keeps queueing and dropping.
    let mut script = vec![UNAVAILABLE; 5];
    script.extend([OK; 3]);
    let r = Receiver::start(script, Reply::Hang);
    let dir = tempfile::tempdir().unwrap();
    let g = gateway(
        &dir,
        &format!(
            "remote_write:\n  - url: {}\n    protocol_version: 2\n    interval: 100ms\n    \
             timeout: 10m\n    queue: {{max_samples: 100, min_backoff: 200ms, max_backoff: 400ms}}\n",
            r.url()
        ),
    );
    let name = r.url();
    let at_hang = wait_until("the receiver to hang", Duration::from_secs(30), || {
        (r.answered(Reply::Hang) == 1).then(|| counts(&g, &name, &name).requests["queued"])
    });
    // Four pages queued since, and the sender holds the request the receiver hangs on: the
    // queue is full (three pages of 30 samples wait) and drops at every page.
    let c = wait_until("four more pages", Duration::from_secs(30), || {
        let c = counts(&g, &name, &name);
        (c.requests["queued"] >= at_hang + 4.0).then_some(c)
    });
    assert_balanced(&c);
    assert_eq!(c.requests["sent"], 3.0, "{c:?}");
    assert_eq!(c.requests["retried"], 5.0, "{c:?}");
    assert_eq!(c.requests["failed"], 0.0, "{c:?}");
    assert_eq!(r.answered(OK), 3);
    assert_eq!(r.answered(UNAVAILABLE), 5);
    // A page has the same series every time here (the push and Remote-Write metrics).
    let per_page = c.samples["queued"] / c.requests["queued"];
    assert_eq!(per_page.fract(), 0.0, "{c:?}");
    assert!(per_page < 100.0, "a page fits the queue: {c:?}");
    assert_eq!(
        c.samples["dropped"],
        c.requests["dropped"] * per_page,
        "{c:?}"
    );
    assert_eq!(c.samples["sent"], 3.0 * per_page, "{c:?}");
    assert_eq!(c.samples["retried"], 5.0 * per_page, "{c:?}");
    assert!(c.requests["dropped"] >= 1.0, "{c:?}");
    // What waits is within the bound (the request in flight besides).
    let waiting = c.queue_samples - per_page;
    assert!(waiting <= 100.0, "{c:?}");
    assert_eq!(c.queue_requests, (100.0 / per_page).floor() + 1.0, "{c:?}");
    for req in r.requests() {
        assert_eq!(req.headers["x-prometheus-remote-write-version"], "2.0.0");
    }
    let log = g.log_with("is sending again");
    assert!(
        log.contains("is failing (503 Service Unavailable: TSDB not ready)"),
        "{log}"
    );
    assert!(log.contains("is sending again"), "{log}");
    assert!(log.contains("dropping the oldest"), "{log}");
}

#[test]
fn remote_write_settings_are_checked_at_start() {
    for (args, says) in [
        (vec!["--remote-write", "prometheus:9090"], "http(s)://"),
        (
            vec![
                "--remote-write",
                "http://a/w",
                "--remote-write-version",
                "3",
            ],
            "write 1",
        ),
        (
            vec![
                "--remote-write",
                "http://a/w",
                "--remote-write",
                "http://a/w",
            ],
            "already configured",
        ),
    ] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_metrics-gateway"))
            .args([
                "--accept-pushes",
                "--push-state-file",
                "/nonexistent/p.json",
            ])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn a_429_waits_for_retry_after() {
    let r = Receiver::start(vec![Reply::Status(429, "slow down\n")], OK);
    let dir = tempfile::tempdir().unwrap();
    let g = gateway(
        &dir,
        &format!(
            "remote_write:\n  - url: {}\n    name: t\n    interval: 1h\n    \
             queue: {{min_backoff: 10ms, max_backoff: 20ms}}\n",
            r.url()
        ),
    );
    let c = wait_until("the retried request taken", Duration::from_secs(20), || {
        let c = counts(&g, "t", &r.url());
        (c.requests["sent"] == 1.0).then_some(c)
    });
    assert_eq!(c.requests["retried"], 1.0, "{c:?}");
    assert_balanced(&c);
    let reqs = r.requests();
    assert_eq!(reqs.len(), 2);
    let waited = reqs[1].at - reqs[0].at;
    assert!(
        waited >= Duration::from_secs(1),
        "Retry-After: 1 waited, not the 10ms backoff: {waited:?}"
    );
    assert_eq!(reqs[0].body, reqs[1].body, "the same request again");
}

/// A CA and a `127.0.0.1` certificate it signed: (CA PEM, rustls server config).
fn tls_receiver_config() -> (String, Arc<rustls::ServerConfig>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let ca = test_support::tls::Ca::new("test CA");
    let (cert, key) = ca.sign("receiver", &["127.0.0.1"], test_support::tls::Usage::Any);
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
        )
        .unwrap();
    (ca.pem(), Arc::new(config))
}

#[test]
fn https_with_the_ca_file_and_a_bearer_token() {
    let (ca_pem, config) = tls_receiver_config();
    let r = Receiver::start_with(vec![], OK, Some(config.clone()));
    let untrusted = Receiver::start_with(vec![], OK, Some(config));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &ca_pem).unwrap();
    let g = gateway(
        &dir,
        &format!(
            "remote_write:\n  - url: {}\n    name: trusted\n    interval: 100ms\n    \
             bearer_token: t0ken\n    tls: {{ca_file: ca.pem}}\n  \
             - url: {}\n    name: untrusted\n    interval: 100ms\n    \
             queue: {{min_backoff: 10ms, max_backoff: 50ms}}\n",
            r.url(),
            untrusted.url()
        ),
    );
    let c = wait_until("two requests over TLS", Duration::from_secs(20), || {
        let c = counts(&g, "trusted", &r.url());
        (c.requests["sent"] >= 2.0).then_some(c)
    });
    assert_eq!(c.requests["retried"], 0.0, "{c:?}");
    for req in r.requests() {
        assert_eq!(req.headers["authorization"], "Bearer t0ken");
    }
    // The webpki roots do not know the test CA: retried, never sent, said why.
    let log = g.log_with("remote write to `untrusted` is failing");
    assert!(
        log.contains("remote write to `untrusted` is failing"),
        "{log}"
    );
    assert!(log.contains("UnknownIssuer"), "{log}");
    assert!(log.contains("tls.ca_file"), "{log}");
    let u = counts(&g, "untrusted", &untrusted.url());
    assert_eq!(u.requests["sent"], 0.0, "{u:?}");
    assert!(untrusted.requests().is_empty());
}
