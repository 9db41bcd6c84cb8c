//! The crate's one error type.

use core::fmt;

/// What went wrong, and how to fix it.
///
/// Registration errors come back from [`Registry`](crate::Registry) methods and from
/// [`Desc::new`](crate::Desc::new); encoding errors from the encoders. Every message names the
/// offending value and says what a valid one looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A metric name outside `[a-zA-Z_:][a-zA-Z0-9_:]*`, or starting with `__`.
    InvalidMetricName {
        /// The rejected name, cut to its first 64 bytes.
        name: Truncated,
    },
    /// A label name outside `[a-zA-Z_][a-zA-Z0-9_]*`, or starting with `__`.
    InvalidLabelName {
        /// The rejected name, cut to its first 64 bytes.
        name: Truncated,
    },
    /// `le` or `quantile` as a user label: the encoders generate them.
    ReservedLabelName {
        /// The rejected name.
        name: Truncated,
    },
    /// The same label name twice in one family.
    DuplicateLabelName {
        /// The repeated name.
        name: Truncated,
    },
    /// A unit outside `[a-zA-Z0-9_]+`, or a metric name that does not end with `_<unit>`.
    InvalidUnit {
        /// The rejected unit.
        unit: Truncated,
    },
    /// A second family whose name, or one of whose sample names (`_total`, `_bucket`, `_sum`,
    /// `_count`), is already exposed by a registered family.
    Duplicate {
        /// The name exposed twice.
        name: Truncated,
    },
    /// Histogram bounds that are empty of finite values, not strictly increasing, or NaN.
    InvalidBuckets,
    /// A native histogram's schema outside -4..=8, a zero threshold that is negative, NaN or
    /// infinite, no room for buckets, or restored native counts that do not fit the
    /// observations they belong to.
    InvalidNative,
    /// Bucket counts given for a histogram (e.g. restored from a state file) whose number
    /// differs from the histogram's buckets (its finite bounds plus `+Inf`).
    BucketCount {
        /// The histogram's buckets, `+Inf` included.
        expected: usize,
        /// How many counts the call gave.
        got: usize,
    },
    /// A call gave a number of label values different from the family's label names.
    LabelCount {
        /// How many label names the family declares.
        expected: usize,
        /// How many values the call gave.
        got: usize,
    },
    /// A labelled family is at its cardinality limit and the label values are new.
    CardinalityLimit {
        /// The family's limit.
        limit: usize,
    },
    /// A collector produced a value of a different kind than it was registered as.
    KindMismatch,
    /// A histogram has more buckets than the chunked encoder can hold in its snapshot.
    TooManyBuckets {
        /// The encoder's capacity.
        capacity: usize,
    },
    /// A series with more labels than a Remote-Write request holds per series.
    TooManyLabels {
        /// The most labels a series may have there.
        limit: usize,
    },
    /// A label value longer than a fixed-capacity (`heapless`) family stores per value.
    LabelValueTooLong {
        /// The bytes the family stores per label value.
        capacity: usize,
    },
    /// An exemplar's label names and values add up to more than the 128 UTF-8 characters
    /// OpenMetrics allows.
    ExemplarTooLong {
        /// The characters the label set has.
        chars: usize,
    },
    /// The output sink refused the bytes (full buffer, closed stream).
    Write,
    /// The protobuf exposition was asked of a text writer (`core::fmt::Write`): it is binary.
    BinaryFormat,
    /// A collector gave a family's series other labels or another kind of value while the
    /// protobuf encoder wrote the family than while it measured it (the output is cut short).
    ChangedWhileEncoding,
}

/// A name cut to at most 64 bytes (at a character boundary), stored inline so errors need no
/// heap.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Truncated {
    buf: [u8; 64],
    len: u8,
    cut: bool,
}

impl Truncated {
    /// Copies `s`, cut to the last character boundary at or before 64 bytes.
    pub fn new(s: &str) -> Self {
        Self::concat(&[s])
    }

    /// Copies `parts` one after the other, cut to the last character boundary at or before
    /// 64 bytes.
    pub(crate) fn concat(parts: &[&str]) -> Self {
        let mut t = Truncated {
            buf: [0u8; 64],
            len: 0,
            cut: false,
        };
        for s in parts {
            let at = usize::from(t.len);
            let mut n = s.len().min(64 - at);
            while !s.is_char_boundary(n) {
                n -= 1;
            }
            t.buf[at..at + n].copy_from_slice(&s.as_bytes()[..n]);
            t.len += n as u8;
            t.cut |= n < s.len();
        }
        t
    }

