//! Reading a push body (Prometheus text 0.0.4 or OpenMetrics 1.0, read with the core's
//! parser) into this run's increments, checked line by line: every family declares its type
//! (counter, gauge or histogram), counter increments are finite and not negative, histogram
//! buckets are cumulative whole counts ending at `+Inf`, with a `_sum`.

use std::collections::{HashMap, HashSet};

use metrics_core::parse::{Escaped, Line, Parser};

use super::outcome::{PushResult, Refusal};

/// The type of a pushed family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PushKind {
    /// Samples are increments, added to the totals.
    Counter,
    /// The last value pushed wins.
    Gauge,
    /// Observations, added bucket by bucket.
    Histogram,
}

impl PushKind {
    /// The TYPE word.
    pub fn as_str(self) -> &'static str {
        match self {
            PushKind::Counter => "counter",
            PushKind::Gauge => "gauge",
            PushKind::Histogram => "histogram",
        }
    }

    /// The kind named by a TYPE word.
    pub fn parse(word: &str) -> Option<PushKind> {
        match word {
            "counter" => Some(PushKind::Counter),
            "gauge" => Some(PushKind::Gauge),
            "histogram" => Some(PushKind::Histogram),
            _ => None,
        }
    }

    /// The core's kind, for the encoders.
    pub fn core(self) -> metrics_core::Kind {
        match self {
            PushKind::Counter => metrics_core::Kind::Counter,
            PushKind::Gauge => metrics_core::Kind::Gauge,
            PushKind::Histogram => metrics_core::Kind::Histogram,
        }
    }
}

/// The body's format, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// `text/plain; version=0.0.4` (and any other text type, or none).
    Text,
    /// `application/openmetrics-text`.
    OpenMetrics,
}

impl BodyFormat {
    /// The format of a body sent with `content_type`; a protobuf body is refused.
    pub fn from_content_type(content_type: Option<&str>) -> Result<BodyFormat, Refusal> {
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        if ct.starts_with("application/openmetrics-text") {
            Ok(BodyFormat::OpenMetrics)
        } else if ct.contains("protobuf") {
            Err(Refusal::new(
                PushResult::Malformed,
                "the protobuf format is not accepted: push the text format \
                 (Content-Type: text/plain; version=0.0.4) or OpenMetrics \
                 (application/openmetrics-text; version=1.0.0)",
            ))
        } else {
            Ok(BodyFormat::Text)
        }
    }
}

/// A pushed series' value.
#[derive(Clone, Debug, PartialEq)]
pub enum PushValue {
    /// A counter increment or a gauge value.
    Number(f64),
    /// A histogram's observations in this push.
    Histogram {
        /// Finite upper bounds, strictly increasing.
        bounds: Vec<f64>,
        /// Observations per bucket (not cumulative), one more than `bounds` (`+Inf`).
        buckets: Vec<u64>,
        /// The sum of the observations.
        sum: f64,
    },
}

/// A pushed series: its labels (sorted by name, empty values left out) and value.
#[derive(Clone, Debug, PartialEq)]
pub struct PushSeries {
    /// `(name, unescaped value)`, sorted by name.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: PushValue,
}

/// A pushed family (a counter's name without `_total`).
#[derive(Clone, Debug, PartialEq)]
pub struct PushFamily {
    /// The family name.
    pub name: String,
    /// The help text, unescaped.
    pub help: String,
    /// The type.
    pub kind: PushKind,
    /// The series, in the order they were read.
    pub series: Vec<PushSeries>,
}

/// What one push body holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Push {
    /// The families, in the order they were declared.
    pub families: Vec<PushFamily>,
}

fn malformed(message: impl Into<String>) -> Refusal {
    Refusal::new(PushResult::Malformed, message)
}

/// `line N, column C` of the slice `part` of `text`.
fn at(text: &str, part: &str) -> String {
    let offset = (part.as_ptr() as usize)
        .saturating_sub(text.as_ptr() as usize)
        .min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    format!("line {line}, column {}", offset - start + 1)
}

fn unescape(e: Escaped<'_>) -> String {
    let mut s = String::with_capacity(e.raw().len());
    // Writing into a String cannot fail.
    let _ = e.write_to(&mut s);
    s
}

/// A histogram series being read.
#[derive(Default)]
struct HistParts {
    /// `(le, cumulative count)`, as read.
    buckets: Vec<(f64, f64)>,
    sum: Option<f64>,
    count: Option<f64>,
    /// Where its first sample is, for messages.
    at: String,
}

struct Building {
    family: PushFamily,
    /// The histograms, by labels.
    hists: Vec<(Vec<(String, String)>, HistParts)>,
    hist_index: HashMap<Vec<(String, String)>, usize>,
    numbers: HashSet<Vec<(String, String)>>,
}

