//! The exporter's own metrics (opt-in with [`Config::self_metrics`](crate::Config::self_metrics)).

use std::sync::Arc;
use std::time::Duration;

use metrics_core::{Counter, Desc, DynHistogram, Format, Registry};

/// What can go wrong while answering, as the `kind` label of `http_exporter_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// The registry failed to encode (a collector returned an error): 500.
    Encode,
    /// A response could not be sent: the client went away or did not read within the write
    /// timeout.
    Write,
    /// A request head above the limit: 431.
    HeadTooLarge,
    /// A request announced a body that tiny_http would make a worker wait for: abandoned.
    RequestBody,
    /// Handling a request panicked (a collector panicked): 500, the worker carries on.
    Panic,
    /// tiny_http's accept loop ended (e.g. out of file descriptors) and was restarted.
    Accept,
}

impl ErrorKind {
    /// Every kind, in declaration order: `kind as usize` is its index here.
    const ALL: [ErrorKind; 6] = [
        ErrorKind::Encode,
        ErrorKind::Write,
        ErrorKind::HeadTooLarge,
        ErrorKind::RequestBody,
        ErrorKind::Panic,
        ErrorKind::Accept,
    ];

    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Encode => "encode",
            ErrorKind::Write => "write",
            ErrorKind::HeadTooLarge => "head_too_large",
            ErrorKind::RequestBody => "request_body",
            ErrorKind::Panic => "panic",
            ErrorKind::Accept => "accept",
        }
    }
}

/// Bounds of `http_exporter_encode_duration_seconds`: 50 µs to 2.5 s.
const ENCODE_BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
    2.5,
];

/// The exporter's own registry, with a handle to every series so that counting is one atomic
/// add (all label combinations exist from the start, at 0).
#[derive(Debug)]
pub(crate) struct SelfMetrics {
    registry: Registry,
    /// `[format][ok, error]`.
    scrapes: [[Arc<Counter>; 2]; 2],
    errors: [Arc<Counter>; ErrorKind::ALL.len()],
    encode: Arc<DynHistogram>,
}

impl SelfMetrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::new();
        // The names and labels are fixed and valid: registration cannot fail.
        let scrapes = registry
            .counter_family(
                "http_exporter_scrapes_total",
                "Scrapes of /metrics answered, by exposition format and HTTP status code.",
                &["format", "code"],
            )
            .expect("valid family");
        let errors = registry
            .counter_family(
                "http_exporter_errors_total",
                "Requests the exporter could not answer normally, by kind.",
                &["kind"],
            )
            .expect("valid family");
        let encode = registry
            .register(
                Desc::new(
                    "http_exporter_encode_duration_seconds",
                    "Time to encode the registry for one scrape (compression excluded).",
                )
                .unit("seconds"),
                DynHistogram::new(&ENCODE_BUCKETS).expect("valid buckets"),
            )
            .expect("valid histogram");
        let per_format = |format: &str| {
            [
                scrapes.handle(&[format, "200"]),
                scrapes.handle(&[format, "500"]),
            ]
        };
        SelfMetrics {
            scrapes: [per_format("text"), per_format("openmetrics")],
            errors: ErrorKind::ALL.map(|k| errors.handle(&[k.as_str()])),
            encode,
            registry,
        }
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    pub(crate) fn scrape(&self, format: Format, ok: bool) {
        let f = match format {
            Format::Text => 0,
            Format::OpenMetrics => 1,
        };
        self.scrapes[f][usize::from(!ok)].inc();
    }

    pub(crate) fn error(&self, kind: ErrorKind) {
        // `ALL` lists the kinds in declaration order (checked by a test).
        self.errors[kind as usize].inc();
    }

    pub(crate) fn encoded(&self, took: Duration) {
        self.encode.observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_kinds_are_listed_in_declaration_order() {
        for (i, kind) in ErrorKind::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, i, "{kind:?}");
        }
    }

    #[test]
    fn every_series_exists_from_the_start() {
        let m = SelfMetrics::new();
        m.scrape(Format::OpenMetrics, true);
        m.scrape(Format::OpenMetrics, true);
        m.scrape(Format::Text, false);
        m.error(ErrorKind::Write);
        m.encoded(Duration::from_micros(70));
        let mut out = String::new();
        metrics_core::encode(m.registry(), Format::OpenMetrics, &mut out).unwrap();
        for line in [
            "http_exporter_scrapes_total{format=\"text\",code=\"200\"} 0\n",
            "http_exporter_scrapes_total{format=\"text\",code=\"500\"} 1\n",
            "http_exporter_scrapes_total{format=\"openmetrics\",code=\"200\"} 2\n",
            "http_exporter_errors_total{kind=\"write\"} 1\n",
            "http_exporter_errors_total{kind=\"accept\"} 0\n",
            "# UNIT http_exporter_encode_duration_seconds seconds\n",
            "http_exporter_encode_duration_seconds_bucket{le=\"0.0001\"} 1\n",
            "http_exporter_encode_duration_seconds_count 1\n",
        ] {
            assert!(out.contains(line), "{line}in\n{out}");
        }
    }
}
