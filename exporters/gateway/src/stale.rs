//! Staleness: a device whose scrapes fail keeps its last good answer served for its
//! `stale_after` (`--stale-after`), then its series leave `/metrics` and `/probe` refuses it,
//! while its health metrics (`gateway_device_up`,
//! `gateway_device_last_success_timestamp_seconds`, ...) stay on `/metrics`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::poller::Status;

/// Why `/probe?target=<device>` answers 503 instead of the device's series: `None` while
/// they are served ([`Status::served`]).
pub fn refusal(device: &str, status: &Status) -> Option<String> {
    if status.served() {
        return None;
    }
    let error = status.last_error.as_deref().unwrap_or("no answer");
    let stale = humantime::format_duration(status.stale_after);
    let since = match status.last_success {
        None => "has not answered since the gateway started".to_owned(),
        Some(t) => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            let ago = Duration::from_secs((now - t).max(0.0).round() as u64);
            format!(
                "last answered {} ago, longer than its stale time ({stale}, --stale-after)",
                humantime::format_duration(ago)
            )
        }
    };
    Some(format!(
        "device `{device}` is down and its series are stale: it {since}; latest error: \
         {error}. Its health (gateway_device_up, \
         gateway_device_last_success_timestamp_seconds) is on /metrics.\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_why_and_since_when() {
        let mut s = Status {
            stale_after: Duration::from_secs(5),
            last_error: Some("cannot open tcp://127.0.0.1:1: Connection refused".into()),
            ..Status::default()
        };
        let never = refusal("board", &s).unwrap();
        assert!(
            never.contains("device `board` is down and its series are stale: it has not answered since the gateway started; latest error: cannot open tcp://127.0.0.1:1: Connection refused"),
            "{never}"
        );
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        s.last_success = Some(now.as_secs_f64() - 12.0);
        let old = refusal("board", &s).unwrap();
        assert!(
            old.contains("last answered 12s ago, longer than its stale time (5s, --stale-after)"),
            "{old}"
        );
        s.grace = true;
        assert_eq!(refusal("board", &s), None, "within the stale time");
        s.grace = false;
        s.up = true;
        assert_eq!(refusal("board", &s), None, "up");
    }
}
