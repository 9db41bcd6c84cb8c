//! What one Remote-Write target is: where to send, how (protocol version, credentials, TLS),
//! how often, and the queue's bounds; with the defaults and the `--remote-write URL` flag.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use metrics_core::remote_write::Version;

/// How often the page is written, by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
/// How long one request may take, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The most samples waiting per target, by default.
pub const DEFAULT_MAX_SAMPLES: usize = 500_000;
/// The first wait after a failed attempt, by default; doubled after each further failure.
pub const DEFAULT_MIN_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between attempts, by default.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A password or token: given inline, or read from a file at each request (so a rotated
/// secret is picked up), surrounding whitespace trimmed.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// Written in the config file.
    Inline(String),
    /// A file holding it.
    File(PathBuf),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Inline(_) => f.write_str("Inline(<secret>)"),
            Secret::File(p) => write!(f, "File({})", p.display()),
        }
    }
}

impl Secret {
    /// The secret's value.
    pub fn read(&self) -> Result<String, String> {
        match self {
            Secret::Inline(s) => Ok(s.clone()),
            Secret::File(p) => std::fs::read_to_string(p)
                .map(|s| s.trim().to_owned())
                .map_err(|e| format!("cannot read {}: {e}", p.display())),
        }
    }
}

/// The `Authorization` a target's requests carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Auth {
    /// None.
    #[default]
    None,
    /// `Basic`.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// `Bearer`.
    Bearer(Secret),
}

/// One Remote-Write target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The `target` label of the gateway's own metrics (the URL unless named).
    pub name: String,
    /// The receiver, e.g. `http://prometheus:9090/api/v1/write`.
    pub url: String,
    /// Remote-Write 1.0 or 2.0.
    pub version: Version,
    /// How often the page is written.
    pub interval: Duration,
    /// How long one request may take.
    pub timeout: Duration,
    /// Labels added to every series that does not carry them.
    pub external_labels: Vec<(String, String)>,
    /// Credentials.
    pub auth: Auth,
    /// A PEM file of the certificate authorities trusted for `https://` (instead of the
    /// webpki roots).
    pub ca_file: Option<PathBuf>,
    /// Do not check the receiver's certificate (tests only).
    pub insecure_skip_verify: bool,
    /// The most samples waiting.
    pub max_samples: usize,
    /// The first wait after a failed attempt.
    pub min_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
}

impl Target {
    /// A target with every default, sending to `url` (checked by [`check_url`]).
    pub fn new(url: &str) -> Result<Target, String> {
        check_url(url)?;
        Ok(Target {
            name: redacted(url),
            url: url.to_owned(),
            version: Version::V1,
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            external_labels: Vec::new(),
            auth: Auth::None,
            ca_file: None,
            insecure_skip_verify: false,
            max_samples: DEFAULT_MAX_SAMPLES,
            min_backoff: DEFAULT_MIN_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
        })
    }

    /// The URL as shown in metrics and messages: without a password.
    pub fn shown_url(&self) -> String {
        redacted(&self.url)
    }
}

/// Checks a receiver URL: `http://` or `https://`, with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') => Ok(()),
        _ => Err(format!(
            "`{url}` is not a Remote-Write URL: write http(s)://HOST:PORT/PATH, e.g. \
             http://prometheus:9090/api/v1/write or http://victoria:8428/api/v1/write"
        )),
    }
}

/// `url` with the password of `user:password@` (if any) replaced by `xxxxx`.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:xxxxx@{host}{}", &rest[authority_end..])
        }
        None => url.to_owned(),
    }
}

/// Reads a protocol version: `1` or `2`.
pub fn parse_version(s: &str) -> Result<Version, String> {
    match s.trim() {
        "1" | "1.0" => Ok(Version::V1),
        "2" | "2.0" => Ok(Version::V2),
        _ => Err(format!(
            "`{s}` is not a Remote-Write version: write 1 (prometheus.WriteRequest, every \
             receiver takes it) or 2 (io.prometheus.write.v2.Request)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(Target::new("http://127.0.0.1:9090/api/v1/write").is_ok());
        assert!(Target::new("https://vm/api/v1/write").is_ok());
        for bad in ["", "ftp://x/", "http://", "127.0.0.1:9090", "http:///x"] {
            assert!(
                Target::new(bad).unwrap_err().contains("http(s)://"),
                "{bad}"
            );
        }
        assert_eq!(
            redacted("https://u:secret@h:1/api/v1/write"),
            "https://u:xxxxx@h:1/api/v1/write"
        );
        assert_eq!(redacted("http://h/a@b"), "http://h/a@b");
        let t = Target::new("https://u:pw@h/w").unwrap();
        assert_eq!(t.name, "https://u:xxxxx@h/w");
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("1"), Ok(Version::V1));
        assert_eq!(parse_version("2"), Ok(Version::V2));
        assert!(parse_version("3").unwrap_err().contains("write 1"));
    }
}
