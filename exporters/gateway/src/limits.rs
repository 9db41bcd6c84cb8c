//! What the gateway accepts from a device: limits on the size of its answer, on its series
//! and on their labels, and [`admit`], which turns the bytes of one answer into families
//! within those limits (everything a device sends is untrusted input).
//!
//! An answer is *rejected* (the scrape fails, the device is down for it) when it is larger
//! than [`Limits::max_response_bytes`], is not UTF-8, or is not a valid exposition. Within an
//! accepted answer, series are *dropped*, and counted by [`DropReason`], when they pass the
//! label limits or come after the series limit; the rest is served.

use std::fmt;
use std::marker::PhantomData;

use crate::exposition::{self, ExpositionError};
use crate::family::OwnedFamily;

/// Default for [`Limits::max_response_bytes`]: 1 MiB of exposition.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1 << 20;
/// Default for [`Limits::max_series`].
pub const DEFAULT_MAX_SERIES: usize = 10_000;
/// Default for [`Limits::max_label_bytes`].
pub const DEFAULT_MAX_LABEL_BYTES: usize = 4096;
/// Default for [`Limits::max_label_names`].
pub const DEFAULT_MAX_LABEL_NAMES: usize = 64;

/// The limits on one device's answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest exposition one scrape reads, in bytes. The codec stops reading at the
    /// frame that crosses it and the answer is rejected.
    pub max_response_bytes: usize,
    /// The most series kept per scrape, counted as Prometheus stores them: a counter or gauge
    /// is one, a histogram with N buckets (`+Inf` included) is N + 2 (its `_sum` and
    /// `_count`). Series are kept in the order the device sent them; from the first one that
    /// does not fit (a histogram is kept or dropped whole), the rest are dropped.
    pub max_series: usize,
    /// The most bytes of label names and values (unescaped, `le` not counted) one series may
    /// carry; a series with more is dropped.
    pub max_label_bytes: usize,
    /// The most label names one family may use between its series (each series is served with
    /// every label name of its family); a series that would bring more is dropped.
    pub max_label_names: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_series: DEFAULT_MAX_SERIES,
            max_label_bytes: DEFAULT_MAX_LABEL_BYTES,
            max_label_names: DEFAULT_MAX_LABEL_NAMES,
        }
    }
}

impl Limits {
    /// No limit at all: for expositions the gateway trusts (tests, its own output).
    pub const NONE: Limits = Limits {
        max_response_bytes: usize::MAX,
        max_series: usize::MAX,
        max_label_bytes: usize::MAX,
        max_label_names: usize::MAX,
    };
}

/// A reason something a device sent was left out: the `reason` label of a counter.
pub trait Reason: Copy + 'static {
    /// Every reason, in the order the metric lists them (at most [`MAX_REASONS`]).
    const ALL: &'static [Self];
    /// The `reason` label value.
    fn label(self) -> &'static str;
    /// The position in [`ALL`](Self::ALL).
    fn index(self) -> usize;
}

/// The most reasons a [`Reason`] type may have.
pub const MAX_REASONS: usize = 4;

/// A count per reason `R`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts<R> {
    counts: [u64; MAX_REASONS],
    reason: PhantomData<R>,
}

impl<R> Default for Counts<R> {
    fn default() -> Self {
        Counts {
            counts: [0; MAX_REASONS],
            reason: PhantomData,
        }
    }
}

impl<R: Reason> Counts<R> {
    /// The count for `reason`.
    pub fn get(&self, reason: R) -> u64 {
        self.counts[reason.index()]
    }

    /// Counts `n` more for `reason`.
    pub fn add(&mut self, reason: R, n: u64) {
        let c = &mut self.counts[reason.index()];
        *c = c.saturating_add(n);
    }

    /// Adds every count of `other`.
    pub fn add_all(&mut self, other: &Counts<R>) {
        for r in R::ALL {
            self.add(*r, other.get(*r));
        }
    }

    /// True when every count is 0.
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|n| *n == 0)
    }
}

/// Series dropped from one answer, per [`DropReason`], counted as in [`Limits::max_series`].
pub type Drops = Counts<DropReason>;
/// Answers rejected, per [`RejectReason`].
pub type Rejections = Counts<RejectReason>;

/// Why series of an accepted answer were dropped: the `reason` label of
/// `gateway_device_dropped_series_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The series came after [`Limits::max_series`] was reached.
    SeriesLimit,
    /// The series' labels passed [`Limits::max_label_bytes`].
    LabelBytes,
    /// The series would have brought its family past [`Limits::max_label_names`].
    LabelNames,
}

impl Reason for DropReason {
    const ALL: &'static [DropReason] = &[
        DropReason::SeriesLimit,
        DropReason::LabelBytes,
        DropReason::LabelNames,
    ];

    fn label(self) -> &'static str {
        match self {
            DropReason::SeriesLimit => "series_limit",
            DropReason::LabelBytes => "label_bytes",
            DropReason::LabelNames => "label_names",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl DropReason {
    /// The setting that decides it (the config key; the flag is `--` and the key with `-`).
    pub fn setting(self) -> &'static str {
        match self {
            DropReason::SeriesLimit => "max_series",
            DropReason::LabelBytes => "max_label_bytes",
            DropReason::LabelNames => "max_label_names",
        }
    }

    /// Its limit in `limits`.
    pub fn limit(self, limits: &Limits) -> usize {
        match self {
            DropReason::SeriesLimit => limits.max_series,
            DropReason::LabelBytes => limits.max_label_bytes,
            DropReason::LabelNames => limits.max_label_names,
        }
    }
}

