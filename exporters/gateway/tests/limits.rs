//! The gateway binary against hostile devices (devices on TCP listeners whose answers are
//! framed by the real codec, whatever bytes they hold): each limit on what a device sends,
//! the drop and rejection counters read back through a real HTTP scrape, what the gateway
//! says on stderr, and one device's garbage leaving another device's series exact.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use metrics_core::Format;

fn health(text: &str, name: &str, device: &str) -> Option<f64> {
    value(text, name, &format!("device=\"{device}\""))
}

fn up(text: &str, device: &str) -> Option<f64> {
    health(text, "gateway_device_up", device)
}

fn rejected(text: &str, device: &str, reason: &str) -> Option<f64> {
    value(
        text,
        "gateway_device_rejected_responses_total",
        &format!("device=\"{device}\",reason=\"{reason}\""),
    )
}

fn dropped(text: &str, device: &str, reason: &str) -> Option<f64> {
    value(
        text,
        "gateway_device_dropped_series_total",
        &format!("device=\"{device}\",reason=\"{reason}\""),
    )
}

/// A device whose exposition is always `body`.
fn answering(body: impl Into<Vec<u8>>) -> (TcpDevice, Arc<AtomicU64>) {
    let body = body.into();
    let requests = Arc::new(AtomicU64::new(0));
    (
        TcpDevice::answering(requests.clone(), move || body.clone()),
        requests,
    )
}

/// `max_response_bytes`: a device that streams without end is cut off at the limit (the
/// scrape ends long before its timeout, and the gateway hangs up on it); an answer of exactly
/// the limit is served, one byte more is rejected. Per device in the config file, the flag
/// for the others.
#[test]
fn an_answer_over_max_response_bytes_is_not_read_further_and_counted() {
    let closed = Arc::new(AtomicBool::new(false));
    let endless = TcpDevice::endless(closed.clone());
    let body = "# TYPE t gauge\nt 1\n";
    let (exact, _) = answering(body);
    let (over, _) = answering(body);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.yaml");
    std::fs::write(
        &config,
        format!(
            "devices:\n  - name: exact\n    address: {}\n    limits:\n      max_response_bytes: {}\n\
             \x20 - name: over\n    address: {}\n    limits:\n      max_response_bytes: {}\n",
            exact.url(),
            body.len(),
            over.url(),
            body.len() - 1
        ),
    )
    .unwrap();
    let g = Gateway::start(&[
        "--config",
        config.to_str().unwrap(),
        "--device",
        &format!("endless={}", endless.url()),
        "--max-response-bytes",
        "64KiB",
        "--timeout",
        "5s",
        "--retries",
        "2",
    ]);

    for scrape in 1..=2 {
        let t = Instant::now();
        let (_, text) = get(&g.url("/metrics"));
        let took = t.elapsed();
        assert!(took < Duration::from_secs(2), "scrape {scrape}: {took:?}");
        assert_eq!(up(&text, "endless"), Some(0.0), "{text}");
        assert_eq!(up(&text, "over"), Some(0.0), "{text}");
        assert_eq!(up(&text, "exact"), Some(1.0), "{text}");
        assert_eq!(value(&text, "t", "device=\"exact\""), Some(1.0), "{text}");
        assert_eq!(value(&text, "t", "device=\"over\""), None, "{text}");
        let n = f64::from(scrape);
        for (device, count) in [("endless", n), ("over", n), ("exact", 0.0)] {
            // No retry: one rejected answer per scrape.
            assert_eq!(rejected(&text, device, "too_large"), Some(count), "{text}");
            assert_eq!(rejected(&text, device, "not_utf8"), Some(0.0), "{text}");
            assert_eq!(
                health(&text, "gateway_device_scrape_failures_total", device),
                Some(count),
                "{text}"
            );
        }
    }
    // The gateway closed the link instead of reading the rest.
    let until = Instant::now() + Duration::from_secs(5);
    while !closed.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < until,
            "the endless device is still being read"
        );
        thread::sleep(Duration::from_millis(20));
    }
    let says = "device `endless` is down: the exposition is larger than max_response_bytes \
                (65536 bytes), so the gateway stopped reading it: raise max_response_bytes";
    let log = g.log_with(says);
    assert!(log.contains(says), "{log}");
    assert!(log.contains("device `over` is down"), "{log}");
    // Said once, not at every scrape.
    assert_eq!(log.matches("device `endless` is down").count(), 1, "{log}");
}

