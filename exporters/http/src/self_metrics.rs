//! The exporter's own metrics (opt-in with [`Config::self_metrics`](crate::Config::self_metrics)).

use std::sync::Arc;
use std::time::Duration;

use metrics_core::{Counter, Desc, DynHistogram, Format, Registry};

use crate::handler::Refusal;

/// What can go wrong while answering, as the `kind` label of `http_exporter_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// The registry failed to encode (a collector returned an error): 500.
    Encode,
    /// A request without the basic-auth credentials the web configuration asks for: 401.
    Unauthorized,
    /// The connection layer refused a request or closed a connection (see [`Refusal`]).
    Refused(Refusal),
}

impl ErrorKind {
    /// Index into `SelfMetrics::errors`.
    fn index(self) -> usize {
        match self {
            ErrorKind::Encode => 0,
            ErrorKind::Unauthorized => 1,
            ErrorKind::Refused(r) => {
                2 + Refusal::ALL
                    .iter()
                    .position(|x| *x == r)
                    .unwrap_or_default()
            }
        }
    }

    fn all() -> impl Iterator<Item = ErrorKind> {
        [ErrorKind::Encode, ErrorKind::Unauthorized]
            .into_iter()
            .chain(Refusal::ALL.into_iter().map(ErrorKind::Refused))
    }

    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Encode => "encode",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Refused(r) => r.as_str(),
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
    scrapes: [[Arc<Counter>; 2]; 3],
    errors: Vec<Arc<Counter>>,
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
                "Requests the exporter refused or could not answer normally, and connections \
                 it closed on its own, by kind.",
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
            scrapes: [
                per_format("text"),
                per_format("openmetrics"),
                per_format("protobuf"),
            ],
            errors: ErrorKind::all()
                .map(|k| errors.handle(&[k.as_str()]))
                .collect(),
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
            Format::Protobuf => 2,
        };
        self.scrapes[f][usize::from(!ok)].inc();
    }

    pub(crate) fn error(&self, kind: ErrorKind) {
        self.errors[kind.index()].inc();
    }

    pub(crate) fn encoded(&self, took: Duration) {
        self.encode.observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_index() {
        let indexes: Vec<usize> = ErrorKind::all().map(ErrorKind::index).collect();
        assert_eq!(indexes, (0..2 + Refusal::ALL.len()).collect::<Vec<_>>());
    }

    #[test]
    fn every_series_exists_from_the_start() {
        let m = SelfMetrics::new();
        m.scrape(Format::OpenMetrics, true);
        m.scrape(Format::OpenMetrics, true);
        m.scrape(Format::Text, false);
        m.error(ErrorKind::Refused(Refusal::Write));
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
