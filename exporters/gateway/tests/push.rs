//! The push endpoint of the real binary (`--accept-pushes`), through a real HTTP client: totals
//! that add up across groups and methods, every refusal with its status, message and counter
//! and nothing stored, idempotency keys across restarts, SIGKILL at random points, group TTL,
//! the state file's errors, basic auth; and (ignored: outside tools) promtool on the page and a
//! real Prometheus scraping the pushed totals with `honor_labels: true`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use test_support::Rng;

const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A gateway with pushes only (no device), its state in `dir`.
fn gateway(dir: &Path, extra: &[&str]) -> Gateway {
    let state = state_file(dir);
    let mut args = vec![
        "--accept-pushes",
        "--push-state-file",
        state.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Gateway::start(&args)
}

fn state_file(dir: &Path) -> PathBuf {
    dir.join("state/pushes.json")
}

/// A request's answer: status and text body.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: String,
}

/// Sends `body` with `method` to `path`; `None` when no answer came (connection refused or
/// reset, timeout).
fn try_send(
    url: &str,
    method: &str,
    content_type: Option<&str>,
    key: Option<&str>,
    auth: Option<&str>,
    body: &[u8],
) -> Option<Answer> {
    let agent = test_support::agent(Duration::from_secs(10));
    let mut req = match method {
        "PUT" => agent.put(url),
        "POST" => agent.post(url),
        "PATCH" => agent.patch(url),
        other => {
            let mut req = match other {
                "GET" => agent.get(url),
                "DELETE" => agent.delete(url),
                _ => unreachable!(),
            };
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            let mut r = req.call().ok()?;
            let body = r.body_mut().read_to_string().ok()?;
            return Some(Answer {
                status: r.status().as_u16(),
                body,
            });
        }
    };
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let mut r = req.send(body).ok()?;
    let body = r.body_mut().read_to_string().ok()?;
    Some(Answer {
        status: r.status().as_u16(),
        body,
    })
}

fn send(g: &Gateway, method: &str, path: &str, key: Option<&str>, body: &str) -> Answer {
    try_send(&g.url(path), method, Some(TEXT), key, None, body.as_bytes())
        .unwrap_or_else(|| panic!("{method} {path}: no answer"))
}

fn metrics(g: &Gateway) -> String {
    let (status, body) = get(&g.url("/metrics"));
    assert_eq!(status, 200, "{body}");
    body
}

