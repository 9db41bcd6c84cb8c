//! The gateway binary (a real child process) in front of devices that answer with the real
//! framed codec: on TCP listeners (what QEMU's `-serial tcp:` gives) and on a pty (a real
//! serial device path, opened through the serialport crate).

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::*;

fn up(text: &str, device: &str) -> Option<f64> {
    value(text, "gateway_device_up", &format!("device=\"{device}\""))
}

fn requests(text: &str, device: &str) -> Option<f64> {
    value(text, "requests_total", &format!("device=\"{device}\""))
}

#[test]
fn two_devices_merged_then_one_dies_and_the_other_is_still_served() {
    let a = TcpDevice::start("a", Behaviour::Clean);
    let b = TcpDevice::start("b", Behaviour::Clean);
    let g = Gateway::start(&[
        "--device",
        &format!("a={}", a.url()),
        "--device",
        &format!("b={}", b.url()),
        "--timeout",
        "500ms",
        "--stale-after",
        "0",
    ]);

    let (code, first) = get(&g.url("/metrics"));
    assert_eq!(code, 200);
    assert_eq!(up(&first, "a"), Some(1.0), "{first}");
    assert_eq!(up(&first, "b"), Some(1.0), "{first}");
    assert_eq!(
        first.matches("# TYPE requests_total counter").count(),
        1,
        "{first}"
    );
    assert_eq!(
        value(&first, "board_info", "device=\"b\",board=\"b\""),
        Some(1.0),
        "{first}"
    );
    assert_eq!(
        value(
            &first,
            "tick_jitter_seconds_bucket",
            "device=\"a\",le=\"+Inf\""
        ),
        value(&first, "tick_jitter_seconds_count", "device=\"a\""),
    );

    let (code, probe) = get(&g.url("/probe?target=a"));
    assert_eq!(code, 200);
    assert!(requests(&probe, "a") > requests(&first, "a"), "{probe}");
    assert!(!probe.contains("device=\"b\""), "{probe}");

    b.kill();
    // With --stale-after 0, within one scrape: the next one already reports b down and
    // leaves its series out, and a keeps being served.
    let (_, after) = get(&g.url("/metrics"));
    assert_eq!(up(&after, "b"), Some(0.0), "{after}");
    assert_eq!(
        requests(&after, "b"),
        None,
        "stale series of b served: {after}"
    );
    assert_eq!(up(&after, "a"), Some(1.0), "{after}");
    assert!(requests(&after, "a") > requests(&probe, "a"), "{after}");
    assert_eq!(
        value(
            &after,
            "gateway_device_scrape_failures_total",
            "device=\"b\""
        ),
        Some(1.0),
        "{after}"
    );
    assert!(
        value(
            &after,
            "gateway_device_last_success_timestamp_seconds",
            "device=\"b\""
        )
        .is_some(),
        "{after}"
    );
}

/// Staleness: once a device stops answering, its last good series are served for its stale
/// time (here 1 h: still there after the kill), then (here 1 s) they leave `/metrics` and
/// `/probe` answers 503 saying why, while its health metrics stay.
#[test]
fn a_dead_device_is_served_for_its_stale_time_then_left_out_and_refused() {
    let a = TcpDevice::start("a", Behaviour::Clean);
    let gateway = |stale: &str| {
        Gateway::start(&[
            "--device",
            &format!("a={}", a.url()),
            "--timeout",
            "300ms",
            "--retries",
            "0",
            "--stale-after",
            stale,
        ])
    };
    let (long, short) = (gateway("1h"), gateway("1s"));
    for g in [&long, &short] {
        let (_, text) = get(&g.url("/metrics"));
        assert_eq!(up(&text, "a"), Some(1.0), "{text}");
        assert!(requests(&text, "a").is_some(), "{text}");
    }
    a.kill();

    // Within the stale time: down, and the last good series still served, on both endpoints.
    let (_, text) = get(&long.url("/metrics"));
    assert_eq!(up(&text, "a"), Some(0.0), "{text}");
    assert!(
        requests(&text, "a").is_some(),
        "within the stale time: {text}"
    );
    let (code, probe) = get(&long.url("/probe?target=a"));
    assert_eq!(code, 200, "{probe}");
    assert_eq!(up(&probe, "a"), Some(0.0), "{probe}");
    assert!(requests(&probe, "a").is_some(), "{probe}");

    // Past it: the series leave /metrics, the health metrics stay.
    let until = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let (_, text) = get(&short.url("/metrics"));
        if requests(&text, "a").is_none() {
            break text;
        }
        assert!(Instant::now() < until, "still served: {text}");
        thread::sleep(Duration::from_millis(100));
    };
    let gone_at = unix_now();
    assert_eq!(up(&text, "a"), Some(0.0), "{text}");
    let last = value(
        &text,
        "gateway_device_last_success_timestamp_seconds",
        "device=\"a\"",
    )
    .expect("the last success stays");
    assert!(
        gone_at >= last + 1.0,
        "left out {:.3} s after the last success, before the stale time",
        gone_at - last
    );
    let (code, body) = get(&short.url("/probe?target=a"));
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("device `a` is down and its series are stale: it last answered")
            && body.contains("longer than its stale time (1s, --stale-after); latest error: "),
        "{body}"
    );
}

