//! A zero-copy reader of the Prometheus text format 0.0.4 and OpenMetrics 1.0.
//!
//! [`Parser`] walks an exposition line by line and yields [`Line`]s that borrow from the input:
//! names, HELP text and label values are slices of it, still escaped ([`Escaped`] unescapes on
//! demand, into any `fmt::Write`). It allocates nothing, never panics, and reports the line and
//! column of what it cannot read. The gateway uses it to relabel what a device sends; tests use
//! it to read back what the encoders wrote.
//!
//! ```
//! use metrics_core::parse::{Line, Parser};
//! let text = "# TYPE jobs_total counter\njobs_total{queue=\"a\\\"b\"} 3\n";
//! let mut lines = Parser::new(text);
//! assert!(matches!(lines.next(), Some(Ok(Line::Type { name: "jobs_total", kind: "counter" }))));
//! let Some(Ok(Line::Sample(s))) = lines.next() else { panic!() };
//! assert_eq!(s.name, "jobs_total");
//! assert_eq!(s.value, 3.0);
//! let (label, value) = s.labels().next().unwrap().unwrap();
//! assert_eq!(label, "queue");
//! let mut unescaped = String::new();
//! value.write_to(&mut unescaped).unwrap();
//! assert_eq!(unescaped, "a\"b");
//! assert!(lines.next().is_none());
//! ```

use core::fmt;

/// One line of an exposition.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Line<'a> {
    /// `# HELP name text` (text still escaped).
    Help {
        /// The family name.
        name: &'a str,
        /// The escaped help text.
        text: Escaped<'a>,
    },
    /// `# TYPE name kind`.
    Type {
        /// The family name.
        name: &'a str,
        /// The type word (`counter`, `gauge`, `histogram`, `summary`, `untyped`, `unknown`, …).
        kind: &'a str,
    },
    /// `# UNIT name unit` (OpenMetrics).
    Unit {
        /// The family name.
        name: &'a str,
        /// The unit.
        unit: &'a str,
    },
    /// `# EOF` (OpenMetrics).
    Eof,
    /// Any other `#` line.
    Comment(&'a str),
    /// A sample line.
    Sample(Sample<'a>),
}

/// A sample: name, labels (read lazily), value and optional timestamp.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample<'a> {
    /// The metric name.
    pub name: &'a str,
    /// The text between `{` and `}` (empty without labels), checked when the line was read.
    pub raw_labels: &'a str,
    /// The value.
    pub value: f64,
    /// The value exactly as written (for relaying it unchanged).
    pub raw_value: &'a str,
    /// The timestamp, as written, if any.
    pub timestamp: Option<&'a str>,
    /// An OpenMetrics exemplar after the value (and timestamp), as written after ` # `
    /// (`{trace_id="…"} 0.3 1700000000.123`), if any; its label list was checked.
    pub exemplar: Option<&'a str>,
}

impl<'a> Sample<'a> {
    /// The labels, in order, as `(name, escaped value)`.
    pub fn labels(&self) -> Labels<'a> {
        Labels {
            rest: self.raw_labels,
            offset: 0,
        }
    }
}

/// A still-escaped string (`\\`, `\"`, `\n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Escaped<'a>(pub &'a str);

impl<'a> Escaped<'a> {
    /// The text as written, escapes included.
    pub fn raw(&self) -> &'a str {
        self.0
    }

    /// Writes the unescaped text (an unknown escape is kept as written, as Prometheus does).
    pub fn write_to<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        let s = self.0;
        let mut start = 0;
        let b = s.as_bytes();
        let mut i = 0;
        while i + 1 < b.len() {
            if b[i] == b'\\' {
                let rep = match b[i + 1] {
                    b'\\' => "\\",
                    b'"' => "\"",
                    b'n' => "\n",
                    _ => {
                        i += 1;
                        continue;
                    }
                };
                w.write_str(&s[start..i])?;
                w.write_str(rep)?;
                i += 2;
                start = i;
            } else {
                i += 1;
            }
        }
        w.write_str(&s[start..])
    }

    /// True when unescaping changes nothing (no backslash).
    pub fn is_plain(&self) -> bool {
        !self.0.contains('\\')
    }
}