/// A firmware's exposition with `gauges` labelled gauges, a histogram of 3 buckets and a
/// counter.
fn many_series(gauges: usize) -> String {
    let mut text = String::from("# HELP g A gauge.\n# TYPE g gauge\n");
    for i in 0..gauges {
        text.push_str(&format!("g{{i=\"{i}\"}} {i}\n"));
    }
    text.push_str(
        "# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"1\"} 2\n\
         h_bucket{le=\"+Inf\"} 3\nh_sum 2.5\nh_count 3\n# TYPE c counter\nc_total 9\n",
    );
    text
}

/// `max_series`: the first series are kept, exactly as sent; from the first that does not
/// fit, the rest are dropped (the histogram whole: buckets + `_sum` + `_count`) and counted.
#[test]
fn series_past_max_series_are_dropped_and_counted() {
    let (device, _) = answering(many_series(30));
    let g = Gateway::start(&[
        "--device",
        &format!("d={}", device.url()),
        "--max-series",
        "20",
    ]);
    for scrape in 1..=2 {
        let (_, text) = get(&g.url("/metrics"));
        assert_eq!(up(&text, "d"), Some(1.0), "{text}");
        for i in 0..30 {
            let v = value(&text, "g", &format!("device=\"d\",i=\"{i}\""));
            assert_eq!(v, (i < 20).then_some(f64::from(i)), "g{{i={i}}}: {text}");
        }
        assert!(!text.contains("h_bucket{device=\"d\""), "{text}");
        assert_eq!(value(&text, "c_total", "device=\"d\""), None, "{text}");
        // 10 gauges, the histogram (3 buckets + 2) and the counter.
        assert_eq!(
            dropped(&text, "d", "series_limit"),
            Some(16.0 * f64::from(scrape)),
            "{text}"
        );
        assert_eq!(dropped(&text, "d", "label_bytes"), Some(0.0), "{text}");
        assert_eq!(rejected(&text, "d", "too_large"), Some(0.0), "{text}");
    }
    let says = "device `d` is up, but series of its answer were dropped: 16 by max_series (20)";
    let log = g.log_with(says);
    assert!(log.contains(says), "{log}");

    // The histogram fits in 35 (30 + 5); the counter does not.
    let g = Gateway::start(&[
        "--device",
        &format!("d={}", device.url()),
        "--max-series",
        "35",
    ]);
    let (_, text) = get(&g.url("/metrics"));
    assert_eq!(value(&text, "h_count", "device=\"d\""), Some(3.0), "{text}");
    assert_eq!(value(&text, "c_total", "device=\"d\""), None, "{text}");
    assert_eq!(dropped(&text, "d", "series_limit"), Some(1.0), "{text}");
}