/// Why an answer was rejected: the `reason` label of
/// `gateway_device_rejected_responses_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// Larger than [`Limits::max_response_bytes`].
    TooLarge,
    /// Not UTF-8.
    NotUtf8,
    /// Not a valid text exposition.
    Invalid,
}

impl Reason for RejectReason {
    const ALL: &'static [RejectReason] = &[
        RejectReason::TooLarge,
        RejectReason::NotUtf8,
        RejectReason::Invalid,
    ];

    fn label(self) -> &'static str {
        match self {
            RejectReason::TooLarge => "too_large",
            RejectReason::NotUtf8 => "not_utf8",
            RejectReason::Invalid => "invalid",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

const _: () =
    assert!(DropReason::ALL.len() <= MAX_REASONS && RejectReason::ALL.len() <= MAX_REASONS);

/// An answer the gateway does not serve, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The exposition is larger than the limit.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The exposition is not UTF-8.
    NotUtf8 {
        /// Offset of the first byte that is not.
        offset: usize,
        /// Its 1-based line.
        line: usize,
        /// That byte.
        byte: u8,
    },
    /// The exposition cannot be read.
    Invalid(ExpositionError),
}

impl Rejection {
    /// The reason, for the counter.
    pub fn reason(&self) -> RejectReason {
        match self {
            Rejection::TooLarge { .. } => RejectReason::TooLarge,
            Rejection::NotUtf8 { .. } => RejectReason::NotUtf8,
            Rejection::Invalid(_) => RejectReason::Invalid,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::TooLarge { limit } => write!(
                f,
                "the exposition is larger than max_response_bytes ({limit} bytes), so the \
                 gateway stopped reading it: raise max_response_bytes for this device \
                 (--max-response-bytes, or in the config file) or make the device expose less"
            ),
            Rejection::NotUtf8 { offset, line, byte } => write!(
                f,
                "the exposition is not UTF-8 (byte {byte:#04x} at offset {offset}, line {line}); \
                 the text format must be UTF-8: fix the names, label values or help texts the \
                 device writes"
            ),
            Rejection::Invalid(e) => write!(f, "{e}: fix what the device writes"),
        }
    }
}

impl std::error::Error for Rejection {}

/// An accepted answer: the families to serve, and the series left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Admitted {
    /// The families, within the limits, in the order the device sent them.
    pub families: Vec<OwnedFamily>,
    /// Series left out, per reason.
    pub dropped: Drops,
}

/// Reads one device's answer (`body`, the exposition as received) within `limits`: checks its
/// size and UTF-8, reads it with the core's parser, and keeps the series within the series
/// and label limits. Never panics, and its memory is bounded by the limits; whatever it
/// returns merges ([`merge`](crate::merge::merge)) and encodes.
pub fn admit(body: &[u8], limits: &Limits) -> Result<Admitted, Rejection> {
    if body.len() > limits.max_response_bytes {
        return Err(Rejection::TooLarge {
            limit: limits.max_response_bytes,
        });
    }
    let text = std::str::from_utf8(body).map_err(|e| {
        let offset = e.valid_up_to();
        Rejection::NotUtf8 {
            offset,
            line: body[..offset].iter().filter(|b| **b == b'\n').count() + 1,
            byte: body[offset],
        }
    })?;
    exposition::read_limited(text, limits).map_err(Rejection::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_and_utf8_are_checked_first() {
        let limits = Limits {
            max_response_bytes: 8,
            ..Limits::default()
        };
        assert_eq!(admit(b"x 1\n", &limits).unwrap().families.len(), 1);
        assert_eq!(
            admit(b"x 1\ny 22\n", &limits),
            Err(Rejection::TooLarge { limit: 8 })
        );
        let e = admit(b"x 1\ny{a=\"\xff\"} 2\n", &Limits::default()).unwrap_err();
        assert_eq!(
            e,
            Rejection::NotUtf8 {
                offset: 9,
                line: 2,
                byte: 0xff
            }
        );
        assert_eq!(e.reason().label(), "not_utf8");
        assert!(e.to_string().contains("offset 9, line 2"), "{e}");
        let e = admit(b"x{ 1\n", &Limits::default()).unwrap_err();
        assert_eq!(e.reason(), RejectReason::Invalid);
        assert!(
            e.to_string().starts_with("invalid exposition, line 1"),
            "{e}"
        );
    }

    #[test]
    fn counts_add_up_by_reason() {
        let mut d = Drops::default();
        assert!(d.is_empty());
        d.add(DropReason::LabelBytes, 3);
        let mut total = Drops::default();
        total.add_all(&d);
        total.add_all(&d);
        assert_eq!(total.get(DropReason::LabelBytes), 6);
        assert_eq!(total.get(DropReason::SeriesLimit), 0);
        let mut r = Rejections::default();
        r.add(RejectReason::NotUtf8, 1);
        let counts: Vec<u64> = RejectReason::ALL.iter().map(|x| r.get(*x)).collect();
        assert_eq!(counts, [0, 1, 0], "indexed by reason");
        for (i, x) in DropReason::ALL.iter().enumerate() {
            assert_eq!(x.index(), i);
        }
        for (i, x) in RejectReason::ALL.iter().enumerate() {
            assert_eq!(x.index(), i);
        }
    }
}