/// The page without the gateway's own families (whose counters count the requests).
fn pushed_part(page: &str) -> String {
    page.lines()
        .filter(|l| {
            !(l.starts_with("gateway_")
                || l.starts_with("# HELP gateway_")
                || l.starts_with("# TYPE gateway_"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

fn requests(page: &str, result: &str) -> f64 {
    value(
        page,
        "gateway_push_requests_total",
        &format!("result=\"{result}\""),
    )
    .unwrap_or_else(|| panic!("no gateway_push_requests_total{{result=\"{result}\"}}:\n{page}"))
}

/// The value of `name` with exactly `labels` (any order; an empty value is an absent label,
/// as Prometheus reads it) in `page`.
fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want = key(name, labels);
    samples(page).into_iter().find_map(|((n, mut l), v)| {
        l.retain(|(_, v)| !v.is_empty());
        (n == want.0 && l == want.1).then_some(v)
    })
}

/// A histogram's cumulative buckets `(le, count)` for the series with `labels` (besides `le`).
fn buckets(page: &str, name: &str, labels: &[(&str, &str)]) -> Vec<(f64, f64)> {
    let want = key(name, labels).1;
    let mut out: Vec<(f64, f64)> = samples(page)
        .into_iter()
        .filter_map(|((n, l), v)| {
            if n != format!("{name}_bucket") {
                return None;
            }
            let le = l.iter().find(|(k, _)| k == "le")?.1.clone();
            let rest: Vec<(String, String)> = l
                .into_iter()
                .filter(|(k, v)| k != "le" && !v.is_empty())
                .collect();
            (rest == want).then(|| {
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                (le, v)
            })
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

#[test]
fn pushes_add_up_across_groups_and_methods() {
    let dir = tempfile::tempdir().unwrap();
    let g = gateway(dir.path(), &[]);
    let a = "/push/job/ci/runner/a";
    let first = send(
        &g,
        "PUT",
        a,
        None,
        "# HELP runs_total Runs.\n# TYPE runs_total counter\nruns_total{step=\"build\"} 2\n\
         # TYPE temp gauge\ntemp 20\n\
         # TYPE dur histogram\ndur_bucket{le=\"1\"} 1\ndur_bucket{le=\"+Inf\"} 2\ndur_sum 3\ndur_count 2\n",
    );
    assert_eq!(
        (first.status, first.body.contains("counted")),
        (200, true),
        "{first:?}"
    );
    let second = send(
        &g,
        "POST",
        a,
        None,
        "# TYPE runs_total counter\nruns_total{step=\"build\"} 3\n# TYPE temp gauge\ntemp 25\n\
         # TYPE dur histogram\ndur_bucket{le=\"1\"} 0\ndur_bucket{le=\"+Inf\"} 1\ndur_sum 5\n",
    );
    assert_eq!(second.status, 200, "{second:?}");
    // runner = "b/c" through the base64 form; a job of its own in OpenMetrics.
    let b = send(
        &g,
        "PUT",
        "/push/job/ci/runner@base64/Yi9j",
        None,
        "# TYPE runs_total counter\nruns_total{step=\"build\"} 4\n",
    );
    assert_eq!(b.status, 200, "{b:?}");
    let om = try_send(
        &g.url("/push/job/other/empty@base64/="),
        "POST",
        Some(OPENMETRICS),
        None,
        None,
        b"# TYPE runs counter\nruns_total{step=\"test\"} 1.5\n# EOF\n",
    )
    .unwrap();
    assert_eq!(om.status, 200, "{om:?}");

    for accept in [None, Some(OPENMETRICS)] {
        let agent = test_support::agent(Duration::from_secs(10));
        let mut req = agent.get(g.url("/metrics"));
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        let page = req.call().unwrap().body_mut().read_to_string().unwrap();
        let ra = [("job", "ci"), ("runner", "a")];
        let runs = |labels: &[(&str, &str)]| sample(&page, "runs_total", labels);
        assert_eq!(
            runs(&[("job", "ci"), ("runner", "a"), ("step", "build")]),
            Some(5.0),
            "{page}"
        );
        assert_eq!(
            runs(&[("job", "ci"), ("runner", "b/c"), ("step", "build")]),
            Some(4.0),
            "{page}"
        );
        assert_eq!(
            runs(&[("job", "other"), ("step", "test")]),
            Some(1.5),
            "{page}"
        );
        assert_eq!(
            sample(&page, "temp", &ra),
            Some(25.0),
            "last value wins: {page}"
        );
        assert_eq!(
            buckets(&page, "dur", &ra),
            [(1.0, 1.0), (f64::INFINITY, 3.0)],
            "{page}"
        );
        assert_eq!(sample(&page, "dur_count", &ra), Some(3.0));
        assert_eq!(sample(&page, "dur_sum", &ra), Some(8.0));
        // One family of several groups: one TYPE line (checked by `samples`), the help kept.
        assert!(
            page.contains("# HELP runs Runs.") || page.contains("# HELP runs_total Runs."),
            "{page}"
        );
        assert_eq!(requests(&page, "ok"), 4.0);
        assert_eq!(sample(&page, "gateway_push_groups", &[]), Some(3.0));
        if accept.is_some() {
            assert!(page.ends_with("# EOF\n"), "{page}");
        }
    }
}

/// Method, path, Content-Type, body; the status, `result` label and words of the answer.
type Case<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    String,
    u16,
    &'a str,
    &'a str,
);

#[test]
fn every_bad_push_is_refused_counted_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let g = gateway(
        dir.path(),
        &[
            "--push-max-body-size",
            "2KiB",
            "--push-max-series-per-group",
            "9",
        ],
    );
    // 1 counter + 1 gauge + a histogram of 2 buckets (4) = 6 series in group ci.
    let seed = send(
        &g,
        "PUT",
        "/push/job/ci",
        None,
        "# TYPE c counter\nc_total 1\n# TYPE g gauge\ng 1\n\
         # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\n",
    );
    assert_eq!(seed.status, 200, "{seed:?}");
    assert_eq!(
        send(
            &g,
            "PUT",
            "/push/job/other",
            None,
            "# TYPE x counter\nx_total 1\n"
        )
        .status,
        200
    );

    let big = format!(
        "# TYPE c counter\n{}c_total 1\n",
        "# padding padding padding\n".repeat(100)
    );
    let many: String = (0..4)
        .map(|i| format!("n_total{{i=\"{i}\"}} 1\n"))
        .collect();
    let cases: Vec<Case<'_>> = vec![
        (
            "PUT",
            "/push/job/ci",
            Some(TEXT),
            "# TYPE c counter\nc_total{a=\"1} 1\n".into(),
            400,
            "malformed",
            "line 2, column",
        ),
        (
            "PUT",
            "/push/job/ci",
            Some(TEXT),
            "# TYPE c counter\nc_total -1\n".into(),
            400,
            "negative_increment",
            ">= 0",
        ),
        (
            "POST",
            "/push/job/ci",
            Some(TEXT),
            "# TYPE c counter\nc_total NaN\n".into(),
            400,
            "negative_increment",
            ">= 0",
        ),
        (
            "PUT",
            "/push/job/ci",
            Some(TEXT),
            "u 1\n".into(),
            400,
            "malformed",
            "no TYPE line",
        ),
        (
            "PUT",
            "/push/job/ci",
            Some(TEXT),
            "# TYPE u untyped\nu 1\n".into(),
            400,
            "malformed",
            "counter`, `gauge` or `histogram`",
        ),
        (
            "PUT",
            "/push/job/ci",
            Some(TEXT),
            "# TYPE s summary\ns_sum 1\ns_count 1\n".into(),
            400,
            "malformed",
            "`summary`",
        ),
        (
            "PUT",
            "/push/job/ci",
            Some("application/vnd.google.protobuf"),
            "x".into(),
            400,
            "malformed",
            "protobuf",
        ),
        (
            "PUT",
            "/push/job/ci",
            Some(OPENMETRICS),
            "# TYPE c counter\nc_total 1\n".into(),
            400,
            "malformed",
            "# EOF",
        ),
        // The first family is fine, the second is not: nothing of the push is stored.
        (
            "PUT",
            "/push/job/ci",
            Some(TEXT),
            "# TYPE c counter\nc_total 5\n# TYPE d counter\nd_total -2\n".into(),
            400,
            "negative_increment",
            "line 4",
        ),
        (
            "PUT",
            "/push/job/ci",
            Some(TEXT),
            "# TYPE c counter\nc_total{job=\"x\"} 1\n".into(),
            400,
            "label_clash",
            "grouping label",
        ),
        (
            "PUT",
            "/push/job/ci",
            Some(TEXT),
            "# TYPE c gauge\nc 1\n".into(),
            409,
            "type_conflict",
            "holds it as a counter",
        ),
        (
            "PUT",
            "/push/job/new",
            Some(TEXT),
            "# TYPE x gauge\nx 1\n".into(),
            409,
            "type_conflict",
            "holds it as a counter",
        ),
        (
            "PUT",
            "/push/job/new",
            Some(TEXT),
            "# TYPE c_total gauge\nc_total 1\n".into(),
            409,
            "type_conflict",
            "writes the sample name `c_total`",
        ),
        (
            "PUT",
            "/push/job/ci",
            Some(TEXT),
            "# TYPE gateway_x counter\ngateway_x_total 1\n".into(),
            409,
            "type_conflict",
            "gateway's own",
        ),
        (
            "PUT",
            "/push/job/new",
            Some(TEXT),
            "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n".into(),
            409,
            "bucket_mismatch",
            "bounds",
        ),
        (
            "PUT",
            "/push/job/ci",
            Some(TEXT),
            big,
            413,
            "too_large",
            "--push-max-body-size",
        ),
        (
            "PUT",
            "/push/job/ci",
            Some(TEXT),
            format!("# TYPE n counter\n{many}"),
            422,
            "too_many_series",
            "--push-max-series-per-group 9",
        ),
        (
            "GET",
            "/push/job/ci",
            None,
            String::new(),
            405,
            "method_not_allowed",
            "PUT or POST",
        ),
        (
            "DELETE",
            "/push/job/ci",
            None,
            String::new(),
            405,
            "method_not_allowed",
            "PUT or POST",
        ),
        (
            "PUT",
            "/push/job",
            Some(TEXT),
            "# TYPE c counter\nc_total 1\n".into(),
            400,
            "bad_path",
            "/push/job/<job>",
        ),
        (
            "PUT",
            "/push/instance/x",
            Some(TEXT),
            "# TYPE c counter\nc_total 1\n".into(),
            400,
            "bad_path",
            "start with /push/job",
        ),
        (
            "PUT",
            "/push/job/ci/le/1",
            Some(TEXT),
            "# TYPE c counter\nc_total 1\n".into(),
            400,
            "bad_path",
            "reserved",
        ),
    ];
    for (method, path, ct, body, status, result, says) in cases {
        let before = metrics(&g);
        let a = try_send(&g.url(path), method, ct, None, None, body.as_bytes())
            .unwrap_or_else(|| panic!("{method} {path}: no answer"));
        let after = metrics(&g);
        let what = format!("{method} {path} {body:?}: {a:?}");
        assert_eq!(a.status, status, "{what}");
        assert!(a.body.contains(says), "{what}: should say {says:?}");
        assert_eq!(
            pushed_part(&after),
            pushed_part(&before),
            "{what}: the totals changed"
        );
        assert_eq!(
            requests(&after, result),
            requests(&before, result) + 1.0,
            "{what}: not counted as {result}"
        );
    }

    // A body over the limit without Content-Length (chunked) is cut off while read.
    let before = metrics(&g);
    let chunked = vec![b'#'; 64 << 10];
    let agent = test_support::agent(Duration::from_secs(10));
    let r = agent
        .put(g.url("/push/job/ci"))
        .header("Content-Type", TEXT)
        .send(ureq::SendBody::from_reader(&mut &chunked[..]));
    // The gateway answers without reading the rest: the client may see the 413 or a reset.
    if let Ok(mut r) = r {
        assert_eq!(
            r.status().as_u16(),
            413,
            "{:?}",
            r.body_mut().read_to_string()
        );
    }
    let after = metrics(&g);
    assert_eq!(pushed_part(&after), pushed_part(&before));
    assert_eq!(
        requests(&after, "too_large"),
        requests(&before, "too_large") + 1.0
    );
    // A long idempotency key is refused too.
    let long = "k".repeat(300);
    let a = try_send(
        &g.url("/push/job/ci"),
        "PUT",
        Some(TEXT),
        Some(&long),
        None,
        b"# TYPE c counter\nc_total 1\n",
    )
    .unwrap();
    assert_eq!(a.status, 400, "{a:?}");
    // The seed is all there is, and a restart serves the same.
    let page = metrics(&g);
    assert_eq!(
        sample(&page, "c_total", &[("job", "ci")]),
        Some(1.0),
        "{page}"
    );
    drop(g);
    let g = gateway(dir.path(), &[]);
    assert_eq!(pushed_part(&metrics(&g)), pushed_part(&page));
}

#[test]
fn a_retried_push_counts_once_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = gateway(dir.path(), &[]);
    let body =
        "# TYPE runs counter\nruns_total 1\n# TYPE d histogram\nd_bucket{le=\"+Inf\"} 1\nd_sum 2\n";
    let path = "/push/job/ci/runner/r1";
    let a = send(&g, "PUT", path, Some("run-42/step-1"), body);
    assert_eq!(a.status, 200, "{a:?}");
    // The answer was lost: the client sends the same push again.
    let b = send(&g, "PUT", path, Some("run-42/step-1"), body);
    assert_eq!((b.status, b.body.as_str()), (200, "already counted\n"));
    let labels = [("job", "ci"), ("runner", "r1")];
    let page = metrics(&g);
    assert_eq!(sample(&page, "runs_total", &labels), Some(1.0), "{page}");
    assert_eq!(sample(&page, "d_count", &labels), Some(1.0), "{page}");
    assert_eq!(requests(&page, "duplicate"), 1.0);
    // The key belongs to its group: another group counts it.
    assert_eq!(
        send(
            &g,
            "PUT",
            "/push/job/ci/runner/r2",
            Some("run-42/step-1"),
            body
        )
        .status,
        200
    );

    g.kill();
    let g = gateway(dir.path(), &[]);
    let c = send(&g, "POST", path, Some("run-42/step-1"), body);
    assert_eq!((c.status, c.body.as_str()), (200, "already counted\n"));
    assert_eq!(
        send(&g, "POST", path, Some("run-42/step-2"), body).status,
        200
    );
    let page = metrics(&g);
    assert_eq!(sample(&page, "runs_total", &labels), Some(2.0), "{page}");
    assert_eq!(sample(&page, "d_count", &labels), Some(2.0), "{page}");
    assert_eq!(sample(&page, "d_sum", &labels), Some(4.0), "{page}");
}

#[test]
fn sigkill_at_random_points_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_file(dir.path());
    let args = [
        "--accept-pushes",
        "--push-state-file",
        state.to_str().unwrap(),
    ];
    let listen = format!("127.0.0.1:{}", test_support::free_port());
    let url = format!("http://{listen}/push/job/ci/runner/kill");
    let seed = Rng::clock_seed();
    eprintln!("kill points from seed {seed}");
    let mut rng = Rng::new(seed);
    const PUSHES: u64 = 400;
    let acked = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let (a, s) = (acked.clone(), sent.clone());
    let mut g = Gateway::start_on(&listen, &args);
    let client = thread::spawn(move || {
        let agent_timeout_retries = Instant::now() + Duration::from_secs(240);
        for i in 0..PUSHES {
            s.store(i + 1, Ordering::SeqCst);
            let key = format!("push-{i}");
            // Until answered 2xx: a lost answer is retried with the same key.
            loop {
                let r = try_send(
                    &url,
                    "POST",
                    Some(TEXT),
                    Some(&key),
                    None,
                    b"# TYPE jobs counter\njobs_total 1\n",
                );
                match r {
                    Some(r) if r.status == 200 => break,
                    Some(r) => panic!("push {i}: {r:?}"),
                    None => {
                        assert!(
                            Instant::now() < agent_timeout_retries,
                            "push {i} never answered"
                        );
                        thread::sleep(Duration::from_millis(5));
                    }
                }
            }
            a.store(i + 1, Ordering::SeqCst);
        }
    });
    let total = |g: &Gateway| {
        let page = metrics(g);
        sample(&page, "jobs_total", &[("job", "ci"), ("runner", "kill")]).unwrap_or(0.0) as u64
    };
    let mut kills = 0;
    while kills < 6 {
        // A random point in the pushing (1 to 50 pushes after the last kill): polled, and
        // not a synchronisation of the gateway with the client.
        let target = acked.load(Ordering::SeqCst) + 1 + rng.below(50);
        while acked.load(Ordering::SeqCst) < target && !client.is_finished() {
            thread::sleep(Duration::from_millis(1));
        }
        if client.is_finished() {
            break;
        }
        // And a random moment within a push.
        thread::sleep(Duration::from_micros(rng.below(3000)));
        g.kill();
        kills += 1;
        // Every answer received so far came from the killed process: each was saved.
        let acked_before = acked.load(Ordering::SeqCst);
        g = Gateway::start_on(&listen, &args);
        let served = total(&g);
        let sent_after = sent.load(Ordering::SeqCst);
        eprintln!("kill {kills}: {acked_before} acknowledged before, {served} served after, {sent_after} sent");
        assert!(
            served >= acked_before,
            "an acknowledged push was lost: {served} < {acked_before}"
        );
        assert!(
            served <= sent_after,
            "a push counted twice: {served} > {sent_after}"
        );
    }
    client.join().unwrap();
    assert_eq!(kills, 6, "the client finished before the sixth kill");
    assert_eq!(total(&g), PUSHES, "after {kills} kills");
    g.kill();
    let g = Gateway::start_on(&listen, &args);
    assert_eq!(total(&g), PUSHES);
}

#[test]
fn groups_expire_after_the_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let ttl = Duration::from_secs(2);
    let g = gateway(dir.path(), &["--push-group-ttl", "2s"]);
    let pushed = Instant::now();
    assert_eq!(
        send(
            &g,
            "PUT",
            "/push/job/old",
            None,
            "# TYPE c counter\nc_total 1\n"
        )
        .status,
        200
    );
    let page = metrics(&g);
    if pushed.elapsed() < ttl {
        assert_eq!(
            sample(&page, "c_total", &[("job", "old")]),
            Some(1.0),
            "{page}"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let page = loop {
        let page = metrics(&g);
        if sample(&page, "c_total", &[("job", "old")]).is_none() {
            break page;
        }
        assert!(Instant::now() < deadline, "never expired: {page}");
        thread::sleep(Duration::from_millis(100));
    };
    assert!(pushed.elapsed() >= ttl, "expired early");
    assert_eq!(
        sample(&page, "gateway_push_groups_expired_total", &[]),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "gateway_push_groups", &[]),
        Some(0.0),
        "{page}"
    );
    // Forgotten for good: not back after a restart.
    drop(g);
    let g = gateway(dir.path(), &["--push-group-ttl", "0"]);
    assert_eq!(sample(&metrics(&g), "c_total", &[("job", "old")]), None);
}

/// Starts the binary expecting it to exit: (exit code, stderr).
fn fails_to_start(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_metrics-gateway"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_torn_or_foreign_state_file_is_an_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = gateway(dir.path(), &[]);
    assert_eq!(
        send(
            &g,
            "PUT",
            "/push/job/ci",
            None,
            "# TYPE c counter\nc_total 7\n"
        )
        .status,
        200
    );
    g.kill();
    let file = state_file(dir.path());
    let whole = std::fs::read(&file).unwrap();
    let args = [
        "--accept-pushes",
        "--push-state-file",
        file.to_str().unwrap(),
    ];
    for (bytes, says) in [
        (whole[..whole.len() / 2].to_vec(), "torn"),
        (Vec::new(), "torn"),
        (
            String::from_utf8(whole.clone())
                .unwrap()
                .replace("\"version\":1", "\"version\":9")
                .into_bytes(),
            "version 9",
        ),
        (
            b"{\"groups\":[]}".to_vec(),
            "not a metrics-gateway push state file",
        ),
    ] {
        std::fs::write(&file, &bytes).unwrap();
        let (code, stderr) = fails_to_start(&args);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains(file.to_str().unwrap()) && stderr.contains(says),
            "{stderr}"
        );
        assert!(stderr.contains("move it away"), "{stderr}");
        assert_eq!(std::fs::read(&file).unwrap(), bytes, "the file was changed");
    }
    // The whole file back: the total is there.
    std::fs::write(&file, &whole).unwrap();
    let g = gateway(dir.path(), &[]);
    assert_eq!(sample(&metrics(&g), "c_total", &[("job", "ci")]), Some(7.0));
    // Without devices or pushes there is nothing to do.
    let (code, stderr) = fails_to_start(&[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--accept-pushes"), "{stderr}");
}

#[test]
fn basic_auth_of_the_web_config_guards_pushes_and_scrapes() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, format!("basic_auth_users:\n  ci: {hash}\n")).unwrap();
    let g = gateway(dir.path(), &["--web-config-file", web.to_str().unwrap()]);
    let basic = |p: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("ci:{p}"))
        )
    };
    let (good, bad) = (basic("s3cret"), basic("wrong"));
    let body = b"# TYPE c counter\nc_total 1\n";
    let url = g.url("/push/job/ci");
    for auth in [None, Some(bad.as_str())] {
        let a = try_send(&url, "PUT", Some(TEXT), None, auth, body).unwrap();
        assert_eq!(a.status, 401, "{a:?}");
        for path in ["/metrics", "/targets"] {
            let a = try_send(&g.url(path), "GET", None, None, auth, b"").unwrap();
            assert_eq!(a.status, 401, "{path}: {a:?}");
        }
    }
    let targets = try_send(&g.url("/targets"), "GET", None, None, Some(&good), b"").unwrap();
    assert_eq!((targets.status, targets.body.as_str()), (200, "[]\n"));
    let a = try_send(&url, "PUT", Some(TEXT), None, Some(&good), body).unwrap();
    assert_eq!(a.status, 200, "{a:?}");
    let page = try_send(&g.url("/metrics"), "GET", None, None, Some(&good), b"").unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(
        sample(&page.body, "c_total", &[("job", "ci")]),
        Some(1.0),
        "{}",
        page.body
    );
    assert_eq!(requests(&page.body, "unauthorized"), 2.0);
}

