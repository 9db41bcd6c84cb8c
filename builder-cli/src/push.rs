//! Pushing metrics: the final totals to a Prometheus Pushgateway (PUT, replacing the group),
//! and a run's increments to a metrics-gateway started with `--accept-pushes` (POST, added to
//! the group's totals).

use std::time::Duration;

use anyhow::{Context, Result};
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use metrics_exporter_push::retry::{self, Backoff, Policy};

/// One part of the grouping key: `name/value`, or `name@base64/<value>` when the value is
/// empty or holds anything but `[A-Za-z0-9_.~-]` (a `/` would split the path).
pub fn key_part(name: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'~' | b'-'));
    if plain {
        format!("{name}/{value}")
    } else if value.is_empty() {
        // The Pushgateway's documented form of an empty value.
        format!("{name}@base64/=")
    } else {
        format!("{name}@base64/{}", URL_SAFE.encode(value))
    }
}

/// The push URL for `job` and `instance` under `base` (e.g. `http://localhost:9091`).
pub fn url(base: &str, job: &str, instance: &str) -> String {
    format!(
        "{}/metrics/{}/{}",
        base.trim_end_matches('/'),
        key_part("job", job),
        key_part("instance", instance)
    )
}

/// This machine's host name (`instance` default).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// PUTs `body` (text format 0.0.4): replaces the group's metrics.
pub fn push(base: &str, job: &str, instance: &str, body: &str) -> Result<()> {
    let u = url(base, job, instance);
    let agent = agent();
    let mut resp = agent
        .put(&u)
        .header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        .send(body)
        .with_context(|| format!("cannot push metrics to {u}: is the Pushgateway up?"))?;
    let status = resp.status();
    if !status.is_success() {
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        anyhow::bail!("the Pushgateway at {u} answered {status}: {}", text.trim());
    }
    Ok(())
}

/// The gateway's push URL for `job` and `profile` under `base` (e.g. `http://gateway:9100`).
/// The runner's instance is not part of the key: every runner's increments of a job and
/// profile add up in one group, so its counters grow from run to run whichever runner ran.
pub fn gateway_url(base: &str, job: &str, profile: &str) -> String {
    format!(
        "{}/push/{}/{}",
        base.trim_end_matches('/'),
        key_part("job", job),
        key_part("profile", profile)
    )
}

/// Waits before attempt `n` (from 1) of a gateway push.
pub const BACKOFF: [Duration; 5] = [
    Duration::ZERO,
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(3),
    Duration::from_secs(9),
];

/// The retry policy of every push: the [`BACKOFF`] table (five attempts); a `Retry-After` is
/// not waited for (the table's last wait bounds how long a run's end can be held up).
pub const RETRY: Policy = Policy {
    backoff: Backoff::Table(&BACKOFF),
    honour_retry_after: false,
};

/// POSTs a run's increments (`body`, text format 0.0.4) to the gateway, retrying with
/// [`BACKOFF`] on a connection error, a 5xx or a 429, each attempt with the same
/// `Idempotency-Key` so that the gateway counts the run once even when an answer was lost.
/// Another 4xx is final (the gateway says what is wrong). `stop` ends the waits early.
pub fn push_increments(
    u: &str,
    body: &str,
    key: &str,
    stop: &crate::signals::Stop,
    progress: impl FnMut(&str),
) -> Result<()> {
    let headers = [
        ("Content-Type", "text/plain; version=0.0.4; charset=utf-8"),
        ("Idempotency-Key", key),
    ];
    let what = Receiver {
        name: "gateway",
        hint: "is the gateway up and started with --accept-pushes?",
    };
    post_with_retries(u, &headers, body.as_bytes(), &what, stop, progress)
}

/// Who receives a push, for messages: its name and what to check when it never answers.
pub struct Receiver<'a> {
    /// E.g. `gateway`, `Remote-Write receiver`.
    pub name: &'a str,
    /// What to check when every attempt failed.
    pub hint: &'a str,
}

/// POSTs `body` with `headers`, retrying as [`RETRY`] says on a connection error, a 5xx or a
/// 429; any other answer that is not a 2xx is final ([`retry::classify`]). `what` names the receiver in messages. `stop` ends the waits.
pub fn post_with_retries(
    u: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    what: &Receiver<'_>,
    stop: &crate::signals::Stop,
    mut progress: impl FnMut(&str),
) -> Result<()> {
    let agent = agent();
    let attempts = RETRY.attempts().unwrap_or(usize::MAX);
    let mut last = String::new();
    let mut failures = 0;
    while let Some(wait) = RETRY.wait(failures, None) {
        if failures > 0 {
            progress(&format!(
                "push to {u} failed ({last}); attempt {} of {attempts} in {}",
                failures + 1,
                humantime::format_duration(wait)
            ));
            if stop.sleep(wait) {
                break;
            }
        }
        failures += 1;
        let mut request = agent.post(u);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut resp = match request.send(body) {
            Ok(r) => r,
            Err(e) => {
                last = format!("{e}");
                continue;
            }
        };
        let status = resp.status();
        let class = retry::classify(status.as_u16());
        if class == retry::Status::Delivered {
            return Ok(());
        }
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        last = format!("{status}: {}", text.trim());
        if class == retry::Status::Refused {
            anyhow::bail!("the {} at {u} refused the push with {last}", what.name);
        }
    }
    anyhow::bail!(
        "cannot push to the {} at {u} after {attempts} attempts (last: {last}); {}",
        what.name,
        what.hint
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_key() {
        assert_eq!(
            url("http://pg:9091/", "standard", "host-1"),
            "http://pg:9091/metrics/job/standard/instance/host-1"
        );
        assert_eq!(key_part("instance", ""), "instance@base64/=");
        assert_eq!(key_part("job", "a/b"), "job@base64/YS9i");
        assert_eq!(
            gateway_url("http://gw:9100/", "standard", "quick run"),
            "http://gw:9100/push/job/standard/profile@base64/cXVpY2sgcnVu"
        );
    }
}