/// What could not be read, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (in bytes) where the problem starts.
    pub column: usize,
    /// What is wrong.
    pub reason: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.reason
        )
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ParseError {}

/// Iterates over the lines of an exposition.
#[derive(Clone, Debug)]
pub struct Parser<'a> {
    rest: &'a str,
    line: usize,
}

impl<'a> Parser<'a> {
    /// A parser at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Parser {
            rest: text,
            line: 0,
        }
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Line<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (line, rest) = match self.rest.find('\n') {
                Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
                None => (self.rest, ""),
            };
            self.rest = rest;
            self.line += 1;
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            let n = self.line;
            return Some(parse_line(line).map_err(|(column, reason)| ParseError {
                line: n,
                column,
                reason,
            }));
        }
    }
}

type LineResult<'a> = Result<Line<'a>, (usize, &'static str)>;

fn parse_line(line: &str) -> LineResult<'_> {
    if let Some(comment) = line.strip_prefix('#') {
        return Ok(parse_comment(line, comment));
    }
    parse_sample(line).map(Line::Sample)
}

fn parse_comment<'a>(line: &'a str, comment: &'a str) -> Line<'a> {
    let body = comment.strip_prefix(' ').unwrap_or(comment);
    if body == "EOF" {
        return Line::Eof;
    }
    let mut words = body.splitn(3, ' ');
    let (Some(keyword), Some(name)) = (words.next(), words.next()) else {
        return Line::Comment(line);
    };
    let rest = words.next().unwrap_or("");
    if !is_metric_name(name) {
        return Line::Comment(line);
    }
    match keyword {
        "HELP" => Line::Help {
            name,
            text: Escaped(rest),
        },
        "TYPE" if !rest.is_empty() => Line::Type {
            name,
            kind: rest.trim(),
        },
        "UNIT" => Line::Unit {
            name,
            unit: rest.trim(),
        },
        _ => Line::Comment(line),
    }
}

fn is_metric_name(s: &str) -> bool {
    crate::name::metric_name_problem(s).is_none() || s.starts_with("__")
}

fn parse_sample(line: &str) -> Result<Sample<'_>, (usize, &'static str)> {
    let b = line.as_bytes();
    let end = b
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_' || *c == b':'))
        .unwrap_or(b.len());
    let name = &line[..end];
    if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
        return Err((1, "expected a metric name"));
    }
    let mut pos = end;
    let mut raw_labels = "";
    if b.get(pos) == Some(&b'{') {
        let close = labels_end(line, pos + 1)?;
        raw_labels = &line[pos + 1..close];
        pos = close + 1;
    }
    if b.get(pos) != Some(&b' ') {
        return Err((pos + 1, "expected a space before the value"));
    }
    // An exemplar (` # {labels} value [timestamp]`) ends the line.
    let (body, exemplar) = match line[pos..].find(" # ") {
        Some(i) => {
            let at = pos + i + 3;
            check_exemplar(line, at)?;
            (&line[..pos + i], Some(&line[at..]))
        }
        None => (line, None),
    };
    let mut fields = body[pos..].split_ascii_whitespace();
    let raw_value = fields.next().ok_or((pos + 1, "expected a value"))?;
    let value = parse_value(raw_value).ok_or((pos + 2, "the value is not a number"))?;
    let timestamp = fields.next();
    if let Some(ts) = timestamp {
        if parse_value(ts).is_none() {
            return Err((line.len() - ts.len() + 1, "the timestamp is not a number"));
        }
    }
    if fields.next().is_some() {
        return Err((line.len(), "unexpected text after the timestamp"));
    }
    Ok(Sample {
        name,
        raw_labels,
        value,
        raw_value,
        timestamp,
        exemplar,
    })
}