/// `curl` with `args`, the body on stdin: (stdout, whether it succeeded).
fn curl(args: &[&str], stdin: &[u8]) -> (String, bool) {
    use std::io::Write;
    let mut child = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("curl");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.success(),
    )
}

#[test]
#[ignore = "needs openssl and curl; run via scripts/test.sh"]
fn tls_of_the_web_config_serves_pushes_and_scrapes() {
    let dir = tempfile::tempdir().unwrap();
    let ok = Command::new("openssl")
        .current_dir(dir.path())
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem",
        ])
        .args(["-out", "cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .output()
        .expect("openssl");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n",
    )
    .unwrap();
    let g = gateway(dir.path(), &["--web-config-file", web.to_str().unwrap()]);
    assert!(g.log_with("https://").contains("https://"));
    let ca = dir.path().join("cert.pem");
    let base = format!("https://{}", g.addr);
    let (out, ok) = curl(
        &[
            "--cacert",
            ca.to_str().unwrap(),
            "-X",
            "PUT",
            "--data-binary",
            "@-",
            "-H",
            "Content-Type: text/plain; version=0.0.4",
            "-H",
            "Idempotency-Key: tls-1",
            "-w",
            "%{http_code}",
            &format!("{base}/push/job/tls"),
        ],
        b"# TYPE c counter\nc_total 3\n",
    );
    assert!(
        ok && out.contains("counted") && out.ends_with("200"),
        "{out}"
    );
    let (page, ok) = curl(
        &["--cacert", ca.to_str().unwrap(), &format!("{base}/metrics")],
        b"",
    );
    assert!(ok, "{page}");
    assert_eq!(
        sample(&page, "c_total", &[("job", "tls")]),
        Some(3.0),
        "{page}"
    );
    // Plain HTTP gets no page.
    let (_, ok) = curl(&[&format!("http://{}/metrics", g.addr), "-f"], b"");
    assert!(!ok, "plain HTTP was served");
}

