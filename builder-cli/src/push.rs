//! Pushing the final metrics to a Prometheus Pushgateway.

use anyhow::{Context, Result};
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;

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

/// PUTs `body` (text format 0.0.4): replaces the group's metrics.
pub fn push(base: &str, job: &str, instance: &str, body: &str) -> Result<()> {
    let u = url(base, job, instance);
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .http_status_as_error(false)
        .build();
    let agent: ureq::Agent = config.into();
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
    }
}
