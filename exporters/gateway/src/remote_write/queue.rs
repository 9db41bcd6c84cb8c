//! The bounded queue of one Remote-Write target, and its sample counts.
//!
//! Every interval adds one *batch*: the whole page at one timestamp, encoded and compressed,
//! one request. Batches wait in order; the sender takes the oldest and holds it *in flight*
//! until the receiver takes it or refuses it for good, so requests reach the receiver in
//! timestamp order. At most `max_samples` samples wait (the batch in flight not counted):
//! a new batch that does not fit drops the oldest waiting batches first, and a batch larger
//! than the bound on its own is dropped itself. Nothing is lost silently: at any moment
//! `queued == sent + failed + dropped + waiting + in flight`, counted in samples and in
//! requests under one lock, so one read of the counts is consistent.

use std::collections::VecDeque;

/// One request: every series of one page at one timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Series (one sample each).
    pub samples: usize,
    /// The samples' timestamp, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The snappy-compressed write request.
    pub body: Vec<u8>,
}

/// What happened to samples, or to requests, since the gateway started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Put in the queue.
    pub queued: u64,
    /// Taken by the receiver (2xx).
    pub sent: u64,
    /// Refused by the receiver for good (a 4xx other than 429): dropped, not retried.
    pub failed: u64,
    /// Dropped because the queue was full (the oldest first).
    pub dropped: u64,
    /// In attempts that failed and were tried again (a request tried three times counts 2).
    pub retried: u64,
}

/// The counts of a target since the gateway started.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counts {
    /// In samples.
    pub samples: Tally,
    /// In requests (batches).
    pub requests: Tally,
    /// Unix time of the last request the receiver took.
    pub last_success: Option<f64>,
}

/// A target's queue (see the module's description).
#[derive(Debug)]
pub struct Queue {
    max_samples: usize,
    waiting: VecDeque<Batch>,
    waiting_samples: usize,
    in_flight: Option<usize>,
    counts: Counts,
}

/// How a batch in flight ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver took it.
    Sent,
    /// The receiver refused it for good.
    Failed,
}

impl Queue {
    /// An empty queue holding at most `max_samples` waiting samples.
    pub fn new(max_samples: usize) -> Queue {
        Queue {
            max_samples,
            waiting: VecDeque::new(),
            waiting_samples: 0,
            in_flight: None,
            counts: Counts::default(),
        }
    }

    /// The bound.
    pub fn max_samples(&self) -> usize {
        self.max_samples
    }

    /// Adds `batch` behind the others, dropping the oldest waiting batches until it fits (or
    /// `batch` itself when it alone is over the bound). Returns the samples dropped.
    pub fn push(&mut self, batch: Batch) -> usize {
        self.counts.samples.queued += batch.samples as u64;
        self.counts.requests.queued += 1;
        let mut dropped = 0;
        if batch.samples > self.max_samples {
            dropped = batch.samples;
            self.counts.requests.dropped += 1;
        } else {
            while self.waiting_samples + batch.samples > self.max_samples {
                let Some(old) = self.waiting.pop_front() else {
                    break;
                };
                self.waiting_samples -= old.samples;
                dropped += old.samples;
                self.counts.requests.dropped += 1;
            }
            self.waiting_samples += batch.samples;
            self.waiting.push_back(batch);
        }
        self.counts.samples.dropped += dropped as u64;
        dropped
    }

    /// Takes the oldest waiting batch into flight; `None` when none waits. The batch in
    /// flight, if any, must have been [`done`](Queue::done) first.
    pub fn take(&mut self) -> Option<Batch> {
        debug_assert!(self.in_flight.is_none());
        let b = self.waiting.pop_front()?;
        self.waiting_samples -= b.samples;
        self.in_flight = Some(b.samples);
        Some(b)
    }

    /// The batch in flight had an attempt that failed and will be tried again.
    pub fn retried(&mut self) {
        if let Some(samples) = self.in_flight {
            self.counts.samples.retried += samples as u64;
            self.counts.requests.retried += 1;
        }
    }

    /// The batch in flight ended with `outcome` at Unix time `now`.
    pub fn done(&mut self, outcome: Outcome, now: f64) {
        let Some(samples) = self.in_flight.take() else {
            return;
        };
        match outcome {
            Outcome::Sent => {
                self.counts.samples.sent += samples as u64;
                self.counts.requests.sent += 1;
                self.counts.last_success = Some(now);
            }
            Outcome::Failed => {
                self.counts.samples.failed += samples as u64;
                self.counts.requests.failed += 1;
            }
        }
    }

    /// Samples waiting and in flight.
    pub fn samples(&self) -> usize {
        self.waiting_samples + self.in_flight.unwrap_or(0)
    }

    /// Requests waiting and in flight.
    pub fn requests(&self) -> usize {
        self.waiting.len() + usize::from(self.in_flight.is_some())
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(samples: usize, t: i64) -> Batch {
        Batch {
            samples,
            timestamp_ms: t,
            body: vec![],
        }
    }

    fn balanced(q: &Queue) -> bool {
        let c = q.counts();
        let (s, r) = (c.samples, c.requests);
        s.queued == s.sent + s.failed + s.dropped + q.samples() as u64
            && r.queued == r.sent + r.failed + r.dropped + q.requests() as u64
    }

    #[test]
    fn keeps_order_and_drops_the_oldest_first() {
        let mut q = Queue::new(30);
        for t in 0..3 {
            assert_eq!(q.push(batch(10, t)), 0);
        }
        assert_eq!(q.push(batch(10, 3)), 10, "the oldest makes room");
        assert_eq!(q.push(batch(20, 4)), 20, "two of the oldest");
        assert!(balanced(&q));
        let order: Vec<i64> = std::iter::from_fn(|| {
            let b = q.take()?;
            q.done(Outcome::Sent, 1.0);
            Some(b.timestamp_ms)
        })
        .collect();
        assert_eq!(order, [3, 4]);
        let c = q.counts();
        let s = c.samples;
        assert_eq!((s.queued, s.sent, s.dropped), (60, 30, 30));
        assert_eq!((c.requests.sent, c.requests.dropped), (2, 3));
        assert!(balanced(&q));
    }

    #[test]
    fn the_batch_in_flight_is_held_outside_the_bound() {
        let mut q = Queue::new(10);
        q.push(batch(10, 0));
        let b = q.take().unwrap();
        assert_eq!((q.samples(), q.requests()), (10, 1));
        // Room for one more waiting batch; the one in flight is never dropped.
        assert_eq!(q.push(batch(10, 1)), 0);
        assert_eq!(q.push(batch(10, 2)), 10);
        q.retried();
        q.retried();
        assert!(balanced(&q));
        q.done(Outcome::Failed, 1.0);
        assert_eq!(b.timestamp_ms, 0);
        assert_eq!(q.take().unwrap().timestamp_ms, 2);
        q.done(Outcome::Sent, 2.0);
        let c = q.counts();
        let s = c.samples;
        assert_eq!((s.sent, s.failed, s.dropped, s.retried), (10, 10, 10, 20));
        assert_eq!(c.requests.retried, 2);
        assert_eq!(c.last_success, Some(2.0));
        assert!(balanced(&q));
        assert!(q.take().is_none());
    }

    #[test]
    fn a_batch_over_the_bound_is_dropped_itself() {
        let mut q = Queue::new(5);
        q.push(batch(3, 0));
        assert_eq!(q.push(batch(6, 1)), 6);
        assert_eq!(q.take().unwrap().timestamp_ms, 0, "the waiting one stays");
        assert!(balanced(&q));
    }
}