/// Checks an exemplar starting at byte `at`: `{labels} value [timestamp]`.
fn check_exemplar(line: &str, at: usize) -> Result<(), (usize, &'static str)> {
    if line.as_bytes().get(at) != Some(&b'{') {
        return Err((at + 1, "expected `{` to start the exemplar's labels"));
    }
    let close = labels_end(line, at + 1)?;
    let mut fields = line[close + 1..].split_ascii_whitespace();
    let ok = fields.next().is_some_and(|v| parse_value(v).is_some())
        && fields.next().is_none_or(|t| parse_value(t).is_some())
        && fields.next().is_none();
    if !ok {
        return Err((
            close + 2,
            "the exemplar's value or timestamp is not a number",
        ));
    }
    Ok(())
}

/// Checks the label list starting at byte `start` (after `{`) and returns the index of `}`.
fn labels_end(line: &str, start: usize) -> Result<usize, (usize, &'static str)> {
    let mut labels = Labels {
        rest: &line[start..],
        offset: start,
    };
    for l in &mut labels {
        l?;
    }
    // `Labels` stops at `}`: its offset points at it.
    match line.as_bytes().get(labels.offset) {
        Some(b'}') => Ok(labels.offset),
        _ => Err((labels.offset + 1, "expected `}` to close the labels")),
    }
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => {
            // `str::parse` also takes "infinity" and "nan" spellings handled above; reject the
            // rest of its extensions by requiring a digit.
            if !s.bytes().any(|c| c.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        }
    }
}