/// Protocol 1.1: with --device-id-label, the series of a device that reports an id carry it;
/// a device without one and a 1.0 firmware (IDENTIFY refused as unknown) are served without
/// it, as before; without the flag nobody is asked.
#[test]
fn series_carry_the_id_a_device_reports_and_old_firmware_is_served_without() {
    let mut with_id = device_registry("new");
    with_id.id = Some("fw-0042");
    let new = TcpDevice::start_with(with_id.clone(), Behaviour::Clean);
    let no_id = TcpDevice::start("none", Behaviour::Clean);
    let old = TcpDevice::start_with(device_registry("old"), Behaviour::OldFirmware);
    let devices = [
        "--device".to_owned(),
        format!("new={}", new.url()),
        "--device".to_owned(),
        format!("none={}", no_id.url()),
        "--device".to_owned(),
        format!("old={}", old.url()),
    ];
    let args: Vec<&str> = devices.iter().map(String::as_str).collect();
    let labelled = Gateway::start(&[&args[..], &["--device-id-label", "device_id"]].concat());
    let (_, text) = get(&labelled.url("/metrics"));
    for d in ["new", "none", "old"] {
        assert_eq!(up(&text, d), Some(1.0), "{d}: {text}");
    }
    assert_eq!(
        value(
            &text,
            "board_info",
            "device=\"new\",board=\"new\",device_id=\"fw-0042\""
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains("requests_total{device=\"new\",device_id=\"fw-0042\"}"),
        "{text}"
    );
    // The others' series of a shared family are written with an empty (absent) id.
    for d in ["none", "old"] {
        let labels = format!("device=\"{d}\",board=\"{d}\",device_id=\"\"");
        assert!(
            value(&text, "board_info", &labels).is_some(),
            "{d} without an id: {text}"
        );
    }
    // Every series of `new` carries its id, no other series does (nor the gateway's own).
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let of_new = line.contains("device=\"new\"") && !line.starts_with("gateway_");
        assert_eq!(line.contains("device_id=\"fw-0042\""), of_new, "{line}");
    }

    // /targets gives the id, once known, as a meta label.
    let (_, targets) = get(&labelled.url("/targets"));
    let targets: serde_json::Value = serde_json::from_str(&targets).unwrap();
    let id = |d: &str| {
        targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["targets"][0] == d)
            .unwrap()["labels"]["__meta_gateway_device_id"]
            .clone()
    };
    assert_eq!(id("new"), "fw-0042", "{targets}");
    assert!(id("old").is_null() && id("none").is_null(), "{targets}");

    // Without the flag: nobody is asked, nothing is labelled.
    let plain = Gateway::start(&args);
    let (_, text) = get(&plain.url("/metrics"));
    assert!(!text.contains("device_id"), "{text}");
    assert_eq!(
        value(&text, "board_info", "device=\"new\",board=\"new\""),
        Some(1.0),
        "{text}"
    );
}

