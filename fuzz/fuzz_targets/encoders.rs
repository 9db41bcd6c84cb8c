//! The core's encoders fed arbitrary metric names, label names and values, help text, units,
//! histogram bounds and floats.
//!
//! Every family is either rejected at registration with an error, exactly when the naming
//! rules say so (an independent statement of them is below), or it is in the output: both
//! formats, written by the streaming encoder and by the chunked encoder (in chunks of 1 to 256
//! bytes; the two must agree byte for byte), are read back by `metrics_core::parse` to exactly
//! the lines the registrations and updates imply: HELP, TYPE and UNIT lines, sample names,
//! label values, `le` bounds and values (integers exactly, floats bit for bit, NaN as NaN).

#![no_main]

use std::sync::Arc;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use metrics_core::parse::{Line, Parser};
use metrics_core::{
    ChunkedEncoder, Counter, Desc, DynHistogram, Error, Family, FamilyMember, FloatCounter, Format,
    Gauge, Registry, OVERFLOW_LABEL_VALUE,
};

const MAX_FAMILIES: usize = 6;
const MAX_LABELS: usize = 4;
const MAX_OPS: usize = 24;
const MAX_BOUNDS: usize = 40;
/// The finite buckets the chunked encoder holds by default (`ChunkedEncoder<_, 32>`).
const CHUNK_BUCKETS: usize = 32;

/// A name: arbitrary text, or (more often) one spelled from the pieces names are made of, so
/// that valid names, reserved names and clashing sample names are common.
#[derive(Debug)]
struct Name(String);

impl<'a> Arbitrary<'a> for Name {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        if u.ratio(1, 4)? {
            return Ok(Name(String::arbitrary(u)?));
        }
        const PIECES: &[&str] = &[
            "a", "b", "x", "A", "_", ":", "0", "9", "__", "le", "quantile", "seconds", "_seconds",
            "_total", "_count", "_sum", "_bucket", "_created",
        ];
        let mut s = String::new();
        for _ in 0..u.int_in_range(1..=4)? {
            s.push_str(u.choose(PIECES)?);
        }
        Ok(Name(s))
    }
}

#[derive(Debug, Arbitrary)]
enum KindSpec {
    Counter,
    FloatCounter,
    Gauge,
    Histogram(Vec<f64>),
}

/// One update: the label values of the series (adjusted to the family's label count unless
/// `wrong_count`), and the numbers the metric type takes.
#[derive(Debug, Arbitrary)]
struct Op {
    values: Vec<String>,
    int: u64,
    float: f64,
    /// Bit 0: the second update method (`inc` / `add`); bit 1: through `try_labels` (an error
    /// past the cardinality limit instead of the overflow series); bit 2: with a wrong number
    /// of label values (an error from `try_labels`).
    how: u8,
}

#[derive(Debug, Arbitrary)]
struct FamilySpec {
    name: Name,
    help: String,
    unit: Option<Name>,
    labels: Vec<Name>,
    kind: KindSpec,
    /// A labelled family (with any number of labels, even 0) rather than a single metric.
    family: bool,
    /// The family's cardinality limit; `None`: the default.
    limit: Option<u8>,
    ops: Vec<Op>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    families: Vec<FamilySpec>,
    chunk: u8,
}

// ---------------------------------------------------------------------------------------
// The naming rules, stated independently of metrics-core (DESIGN.md, "metrics-core contracts").

fn metric_name_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && !s.starts_with("__")
        && b.iter().enumerate().all(|(i, &c)| {
            c.is_ascii_alphabetic() || c == b'_' || c == b':' || (i > 0 && c.is_ascii_digit())
        })
}

fn label_name_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && !s.starts_with("__")
        && s != "le"
        && s != "quantile"
        && b.iter()
            .enumerate()
            .all(|(i, &c)| c.is_ascii_alphabetic() || c == b'_' || (i > 0 && c.is_ascii_digit()))
}

/// A counter's name without a trailing `_total` (unless nothing would be left).
fn counter_base(name: &str) -> &str {
    match name.strip_suffix("_total") {
        Some(b) if !b.is_empty() => b,
        _ => name,
    }
}

/// A unit is `[a-zA-Z0-9_]+` and the name (before a `_total`) ends with `_<unit>`.
fn unit_ok(name: &str, unit: &str) -> bool {
    !unit.is_empty()
        && unit.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && counter_base(name)
            .strip_suffix(unit)
            .is_some_and(|rest| rest.ends_with('_'))
}