    /// The stored text.
    pub fn as_str(&self) -> &str {
        let bytes = self.buf.get(..usize::from(self.len)).unwrap_or(&[]);
        // SAFETY: `concat`, the only constructor, fills `buf[..len]` with whole `str`s, each cut
        // at one of its char boundaries: valid UTF-8. (`from_utf8` here was 683 bytes of a
        // WASM build, the only use of its validator there.)
        unsafe { core::str::from_utf8_unchecked(bytes) }
    }
}

impl Truncated {
    /// Writes the stored text in double quotes with `\\`, `"` and control characters escaped
    /// as `{:?}` escapes them (what `Debug` writes), without `core::fmt`'s machinery. Other
    /// characters are written as they are: `str`'s `Debug` also escapes unprintable non-ASCII
    /// characters, through Unicode tables that cost about 2.5 KB in a WASM build.
    ///
    /// # Errors
    ///
    /// Fails only if the writer fails.
    pub fn write_quoted<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        w.write_str("\"")?;
        let s = self.as_str();
        let b = s.as_bytes();
        // Byte by byte: every character to escape is ASCII, or a C1 control (U+0080..U+009F,
        // `0xC2 0x80..=0x9F` in UTF-8), so `start` and `i` stay on char boundaries.
        let (mut start, mut i) = (0, 0);
        while i < b.len() {
            let (code, len) = match (b[i], b.get(i + 1)) {
                (0xc2, Some(&c1 @ 0x80..=0x9f)) => (c1, 2),
                (c, _) if c < 0x80 => (c, 1),
                _ => {
                    i += 1;
                    continue;
                }
            };
            let escaped = match code {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0 => "\\0",
                0..=0x1f | 0x7f..=0x9f => "",
                _ => {
                    i += 1;
                    continue;
                }
            };
            // `get` never fails on these boundaries, and has no panic path.
            w.write_str(s.get(start..i).unwrap_or(""))?;
            if escaped.is_empty() {
                // The other controls: `\u{hex}`, lowercase, no leading zero.
                const HEX: &str = "0123456789abcdef";
                let (hi, lo) = (usize::from(code >> 4), usize::from(code & 15));
                w.write_str("\\u{")?;
                if hi > 0 {
                    w.write_str(HEX.get(hi..=hi).unwrap_or(""))?;
                }
                w.write_str(HEX.get(lo..=lo).unwrap_or(""))?;
                w.write_str("}")?;
            } else {
                w.write_str(escaped)?;
            }
            i += len;
            start = i;
        }
        w.write_str(s.get(start..).unwrap_or(""))?;
        w.write_str("\"")
    }
}

impl fmt::Debug for Truncated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_quoted(f)
    }
}

