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
    /// The output sink refused the bytes (full buffer, closed stream).
    Write,
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
        let mut len = s.len().min(64);
        while !s.is_char_boundary(len) {
            len -= 1;
        }
        let mut buf = [0u8; 64];
        buf[..len].copy_from_slice(&s.as_bytes()[..len]);
        Truncated {
            buf,
            len: len as u8,
            cut: len < s.len(),
        }
    }

    /// The stored text.
    pub fn as_str(&self) -> &str {
        // The copy ends on a char boundary of a valid `str`, so it is valid UTF-8.
        core::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Debug for Truncated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Quoted(self.as_str()), f)
    }
}

/// `s` in double quotes with `\`, `"` and control characters escaped as `{:?}` escapes them.
/// Other characters are written as they are: `str`'s `Debug` also escapes unprintable
/// non-ASCII characters, through Unicode tables that cost about 2.5 KB in a WASM build.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\0' => f.write_str("\\0")?,
                c if c.is_control() => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidMetricName { name } => write!(
                f,
                "invalid metric name {name:?}: use letters, digits, `_` and `:`, not starting with \
                 a digit or `__` (e.g. `http_requests`)"
            ),
            Error::InvalidLabelName { name } => write!(
                f,
                "invalid label name {name:?}: use letters, digits and `_`, not starting with a \
                 digit or `__` (e.g. `method`)"
            ),
            Error::ReservedLabelName { name } => write!(
                f,
                "label name {name:?} is reserved: the encoders generate `le` and `quantile`; \
                 rename the label"
            ),
            Error::DuplicateLabelName { name } => {
                write!(
                    f,
                    "label name {name:?} is declared twice; each label name once"
                )
            }
            Error::InvalidUnit { unit } => write!(
                f,
                "invalid unit {unit:?}: a unit is letters, digits and `_`, and the metric name \
                 must end with `_<unit>` (e.g. `request_duration_seconds` with unit `seconds`)"
            ),
            Error::Duplicate { name } => write!(
                f,
                "metric name {name:?} is already exposed by a registered family (names and their \
                 `_total`/`_bucket`/`_sum`/`_count` samples must be unique); register it once and \
                 share the handle, or pick another name"
            ),
            Error::InvalidBuckets => f.write_str(
                "invalid histogram buckets: give at least one finite upper bound, strictly \
                 increasing, no NaN (`+Inf` is added for you)",
            ),
            Error::LabelCount { expected, got } => write!(
                f,
                "wrong number of label values: the family declares {expected} label name(s), the \
                 call gave {got}"
            ),
            Error::CardinalityLimit { limit } => write!(
                f,
                "the family is at its cardinality limit of {limit} series; new label values go to \
                 its overflow series (label values `{}`): raise the limit or use fewer distinct \
                 label values",
                crate::OVERFLOW_LABEL_VALUE
            ),
            Error::KindMismatch => f.write_str(
                "a collector produced a value of another kind than it was registered as (e.g. a \
                 gauge value for a counter family)",
            ),
            Error::TooManyBuckets { capacity } => write!(
                f,
                "a histogram has more buckets than the chunked encoder's snapshot holds \
                 ({capacity}); raise the encoder's `BUCKETS` parameter"
            ),
            Error::Write => f.write_str("the output sink refused the bytes"),
        }
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
