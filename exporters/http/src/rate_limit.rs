//! The web configuration's `rate_limit`: a token bucket over every request, as
//! exporter-toolkit's (`golang.org/x/time/rate`): a request per `interval` on average, up to
//! `burst` at once; past it, 429.

use std::time::{Duration, Instant};

/// A token bucket, used by one thread (the reactor).
#[derive(Debug)]
pub(crate) struct RateLimit {
    interval: Duration,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    pub(crate) fn new(interval: Duration, burst: u32) -> Self {
        RateLimit {
            interval,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: Instant::now(),
        }
    }

    /// Takes a token if there is one (true: the request may go on).
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens =
            (self.tokens + elapsed.as_secs_f64() / self.interval.as_secs_f64()).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_one_per_interval() {
        let start = Instant::now();
        let mut r = RateLimit::new(Duration::from_millis(100), 3);
        r.last = start;
        assert!((0..3).all(|_| r.allow(start)));
        assert!(!r.allow(start));
        assert!(!r.allow(start + Duration::from_millis(50)));
        assert!(r.allow(start + Duration::from_millis(101)));
        assert!(!r.allow(start + Duration::from_millis(102)));
        // Idle for long: back to the burst, not more.
        let later = start + Duration::from_secs(60);
        assert!((0..3).all(|_| r.allow(later)));
        assert!(!r.allow(later));
    }
}