#[test]
fn a_silent_device_costs_only_its_own_timeout() {
    let good = TcpDevice::start("good", Behaviour::Clean);
    let silent = TcpDevice::start("silent", Behaviour::Silent);
    let g = Gateway::start(&[
        "--device",
        &format!("good={}", good.url()),
        "--device",
        &format!("silent={}", silent.url()),
        "--timeout",
        "500ms",
        "--retries",
        "1",
    ]);

    let t = Instant::now();
    let (_, text) = get(&g.url("/probe?target=good"));
    assert!(
        t.elapsed() < Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(up(&text, "good"), Some(1.0), "{text}");

    // The silent one takes its timeout twice (one retry), no more; the good one is served.
    let t = Instant::now();
    let (_, text) = get(&g.url("/metrics"));
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(up(&text, "silent"), Some(0.0), "{text}");
    assert_eq!(up(&text, "good"), Some(1.0), "{text}");
    assert!(requests(&text, "good").is_some(), "{text}");
}

#[test]
fn a_corrupted_answer_is_a_frame_error_and_the_retry_recovers() {
    let noisy = TcpDevice::start("noisy", Behaviour::CorruptFirst);
    let g = Gateway::start(&[
        "--device",
        &format!("noisy={}", noisy.url()),
        "--timeout",
        "500ms",
        "--retries",
        "1",
    ]);
    let (_, text) = get(&g.url("/metrics"));
    assert_eq!(up(&text, "noisy"), Some(1.0), "{text}");
    let errors = value(
        &text,
        "gateway_device_frame_errors_total",
        "device=\"noisy\"",
    );
    assert!(errors >= Some(1.0), "{text}");
    assert_eq!(
        value(
            &text,
            "gateway_device_scrape_failures_total",
            "device=\"noisy\""
        ),
        Some(0.0),
        "the retry within the scrape recovered: {text}"
    );
    assert!(requests(&text, "noisy").is_some(), "{text}");
}

#[test]
fn probe_errors_say_what_to_do() {
    let a = TcpDevice::start("a", Behaviour::Clean);
    let g = Gateway::start(&["--device", &format!("a={}", a.url())]);
    for (path, code, says) in [
        (
            "/probe?target=nope",
            404,
            "unknown target `nope`: the devices are a",
        ),
        ("/probe", 400, "missing target"),
        ("/nothing", 404, "try /metrics"),
    ] {
        let (status, body) = get(&g.url(path));
        assert_eq!(status, code, "{path}");
        assert!(body.contains(says), "{path}: {body}");
    }
    let agent = test_support::agent(Duration::from_secs(10));
    let r = agent.post(&g.url("/metrics")).send("").unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers().get("allow").unwrap(), "GET, HEAD");
    let (_, om) = {
        let agent = test_support::agent(Duration::from_secs(10));
        let mut r = agent
            .get(&g.url("/metrics"))
            .header("Accept", "application/openmetrics-text; version=1.0.0")
            .call()
            .unwrap();
        let ct = r
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
        (ct, r.body_mut().read_to_string().unwrap())
    };
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert_eq!(up(&om, "a"), Some(1.0), "{om}");
}

/// The Content-Type names the escaping scheme a scraper asked for (Prometheus 3 asks for one),
/// on `/metrics` and `/probe`, and stays as before for a scraper that names none.
#[test]
fn content_type_names_the_escaping_scheme_asked_for() {
    let a = TcpDevice::start("a", Behaviour::Clean);
    let g = Gateway::start(&["--device", &format!("a={}", a.url())]);
    let agent = test_support::agent(Duration::from_secs(10));
    for path in ["/metrics", "/probe?target=a"] {
        for (accept, want) in [
            (
                "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,text/plain;version=0.0.4;q=0.3",
                "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8",
            ),
            (
                "text/plain;version=1.0.0;escaping=underscores",
                "text/plain; version=1.0.0; charset=utf-8; escaping=underscores",
            ),
            (
                "text/plain;version=0.0.4",
                "text/plain; version=0.0.4; charset=utf-8",
            ),
        ] {
            let mut r = agent
                .get(&g.url(path))
                .header("Accept", accept)
                .call()
                .unwrap();
            let ct = r.headers().get("content-type").unwrap().to_str().unwrap();
            assert_eq!(ct, want, "{path} with Accept: {accept}");
            let body = r.body_mut().read_to_string().unwrap();
            assert!(body.contains("gateway_device_up"), "{path}: {body}");
        }
    }
}

