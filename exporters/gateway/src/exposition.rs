//! Reading a device's exposition (text 0.0.4 or OpenMetrics) into owned families, with the
//! core's zero-copy parser.

use std::collections::HashMap;
use std::fmt;

use metrics_core::parse::{Escaped, Line, Parser};
use metrics_core::Kind;

use crate::family::{Hist, OwnedFamily, Series, SeriesValue};

/// Why an exposition cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExpositionError {
    /// 1-based line of the exposition, 0 when the problem is not on one line.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ExpositionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "invalid exposition: {}", self.reason)
        } else {
            write!(f, "invalid exposition, line {}: {}", self.line, self.reason)
        }
    }
}

impl std::error::Error for ExpositionError {}

/// A family being read: its series as `(labels, value)` pairs, aligned at the end.
struct Building {
    name: String,
    help: String,
    unit: Option<String>,
    /// `None` until a `# TYPE` line or a sample decides (untyped samples are gauges).
    kind: Option<Kind>,
    /// Families of other types (summary, info, stateset...) are read and dropped.
    skipped: bool,
    numbers: Vec<(Labels, f64)>,
    /// Histograms by their labels without `le`: `(le, cumulative count)` and sum.
    hists: Vec<HistParts>,
    hist_index: HashMap<Labels, usize>,
}

type Labels = Vec<(Box<str>, Box<str>)>;
/// A histogram series' labels, `(le, cumulative count)` pairs and sum, as read.
type HistParts = (Labels, Vec<(f64, f64)>, Option<f64>);

impl Building {
    fn new(name: &str) -> Self {
        Building {
            name: name.to_owned(),
            help: String::new(),
            unit: None,
            kind: None,
            skipped: false,
            numbers: Vec::new(),
            hists: Vec::new(),
            hist_index: HashMap::new(),
        }
    }

    /// True when sample `name` belongs to this family; with the histogram suffix, if any.
    fn suffix_of<'n>(&self, name: &'n str) -> Option<&'n str> {
        let rest = name.strip_prefix(self.name.as_str())?;
        let ok: &[&str] = match (self.kind, self.skipped) {
            (_, true) => &[
                "", "_total", "_sum", "_count", "_bucket", "_created", "_info", "_gsum", "_gcount",
            ],
            (Some(Kind::Counter), _) => &["", "_total", "_created"],
            (Some(Kind::Histogram), _) => &["_bucket", "_sum", "_count", "_created"],
            _ => &[""],
        };
        ok.contains(&rest).then_some(rest)
    }
}

fn unescape(e: Escaped<'_>) -> String {
    let mut s = String::with_capacity(e.raw().len());
    // Writing into a String cannot fail.
    let _ = e.write_to(&mut s);
    s
}

fn err(line: usize, reason: impl Into<String>) -> ExpositionError {
    ExpositionError {
        line,
        reason: reason.into(),
    }
}

/// Reads an exposition into families, in the order they appear. Counters, gauges, histograms
/// and untyped samples (read as gauges) are kept; summaries and OpenMetrics-only types are
/// dropped. Timestamps are dropped (the gateway serves what it read now).
pub fn read(text: &str) -> Result<Vec<OwnedFamily>, ExpositionError> {
    let mut families: Vec<Building> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut current: Option<usize> = None;

    fn family(
        families: &mut Vec<Building>,
        by_name: &mut HashMap<String, usize>,
        name: &str,
    ) -> usize {
        *by_name.entry(name.to_owned()).or_insert_with(|| {
            families.push(Building::new(name));
            families.len() - 1
        })
    }

    for line in Parser::new(text) {
        let line = line.map_err(|e| err(e.line, e.reason))?;
        // The line number, for errors only: counting it costs a pass over the text so far,
        // which for every line would make reading quadratic in the exposition's size.
        let n = || line_of(text, &line);
        match line {
            Line::Help { name, text } => {
                let i = family(&mut families, &mut by_name, name);
                families[i].help = unescape(text);
                current = Some(i);
            }
            Line::Type { name, kind } => {
                let kind = match kind {
                    "counter" => Some(Kind::Counter),
                    "gauge" | "untyped" | "unknown" => Some(Kind::Gauge),
                    "histogram" => Some(Kind::Histogram),
                    _ => None,
                };
                // The text format names a counter family `x_total`, OpenMetrics `x`.
                let base = match kind {
                    Some(Kind::Counter) => name.strip_suffix("_total").unwrap_or(name),
                    _ => name,
                };
                let i = match by_name.get(name) {
                    // A HELP line came first under the full name.
                    Some(&i) if base != name => {
                        by_name.remove(name);
                        families[i].name = base.to_owned();
                        by_name.insert(base.to_owned(), i);
                        i
                    }
                    _ => family(&mut families, &mut by_name, base),
                };
                let f = &mut families[i];
                if f.kind.is_some() || !f.numbers.is_empty() || !f.hists.is_empty() {
                    return Err(err(n(), format!("second TYPE line for `{name}`")));
                }
                f.kind = kind;
                f.skipped = kind.is_none();
                current = Some(i);
            }
            Line::Unit { name, unit } => {
                let i = family(&mut families, &mut by_name, name);
                families[i].unit = (!unit.is_empty()).then(|| unit.to_owned());
                current = Some(i);
            }
            Line::Eof => break,
            Line::Comment(_) => {}
            Line::Sample(s) => {
                let mut labels: Labels = Vec::new();
                let mut le = None;
                for l in s.labels() {
                    let (k, v) = l.map_err(|(_, reason)| err(n(), reason))?;
                    if labels.iter().any(|(name, _)| &**name == k) {
                        return Err(err(n(), format!("label `{k}` given twice")));
                    }
                    if k == "le" {
                        le = Some(unescape(v));
                    } else {
                        labels.push((k.into(), unescape(v).into()));
                    }
                }
                let (i, suffix) = match current
                    .and_then(|i| families[i].suffix_of(s.name).map(|sfx| (i, sfx.len())))
                {
                    Some(found) => found,
                    None => {
                        // An untyped sample: a family of its own.
                        let i = family(&mut families, &mut by_name, s.name);
                        current = Some(i);
                        (i, 0)
                    }
                };
                let f = &mut families[i];
                if f.skipped {
                    continue;
                }
                let suffix = &s.name[s.name.len() - suffix..];
                match f.kind.get_or_insert(Kind::Gauge) {
                    Kind::Histogram => {
                        if suffix == "_count" || suffix == "_created" {
                            // `_count` is the `+Inf` bucket, written again by the encoder.
                            continue;
                        }
                        let key = {
                            let mut k = labels.clone();
                            k.sort();
                            k
                        };
                        let h = *f.hist_index.entry(key).or_insert_with(|| {
                            f.hists.push((labels, Vec::new(), None));
                            f.hists.len() - 1
                        });
                        if suffix == "_sum" {
                            f.hists[h].2 = Some(s.value);
                        } else {
                            let le = le.as_deref().and_then(parse_le).ok_or_else(|| {
                                err(n(), "a `_bucket` sample needs a numeric `le`")
                            })?;
                            f.hists[h].1.push((le, s.value));
                        }
                    }
                    _ => {
                        if suffix == "_created" {
                            continue;
                        }
                        if le.is_some() {
                            return Err(err(n(), "`le` is only allowed on histogram buckets"));
                        }
                        f.numbers.push((labels, s.value));
                    }
                }
            }
        }
    }
    families
        .into_iter()
        .filter(|f| !f.skipped)
        .filter_map(|f| finish(f).transpose())
        .collect()
}

