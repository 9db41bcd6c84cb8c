//! Reading a device's exposition (text 0.0.4 or OpenMetrics) into owned families, with the
//! core's zero-copy parser.

use std::collections::{HashMap, HashSet};
use std::fmt;

use metrics_core::parse::{Escaped, Line, Parser};
use metrics_core::Kind;

use crate::family::{Hist, OwnedFamily, Series, SeriesValue};
use crate::limits::{Admitted, DropReason, Drops, Limits};

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

/// Reads an exposition into families, in the order they appear, with no limit (for text the
/// gateway trusts; a device's answer goes through [`crate::limits::admit`]). Counters, gauges,
/// histograms and untyped samples (read as gauges) are kept; summaries and OpenMetrics-only
/// types are dropped. Timestamps are dropped (the gateway serves what it read now). A label
/// with an empty value is left out: Prometheus reads it as absent.
pub fn read(text: &str) -> Result<Vec<OwnedFamily>, ExpositionError> {
    read_limited(text, &Limits::NONE).map(|a| a.families)
}

/// [`read`] within the series and label limits of `limits` (not its size limit: see
/// [`crate::limits::admit`]): every line is checked whatever the limits, so an invalid
/// exposition is an error even where its series would have been dropped; then series whose
/// labels pass `max_label_bytes` are dropped as they are read, and the others kept in order
/// while they fit in `max_series` and their family's `max_label_names`. The time and memory
/// it takes grow with the length of `text` (and the families it returns with the limits),
/// never with the square of either.
pub fn read_limited(text: &str, limits: &Limits) -> Result<Admitted, ExpositionError> {
    let mut dropped = Drops::default();
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

    let mut numbers = LineNumbers::new(text);
    for line in Parser::new(text) {
        let line = line.map_err(|e| err(e.line, e.reason))?;
        let n = numbers.of(&line);
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
                    Some(_) if base != name && by_name.contains_key(base) => {
                        return Err(err(
                            n,
                            format!("`{base}` and `{name}` declare the same counter family twice"),
                        ));
                    }
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
                    return Err(err(n, format!("second TYPE line for `{name}`")));
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
                // Every label is read and checked; they are kept while within the limit.
                let mut names: Vec<&str> = Vec::new();
                let mut labels: Labels = Vec::new();
                let mut le = None;
                let mut label_bytes = 0usize;
                let mut over = false;
                for l in s.labels() {
                    let (k, v) = l.map_err(|(_, reason)| err(n, reason))?;
                    names.push(k);
                    if k == "le" {
                        le = Some(unescape(v));
                        continue;
                    }
                    if over {
                        continue;
                    }
                    let v = unescape(v);
                    label_bytes = label_bytes.saturating_add(k.len() + v.len());
                    if label_bytes > limits.max_label_bytes {
                        over = true;
                        labels = Vec::new();
                    } else if !v.is_empty() {
                        labels.push((k.into(), v.into()));
                    }
                }
                if let Some(k) = duplicate(&mut names) {
                    return Err(err(n, format!("label `{k}` given twice")));
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
                if suffix == "_created" {
                    // Not served: the gateway writes no `_created` samples.
                    continue;
                }
                match f.kind.get_or_insert(Kind::Gauge) {
                    Kind::Histogram => {
                        let bound = if suffix == "_bucket" {
                            let le = le
                                .as_deref()
                                .and_then(parse_le)
                                .ok_or_else(|| err(n, "a `_bucket` sample needs a numeric `le`"))?;
                            Some(le)
                        } else {
                            None
                        };
                        if over {
                            // Each line is one series as Prometheus stores them.
                            dropped.add(DropReason::LabelBytes, 1);
                            continue;
                        }
                        if suffix == "_count" {
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
                        match bound {
                            Some(le) => f.hists[h].1.push((le, s.value)),
                            None => f.hists[h].2 = Some(s.value),
                        }
                    }
                    _ => {
                        if le.is_some() {
                            return Err(err(n, "`le` is only allowed on histogram buckets"));
                        }
                        if over {
                            dropped.add(DropReason::LabelBytes, 1);
                            continue;
                        }
                        f.numbers.push((labels, s.value));
                    }
                }
            }
        }
    }
    let mut budget = Budget {
        left: limits.max_series,
        full: false,
    };
    let mut out = Vec::new();
    for f in families.into_iter().filter(|f| !f.skipped) {
        if let Some(f) = finish(f, limits, &mut budget, &mut dropped)? {
            out.push(f);
        }
    }
    Ok(Admitted {
        families: out,
        dropped,
    })
}