/// A page with every kind of pushed family, base64 and escaped label values.
fn varied_page(dir: &Path) -> (Gateway, String) {
    let g = gateway(dir, &[]);
    for (path, body) in [
        ("/push/job/ci/runner@base64/YS9iIlxj", "# HELP runs_total Runs, \\\\ and \\n.\n# TYPE runs_total counter\nruns_total{step=\"a\\\"b\"} 2\n"),
        ("/push/job/ci/runner/r2", "# TYPE runs_total counter\nruns_total{step=\"x\"} 1.25\n# HELP t A gauge.\n# TYPE t gauge\nt NaN\n"),
        ("/push/job/ci/runner/r2", "# HELP d_seconds Durations.\n# TYPE d_seconds histogram\nd_seconds_bucket{le=\"0.005\"} 1\nd_seconds_bucket{le=\"1\"} 2\nd_seconds_bucket{le=\"+Inf\"} 3\nd_seconds_sum 9.5\nd_seconds_count 3\n"),
    ] {
        let a = send(&g, "PUT", path, None, body);
        assert_eq!(a.status, 200, "{a:?}");
    }
    let page = metrics(&g);
    (g, page)
}

#[test]
#[ignore = "needs promtool; run via scripts/test.sh"]
fn promtool_accepts_the_pushed_page() {
    let dir = tempfile::tempdir().unwrap();
    let (_g, page) = varied_page(dir.path());
    let said = promtool_check_metrics(page.as_bytes());
    eprintln!("promtool: {said}\n{page}");
    assert_eq!(
        sample(
            &page,
            "runs_total",
            &[("job", "ci"), ("runner", "a/b\"\\c"), ("step", "a\"b")]
        ),
        Some(2.0),
        "{page}"
    );
}