const DECLARE: &str = "declare every family with `# TYPE <name> counter`, `gauge` or \
                       `histogram` before its samples (the gateway adds counters and histograms \
                       up and keeps the last value of a gauge)";

/// Reads a push body. Nothing is stored: the result is checked against the gateway's
/// state by [`crate::push::store::Store::apply`].
pub fn parse(body: &[u8], format: BodyFormat) -> Result<Push, Refusal> {
    let text = std::str::from_utf8(body).map_err(|e| {
        let offset = e.valid_up_to();
        let line = body[..offset].iter().filter(|b| **b == b'\n').count() + 1;
        malformed(format!(
            "the body is not UTF-8 (byte {offset}, line {line}): the text format must be UTF-8"
        ))
    })?;
    let mut families: Vec<Building> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut helps: HashMap<&str, String> = HashMap::new();
    let mut current: Option<usize> = None;
    let mut eof = false;
    for line in Parser::new(text) {
        let line = line.map_err(|e| malformed(format!("invalid exposition, {e}")))?;
        if eof {
            let where_ = match &line {
                Line::Sample(s) => at(text, s.name),
                Line::Help { name, .. } | Line::Type { name, .. } | Line::Unit { name, .. } => {
                    at(text, name)
                }
                Line::Comment(c) => at(text, c),
                Line::Eof => "a second `# EOF`".into(),
            };
            return Err(malformed(format!(
                "invalid exposition, {where_}: text after `# EOF`"
            )));
        }
        match line {
            Line::Eof => eof = true,
            Line::Comment(_) | Line::Unit { .. } => {}
            Line::Help { name, text: help } => {
                helps.insert(name, unescape(help));
            }
            Line::Type { name, kind } => {
                let Some(kind) = PushKind::parse(kind) else {
                    return Err(malformed(format!(
                        "{}: family `{name}` is of type `{kind}`, which the gateway cannot add \
                         up: {DECLARE}",
                        at(text, name)
                    )));
                };
                let base = match kind {
                    PushKind::Counter => name.strip_suffix("_total").unwrap_or(name),
                    _ => name,
                };
                if let Some(problem) = name_problem(base) {
                    return Err(malformed(format!(
                        "{}: family `{base}`: {problem}",
                        at(text, name)
                    )));
                }
                if by_name.contains_key(base) {
                    return Err(malformed(format!(
                        "{}: a second TYPE line for `{base}`: declare each family once, its \
                         samples together after it",
                        at(text, name)
                    )));
                }
                let help = helps
                    .get(name)
                    .or_else(|| helps.get(base))
                    .cloned()
                    .unwrap_or_default();
                by_name.insert(base.to_owned(), families.len());
                current = Some(families.len());
                families.push(Building {
                    family: PushFamily {
                        name: base.to_owned(),
                        help,
                        kind,
                        series: Vec::new(),
                    },
                    hists: Vec::new(),
                    hist_index: HashMap::new(),
                    numbers: HashSet::new(),
                });
            }
            Line::Sample(s) => {
                let where_ = at(text, s.name);
                let Some(f) = current.map(|i| &mut families[i]) else {
                    return Err(malformed(format!(
                        "{where_}: sample `{}` has no TYPE line: {DECLARE}",
                        s.name
                    )));
                };
                let suffix = s.name.strip_prefix(f.family.name.as_str());
                let allowed: &[&str] = match f.family.kind {
                    PushKind::Counter => &["_total", "", "_created"],
                    PushKind::Gauge => &[""],
                    PushKind::Histogram => &["_bucket", "_sum", "_count", "_created"],
                };
                let Some(suffix) = suffix.filter(|x| allowed.contains(x)) else {
                    return Err(malformed(format!(
                        "{where_}: sample `{}` is not one of the {} `{}` declared before it: \
                         {DECLARE}",
                        s.name,
                        f.family.kind.as_str(),
                        f.family.name
                    )));
                };
                if s.timestamp.is_some() {
                    return Err(malformed(format!(
                        "{where_}: a timestamp: remove it (the gateway's scrape time is the \
                         sample's time)"
                    )));
                }
                if suffix == "_created" {
                    continue;
                }
                let mut labels = Vec::new();
                let mut le = None;
                for l in s.labels() {
                    let (k, v) = l.map_err(|(column, reason)| {
                        malformed(format!(
                            "invalid exposition, {where_} (+{column}): {reason}"
                        ))
                    })?;
                    let v = unescape(v);
                    if k == "le" && suffix == "_bucket" {
                        le = Some(v);
                        continue;
                    }
                    if let Some(problem) = super::path::label_name_problem(k) {
                        return Err(malformed(format!("{where_}: label `{k}`: {problem}")));
                    }
                    if labels.iter().any(|(n, _): &(String, String)| n == k) {
                        return Err(malformed(format!("{where_}: label `{k}` given twice")));
                    }
                    labels.push((k.to_owned(), v));
                }
                labels.retain(|(_, v)| !v.is_empty());
                labels.sort();
                if f.family.kind != PushKind::Histogram {
                    if f.family.kind == PushKind::Counter
                        && !(s.value >= 0.0 && s.value.is_finite())
                    {
                        return Err(Refusal::new(
                            PushResult::NegativeIncrement,
                            format!(
                                "{where_}: counter `{}` increment {}: an increment must be a \
                                 finite number >= 0 (push what this run added, not a total \
                                 that went down)",
                                f.family.name, s.raw_value
                            ),
                        ));
                    }
                    if !f.numbers.insert(labels.clone()) {
                        return Err(malformed(format!(
                            "{where_}: the series {} is given twice",
                            show(&f.family.name, &labels)
                        )));
                    }
                    f.family.series.push(PushSeries {
                        labels,
                        value: PushValue::Number(s.value),
                    });
                    continue;
                }
                let i = match f.hist_index.get(&labels) {
                    Some(&i) => i,
                    None => {
                        f.hist_index.insert(labels.clone(), f.hists.len());
                        f.hists.push((
                            labels,
                            HistParts {
                                at: where_.clone(),
                                ..HistParts::default()
                            },
                        ));
                        f.hists.len() - 1
                    }
                };
                let parts = &mut f.hists[i].1;
                match suffix {
                    "_bucket" => {
                        let le = le.as_deref().and_then(parse_le).ok_or_else(|| {
                            malformed(format!("{where_}: a `_bucket` sample needs a numeric `le`"))
                        })?;
                        if parts.buckets.iter().any(|(b, _)| *b == le) {
                            return Err(malformed(format!(
                                "{where_}: bucket le=\"{le}\" given twice"
                            )));
                        }
                        parts.buckets.push((le, s.value));
                    }
                    "_sum" if parts.sum.is_none() => parts.sum = Some(s.value),
                    "_count" if parts.count.is_none() => parts.count = Some(s.value),
                    _ => {
                        return Err(malformed(format!(
                            "{where_}: `{}` given twice for one series",
                            s.name
                        )))
                    }
                }
            }
        }
    }
    if format == BodyFormat::OpenMetrics && !eof {
        return Err(malformed(
            "an OpenMetrics body ends with `# EOF`: add it (or send Content-Type: text/plain; \
             version=0.0.4)",
        ));
    }
    let mut out = Push::default();
    for mut b in families {
        for (labels, parts) in b.hists {
            let value = histogram(&b.family.name, parts)?;
            b.family.series.push(PushSeries { labels, value });
        }
        if !b.family.series.is_empty() {
            out.families.push(b.family);
        }
    }
    Ok(out)
}