/// Acceptance 3: the gateway reads a real serial device path (the slave side of a pty, opened
/// by the serialport crate at its baud rate), the device answering on the master side.
#[test]
fn reads_a_real_serial_device_path() {
    let pty = PtyDevice::start(device_registry("uart"));
    let path = &pty.path;
    let g = Gateway::start(&[
        "--device",
        &format!("uart={}@115200", path.display()),
        "--timeout",
        "1s",
    ]);
    let (_, first) = get(&g.url("/probe?target=uart"));
    assert_eq!(up(&first, "uart"), Some(1.0), "{first}");
    assert_eq!(
        value(&first, "board_info", "device=\"uart\",board=\"uart\""),
        Some(1.0),
        "{first}"
    );
    let (_, second) = get(&g.url("/metrics"));
    assert!(
        requests(&second, "uart") > requests(&first, "uart"),
        "{second}"
    );
}

#[test]
fn usage_and_config_errors_exit_2_and_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("gateway.yaml");
    std::fs::write(
        &bad,
        "devices:\n  - name: a\n    address: tcp://127.0.0.1:1\n  - name: b\n    address: udp://h:1\n",
    )
    .unwrap();
    let bad_limit = dir.path().join("limits.yaml");
    std::fs::write(
        &bad_limit,
        "devices:\n  - name: a\n    address: tcp://127.0.0.1:1\n    limits:\n      max_response_bytes: 1GB\n",
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_metrics-gateway");
    for (args, says) in [
        (
            vec!["--config".into(), bad.display().to_string()],
            format!("{}:5:14: `udp://h:1`: unknown scheme", bad.display()),
        ),
        (
            vec![],
            "no devices: give --device NAME=ADDRESS or --config FILE".into(),
        ),
        (
            vec!["--device".into(), "tcp://h:1".into()],
            "--device `tcp://h:1`: write NAME=ADDRESS".into(),
        ),
        (
            vec![
                "--device".into(),
                "a=tcp://h:1".into(),
                "--timeout".into(),
                "soon".into(),
            ],
            "500ms".into(),
        ),
        (
            vec![
                "--device".into(),
                "a=tcp://h:1".into(),
                "--max-series".into(),
                "0".into(),
            ],
            "`0`: the limit must be at least 1".into(),
        ),
        (
            vec![
                "--device".into(),
                "a=tcp://h:1".into(),
                "--max-response-bytes".into(),
                "lots".into(),
            ],
            "e.g. 65536, 64KiB or 1MiB".into(),
        ),
        (
            vec!["--config".into(), bad_limit.display().to_string()],
            format!(
                "{}:5:27: max_response_bytes: `1GB` is not a size",
                bad_limit.display()
            ),
        ),
    ] {
        let out = std::process::Command::new(bin)
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(&says), "{args:?}: {err}");
    }
}

/// The config example of the README loads as written.
#[test]
fn the_readme_config_example_loads() {
    let readme = include_str!("../README.md");
    let start = readme.find("```yaml\nlisten:").expect("the example") + "```yaml\n".len();
    let yaml = &readme[start..start + readme[start..].find("```").unwrap()];
    let loaded = metrics_gateway::config::parse(
        std::path::Path::new("README.md"),
        yaml,
        &Default::default(),
    )
    .unwrap();
    let names: Vec<&str> = loaded.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["board", "sensor"]);
    assert_eq!(loaded.devices[1].timeout, Duration::from_millis(500));
    // The README's global limits are the defaults; the sensor has its own series limit.
    use metrics_gateway::limits::Limits;
    assert_eq!(loaded.devices[0].limits, Limits::default());
    assert_eq!(
        loaded.devices[1].limits,
        Limits {
            max_series: 500,
            ..Limits::default()
        }
    );
}
