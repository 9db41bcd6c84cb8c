//! What became of a push request: the `result` label of `gateway_push_requests_total`, the
//! HTTP status it is answered with, and, for a refusal, the message that says what is wrong.

use std::fmt;

/// What became of one request to the push endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PushResult {
    /// 200: added to the group's totals and saved.
    Ok,
    /// 200: the group already applied a push with this `Idempotency-Key`; nothing added.
    Duplicate,
    /// 400: not a text exposition, or a family that is not a counter, gauge or histogram, a
    /// timestamp, an invalid name, an unsupported `Content-Type`.
    Malformed,
    /// 400: a counter increment (or a histogram bucket count) negative, NaN or infinite.
    NegativeIncrement,
    /// 400: a series label that is also a grouping label of the push.
    LabelClash,
    /// 409: a family whose type (or whose sample names) differ from what the gateway holds.
    TypeConflict,
    /// 409: a histogram whose bucket bounds differ from the family's.
    BucketMismatch,
    /// 409: a series whose labels, with its grouping labels, are another group's series.
    SeriesConflict,
    /// 413: a body over `--push-max-body-size`.
    TooLarge,
    /// 422: the group would hold more than `--push-max-series-per-group` series.
    TooManySeries,
    /// 401: basic auth required by `--web-config-file` and missing or wrong.
    Unauthorized,
    /// 404 or 400: not a push path.
    BadPath,
    /// 405: a method other than PUT or POST.
    MethodNotAllowed,
    /// 500: the new totals could not be saved in the state file.
    NotSaved,
}

impl PushResult {
    /// Every result, in the order the metric lists them.
    pub const ALL: [PushResult; 14] = [
        PushResult::Ok,
        PushResult::Duplicate,
        PushResult::Malformed,
        PushResult::NegativeIncrement,
        PushResult::LabelClash,
        PushResult::TypeConflict,
        PushResult::BucketMismatch,
        PushResult::SeriesConflict,
        PushResult::TooLarge,
        PushResult::TooManySeries,
        PushResult::Unauthorized,
        PushResult::BadPath,
        PushResult::MethodNotAllowed,
        PushResult::NotSaved,
    ];

    /// The `result` label value.
    pub fn label(self) -> &'static str {
        match self {
            PushResult::Ok => "ok",
            PushResult::Duplicate => "duplicate",
            PushResult::Malformed => "malformed",
            PushResult::NegativeIncrement => "negative_increment",
            PushResult::LabelClash => "label_clash",
            PushResult::TypeConflict => "type_conflict",
            PushResult::BucketMismatch => "bucket_mismatch",
            PushResult::SeriesConflict => "series_conflict",
            PushResult::TooLarge => "too_large",
            PushResult::TooManySeries => "too_many_series",
            PushResult::Unauthorized => "unauthorized",
            PushResult::BadPath => "bad_path",
            PushResult::MethodNotAllowed => "method_not_allowed",
            PushResult::NotSaved => "not_saved",
        }
    }

    /// The HTTP status it is answered with (`BadPath` is 400 or 404: see
    /// [`crate::push::path::PathError`]).
    pub fn status(self) -> u16 {
        match self {
            PushResult::Ok | PushResult::Duplicate => 200,
            PushResult::Malformed | PushResult::NegativeIncrement | PushResult::LabelClash => 400,
            PushResult::TypeConflict | PushResult::BucketMismatch | PushResult::SeriesConflict => {
                409
            }
            PushResult::TooLarge => 413,
            PushResult::TooManySeries => 422,
            PushResult::Unauthorized => 401,
            PushResult::BadPath => 400,
            PushResult::MethodNotAllowed => 405,
            PushResult::NotSaved => 500,
        }
    }

    /// The position in [`ALL`](Self::ALL).
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// A push refused: nothing of it was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// Why, as counted.
    pub result: PushResult,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Refusal {
    /// A refusal for `result` saying `message`.
    pub fn new(result: PushResult, message: impl Into<String>) -> Refusal {
        Refusal {
            result,
            message: message.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}