/// `max_label_bytes`: a series whose label names and values (unescaped) pass the limit is
/// dropped, a histogram with all its series; the rest is served.
#[test]
fn series_past_max_label_bytes_are_dropped_and_counted() {
    let long = "x".repeat(40);
    // `k`, 28 x's and a newline: 30 bytes unescaped (31 as written, `\n`).
    let fits = format!("{}\\n", "x".repeat(28));
    let (device, _) = answering(format!(
        "# TYPE g gauge\ng{{k=\"short\"}} 1\ng{{k=\"{long}\"}} 2\n\
         g{{k=\"{fits}\"}} 3\n\
         # TYPE h histogram\nh_bucket{{k=\"{long}\",le=\"1\"}} 1\nh_bucket{{k=\"{long}\",le=\"+Inf\"}} 1\n\
         h_sum{{k=\"{long}\"}} 0.5\nh_count{{k=\"{long}\"}} 1\n",
    ));
    let g = Gateway::start(&[
        "--device",
        &format!("d={}", device.url()),
        "--max-label-bytes",
        "30",
    ]);
    let (_, text) = get(&g.url("/metrics"));
    assert_eq!(up(&text, "d"), Some(1.0), "{text}");
    assert_eq!(value(&text, "g", "device=\"d\",k=\"short\""), Some(1.0));
    assert_eq!(
        value(&text, "g", &format!("device=\"d\",k=\"{fits}\"")),
        Some(3.0),
        "{text}"
    );
    assert!(!text.contains(&long), "{text}");
    // One gauge, the histogram's 2 buckets, sum and count.
    assert_eq!(dropped(&text, "d", "label_bytes"), Some(5.0), "{text}");
    assert_eq!(dropped(&text, "d", "series_limit"), Some(0.0), "{text}");
    let says = "5 by max_label_bytes (30)";
    assert!(g.log_with(says).contains(says));
}