/// The finite bounds of a valid bucket layout (a trailing `+Inf` dropped), or `None`.
fn valid_bounds(bounds: &[f64]) -> Option<Vec<f64>> {
    let finite = match bounds.split_last() {
        Some((last, rest)) if *last == f64::INFINITY => rest,
        _ => bounds,
    };
    let ok = !finite.is_empty()
        && finite.iter().all(|b| !b.is_nan() && *b != f64::INFINITY)
        && finite.windows(2).all(|w| w[0] < w[1]);
    ok.then(|| finite.to_vec())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every sample (and family) name a family exposes: the base name and its suffixes.
fn exposed_names(name: &str, kind: Kind) -> Vec<String> {
    let (base, suffixes): (&str, &[&str]) = match kind {
        Kind::Counter => (counter_base(name), &["", "_total", "_created"]),
        Kind::Gauge => (name, &[""]),
        Kind::Histogram => (name, &["", "_bucket", "_sum", "_count", "_created"]),
    };
    suffixes.iter().map(|s| format!("{base}{s}")).collect()
}

// ---------------------------------------------------------------------------------------
// The model: what the registry must expose.

#[derive(Clone, Debug)]
enum Model {
    Counter(u64),
    Float(f64),
    Gauge(f64),
    /// Non-cumulative bucket counts (the last is `+Inf`) and the sum.
    Hist(Vec<u64>, f64),
}

/// A registered family as the output must show it.
struct Expected {
    name: String,
    help: String,
    unit: Option<String>,
    kind: Kind,
    labels: Vec<String>,
    bounds: Vec<f64>,
    limit: usize,
    series: Vec<(Vec<String>, Model)>,
    overflow: Option<Model>,
}

/// A metric type the target drives: one update, mirrored in the model.
trait Drive: FamilyMember + metrics_core::Metric {
    fn zero(bounds: &[f64]) -> Model;
    fn drive(&self, op: &Op, model: &mut Model, bounds: &[f64]);
}

impl Drive for Counter {
    fn zero(_: &[f64]) -> Model {
        Model::Counter(0)
    }
    fn drive(&self, op: &Op, model: &mut Model, _: &[f64]) {
        let Model::Counter(v) = model else {
            unreachable!()
        };
        if op.how & 1 == 0 {
            self.inc_by(op.int);
            *v = v.wrapping_add(op.int);
        } else {
            self.inc();
            *v = v.wrapping_add(1);
        }
    }
}

impl Drive for FloatCounter {
    fn zero(_: &[f64]) -> Model {
        Model::Float(0.0)
    }
    fn drive(&self, op: &Op, model: &mut Model, _: &[f64]) {
        let Model::Float(v) = model else {
            unreachable!()
        };
        let taken = self.inc_by(op.float);
        // A negative or NaN add is refused: a counter never goes down.
        assert_eq!(taken, !(op.float.is_nan() || op.float < 0.0), "{op:?}");
        if taken {
            *v += op.float;
        }
    }
}

impl Drive for Gauge {
    fn zero(_: &[f64]) -> Model {
        Model::Gauge(0.0)
    }
    fn drive(&self, op: &Op, model: &mut Model, _: &[f64]) {
        let Model::Gauge(v) = model else {
            unreachable!()
        };
        if op.how & 1 == 0 {
            self.set(op.float);
            *v = op.float;
        } else {
            self.add(op.float);
            *v += op.float;
        }
    }
}

impl Drive for DynHistogram {
    fn zero(bounds: &[f64]) -> Model {
        Model::Hist(vec![0; bounds.len() + 1], 0.0)
    }
    fn drive(&self, op: &Op, model: &mut Model, bounds: &[f64]) {
        let Model::Hist(buckets, sum) = model else {
            unreachable!()
        };
        self.observe(op.float);
        // The first bound at or above the value (Prometheus' `le`); NaN goes to `+Inf`.
        let i = bounds
            .iter()
            .position(|b| op.float <= *b)
            .unwrap_or(bounds.len());
        buckets[i] += 1;
        *sum += op.float;
    }
}

/// A registered metric: one series, or a labelled family.
enum Target<M: FamilyMember> {
    Single(Arc<M>),
    Family(Arc<Family<M>>),
}

fn register<M: Drive>(
    r: &mut Registry,
    desc: Desc<'_>,
    config: M::Config,
    spec: &FamilySpec,
) -> Result<Target<M>, Error> {
    if spec.family || !desc.label_names().is_empty() {
        let limit = spec.limit.map(usize::from);
        r.family::<M>(desc, config, limit).map(Target::Family)
    } else {
        r.register(desc, M::from_config(&config))
            .map(Target::Single)
    }
}

/// Runs the spec's updates on `target` and on the model `e`.
fn drive<M: Drive>(target: &Target<M>, spec: &FamilySpec, e: &mut Expected) {
    for op in spec.ops.iter().take(MAX_OPS) {
        let fam = match target {
            Target::Single(m) => {
                let model = &mut e.series[0].1;
                m.drive(op, model, &e.bounds);
                continue;
            }
            Target::Family(f) => f,
        };
        let n = e.labels.len();
        let mut values: Vec<&str> = op.values.iter().map(String::as_str).collect();
        if op.how & 4 != 0 {
            if values.len() == n {
                values.push("");
            }
            match fam.try_labels(&values) {
                Err(Error::LabelCount { expected, got }) => {
                    assert_eq!((expected, got), (n, values.len()));
                }
                other => panic!(
                    "{} values for {n} labels: {:?}",
                    values.len(),
                    other.map(drop)
                ),
            }
            continue;
        }
        values.resize(n, "");
        let known = e
            .series
            .iter()
            .position(|(v, _)| v.iter().map(String::as_str).eq(values.iter().copied()));
        let model = match known {
            Some(i) => &mut e.series[i].1,
            None if e.series.len() < e.limit => {
                let v = values.iter().map(|s| s.to_string()).collect();
                e.series.push((v, M::zero(&e.bounds)));
                &mut e.series.last_mut().unwrap().1
            }
            None if op.how & 2 != 0 => {
                match fam.try_labels(&values) {
                    Err(Error::CardinalityLimit { limit }) => assert_eq!(limit, e.limit),
                    other => panic!("past the limit: {:?}", other.map(drop)),
                }
                continue;
            }
            None => e.overflow.get_or_insert_with(|| M::zero(&e.bounds)),
        };
        let metric = if op.how & 2 != 0 {
            fam.try_labels(&values).expect("within the limit")
        } else {
            fam.labels(&values)
        };
        metric.drive(op, model, &e.bounds);
    }
}

/// Registers one spec; `Some` with its model when the registry accepted it. Panics when the
/// registry's verdict differs from the rules.
fn add(r: &mut Registry, spec: &FamilySpec, registered: &[Expected]) -> Option<Expected> {
    let name = spec.name.0.as_str();
    let labels: Vec<&str> = spec
        .labels
        .iter()
        .take(MAX_LABELS)
        .map(|l| l.0.as_str())
        .collect();
    let unit = spec.unit.as_ref().map(|u| u.0.as_str());
    let (kind, raw_bounds): (Kind, &[f64]) = match &spec.kind {
        KindSpec::Counter | KindSpec::FloatCounter => (Kind::Counter, &[]),
        KindSpec::Gauge => (Kind::Gauge, &[]),
        KindSpec::Histogram(b) => (Kind::Histogram, &b[..b.len().min(MAX_BOUNDS)]),
    };
    let bounds = match kind {
        Kind::Histogram => valid_bounds(raw_bounds),
        _ => Some(Vec::new()),
    };
    let exposed = exposed_names(name, kind);
    let clash = registered.iter().any(|e| {
        exposed_names(&e.name, e.kind)
            .iter()
            .any(|n| exposed.contains(n))
    });
    let distinct = labels
        .iter()
        .enumerate()
        .all(|(i, l)| !labels[..i].contains(l));
    let rules_ok = metric_name_ok(name)
        && labels.iter().all(|l| label_name_ok(l))
        && distinct
        && unit.is_none_or(|u| unit_ok(name, u))
        && bounds.is_some()
        && !clash;

    let desc = Desc::try_new(name, &spec.help)
        .and_then(|d| d.try_labels(&labels))
        .and_then(|d| match unit {
            Some(u) => d.try_unit(u),
            None => Ok(d),
        });
    let mut e = Expected {
        name: name.to_owned(),
        help: spec.help.clone(),
        unit: unit.map(str::to_owned),
        kind,
        labels: labels.iter().map(|l| l.to_string()).collect(),
        bounds: bounds.clone().unwrap_or_default(),
        limit: usize::from(spec.limit.unwrap_or(0)).max(1),
        series: Vec::new(),
        overflow: None,
    };
    if spec.limit.is_none() {
        e.limit = metrics_core::DEFAULT_CARDINALITY_LIMIT;
    }
    macro_rules! run {
        ($m:ty, $config:expr) => {{
            let registered = desc.and_then(|d| $config.and_then(|c| register::<$m>(r, d, c, spec)));
            assert_eq!(
                registered.is_ok(),
                rules_ok,
                "registry said {:?}, the rules {rules_ok}: {spec:?}",
                registered.as_ref().map(drop)
            );
            let target = registered.ok()?;
            if let Target::Single(_) = target {
                e.series.push((Vec::new(), <$m>::zero(&e.bounds)));
            }
            drive(&target, spec, &mut e);
        }};
    }
    match &spec.kind {
        KindSpec::Counter => run!(Counter, Ok(())),
        KindSpec::FloatCounter => run!(FloatCounter, Ok(())),
        KindSpec::Gauge => run!(Gauge, Ok(())),
        KindSpec::Histogram(_) => {
            let config = DynHistogram::new(raw_bounds).map(|h| Arc::<[f64]>::from(h.bounds()));
            if let Ok(c) = &config {
                assert_eq!(Some(&c[..]), bounds.as_deref(), "{raw_bounds:?}");
            }
            run!(DynHistogram, config)
        }
    }
    Some(e)
}

// ---------------------------------------------------------------------------------------
// The lines the output must read back as.

#[derive(Clone, Copy, Debug)]
enum Num {
    U64(u64),
    F64(f64),
}

#[derive(Clone, Debug)]
enum Want {
    Help(String, String),
    Type(String, &'static str),
    Unit(String, String),
    Sample {
        name: String,
        labels: Vec<(String, String)>,
        le: Option<f64>,
        value: Num,
    },
    Eof,
}

fn expected_lines(families: &[Expected], format: Format) -> Vec<Want> {
    let om = format == Format::OpenMetrics;
    let mut out = Vec::new();
    for f in families {
        let base = match f.kind {
            Kind::Counter => counter_base(&f.name).to_owned(),
            _ => f.name.clone(),
        };
        let family_name = match (f.kind, om) {
            (Kind::Counter, false) => format!("{base}_total"),
            _ => base.clone(),
        };
        if !f.help.is_empty() {
            // The parser drops one `\r` at the end of a line (CRLF input); HELP text is the
            // only place where one can end a line.
            let help = f.help.strip_suffix('\r').unwrap_or(&f.help);
            out.push(Want::Help(family_name.clone(), help.to_owned()));
        }
        let kind = match f.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        out.push(Want::Type(family_name.clone(), kind));
        if let (Some(unit), true) = (&f.unit, om) {
            out.push(Want::Unit(family_name.clone(), unit.clone()));
        }
        let overflow = f.overflow.as_ref().map(|m| {
            let values = vec![OVERFLOW_LABEL_VALUE.to_owned(); f.labels.len()];
            (values, m.clone())
        });
        for (values, model) in f.series.iter().cloned().chain(overflow) {
            let labels: Vec<(String, String)> = f.labels.iter().cloned().zip(values).collect();
            let sample = |suffix: &str, le: Option<f64>, value: Num| Want::Sample {
                name: format!("{base}{suffix}"),
                labels: labels.clone(),
                le,
                value,
            };
            match model {
                Model::Counter(v) => out.push(sample("_total", None, Num::U64(v))),
                Model::Float(v) => out.push(sample("_total", None, Num::F64(v))),
                Model::Gauge(v) => out.push(sample("", None, Num::F64(v))),
                Model::Hist(buckets, sum) => {
                    let mut cumulative = 0u64;
                    for (i, n) in buckets.iter().enumerate() {
                        cumulative += n;
                        let le = f.bounds.get(i).copied().unwrap_or(f64::INFINITY);
                        out.push(sample("_bucket", Some(le), Num::U64(cumulative)));
                    }
                    // OpenMetrics: `_sum` is a counter, so a histogram with negative buckets
                    // has none.
                    if !(om && f.bounds[0] < 0.0) {
                        out.push(sample("_sum", None, Num::F64(sum)));
                    }
                    out.push(sample("_count", None, Num::U64(cumulative)));
                }
            }
        }
    }
    if om {
        out.push(Want::Eof);
    }
    out
}

fn unescape(e: metrics_core::parse::Escaped<'_>) -> String {
    let mut s = String::new();
    e.write_to(&mut s).unwrap();
    s
}

fn same_f64(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

fn same_num(want: Num, raw: &str, parsed: f64) -> bool {
    match want {
        Num::U64(v) => raw.parse::<u64>() == Ok(v),
        Num::F64(v) => same_f64(v, parsed),
    }
}

/// Reads `text` back with the core's parser and compares it with `want`, line by line.
fn check_read_back(text: &str, want: &[Want]) {
    let mut lines = Parser::new(text);
    for (i, w) in want.iter().enumerate() {
        let line = match lines.next() {
            Some(Ok(l)) => l,
            Some(Err(e)) => panic!("line {i}: {e}\n{text}"),
            None => panic!("output ends before {w:?}\n{text}"),
        };
        let ok = match (w, line) {
            (Want::Help(n, h), Line::Help { name, text }) => n == name && *h == unescape(text),
            (Want::Type(n, k), Line::Type { name, kind }) => n == name && *k == kind,
            (Want::Unit(n, u), Line::Unit { name, unit }) => n == name && u == unit,
            (Want::Eof, Line::Eof) => true,
            (
                Want::Sample {
                    name,
                    labels,
                    le,
                    value,
                },
                Line::Sample(s),
            ) => {
                let mut got: Vec<(String, String)> = s
                    .labels()
                    .map(|l| {
                        let (k, v) = l.expect("labels were checked when the line was read");
                        (k.to_owned(), unescape(v))
                    })
                    .collect();
                let le_ok = match le {
                    None => true,
                    Some(le) => match got.pop() {
                        Some((k, v)) if k == "le" => {
                            let parsed = if v == "+Inf" {
                                Some(f64::INFINITY)
                            } else {
                                v.parse::<f64>().ok()
                            };
                            parsed.is_some_and(|p| same_f64(p, *le))
                        }
                        _ => false,
                    },
                };
                *name == s.name
                    && *labels == got
                    && le_ok
                    && s.timestamp.is_none()
                    && same_num(*value, s.raw_value, s.value)
            }
            _ => false,
        };
        assert!(ok, "line {i}: want {w:?}, read {line:?}\n{text}");
    }
    if let Some(extra) = lines.next() {
        panic!("unexpected {extra:?} after the last family\n{text}");
    }
}

/// The chunked encoder in chunks of `chunk` bytes: the bytes and how it ended.
fn chunked(r: &Registry, format: Format, chunk: usize) -> (Vec<u8>, Result<(), Error>) {
    let mut enc: ChunkedEncoder<'_, Registry, CHUNK_BUCKETS> = ChunkedEncoder::new(r, format);
    let mut buf = vec![0u8; chunk];
    let mut out = Vec::new();
    loop {
        match enc.fill(&mut buf) {
            Ok(0) => {
                assert!(enc.is_done());
                return (out, Ok(()));
            }
            Ok(n) => {
                assert!(n <= chunk);
                out.extend_from_slice(&buf[..n]);
            }
            Err(e) => return (out, Err(e)),
        }
    }
}

fuzz_target!(|input: Input| {
    let mut r = Registry::new();
    let mut families: Vec<Expected> = Vec::new();
    for spec in input.families.iter().take(MAX_FAMILIES) {
        if let Some(e) = add(&mut r, spec, &families) {
            families.push(e);
        }
    }
    assert_eq!(r.len(), families.len());
    let chunk = usize::from(input.chunk) + 1;
    // A histogram with more buckets than the chunked encoder's snapshot holds, and a series.
    let too_wide = families
        .iter()
        .any(|f| f.bounds.len() > CHUNK_BUCKETS && (!f.series.is_empty() || f.overflow.is_some()));
    for format in [Format::Text, Format::OpenMetrics] {
        let mut text = String::new();
        metrics_core::encode(&r, format, &mut text).expect("a String takes every byte");
        check_read_back(&text, &expected_lines(&families, format));
        let (bytes, end) = chunked(&r, format, chunk);
        match end {
            Ok(()) => {
                assert!(
                    !too_wide,
                    "a histogram over {CHUNK_BUCKETS} buckets encoded"
                );
                assert_eq!(
                    String::from_utf8_lossy(&bytes),
                    text,
                    "chunks of {chunk} bytes"
                );
            }
            Err(e) => {
                assert!(too_wide, "chunked encoder: {e}");
                assert_eq!(
                    e,
                    Error::TooManyBuckets {
                        capacity: CHUNK_BUCKETS
                    }
                );
                assert!(
                    text.as_bytes().starts_with(&bytes),
                    "chunks of {chunk} bytes"
                );
            }
        }
    }
});