/// The 1-based line of `text` that `line` (borrowed from it) is on.
fn line_of(text: &str, line: &Line<'_>) -> usize {
    let part = match line {
        Line::Help { name, .. } | Line::Type { name, .. } | Line::Unit { name, .. } => *name,
        Line::Sample(s) => s.name,
        Line::Comment(c) => *c,
        Line::Eof => return 0,
    };
    // Both are slices of the same string: the address difference is the byte offset.
    let offset = (part.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn parse_le(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        _ => s.parse().ok().filter(|v: &f64| !v.is_nan()),
    }
}

/// Aligns the series' labels to the family's label names; checks histograms. `None` for a
/// family with no series and no TYPE line (a lone HELP).
fn finish(f: Building) -> Result<Option<OwnedFamily>, ExpositionError> {
    let Some(kind) = f.kind else {
        return Ok(None);
    };
    let mut label_names: Vec<Box<str>> = Vec::new();
    let all_labels = f
        .numbers
        .iter()
        .map(|s| &s.0)
        .chain(f.hists.iter().map(|h| &h.0));
    for labels in all_labels {
        for (k, _) in labels {
            if !label_names.contains(k) {
                label_names.push(k.clone());
            }
        }
    }
    let align = |labels: &Labels| -> Vec<Box<str>> {
        label_names
            .iter()
            .map(|name| {
                labels
                    .iter()
                    .find(|(k, _)| k == name)
                    .map_or_else(|| Box::from(""), |(_, v)| v.clone())
            })
            .collect()
    };
    let mut series = Vec::new();
    for (labels, v) in &f.numbers {
        series.push(Series {
            labels: align(labels),
            value: SeriesValue::Number(*v),
        });
    }
    for (labels, buckets, sum) in f.hists {
        let hist = histogram(&f.name, buckets, sum)?;
        series.push(Series {
            labels: align(&labels),
            value: SeriesValue::Histogram(hist),
        });
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = series.iter().find(|s| !seen.insert(&s.labels)) {
        return Err(err(
            0,
            format!("family `{}` has the series {:?} twice", f.name, dup.labels),
        ));
    }
    Ok(Some(OwnedFamily {
        name: f.name,
        help: f.help,
        unit: f.unit,
        kind,
        label_names,
        series,
    }))
}

fn histogram(
    name: &str,
    mut buckets: Vec<(f64, f64)>,
    sum: Option<f64>,
) -> Result<Hist, ExpositionError> {
    let bad = |why: &str| err(0, format!("histogram `{name}`: {why}"));
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().map(|b| b.0) != Some(f64::INFINITY) {
        return Err(bad("no `+Inf` bucket"));
    }
    let mut bounds = Vec::with_capacity(buckets.len() - 1);
    let mut counts = Vec::with_capacity(buckets.len());
    let mut below = 0.0;
    for (i, &(le, cumulative)) in buckets.iter().enumerate() {
        if i > 0 && buckets[i - 1].0 == le {
            return Err(bad("a bucket bound is given twice"));
        }
        if cumulative.is_nan() || cumulative < below || cumulative.fract() != 0.0 {
            return Err(bad("bucket counts must be whole and non-decreasing"));
        }
        counts.push((cumulative - below) as u64);
        below = cumulative;
        if le.is_finite() {
            bounds.push(le);
        }
    }
    Ok(Hist {
        bounds,
        buckets: counts,
        sum: sum.ok_or_else(|| bad("no `_sum` sample"))?,
    })
}