/// The first name given twice, if any.
fn duplicate<'a>(names: &mut [&'a str]) -> Option<&'a str> {
    if names.len() <= 8 {
        // The usual few labels: no allocation, no sort.
        return names
            .iter()
            .enumerate()
            .find(|(i, k)| names[..*i].contains(k))
            .map(|(_, k)| *k);
    }
    names.sort_unstable();
    names.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
}

/// What is left of `max_series` while families are finished in order.
struct Budget {
    left: usize,
    /// Set at the first series that did not fit: every later one is dropped too.
    full: bool,
}

/// The 1-based line numbers of the lines of `text`, asked in order: each call counts only the
/// newlines since the previous one, so numbering a whole exposition takes linear time.
struct LineNumbers<'t> {
    text: &'t str,
    /// Byte offset and line number of the previous call.
    offset: usize,
    line: usize,
}

impl<'t> LineNumbers<'t> {
    fn new(text: &'t str) -> Self {
        LineNumbers {
            text,
            offset: 0,
            line: 1,
        }
    }

    /// The line `line` (borrowed from the text) is on; 0 for `# EOF`.
    fn of(&mut self, line: &Line<'_>) -> usize {
        let part = match line {
            Line::Help { name, .. } | Line::Type { name, .. } | Line::Unit { name, .. } => *name,
            Line::Sample(s) => s.name,
            Line::Comment(c) => *c,
            Line::Eof => return 0,
        };
        // Both are slices of the same string: the address difference is the byte offset.
        let offset = (part.as_ptr() as usize)
            .saturating_sub(self.text.as_ptr() as usize)
            .min(self.text.len());
        if offset < self.offset {
            // Not in order (never, with the parser): count from the start.
            (self.offset, self.line) = (0, 1);
        }
        self.line += self.text.as_bytes()[self.offset..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.offset = offset;
        self.line
    }
}

fn parse_le(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        _ => s.parse().ok().filter(|v: &f64| !v.is_nan()),
    }
}