/// The labels of a sample, as `(name, escaped value)`.
#[derive(Clone, Debug)]
pub struct Labels<'a> {
    rest: &'a str,
    /// Byte offset of `rest` in the line (for error columns).
    offset: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = Result<(&'a str, Escaped<'a>), (usize, &'static str)>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest;
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() && (b[i] == b' ' || b[i] == b',') {
            i += 1;
        }
        if i == b.len() || b[i] == b'}' {
            self.offset += i;
            self.rest = &s[i..];
            return None;
        }
        let name_start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        let name = &s[name_start..i];
        if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
            return Some(Err((self.offset + name_start + 1, "expected a label name")));
        }
        if b.get(i) != Some(&b'=') || b.get(i + 1) != Some(&b'"') {
            return Some(Err((
                self.offset + i + 1,
                "expected `=\"` after the label name",
            )));
        }
        i += 2;
        let value_start = i;
        loop {
            match b.get(i) {
                None => return Some(Err((self.offset + value_start, "unterminated label value"))),
                Some(b'\\') => i += 2,
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        let value = &s[value_start..i];
        i += 1;
        if let Some(c) = b.get(i) {
            if *c != b',' && *c != b'}' {
                return Some(Err((
                    self.offset + i + 1,
                    "expected `,` or `}` after a label",
                )));
            }
        }
        self.offset += i;
        self.rest = &s[i..];
        Some(Ok((name, Escaped(value))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn unescape(e: Escaped<'_>) -> String {
        let mut s = String::new();
        e.write_to(&mut s).unwrap();
        s
    }

    #[test]
    fn reads_every_kind_of_line() {
        let text = "# HELP a_total Help \\\\ with\\nnewline.\n# TYPE a_total counter\n\
                    # UNIT b_seconds seconds\n# just a comment\n\n\
                    a_total{x=\"1\",y=\"q\\\"\"} 1.5e3 1700000000\nb_seconds NaN\nc -Inf\n# EOF\n";
        let lines: Vec<_> = Parser::new(text).collect::<Result<_, _>>().unwrap();
        assert_eq!(lines.len(), 8);
        match lines[0] {
            Line::Help { name, text } => {
                assert_eq!(name, "a_total");
                assert_eq!(unescape(text), "Help \\ with\nnewline.");
            }
            ref other => panic!("{other:?}"),
        }
        assert_eq!(
            lines[2],
            Line::Unit {
                name: "b_seconds",
                unit: "seconds"
            }
        );
        assert!(matches!(lines[3], Line::Comment("# just a comment")));
        let Line::Sample(s) = lines[4] else { panic!() };
        assert_eq!(
            (s.name, s.value, s.timestamp),
            ("a_total", 1500.0, Some("1700000000"))
        );
        let labels: Vec<_> = s
            .labels()
            .map(|l| l.map(|(k, v)| (k, unescape(v))))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(labels, [("x", "1".into()), ("y", "q\"".into())]);
        let Line::Sample(s) = lines[5] else { panic!() };
        assert!(s.value.is_nan());
        assert_eq!(lines[7], Line::Eof);
    }

    #[test]
    fn reads_exemplars() {
        let text = "a_total 3 # {trace_id=\"x # y\"} 2 1700000000.123\n\
                    b_bucket{le=\"1.0\"} 2 1700000000 # {run_id=\"r\"} 0.5\nc 1\n";
        let lines: Vec<_> = Parser::new(text).collect::<Result<_, _>>().unwrap();
        let Line::Sample(a) = lines[0] else { panic!() };
        assert_eq!(
            (a.value, a.timestamp, a.exemplar),
            (3.0, None, Some("{trace_id=\"x # y\"} 2 1700000000.123"))
        );
        let Line::Sample(b) = lines[1] else { panic!() };
        assert_eq!(
            (b.value, b.timestamp, b.exemplar),
            (2.0, Some("1700000000"), Some("{run_id=\"r\"} 0.5"))
        );
        let Line::Sample(c) = lines[2] else { panic!() };
        assert_eq!(c.exemplar, None);
        for bad in [
            "a 1 # x",
            "a 1 # {a=\"b\"}",
            "a 1 # {a=\"b\"} x",
            "a 1 # {a=b} 1",
        ] {
            assert!(Parser::new(bad).next().unwrap().is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_line_and_column() {
        for (text, line, column) in [
            ("ok 1\nbad{x=\"1\" 2\n", 2, 10),
            ("x{y=1} 2", 1, 4),
            ("x{y=\"1\"} abc", 1, 10),
            ("x{y=\"unterminated} 1", 1, 5),
            ("9x 1", 1, 1),
            ("x", 1, 2),
            ("x 1 2 3", 1, 7),
        ] {
            let err = Parser::new(text)
                .find_map(Result::err)
                .unwrap_or_else(|| panic!("{text:?} parsed"));
            assert_eq!((err.line, err.column), (line, column), "{text:?}: {err}");
        }
    }

    #[test]
    fn reads_back_what_the_encoder_wrote() {
        use crate::{Format, Registry};
        let mut r = Registry::new();
        let f = r.counter_family("c", "h\\elp", &["a"]).unwrap();
        f.labels(&["q\"uo\\te\nline"]).inc_by(7);
        let h = r.histogram("h_seconds", "", &[0.5, 1.0]).unwrap();
        h.observe(0.7);
        for format in [Format::Text, Format::OpenMetrics] {
            let mut out = String::new();
            crate::encode(&r, format, &mut out).unwrap();
            let samples: Vec<_> = Parser::new(&out)
                .filter_map(|l| match l.unwrap() {
                    Line::Sample(s) => Some(s),
                    _ => None,
                })
                .collect();
            assert_eq!(samples.len(), 1 + 3 + 2, "{out}");
            let (_, v) = samples[0].labels().next().unwrap().unwrap();
            assert_eq!(unescape(v), "q\"uo\\te\nline");
            assert_eq!(samples[0].value, 7.0);
            assert_eq!(samples[2].raw_labels, "le=\"1.0\"");
        }
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"a_{}=\",\\ \n#01.eE+-InfNa:TYPEHELP";
        for _ in 0..2_000 {
            let mut s = String::new();
            for _ in 0..(x % 40) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push(alphabet[(x % alphabet.len() as u64) as usize] as char);
            }
            for line in Parser::new(&s) {
                if let Ok(Line::Sample(s)) = line {
                    s.labels().for_each(drop);
                }
            }
        }
    }
}