/// `max_label_names`, set per device in the config file: a family keeps the label names of
/// its first series up to the limit; a series that would bring one more is dropped, and a
/// device without its own limit gets the global one.
#[test]
fn series_past_max_label_names_are_dropped_and_counted() {
    let text =
        "# TYPE x gauge\nx{a=\"1\"} 1\nx{b=\"1\"} 2\nx{a=\"2\",c=\"1\"} 3\nx{a=\"3\",b=\"2\"} 4\n";
    let (own, _) = answering(text);
    let (global, _) = answering(text);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.yaml");
    std::fs::write(
        &config,
        format!(
            "limits:\n  max_label_names: 1\ndevices:\n  - name: own\n    address: {}\n    limits:\n      max_label_names: 2\n\
             \x20 - name: global\n    address: {}\n",
            own.url(),
            global.url()
        ),
    )
    .unwrap();
    let g = Gateway::start(&["--config", config.to_str().unwrap()]);
    let (_, text) = get(&g.url("/metrics"));
    let s = samples(&text);
    let x = |device: &str| -> Vec<f64> {
        let mut v: Vec<f64> = s
            .iter()
            .filter(|((n, l), _)| n == "x" && l.contains(&("device".into(), device.into())))
            .map(|(_, v)| *v)
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    assert_eq!(x("own"), [1.0, 2.0, 4.0], "{text}");
    assert_eq!(dropped(&text, "own", "label_names"), Some(1.0), "{text}");
    assert_eq!(x("global"), [1.0], "{text}");
    assert_eq!(dropped(&text, "global", "label_names"), Some(3.0), "{text}");
    let says =
        "device `global` is up, but series of its answer were dropped: 3 by max_label_names (1)";
    assert!(g.log_with(says).contains(says));
}

/// Bytes that are not UTF-8 are rejected (not served, not retried, counted), and stderr says
/// where they are and what to fix; so is text that is not an exposition. Once the device
/// sends a good answer it is up again and stderr says so.
#[test]
fn non_utf8_and_invalid_answers_are_rejected_with_a_reason() {
    let good = Arc::new(AtomicBool::new(false));
    let g2 = good.clone();
    let binary_requests = Arc::new(AtomicU64::new(0));
    let binary = TcpDevice::answering(binary_requests.clone(), move || {
        if g2.load(Ordering::SeqCst) {
            b"# TYPE t gauge\nt 1\n".to_vec()
        } else {
            b"# TYPE t gauge\nt{name=\"caf\xe9\"} 1\n".to_vec()
        }
    });
    let (garbage, _) = answering("<html>not metrics</html>\n");
    let g = Gateway::start(&[
        "--device",
        &format!("binary={}", binary.url()),
        "--device",
        &format!("garbage={}", garbage.url()),
        "--retries",
        "2",
    ]);
    let (_, text) = get(&g.url("/metrics"));
    assert_eq!(up(&text, "binary"), Some(0.0), "{text}");
    assert_eq!(up(&text, "garbage"), Some(0.0), "{text}");
    assert_eq!(rejected(&text, "binary", "not_utf8"), Some(1.0), "{text}");
    assert_eq!(rejected(&text, "binary", "invalid"), Some(0.0), "{text}");
    assert_eq!(rejected(&text, "garbage", "invalid"), Some(1.0), "{text}");
    assert_eq!(rejected(&text, "garbage", "not_utf8"), Some(0.0), "{text}");
    assert_eq!(
        binary_requests.load(Ordering::SeqCst),
        1,
        "an intact but rejected answer is not asked for again"
    );
    assert!(!text.contains("device=\"binary\",name"), "{text}");
    let says = "device `binary` is down: the exposition is not UTF-8 (byte 0xe9 at offset 26, \
                line 2); the text format must be UTF-8";
    let log = g.log_with(says);
    assert!(log.contains(says), "{log}");
    assert!(
        log.contains("device `garbage` is down: invalid exposition, line 1"),
        "{log}"
    );

    good.store(true, Ordering::SeqCst);
    let (_, text) = get(&g.url("/metrics"));
    assert_eq!(up(&text, "binary"), Some(1.0), "{text}");
    assert_eq!(value(&text, "t", "device=\"binary\""), Some(1.0), "{text}");
    assert_eq!(rejected(&text, "binary", "not_utf8"), Some(1.0), "{text}");
    let says = "device `binary` is up";
    assert!(g.log_with(says).contains(says));
}

/// Hostile devices around a good one: noise on the line, an answer that never ends, bytes
/// that are not UTF-8, text that is not an exposition, too many series, labels too long,
/// too many label names in a family the good device has too, and families that clash with
/// the good device's names and types. The good device's series are served exactly as its
/// registry holds them, on `/metrics` and on `/probe`, and the merged page parses.
struct Hostile {
    good: Device,
    _devices: Vec<TcpDevice>,
    gateway: Gateway,
}

const HOSTILE: [&str; 7] = [
    "noise", "endless", "binary", "garbage", "many", "long", "names",
];

fn hostile() -> Hostile {
    let good = device_registry("good");
    let mut devices = vec![
        TcpDevice::noise(3000),
        TcpDevice::endless(Arc::new(AtomicBool::new(false))),
        answering(&b"# TYPE requests counter\nrequests_total{x=\"\xff\xfe\"} 1\n"[..]).0,
        answering("\u{0}\u{1}garbage {{{ \"\n").0,
        answering(many_series(12_000)).0,
        answering(format!(
            "# TYPE requests counter\nrequests_total{{v=\"{}\"}} 5\n",
            "v".repeat(10_000)
        ))
        .0,
        answering({
            // `requests`, the good device's counter, with a label name per series.
            let mut t = String::from("# TYPE requests counter\n");
            for i in 0..200 {
                t.push_str(&format!("requests_total{{n{i}=\"x\"}} {i}\n"));
            }
            t
        })
        .0,
    ];
    devices.push(TcpDevice::start_with(good.clone(), Behaviour::Clean));
    // After the good device: its families clash with the good one's names and types.
    devices.push(
        answering(
            "# TYPE requests_total gauge\nrequests_total 666.25\n# TYPE board_info counter\n\
             board_info_total 666.25\n# TYPE tick_jitter_seconds_count gauge\n\
             tick_jitter_seconds_count 666.25\n# TYPE gateway_device_up gauge\ngateway_device_up 666.25\n",
        )
        .0,
    );
    let names: Vec<&str> = HOSTILE.iter().copied().chain(["good", "clash"]).collect();
    let flags: Vec<String> = names
        .iter()
        .zip(&devices)
        .flat_map(|(n, d)| ["--device".to_owned(), format!("{n}={}", d.url())])
        .collect();
    let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
    // The endless device reaches the size limit well within the timeout (the codec's
    // bitwise CRCs are slow in a debug build); `many` stays below it.
    args.extend([
        "--timeout",
        "1s",
        "--retries",
        "0",
        "--max-response-bytes",
        "320KiB",
    ]);
    Hostile {
        good,
        _devices: devices,
        gateway: Gateway::start(&args),
    }
}

/// The good device's series in `text` (health metrics left out), labels as Prometheus stores
/// them: `device` and empty labels dropped.
fn series_of(text: &str, device: &str) -> HashMap<(String, Vec<(String, String)>), f64> {
    let mut out = HashMap::new();
    for ((name, labels), v) in samples(text) {
        if name.starts_with("gateway_device_")
            || !labels.contains(&("device".into(), device.into()))
        {
            continue;
        }
        let labels = labels
            .into_iter()
            .filter(|(k, v)| k != "device" && !v.is_empty())
            .collect();
        out.insert((name, labels), v);
    }
    out
}

/// What the good device's registry holds now, read back from its own encoding.
fn registry_now(device: &Device) -> HashMap<(String, Vec<(String, String)>), f64> {
    let mut out = Vec::new();
    metrics_core::encode_to_vec(&*device.registry, Format::Text, &mut out).unwrap();
    samples(std::str::from_utf8(&out).unwrap())
}

#[test]
fn one_devices_garbage_never_corrupts_another_devices_series() {
    let h = hostile();
    let g = &h.gateway;
    for format in ["text/plain", "application/openmetrics-text; version=1.0.0"] {
        let agent = test_support::agent(Duration::from_secs(10));
        let text = agent
            .get(&g.url("/metrics"))
            .header("Accept", format)
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        // The page parses (every name under one TYPE line, no series twice) and the good
        // device's series are exactly its registry's.
        assert_eq!(series_of(&text, "good"), registry_now(&h.good), "{format}");
        assert_eq!(up(&text, "good"), Some(1.0));
        assert_eq!(
            health(&text, "gateway_device_dropped_families", "good"),
            Some(0.0)
        );
        for reason in ["series_limit", "label_bytes", "label_names"] {
            assert_eq!(dropped(&text, "good", reason), Some(0.0), "{reason}");
        }
        for reason in ["too_large", "not_utf8", "invalid"] {
            assert_eq!(rejected(&text, "good", reason), Some(0.0), "{reason}");
        }
        // The hostile ones: each stopped by what it did.
        for device in ["noise", "endless", "binary", "garbage"] {
            assert_eq!(up(&text, device), Some(0.0), "{device}");
        }
        assert!(rejected(&text, "endless", "too_large") >= Some(1.0));
        assert!(rejected(&text, "binary", "not_utf8") >= Some(1.0));
        assert!(rejected(&text, "garbage", "invalid") >= Some(1.0));
        assert!(dropped(&text, "many", "series_limit") >= Some(2006.0));
        assert!(dropped(&text, "long", "label_bytes") >= Some(1.0));
        assert!(dropped(&text, "names", "label_names") >= Some(136.0));
        assert_eq!(
            health(&text, "gateway_device_dropped_families", "clash"),
            Some(4.0),
            "{}",
            g.log_with("")
        );
        assert!(!text.contains("666.25"), "a clashing family was served");
    }
    let (_, probe) = get(&g.url("/probe?target=good"));
    assert_eq!(series_of(&probe, "good"), registry_now(&h.good));
    let log = g.log_with("device `binary` is down");
    for device in HOSTILE {
        assert!(
            log.contains(&format!("device `{device}` is")),
            "{device}: {log}"
        );
    }
    assert!(!log.contains("device `good`"), "{log}");
}

/// `promtool check metrics` accepts the merged page with every hostile device in it.
#[test]
#[ignore = "needs promtool (Debian prometheus); run via scripts/test.sh"]
fn promtool_accepts_the_page_with_hostile_devices() {
    let h = hostile();
    let (_, text) = get(&h.gateway.url("/metrics"));
    let said = promtool_check_metrics(text.as_bytes());
    assert!(said.trim().is_empty(), "promtool: {said}\n{text}");
}
