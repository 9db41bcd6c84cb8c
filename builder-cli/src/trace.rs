//! W3C Trace Context for a run: a run is a span, each step a span under it, so that tools
//! inside a step (a test runner, a deploy script) can join the run's trace.
//!
//! The run takes the caller's `TRACEPARENT` (a CI system that traces its jobs) and keeps its
//! trace id, its own span's parent being the caller's span; without one, or with one that is
//! not valid (<https://www.w3.org/TR/trace-context/#traceparent-header>), the run starts a new
//! trace. Each step's process gets `TRACEPARENT` with the run's trace id and the step's own
//! span id, and the caller's `TRACESTATE` unchanged. `run.json` records the ids.

use std::fmt::Write;

/// The trace a run belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// The run's own span: 16 lower-case hex digits.
    pub span_id: String,
    /// The caller's span, when the run joined a caller's trace.
    pub parent_span_id: Option<String>,
    /// The trace flags (2 hex digits; `01`: sampled).
    pub flags: String,
    /// The caller's `TRACESTATE`, passed on unchanged.
    pub tracestate: Option<String>,
}

/// `n` random bytes as lower-case hex, never all zeros (an invalid id).
fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    loop {
        // The OS's randomness; if it fails (it does not on Linux), a time-based id is still
        // unique enough for a trace.
        if getrandom::fill(&mut bytes).is_err() {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(1)
                ^ u128::from(std::process::id()) << 64;
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = (t >> ((i % 16) * 8)) as u8;
            }
        }
        if bytes.iter().any(|b| *b != 0) {
            break;
        }
    }
    let mut s = String::with_capacity(2 * n);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A new span id.
pub fn new_span_id() -> String {
    random_hex(8)
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses a `traceparent` value: (trace id, parent span id, flags), or why it is not valid.
fn parse(tp: &str) -> Result<(String, String, String), &'static str> {
    let tp = tp.trim();
    let mut parts = tp.split('-');
    let (Some(version), Some(trace), Some(span), Some(flags)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not version-traceid-parentid-flags");
    };
    if !is_hex(version, 2) || version == "ff" {
        return Err("its version is not two lower-case hex digits (ff is invalid)");
    }
    // Version 00 has exactly four fields; a later version may add more after the flags.
    if version == "00" && parts.next().is_some() {
        return Err("version 00 has four fields");
    }
    if !is_hex(trace, 32) || trace.bytes().all(|b| b == b'0') {
        return Err("its trace id is not 32 lower-case hex digits, not all zero");
    }
    if !is_hex(span, 16) || span.bytes().all(|b| b == b'0') {
        return Err("its parent id is not 16 lower-case hex digits, not all zero");
    }
    if !is_hex(flags, 2) {
        return Err("its flags are not two lower-case hex digits");
    }
    Ok((trace.into(), span.into(), flags.into()))
}

impl TraceContext {
    /// The context of a new run under the caller's `traceparent`/`tracestate` (the process'
    /// environment); the second value is a warning when `traceparent` was given but invalid.
    pub fn for_run(
        traceparent: Option<&str>,
        tracestate: Option<&str>,
    ) -> (TraceContext, Option<String>) {
        let tracestate = tracestate
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from);
        match traceparent.map(parse) {
            Some(Ok((trace_id, parent, flags))) => (
                TraceContext {
                    trace_id,
                    span_id: new_span_id(),
                    parent_span_id: Some(parent),
                    flags,
                    tracestate,
                },
                None,
            ),
            other => {
                let warning = match (other, traceparent) {
                    (Some(Err(why)), Some(tp)) => Some(format!(
                        "TRACEPARENT {tp:?} is not a valid W3C traceparent ({why}); the run \
                         starts a new trace"
                    )),
                    _ => None,
                };
                (
                    TraceContext {
                        trace_id: random_hex(16),
                        span_id: new_span_id(),
                        parent_span_id: None,
                        flags: "01".into(),
                        // A trace state belongs to the caller's trace: not to a new one.
                        tracestate: None,
                    },
                    warning,
                )
            }
        }
    }

    /// The `TRACEPARENT` of a step whose span is `span_id`.
    pub fn traceparent(&self, span_id: &str) -> String {
        format!("00-{}-{span_id}-{}", self.trace_id, self.flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_caller_is_joined_an_invalid_one_is_said() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let (t, w) = TraceContext::for_run(Some(tp), Some("vendor=x"));
        assert!(w.is_none());
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(t.tracestate.as_deref(), Some("vendor=x"));
        assert!(is_hex(&t.span_id, 16));
        let child = t.traceparent("b7ad6b7169203331");
        assert_eq!(
            child,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"
        );
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "garbage",
        ] {
            let (t, w) = TraceContext::for_run(Some(bad), Some("vendor=x"));
            assert!(w.unwrap().contains("not a valid W3C traceparent"), "{bad}");
            assert!(t.parent_span_id.is_none() && t.tracestate.is_none());
            assert!(is_hex(&t.trace_id, 32));
        }
        // A later version's extra fields are accepted.
        let (t, w) = TraceContext::for_run(
            Some("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what"),
            None,
        );
        assert!(w.is_none() && t.parent_span_id.is_some());
    }

    #[test]
    fn new_ids_differ() {
        let a = TraceContext::for_run(None, None).0;
        let b = TraceContext::for_run(None, None).0;
        assert_ne!(a.trace_id, b.trace_id);
        assert_ne!(new_span_id(), new_span_id());
    }
}