/// Checks the family's series (histograms whole, no series twice), keeps those within the
/// limits, and aligns their labels to the family's label names. `None` for a family with no
/// series and no TYPE line (a lone HELP).
fn finish(
    f: Building,
    limits: &Limits,
    budget: &mut Budget,
    dropped: &mut Drops,
) -> Result<Option<OwnedFamily>, ExpositionError> {
    let Some(kind) = f.kind else {
        return Ok(None);
    };
    let mut all: Vec<(Labels, SeriesValue)> = Vec::with_capacity(f.numbers.len() + f.hists.len());
    all.extend(
        f.numbers
            .into_iter()
            .map(|(labels, v)| (labels, SeriesValue::Number(v))),
    );
    for (labels, buckets, sum) in f.hists {
        let hist = histogram(&f.name, buckets, sum)?;
        all.push((labels, SeriesValue::Histogram(hist)));
    }
    let mut seen = HashSet::new();
    for (labels, _) in &all {
        let mut key: Vec<&(Box<str>, Box<str>)> = labels.iter().collect();
        key.sort();
        if !seen.insert(key) {
            return Err(err(
                0,
                format!("family `{}` has the series {labels:?} twice", f.name),
            ));
        }
    }

    let mut label_names: Vec<Box<str>> = Vec::new();
    let mut index: HashMap<Box<str>, usize> = HashMap::new();
    let mut kept: Vec<(Labels, SeriesValue)> = Vec::new();
    for (labels, value) in all {
        let cost = match &value {
            SeriesValue::Number(_) => 1,
            SeriesValue::Histogram(h) => h.buckets.len() + 2,
        };
        let new_names = labels
            .iter()
            .filter(|(k, _)| !index.contains_key(k))
            .count();
        let reason = if budget.full {
            Some(DropReason::SeriesLimit)
        } else if label_names.len() + new_names > limits.max_label_names {
            Some(DropReason::LabelNames)
        } else if cost > budget.left {
            budget.full = true;
            Some(DropReason::SeriesLimit)
        } else {
            None
        };
        if let Some(reason) = reason {
            dropped.add(reason, cost as u64);
            continue;
        }
        budget.left -= cost;
        for (k, _) in &labels {
            if !index.contains_key(k) {
                index.insert(k.clone(), label_names.len());
                label_names.push(k.clone());
            }
        }
        kept.push((labels, value));
    }
    let series = kept
        .into_iter()
        .map(|(labels, value)| {
            let mut aligned = vec![Box::<str>::from(""); label_names.len()];
            for (k, v) in labels {
                aligned[index[&k]] = v;
            }
            Series {
                labels: aligned,
                value,
            }
        })
        .collect();
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
    // Cumulative counts as integers, so that the encoder, summing the per-bucket counts
    // back, gets exactly them (no float rounding, no overflow).
    let mut below = 0u64;
    for (i, &(le, cumulative)) in buckets.iter().enumerate() {
        if i > 0 && buckets[i - 1].0 == le {
            return Err(bad("a bucket bound is given twice"));
        }
        // 2^64: every whole float below it is a u64.
        let whole =
            (0.0..18_446_744_073_709_551_616.0).contains(&cumulative) && cumulative.fract() == 0.0;
        let count = cumulative as u64;
        if !whole || count < below {
            return Err(bad(
                "bucket counts must be whole, below 2^64 and non-decreasing",
            ));
        }
        counts.push(count - below);
        below = count;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(series: usize, label_bytes: usize, label_names: usize) -> Limits {
        Limits {
            max_series: series,
            max_label_bytes: label_bytes,
            max_label_names: label_names,
            ..Limits::NONE
        }
    }

    fn names(a: &Admitted) -> Vec<(&str, usize)> {
        a.families
            .iter()
            .map(|f| (f.name.as_str(), f.series.len()))
            .collect()
    }

    const TEXT: &str = "# TYPE a gauge\na{i=\"1\"} 1\na{i=\"2\"} 2\n\
        # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n\
        # TYPE c counter\nc_total 7\n";

    #[test]
    fn series_are_kept_in_order_up_to_the_limit_histograms_whole() {
        let all = read_limited(TEXT, &Limits::NONE).unwrap();
        assert_eq!(names(&all), [("a", 2), ("h", 1), ("c", 1)]);
        assert!(all.dropped.is_empty());
        // 2 gauges + a histogram of 2 buckets (4 series) + a counter = 7.
        let exact = read_limited(TEXT, &limits(7, usize::MAX, usize::MAX)).unwrap();
        assert_eq!(exact, all);
        // The histogram does not fit in 5: it and everything after it are dropped.
        let cut = read_limited(TEXT, &limits(5, usize::MAX, usize::MAX)).unwrap();
        assert_eq!(names(&cut), [("a", 2), ("h", 0), ("c", 0)]);
        assert_eq!(cut.dropped.get(DropReason::SeriesLimit), 5);
        let one = read_limited(TEXT, &limits(1, usize::MAX, usize::MAX)).unwrap();
        assert_eq!(names(&one), [("a", 1), ("h", 0), ("c", 0)]);
        assert_eq!(one.families[0].series[0].labels, [Box::from("1")]);
        assert_eq!(one.dropped.get(DropReason::SeriesLimit), 6);
    }

    #[test]
    fn labels_over_the_byte_limit_drop_their_series() {
        let text = "# TYPE g gauge\ng{k=\"abc\"} 1\ng{k=\"abcd\"} 2\ng{k=\"a\\\\\"} 3\n\
            # TYPE h histogram\nh_bucket{k=\"abcd\",le=\"1\"} 1\nh_bucket{k=\"abcd\",le=\"+Inf\"} 1\n\
            h_sum{k=\"abcd\"} 1\nh_count{k=\"abcd\"} 1\n";
        // `k` + `abc` = 4 bytes; `a\\` unescapes to 2 bytes; `le` does not count.
        let a = read_limited(text, &limits(usize::MAX, 4, usize::MAX)).unwrap();
        assert_eq!(names(&a), [("g", 2), ("h", 0)]);
        assert_eq!(&*a.families[0].series[1].labels[0], "a\\");
        // One gauge, and the histogram's 2 buckets, sum and count.
        assert_eq!(a.dropped.get(DropReason::LabelBytes), 5);
        assert_eq!(a.dropped.get(DropReason::SeriesLimit), 0);
        // Dropped series do not use up the series limit.
        let b = read_limited(text, &limits(2, 4, usize::MAX)).unwrap();
        assert_eq!(names(&b), [("g", 2), ("h", 0)]);
        assert_eq!(b.dropped, a.dropped);
    }

    #[test]
    fn a_family_keeps_its_label_names_within_the_limit() {
        let text = "x{a=\"1\"} 1\nx{b=\"1\"} 2\nx{a=\"2\",b=\"2\"} 3\nx{c=\"1\"} 4\nx 5\n";
        let a = read_limited(text, &limits(usize::MAX, usize::MAX, 2)).unwrap();
        assert_eq!(names(&a), [("x", 4)]);
        assert_eq!(a.families[0].label_names, [Box::from("a"), Box::from("b")]);
        assert_eq!(a.dropped.get(DropReason::LabelNames), 1);
        let values: Vec<f64> = a.families[0]
            .series
            .iter()
            .map(|s| match s.value {
                SeriesValue::Number(v) => v,
                SeriesValue::Histogram(_) => f64::NAN,
            })
            .collect();
        assert_eq!(values, [1.0, 2.0, 3.0, 5.0]);
    }

    /// Counts that floats can write but a u64 cannot hold are errors, not an overflow in the
    /// encoder; large ones come back exactly.
    #[test]
    fn histogram_counts_stay_exact_and_in_range() {
        let h = |a: &str, b: &str| {
            read(&format!(
                "# TYPE h histogram\nh_bucket{{le=\"1\"}} {a}\nh_bucket{{le=\"+Inf\"}} {b}\nh_sum 0\n"
            ))
        };
        for (a, b) in [
            ("1", "1e30"),
            ("1e19", "2e19"),
            ("-1", "2"),
            ("2", "1"),
            ("0.5", "1"),
        ] {
            assert!(h(a, b).is_err(), "{a} {b}");
        }
        let f = h("1", "18446744073709549568").unwrap();
        let SeriesValue::Histogram(hist) = &f[0].series[0].value else {
            panic!()
        };
        assert_eq!(hist.buckets, [1, 18_446_744_073_709_549_567]);
        let mut out = Vec::new();
        crate::family::encode(&f, metrics_core::Format::Text, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("h_count 18446744073709549568\n"), "{text}");
    }

    #[test]
    fn empty_label_values_are_absent() {
        let a = read("x{a=\"\"} 1\ny{a=\"\",b=\"2\"} 2\n").unwrap();
        assert!(a[0].label_names.is_empty());
        assert_eq!(a[1].label_names, [Box::from("b")]);
        assert!(read("x{a=\"\"} 1\nx 2\n").is_err(), "the same series twice");
    }

    #[test]
    fn invalid_lines_are_errors_even_where_series_would_be_dropped() {
        let tight = limits(0, 0, 0);
        for bad in [
            "# TYPE a counter\na_total 1\n# HELP a_total x\n# TYPE a_total counter\na_total 2\n",
            "# TYPE a gauge\na 1\n# HELP a_total x\n# TYPE a_total counter\na_total 2\n",
            "x{a=\"1\",a=\"2\"} 1\n",
            "# TYPE g gauge\ng{le=\"1\"} 1\n",
            "# TYPE h histogram\nh_bucket{le=\"x\"} 1\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\n",
            "x 1\nx 2\n",
        ] {
            assert!(read_limited(bad, &tight).is_err(), "{bad:?}");
        }
        let many: String = (0..20).map(|i| format!("l{i}=\"v\",")).collect();
        let e = read_limited(&format!("x{{{many}l3=\"w\"}} 1\n"), &tight).unwrap_err();
        assert_eq!(e.reason, "label `l3` given twice");
    }

    /// A megabyte of series that each bring a new label name: the label-name limit keeps the
    /// aligned families small, and reading is linear (this would take minutes and gigabytes
    /// if every series were aligned to every name).
    #[test]
    fn a_label_name_per_series_costs_linear_time_and_bounded_memory() {
        let mut text = String::from("# TYPE x gauge\n");
        let mut i = 0;
        while text.len() < 1 << 20 {
            text.push_str(&format!("x{{n{i}=\"v\"}} 1\n"));
            i += 1;
        }
        let a = read_limited(&text, &Limits::default()).unwrap();
        let f = &a.families[0];
        assert_eq!(f.label_names.len(), crate::limits::DEFAULT_MAX_LABEL_NAMES);
        assert_eq!(f.series.len(), crate::limits::DEFAULT_MAX_LABEL_NAMES);
        assert_eq!(
            a.dropped.get(DropReason::LabelNames) as usize + f.series.len(),
            i
        );
    }
}
