//! The retry/backoff policy of deliveries (builder_cli's pushes and Remote-Write, the
//! gateway's Remote-Write sender): what is retryable, how long to wait before the next
//! attempt, and `Retry-After`.
//!
//! Retryable: a connection error or timeout (the caller's), a 5xx and a 429. Any other answer
//! that is not a 2xx is final: the receiver said what is wrong and the same request will not
//! fare better.

use std::time::Duration;

/// What an HTTP answer's status means for a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 2xx: delivered.
    Delivered,
    /// 5xx or 429: try again later.
    Retry,
    /// Any other status: refused for good.
    Refused,
}

/// Classifies an HTTP status code (see [`Status`]).
pub fn classify(status: u16) -> Status {
    match status {
        200..=299 => Status::Delivered,
        429 | 500..=599 => Status::Retry,
        _ => Status::Refused,
    }
}

/// A `Retry-After` header value in delta-seconds (`"120"`, spaces around allowed); `None` for
/// anything else (an HTTP date is not honoured: the schedule's wait applies).
pub fn retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// How long to wait between attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backoff {
    /// A fixed number of attempts: entry `n` is the wait before attempt `n + 1` (the first
    /// entry, the wait before the first attempt, is usually zero). No attempt after the last.
    Table(&'static [Duration]),
    /// Attempts without end: `min` after the first failure, doubled after each further one,
    /// at most `max`.
    Exponential {
        /// The first wait.
        min: Duration,
        /// The longest wait.
        max: Duration,
    },
}

/// A retry policy: the [`Backoff`] schedule and whether a receiver's `Retry-After` replaces
/// the schedule's wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The schedule.
    pub backoff: Backoff,
    /// Wait what the receiver's `Retry-After` says (at least the schedule's shortest wait,
    /// so a `Retry-After: 0` does not make a busy loop) instead of the schedule's wait.
    pub honour_retry_after: bool,
}

impl Policy {
    /// The number of attempts, `None` for no limit.
    pub fn attempts(&self) -> Option<usize> {
        match self.backoff {
            Backoff::Table(t) => Some(t.len()),
            Backoff::Exponential { .. } => None,
        }
    }

    /// The wait before the next attempt after `failures` failed attempts in a row (0 for the
    /// first attempt), given the last answer's `Retry-After`; `None` when no attempt is left.
    pub fn wait(&self, failures: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let (scheduled, shortest) = match self.backoff {
            Backoff::Table(t) => (*t.get(failures as usize)?, t.iter().copied().min()?),
            Backoff::Exponential { min, max } => (exponential(failures, min, max), min),
        };
        Some(match retry_after {
            Some(after) if self.honour_retry_after && failures > 0 => after.max(shortest),
            _ => scheduled,
        })
    }
}

/// `min` after the first failure, doubled after each further one, at most `max` (zero
/// before the first attempt).
fn exponential(failures: u32, min: Duration, max: Duration) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let factor = 1u32 << (failures - 1).min(20);
    min.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: [Duration; 3] = [
        Duration::ZERO,
        Duration::from_millis(500),
        Duration::from_secs(1),
    ];

    #[test]
    fn what_is_retryable() {
        assert_eq!(classify(200), Status::Delivered);
        assert_eq!(classify(204), Status::Delivered);
        assert_eq!(classify(429), Status::Retry);
        assert_eq!(classify(500), Status::Retry);
        assert_eq!(classify(503), Status::Retry);
        assert_eq!(classify(599), Status::Retry);
        assert_eq!(classify(400), Status::Refused);
        assert_eq!(classify(401), Status::Refused);
        assert_eq!(classify(404), Status::Refused);
        assert_eq!(classify(413), Status::Refused);
        assert_eq!(classify(308), Status::Refused);
    }

    #[test]
    fn retry_after_in_seconds_only() {
        assert_eq!(retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(retry_after("-1"), None);
        assert_eq!(retry_after(""), None);
    }

    #[test]
    fn a_table_gives_its_waits_then_no_more_attempts() {
        let p = Policy {
            backoff: Backoff::Table(&TABLE),
            honour_retry_after: false,
        };
        assert_eq!(p.attempts(), Some(3));
        let waits: Vec<_> = (0..4).map(|f| p.wait(f, None)).collect();
        assert_eq!(
            waits,
            [Some(TABLE[0]), Some(TABLE[1]), Some(TABLE[2]), None]
        );
        // Not honoured: the table's wait.
        assert_eq!(p.wait(1, Some(Duration::from_secs(9))), Some(TABLE[1]));
    }

    #[test]
    fn exponential_doubles_up_to_the_most_without_end() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(1));
        let p = Policy {
            backoff: Backoff::Exponential { min, max },
            honour_retry_after: false,
        };
        assert_eq!(p.attempts(), None);
        let waits: Vec<_> = (0..7)
            .map(|f| p.wait(f, None).unwrap().as_millis() as u64)
            .collect();
        assert_eq!(waits, [0, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.wait(u32::MAX, None), Some(max));
    }

    #[test]
    fn retry_after_replaces_the_wait_but_not_below_the_shortest() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(1));
        let p = Policy {
            backoff: Backoff::Exponential { min, max },
            honour_retry_after: true,
        };
        // Longer than the schedule's most: the receiver knows best.
        assert_eq!(
            p.wait(1, Some(Duration::from_secs(5))),
            Some(Duration::from_secs(5))
        );
        assert_eq!(p.wait(3, Some(Duration::ZERO)), Some(min));
        assert_eq!(p.wait(3, None), Some(Duration::from_millis(400)));
        let t = Policy {
            backoff: Backoff::Table(&TABLE),
            honour_retry_after: true,
        };
        assert_eq!(
            t.wait(1, Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        // Still no attempt after the table's last.
        assert_eq!(t.wait(3, Some(Duration::from_secs(7))), None);
    }
}
