//! W3C trace context: each step's process sees a valid `TRACEPARENT` whose trace id is the
//! run's and whose span id is its own (recorded in run.json); a run under a caller's
//! `TRACEPARENT` keeps its trace id and passes `TRACESTATE` on; an invalid one is said and a
//! new trace starts.

mod common;

use common::{stderr, Case};

const JOB: &str = r#"
name: traced
steps:
  - name: one
    run: printf 'TP=%s\nTS=%s\n' "$TRACEPARENT" "${TRACESTATE-unset}"
  - name: two
    needs: [one]
    run: printf 'TP=%s\nTS=%s\n' "$TRACEPARENT" "${TRACESTATE-unset}"
profiles:
  ci: {}
"#;

/// (TRACEPARENT, TRACESTATE) a step printed into its log.
fn seen(case: &Case, step: &str) -> (String, String) {
    let log = case.log(step);
    let get = |k: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap_or_else(|| panic!("{k} not in {log}"))
            .to_string()
    };
    (get("TP="), get("TS="))
}

fn hex(s: &str, n: usize) -> bool {
    s.len() == n
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[test]
fn each_step_gets_its_own_span_in_the_runs_trace() {
    let case = Case::new(JOB);
    let o = case
        .command("ci", &["--quiet"])
        .env_remove("TRACEPARENT")
        .env_remove("TRACESTATE")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = case.manifest();
    let trace = m["trace_id"].as_str().unwrap();
    let run_span = m["span_id"].as_str().unwrap();
    assert!(hex(trace, 32) && hex(run_span, 16), "{m}");
    assert!(m["parent_span_id"].is_null());
    let mut spans = vec![run_span.to_string()];
    for (i, step) in ["one", "two"].iter().enumerate() {
        let (tp, ts) = seen(&case, step);
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4, "{tp}");
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1], trace, "{step}: the run's trace");
        assert!(hex(parts[2], 16) && parts[2] != "0000000000000000", "{tp}");
        assert_eq!(parts[3], "01");
        assert_eq!(
            m["steps"][i]["span_id"], parts[2],
            "{step}: run.json has its span"
        );
        assert_eq!(ts, "unset", "no TRACESTATE without a caller's");
        spans.push(parts[2].to_string());
    }
    spans.sort();
    spans.dedup();
    assert_eq!(spans.len(), 3, "one span each: {spans:?}");
}

#[test]
fn a_callers_trace_is_kept_and_an_invalid_one_replaced() {
    let case = Case::new(JOB);
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let o = case
        .command("ci", &["--quiet"])
        .env("TRACEPARENT", caller)
        .env("TRACESTATE", "ci=job42")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = case.manifest();
    assert_eq!(m["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(m["parent_span_id"], "00f067aa0ba902b7");
    let (tp, ts) = seen(&case, "one");
    assert!(
        tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{tp}"
    );
    assert!(
        !tp.contains("00f067aa0ba902b7"),
        "the step's own span: {tp}"
    );
    assert_eq!(ts, "ci=job42");

    let o = case
        .command("ci", &["--quiet", "--force"])
        .env("TRACEPARENT", "00-not-a-trace-01")
        .env("TRACESTATE", "ci=job42")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is not a valid W3C traceparent"),
        "{}",
        stderr(&o)
    );
    let m = case.manifest();
    assert!(hex(m["trace_id"].as_str().unwrap(), 32));
    assert!(m["parent_span_id"].is_null());
    let (tp, ts) = seen(&case, "one");
    assert!(tp.contains(m["trace_id"].as_str().unwrap()), "{tp}");
    assert_eq!(ts, "unset");
}