/// `name{a="1",b="2"}`, for messages.
pub(crate) fn show(name: &str, labels: &[(String, String)]) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// Why `name` cannot be a pushed family's name, if it cannot.
fn name_problem(name: &str) -> Option<String> {
    if name.starts_with("__") {
        return Some("names starting with `__` are reserved for Prometheus".into());
    }
    metrics_core::Desc::try_new(name, "")
        .err()
        .map(|e| e.to_string())
}

fn parse_le(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        _ => s.parse().ok().filter(|v: &f64| !v.is_nan()),
    }
}

/// A histogram series from its samples: buckets sorted by bound, cumulative whole counts,
/// `+Inf` last and equal to `_count` when given, a finite `_sum`.
fn histogram(name: &str, mut parts: HistParts) -> Result<PushValue, Refusal> {
    let where_ = &parts.at;
    let bad = |why: String| malformed(format!("{where_}: histogram `{name}`: {why}"));
    parts.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if parts.buckets.last().map(|b| b.0) != Some(f64::INFINITY) {
        return Err(bad(
            "no `+Inf` bucket: give every bucket, `le=\"+Inf\"` last".into(),
        ));
    }
    let mut bounds = Vec::with_capacity(parts.buckets.len() - 1);
    let mut counts = Vec::with_capacity(parts.buckets.len());
    let mut below = 0u64;
    for &(le, cumulative) in &parts.buckets {
        if cumulative.is_nan() || cumulative < 0.0 || cumulative.is_infinite() {
            return Err(Refusal::new(
                PushResult::NegativeIncrement,
                format!(
                    "{where_}: histogram `{name}` bucket le=\"{le}\" count {cumulative}: counts \
                     are this run's observations, whole numbers >= 0"
                ),
            ));
        }
        // 2^64: every whole float below it is a u64.
        if cumulative.fract() != 0.0 || cumulative >= 18_446_744_073_709_551_616.0 {
            return Err(bad(format!(
                "bucket le=\"{le}\" count {cumulative} is not a whole number below 2^64"
            )));
        }
        let count = cumulative as u64;
        if count < below {
            return Err(bad(format!(
                "bucket le=\"{le}\" counts {count}, fewer than the bucket below it ({below}): \
                 buckets are cumulative"
            )));
        }
        counts.push(count - below);
        below = count;
        if le.is_finite() {
            bounds.push(le);
        }
    }
    if let Some(c) = parts.count {
        if c != below as f64 {
            return Err(bad(format!(
                "`_count` {c} differs from the `+Inf` bucket {below}"
            )));
        }
    }
    let sum = parts.sum.ok_or_else(|| bad("no `_sum` sample".into()))?;
    if !sum.is_finite() {
        return Err(bad(format!("`_sum` {sum} is not finite")));
    }
    Ok(PushValue::Histogram {
        bounds,
        buckets: counts,
        sum,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> Refusal {
        parse(text.as_bytes(), BodyFormat::Text).unwrap_err()
    }

    #[test]
    fn reads_counters_gauges_and_histograms() {
        let p = parse(
            b"# HELP runs_total Runs.\n# TYPE runs_total counter\nruns_total{step=\"a\"} 2\n\
              # TYPE temp gauge\ntemp -3.5\n\
              # TYPE d histogram\nd_bucket{le=\"1\"} 1\nd_bucket{le=\"+Inf\"} 3\nd_sum 7\nd_count 3\n",
            BodyFormat::Text,
        )
        .unwrap();
        let names: Vec<(&str, PushKind)> = p
            .families
            .iter()
            .map(|f| (f.name.as_str(), f.kind))
            .collect();
        assert_eq!(
            names,
            [
                ("runs", PushKind::Counter),
                ("temp", PushKind::Gauge),
                ("d", PushKind::Histogram)
            ]
        );
        assert_eq!(p.families[0].help, "Runs.");
        assert_eq!(
            p.families[2].series[0].value,
            PushValue::Histogram {
                bounds: vec![1.0],
                buckets: vec![1, 2],
                sum: 7.0
            }
        );
    }

    #[test]
    fn refusals_say_where_and_why() {
        for (text, result, says) in [
            ("x 1\n", PushResult::Malformed, "no TYPE line"),
            (
                "# TYPE x untyped\nx 1\n",
                PushResult::Malformed,
                "`untyped`",
            ),
            (
                "# TYPE x summary\nx_sum 1\n",
                PushResult::Malformed,
                "`summary`",
            ),
            (
                "# TYPE x counter\nx_total -1\n",
                PushResult::NegativeIncrement,
                "line 2, column 1",
            ),
            (
                "# TYPE x counter\nx_total NaN\n",
                PushResult::NegativeIncrement,
                ">= 0",
            ),
            (
                "# TYPE x gauge\nx{a=\"1} 1\n",
                PushResult::Malformed,
                "line 2, column",
            ),
            (
                "# TYPE x gauge\nx 1 123\n",
                PushResult::Malformed,
                "timestamp",
            ),
            ("# TYPE x gauge\nx 1\nx 2\n", PushResult::Malformed, "twice"),
            (
                "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\n",
                PushResult::Malformed,
                "+Inf",
            ),
            (
                "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\n",
                PushResult::Malformed,
                "_sum",
            ),
            (
                "# TYPE h histogram\nh_bucket{le=\"+Inf\"} -1\nh_sum 1\n",
                PushResult::NegativeIncrement,
                "whole",
            ),
            (
                "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n",
                PushResult::Malformed,
                "cumulative",
            ),
            (
                "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n",
                PushResult::Malformed,
                "_count",
            ),
            (
                "# TYPE x gauge\nx 1\n# EOF\nx 2\n",
                PushResult::Malformed,
                "after `# EOF`",
            ),
            (
                "# TYPE x gauge\nx{__a=\"1\"} 1\n",
                PushResult::Malformed,
                "reserved",
            ),
        ] {
            let r = refused(text);
            assert_eq!(r.result, result, "{text:?}: {r}");
            assert!(r.message.contains(says), "{text:?}: {r}");
        }
        assert!(parse(b"\xff", BodyFormat::Text).is_err());
        let om = b"# TYPE x counter\nx_total 1\n";
        assert!(parse(om, BodyFormat::OpenMetrics)
            .unwrap_err()
            .message
            .contains("# EOF"));
        let om = b"# TYPE x counter\nx_total 1\n# EOF\n";
        assert_eq!(
            parse(om, BodyFormat::OpenMetrics).unwrap().families[0].name,
            "x"
        );
    }
}
