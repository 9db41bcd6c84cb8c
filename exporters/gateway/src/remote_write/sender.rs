//! A target's sender thread: takes the oldest batch, POSTs it until the receiver takes it
//! (retrying with exponential backoff on connection errors, timeouts, 5xx and 429, waiting
//! `Retry-After` when the receiver gives one) or refuses it for good (another 4xx: dropped,
//! counted, and said on stderr once per distinct answer). Only this target waits: the
//! sampler and the other targets go on.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_push::retry::{Backoff, Policy};

use super::client::Attempt;
use super::queue::Outcome;
use super::Shared;

/// Distinct refusals said on stderr per target, at most (then they are only counted).
const MAX_REFUSALS_SAID: usize = 64;

/// The retry policy of a target: `min` doubled after each failure, at most `max`, and the
/// receiver's `Retry-After` (at least `min`) when it gives one.
pub fn policy(min: Duration, max: Duration) -> Policy {
    Policy {
        backoff: Backoff::Exponential { min, max },
        honour_retry_after: true,
    }
}

/// Runs the sender of `shared` (never returns).
pub fn run(shared: &Arc<Shared>) {
    let t = &shared.target;
    let mut said: HashSet<String> = HashSet::new();
    let mut failing = false;
    loop {
        let batch = {
            let mut q = shared.lock();
            loop {
                if let Some(b) = q.take() {
                    break b;
                }
                q = shared.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let mut failures = 0u32;
        loop {
            match shared.client.post(&batch.body) {
                Attempt::Sent => {
                    shared.lock().done(Outcome::Sent, super::unix_now());
                    if failing {
                        failing = false;
                        let retried = shared.lock().counts().samples.retried;
                        eprintln!(
                            "metrics-gateway: remote write to `{}` is sending again ({retried} \
                             samples retried since start)",
                            t.name
                        );
                    }
                    break;
                }
                Attempt::Refused { why } => {
                    shared.lock().done(Outcome::Failed, super::unix_now());
                    if said.len() < MAX_REFUSALS_SAID && said.insert(why.clone()) {
                        eprintln!(
                            "metrics-gateway: remote write to `{}`: the receiver refused a \
                             request of {} samples with {why}; it is dropped, not retried \
                             (counted in gateway_remote_write_samples_failed_total; this \
                             answer is not said again)",
                            t.name, batch.samples
                        );
                    }
                    break;
                }
                Attempt::Retry { why, after } => {
                    failures += 1;
                    let wait = policy(t.min_backoff, t.max_backoff)
                        .wait(failures, after)
                        .expect("an exponential backoff has no last attempt");
                    let queued = {
                        let mut q = shared.lock();
                        q.retried();
                        q.samples()
                    };
                    if !failing {
                        failing = true;
                        let hint = if why.contains("certificate") {
                            "give the CA of the receiver's certificate in tls.ca_file"
                        } else {
                            "check that the receiver is up (Prometheus needs \
                             --web.enable-remote-write-receiver)"
                        };
                        eprintln!(
                            "metrics-gateway: remote write to `{}` is failing ({why}); retrying \
                             with backoff ({} to {}); {queued} samples queued, at most {} \
                             waiting (the oldest dropped first): {hint}",
                            t.name,
                            humantime::format_duration(t.min_backoff),
                            humantime::format_duration(t.max_backoff),
                            t.max_samples,
                        );
                    }
                    std::thread::sleep(wait);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::policy;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_up_to_the_most_and_retry_after_is_waited() {
        let (min, max) = (Duration::from_millis(500), Duration::from_secs(30));
        let p = policy(min, max);
        let waits: Vec<u64> = (1..=9)
            .map(|n| p.wait(n, None).unwrap().as_millis() as u64)
            .collect();
        assert_eq!(
            waits,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(p.wait(u32::MAX, None), Some(max));
        let minute = Duration::from_secs(60);
        assert_eq!(p.wait(1, Some(minute)), Some(minute));
        assert_eq!(p.wait(5, Some(Duration::ZERO)), Some(min));
    }
}