#[test]
#[ignore = "needs prometheus (Debian prometheus); run via scripts/test.sh"]
fn prometheus_reads_the_pushed_sum_with_honor_labels() {
    use test_support::Prometheus;
    let dir = tempfile::tempdir().unwrap();
    let g = gateway(dir.path(), &[]);
    let mut expected = 0.0;
    for (i, runner) in ["a", "b", "a"].iter().enumerate() {
        let n = i + 1;
        let a = send(
            &g,
            "POST",
            &format!("/push/job/ci/runner/{runner}"),
            Some(&format!("run-{i}")),
            &format!("# TYPE pipeline_runs counter\npipeline_runs_total {n}\n"),
        );
        assert_eq!(a.status, 200, "{a:?}");
        expected += n as f64;
    }
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: gateway\n    honor_labels: true\n    static_configs:\n      - targets: ['{}']\n",
        g.addr
    );
    let p = Prometheus::start(&config, |_| {});
    p.expect("sum(pipeline_runs_total{job=\"ci\"})", expected);
    p.expect("pipeline_runs_total{job=\"ci\",runner=\"a\"}", 4.0);
    p.expect("gateway_push_groups{job=\"gateway\"}", 2.0);
    // One more push: Prometheus sees the counter grow by it.
    assert_eq!(
        send(
            &g,
            "POST",
            "/push/job/ci/runner/b",
            Some("run-3"),
            "# TYPE pipeline_runs counter\npipeline_runs_total 5\n"
        )
        .status,
        200
    );
    p.expect("sum(pipeline_runs_total{job=\"ci\"})", expected + 5.0);
}
