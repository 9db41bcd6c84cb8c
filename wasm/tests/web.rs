//! The Rust API under a real JS engine: Node (`wasm-bindgen-test-runner`'s default) and headless
//! Chromium (`WASM_BINDGEN_USE_BROWSER=1`). Run by `wasm/test.sh`.
#![cfg(target_arch = "wasm32")]

use metrics_wasm::{content_type, negotiate, Registry};
use wasm_bindgen::{JsCast, JsError, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

fn s(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| s.to_string()).collect())
}

/// The message of the JS `Error` a call threw.
fn message(e: JsError) -> String {
    let value = JsValue::from(e);
    let error = value.dyn_into::<js_sys::Error>().expect("a JS Error");
    String::from(error.message())
}

#[wasm_bindgen_test]
fn renders_text_exactly() {
    let r = Registry::new(None);
    let c = r
        .counter("http_requests", "Requests served.", s(&["method", "code"]))
        .unwrap();
    c.inc(s(&["GET", "200"])).unwrap();
    c.inc_by(2.0, s(&["GET", "200"])).unwrap();
    let g = r
        .gauge("temperature_celsius", "Temperature.", None)
        .unwrap();
    g.set(21.5, None).unwrap();
    let h = r
        .histogram("latency_seconds", "Latency.", None, Some(vec![0.1, 1.0]))
        .unwrap();
    h.observe(0.05, None).unwrap();
    h.observe(2.0, None).unwrap();
    assert_eq!(
        r.render(None).unwrap(),
        "# HELP http_requests_total Requests served.\n\
         # TYPE http_requests_total counter\n\
         http_requests_total{method=\"GET\",code=\"200\"} 3\n\
         # HELP temperature_celsius Temperature.\n\
         # TYPE temperature_celsius gauge\n\
         temperature_celsius 21.5\n\
         # HELP latency_seconds Latency.\n\
         # TYPE latency_seconds histogram\n\
         latency_seconds_bucket{le=\"0.1\"} 1\n\
         latency_seconds_bucket{le=\"1.0\"} 1\n\
         latency_seconds_bucket{le=\"+Inf\"} 2\n\
         latency_seconds_sum 2.05\n\
         latency_seconds_count 2\n"
    );
    let om = r.render(Some("openmetrics".into())).unwrap();
    assert!(om.starts_with("# HELP http_requests Requests served.\n# TYPE http_requests counter\n"));
    assert!(om.ends_with("# EOF\n"));
}

#[wasm_bindgen_test]
fn negotiates_like_prometheus() {
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(negotiate(Some(prometheus.into())), "openmetrics");
    assert_eq!(negotiate(None), "text");
    assert_eq!(
        content_type("openmetrics").unwrap(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let r = Registry::new(None);
    r.counter("up_events", "", None).unwrap().inc(None).unwrap();
    let scrape = r.scrape(Some(prometheus.into())).unwrap();
    assert_eq!(scrape.format(), "openmetrics");
    assert_eq!(
        scrape.content_type(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(scrape.body().contains("up_events_total 1\n"));
    let text = r.scrape(None).unwrap();
    assert_eq!(
        text.content_type(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
}

#[wasm_bindgen_test]
fn errors_are_js_errors() {
    let r = Registry::new(Some(2));
    let m = message(r.counter("9lives", "", None).unwrap_err());
    assert!(m.contains("invalid metric name"), "{m}");
    let m = message(r.gauge("ok", "", s(&["le"])).unwrap_err());
    assert!(m.contains("reserved"), "{m}");
    let m = message(
        r.histogram("h", "", None, Some(vec![2.0, 1.0]))
            .unwrap_err(),
    );
    assert!(m.contains("invalid histogram buckets"), "{m}");
    let c = r.counter("jobs", "", s(&["kind"])).unwrap();
    let m = message(r.gauge("jobs_total", "", None).unwrap_err());
    assert!(m.contains("already exposed"), "{m}");
    let m = message(c.inc(None).unwrap_err());
    assert!(m.contains("wrong number of label values"), "{m}");
    let m = message(c.inc(s(&["a", "b"])).unwrap_err());
    assert!(
        m.contains("declares 1 label name(s), the call gave 2"),
        "{m}"
    );
    let m = message(c.inc_by(-1.0, s(&["a"])).unwrap_err());
    assert!(m.contains("only goes up"), "{m}");
    c.inc(s(&["a"])).unwrap();
    c.inc(s(&["b"])).unwrap();
    let m = message(c.inc(s(&["c"])).unwrap_err());
    assert!(m.contains("cardinality limit of 2"), "{m}");
    assert!(r.render(Some("xml".into())).is_err());
    // Nothing half-registered, nothing broken: the module still works.
    assert_eq!(r.size(), 1);
    assert_eq!(c.get(s(&["a"])).unwrap(), 1.0);
}

#[wasm_bindgen_test]
fn children_and_reset() {
    let r = Registry::new(None);
    let h = r
        .histogram("job_seconds", "", s(&["job"]), Some(vec![1.0]))
        .unwrap();
    let build = h.labels(vec!["build".into()]).unwrap();
    build.observe(0.5).unwrap();
    build.observe(3.0).unwrap();
    assert_eq!(build.count().unwrap(), 2.0);
    assert_eq!(h.sum(s(&["build"])).unwrap(), 3.5);
    r.reset().unwrap();
    assert_eq!(build.count().unwrap(), 0.0);
    build.observe(1.0).unwrap();
    assert_eq!(h.count(s(&["build"])).unwrap(), 1.0);
    assert!(r
        .render(None)
        .unwrap()
        .contains("job_seconds_count{job=\"build\"} 1\n"));
}