impl fmt::Display for Truncated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if self.cut {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// A piece of an error message.
enum Part<'a> {
    Text(&'a str),
    Quoted(&'a Truncated),
    Number(usize),
}

/// A message that is one piece of text.
fn only(text: &str) -> [Part<'_>; 5] {
    [
        Part::Text(text),
        Part::Text(""),
        Part::Text(""),
        Part::Text(""),
        Part::Text(""),
    ]
}

impl Error {
    /// The message, in pieces: text, the offending name quoted as `{:?}` quotes it, numbers.
    fn parts(&self) -> [Part<'_>; 5] {
        use Part::{Number, Quoted, Text};
        let (head, name, tail) = match self {
            Error::InvalidMetricName { name } => (
                "invalid metric name ",
                name,
                ": use letters, digits, `_` and `:`, not starting with a digit or `__` (e.g. \
                 `http_requests`)",
            ),
            Error::InvalidLabelName { name } => (
                "invalid label name ",
                name,
                ": use letters, digits and `_`, not starting with a digit or `__` (e.g. `method`)",
            ),
            Error::ReservedLabelName { name } => (
                "label name ",
                name,
                " is reserved: the encoders generate `le` and `quantile`; rename the label",
            ),
            Error::DuplicateLabelName { name } => (
                "label name ",
                name,
                " is declared twice; each label name once",
            ),
            Error::InvalidUnit { unit } => (
                "invalid unit ",
                unit,
                ": a unit is letters, digits and `_`, and the metric name must end with \
                 `_<unit>` (e.g. `request_duration_seconds` with unit `seconds`)",
            ),
            Error::Duplicate { name } => (
                "metric name ",
                name,
                " is already exposed by a registered family (names and their \
                 `_total`/`_bucket`/`_sum`/`_count` samples must be unique); register it once \
                 and share the handle, or pick another name",
            ),
            Error::InvalidBuckets => {
                return only(
                    "invalid histogram buckets: give at least one finite upper bound, \
                         strictly increasing, no NaN (`+Inf` is added for you)",
                )
            }
            Error::InvalidNative => {
                return only(
                    "invalid native histogram: give a schema from -4 to 8, a finite zero \
                         threshold >= 0 and room for at least one bucket; restored native \
                         counts need a schema in that range and may count at most the \
                         observations of the classic counts",
                )
            }
            Error::BucketCount { expected, got } => {
                return [
                    Text("wrong number of bucket counts: the histogram has "),
                    Number(*expected),
                    Text(" buckets (`+Inf` included), the call gave "),
                    Number(*got),
                    Text(": give one count per bucket, in the order of its bounds"),
                ]
            }
            Error::LabelCount { expected, got } => {
                return [
                    Text("wrong number of label values: the family declares "),
                    Number(*expected),
                    Text(" label name(s), the call gave "),
                    Number(*got),
                    Text(""),
                ]
            }
            Error::CardinalityLimit { limit } => {
                return [
                    Text("the family is at its cardinality limit of "),
                    Number(*limit),
                    Text(" series; new label values go to its overflow series (label values `"),
                    Text(crate::OVERFLOW_LABEL_VALUE),
                    Text("`): raise the limit or use fewer distinct label values"),
                ]
            }
            Error::KindMismatch => {
                return only(
                    "a collector produced a value of another kind than it was registered \
                         as (e.g. a gauge value for a counter family)",
                )
            }
            Error::TooManyBuckets { capacity } => {
                return [
                    Text(
                        "a histogram has more buckets than the chunked encoder's snapshot holds (",
                    ),
                    Number(*capacity),
                    Text("); raise the encoder's `BUCKETS` parameter"),
                    Text(""),
                    Text(""),
                ]
            }
            Error::TooManyLabels { limit } => {
                return [
                    Text("a series has more labels than a Remote-Write request holds ("),
                    Number(*limit),
                    Text(", `__name__`, `le` and external labels included): use fewer labels"),
                    Text(""),
                    Text(""),
                ]
            }
            Error::LabelValueTooLong { capacity } => {
                return [
                    Text("a label value is longer than the family stores ("),
                    Number(*capacity),
                    Text(" bytes); it is counted in the overflow series (label values `"),
                    Text(crate::OVERFLOW_LABEL_VALUE),
                    Text("`): raise the family's bytes per value or shorten the value"),
                ]
            }
            Error::ExemplarTooLong { chars } => {
                return [
                    Text("an exemplar's label names and values have "),
                    Number(*chars),
                    Text(
                        " characters, more than the 128 OpenMetrics allows: keep only the ids \
                          that link to the observation (e.g. `trace_id`)",
                    ),
                    Text(""),
                    Text(""),
                ]
            }
            Error::Write => return only("the output sink refused the bytes"),
            Error::BinaryFormat => {
                return only(
                    "the protobuf format is binary and cannot go into a text writer: use \
                     `encode_bytes`, `encode_to_vec` or the `ChunkedEncoder`",
                )
            }
            Error::ChangedWhileEncoding => {
                return only(
                    "a collector changed a series' labels or value kind between two reads of \
                     one scrape: a collector must give the same labels for an index while a \
                     scrape runs",
                )
            }
        };
        [Text(head), Quoted(name), Text(tail), Text(""), Text("")]
    }

    /// Writes the message (what `Display` writes) into `w` without `core::fmt`'s formatting
    /// machinery (`write!`, `Arguments`, integer `Display`), which a WASM build then need not
    /// link: the wasm package builds its JS error messages with it.
    ///
    /// # Errors
    ///
    /// Fails only if the writer fails.
    pub fn write_message<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        for part in self.parts() {
            match part {
                Part::Text(s) => w.write_str(s)?,
                Part::Quoted(name) => name.write_quoted(w)?,
                Part::Number(n) => crate::encoding::float::write_u64(w, n as u64)?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

impl From<fmt::Error> for Error {
    fn from(_: fmt::Error) -> Self {
        Error::Write
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::format;

    /// The exact messages (the wasm package's errors and the CLIs print them).
    #[test]
    fn messages() {
        let t = Truncated::new;
        let cases = [
            (Error::InvalidMetricName { name: t("9x") }, "invalid metric name \"9x\": use letters, digits, `_` and `:`, not starting with a digit or `__` (e.g. `http_requests`)"),
            (Error::InvalidLabelName { name: t("a-b") }, "invalid label name \"a-b\": use letters, digits and `_`, not starting with a digit or `__` (e.g. `method`)"),
            (Error::ReservedLabelName { name: t("le") }, "label name \"le\" is reserved: the encoders generate `le` and `quantile`; rename the label"),
            (Error::DuplicateLabelName { name: t("a") }, "label name \"a\" is declared twice; each label name once"),
            (Error::InvalidUnit { unit: t("s-") }, "invalid unit \"s-\": a unit is letters, digits and `_`, and the metric name must end with `_<unit>` (e.g. `request_duration_seconds` with unit `seconds`)"),
            (Error::Duplicate { name: t("jobs_total") }, "metric name \"jobs_total\" is already exposed by a registered family (names and their `_total`/`_bucket`/`_sum`/`_count` samples must be unique); register it once and share the handle, or pick another name"),
            (Error::InvalidBuckets, "invalid histogram buckets: give at least one finite upper bound, strictly increasing, no NaN (`+Inf` is added for you)"),
            (Error::InvalidNative, "invalid native histogram: give a schema from -4 to 8, a finite zero threshold >= 0 and room for at least one bucket; restored native counts need a schema in that range and may count at most the observations of the classic counts"),
            (Error::BucketCount { expected: 3, got: 2 }, "wrong number of bucket counts: the histogram has 3 buckets (`+Inf` included), the call gave 2: give one count per bucket, in the order of its bounds"),
            (Error::LabelCount { expected: 1, got: 20 }, "wrong number of label values: the family declares 1 label name(s), the call gave 20"),
            (Error::CardinalityLimit { limit: 10_000 }, "the family is at its cardinality limit of 10000 series; new label values go to its overflow series (label values `__overflow__`): raise the limit or use fewer distinct label values"),
            (Error::KindMismatch, "a collector produced a value of another kind than it was registered as (e.g. a gauge value for a counter family)"),
            (Error::TooManyBuckets { capacity: 0 }, "a histogram has more buckets than the chunked encoder's snapshot holds (0); raise the encoder's `BUCKETS` parameter"),
            (Error::TooManyLabels { limit: 48 }, "a series has more labels than a Remote-Write request holds (48, `__name__`, `le` and external labels included): use fewer labels"),
            (Error::LabelValueTooLong { capacity: 8 }, "a label value is longer than the family stores (8 bytes); it is counted in the overflow series (label values `__overflow__`): raise the family's bytes per value or shorten the value"),
            (Error::ExemplarTooLong { chars: 129 }, "an exemplar's label names and values have 129 characters, more than the 128 OpenMetrics allows: keep only the ids that link to the observation (e.g. `trace_id`)"),
            (Error::Write, "the output sink refused the bytes"),
            (Error::BinaryFormat, "the protobuf format is binary and cannot go into a text writer: use `encode_bytes`, `encode_to_vec` or the `ChunkedEncoder`"),
            (Error::ChangedWhileEncoding, "a collector changed a series' labels or value kind between two reads of one scrape: a collector must give the same labels for an index while a scrape runs"),
        ];
        for (e, want) in cases {
            assert_eq!(format!("{e}"), want);
            let mut s = std::string::String::new();
            e.write_message(&mut s).unwrap();
            assert_eq!(s, want);
        }
    }

    #[test]
    fn truncated_debug_escapes_like_str_debug() {
        // Every ASCII character (controls, quotes, backslash) and some printable non-ASCII.
        let mut all = std::string::String::new();
        for b in 0u8..0x80 {
            all.push(char::from(b));
        }
        for s in [
            "9lives",
            "a\"b\\c\nd\re\tf\0g",
            "\u{1b}[0m",
            "\u{7f}",
            "\u{85}",
            "a\u{80}b\u{9f}c\u{7f}",
            "größe_µs",
            "日本",
            &all[..60],
            &all[60..120],
            &all[120..],
        ] {
            assert_eq!(format!("{:?}", Truncated::new(s)), format!("{s:?}"), "{s}");
        }
        assert_eq!(
            format!(
                "{}",
                Error::InvalidMetricName {
                    name: Truncated::new("a\"b")
                }
            ),
            "invalid metric name \"a\\\"b\": use letters, digits, `_` and `:`, not starting with \
             a digit or `__` (e.g. `http_requests`)"
        );
    }
}
