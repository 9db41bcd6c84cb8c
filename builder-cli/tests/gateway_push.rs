//! `--gateway-url` under faults: a server that answers 503 first gets the same push again, with
//! the same `Idempotency-Key`; one that refuses it (400) is told once, and the run's exit code
//! stays the run's; the body holds this run's increments, not the totals. The server here is a
//! scripted HTTP/1.1 peer on a real socket (the real gateway is in tests/one_shot.rs).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use common::{stderr, Case};

const JOB: &str = r#"
name: pushed
steps:
  - name: build
    run: "true"
  - name: deploy
    needs: [build]
    run: exit 1
profiles:
  ci: {}
"#;

/// One request as the server saw it.
#[derive(Debug)]
struct Seen {
    head: String,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Serves one connection per status in `answers`, in order, and sends what it saw.
fn server(answers: Vec<u16>) -> (String, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for status in answers {
            let (stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let seen = Seen {
                head,
                body: String::new(),
            };
            let len: usize = seen
                .header("content-length")
                .map(|v| v.parse().unwrap())
                .unwrap_or(0);
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let text = if status == 200 {
                "ok"
            } else {
                "no: malformed line 3"
            };
            let mut w = stream;
            write!(
                w,
                "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            )
            .unwrap();
            let _ = tx.send(Seen {
                body: String::from_utf8(body).unwrap(),
                ..seen
            });
        }
    });
    (url, rx)
}

fn push_run(case: &Case, url: &str) -> std::process::Output {
    case.run(
        "ci",
        &["--force", "--gateway-url", url, "--instance", "runner-7"],
    )
}

#[test]
fn a_503_is_retried_with_the_same_key_and_the_body_holds_the_runs_increments() {
    let case = Case::new(JOB);
    // A first run, not pushed: the state file then holds one run.
    let o = case.run("ci", &["--quiet", "--instance", "runner-7"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let (url, seen) = server(vec![503, 200]);
    let o = push_run(&case, &url);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("attempt 2 of 5"), "{e}");
    assert!(!e.contains("warning"), "{e}");
    let first = seen.recv_timeout(Duration::from_secs(5)).unwrap();
    let second = seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        first
            .head
            .starts_with("POST /push/job/pushed/profile/ci HTTP/1.1"),
        "{}",
        first.head
    );
    let key = first.header("idempotency-key").unwrap();
    assert!(key.starts_with("runner-7/"), "{key}");
    assert_eq!(second.header("idempotency-key"), Some(key));
    assert_eq!(second.body, first.body);
    // This run's increments: 1 (the state file holds 2 runs), without job/profile labels
    // (the grouping key carries them) and without pipeline_run_info.
    let body = &first.body;
    assert!(
        body.contains("pipeline_step_status_total{step=\"deploy\",status=\"FAIL\"} 1\n"),
        "{body}"
    );
    assert!(
        body.contains("pipeline_step_duration_seconds_count{step=\"deploy\"} 1\n"),
        "{body}"
    );
    assert!(
        !body.contains("job=") && !body.contains("pipeline_run_info"),
        "{body}"
    );
    let totals = std::fs::read_to_string(case.out.join("metrics.prom")).unwrap();
    assert!(
        totals.contains("status=\"FAIL\"} 2\n"),
        "the run's own output has the totals:\n{totals}"
    );
}

#[test]
fn a_refused_push_is_a_warning_once_and_the_exit_code_stays_the_runs() {
    let case = Case::new(JOB);
    let (url, seen) = server(vec![400]);
    let o = push_run(&case, &url);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("warning: the gateway at") && e.contains("no: malformed line 3"),
        "{e}"
    );
    assert!(!e.contains("attempt 2"), "a 400 is not retried: {e}");
    seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(seen.recv_timeout(Duration::from_millis(300)).is_err());
}

#[test]
fn a_gateway_that_is_not_there_is_a_warning_after_the_retries() {
    let case = Case::new(
        r#"
name: ok
steps:
  - name: build
    run: "true"
profiles:
  ci: {}
"#,
    );
    // A port nobody listens on: bound, then closed.
    let port = common::free_port();
    let o = push_run(&case, &format!("http://127.0.0.1:{port}"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("after 5 attempts"), "{e}");
    assert!(e.contains("is the gateway up"), "{e}");
}
