//! The config file's `remote_write:` list: each entry as written, and its checked
//! [`Target`]. Paths (`password_file`, `bearer_token_file`, `ca_file`) are relative to the
//! config file's directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::target::{self, Auth, Secret, Target};
use crate::config::{self, Amount, ConfigError};

/// One `remote_write:` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTarget {
    /// The receiver.
    pub url: Spanned<String>,
    /// The `target` label (default: the URL).
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// `1` or `2`.
    #[serde(default)]
    pub protocol_version: Option<Spanned<Amount>>,
    /// How often (`15s`).
    #[serde(default)]
    pub interval: Option<Spanned<String>>,
    /// How long one request may take (`30s`).
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// Labels added to every series.
    #[serde(default)]
    pub external_labels: Option<Spanned<BTreeMap<String, String>>>,
    /// `username` and `password` or `password_file`.
    #[serde(default)]
    pub basic_auth: Option<Spanned<FileBasicAuth>>,
    /// A bearer token.
    #[serde(default)]
    pub bearer_token: Option<Spanned<String>>,
    /// A file holding the bearer token.
    #[serde(default)]
    pub bearer_token_file: Option<Spanned<String>>,
    /// `ca_file`, `insecure_skip_verify`.
    #[serde(default)]
    pub tls: Option<FileTls>,
    /// `max_samples`, `min_backoff`, `max_backoff`.
    #[serde(default)]
    pub queue: Option<FileQueue>,
}

/// `basic_auth:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileBasicAuth {
    /// The user name.
    pub username: String,
    /// The password.
    #[serde(default)]
    pub password: Option<String>,
    /// A file holding the password.
    #[serde(default)]
    pub password_file: Option<String>,
}

/// `tls:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTls {
    /// PEM certificate authorities.
    #[serde(default)]
    pub ca_file: Option<Spanned<String>>,
    /// Do not check the receiver's certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// `queue:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileQueue {
    /// The most samples waiting.
    #[serde(default)]
    pub max_samples: Option<Spanned<Amount>>,
    /// The first wait after a failed attempt.
    #[serde(default)]
    pub min_backoff: Option<Spanned<String>>,
    /// The longest wait between attempts.
    #[serde(default)]
    pub max_backoff: Option<Spanned<String>>,
}

use crate::config::at_span as at;

/// The targets of a config file's `remote_write:` list, checked.
pub fn targets(path: &Path, list: &[FileTarget]) -> Result<Vec<Target>, ConfigError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_path = |s: &str| -> PathBuf { dir.join(s) };
    let duration = |s: &Option<Spanned<String>>, key: &str, default| match s {
        Some(s) => config::parse_duration(&s.value).map_err(|m| at(path, s, format!("{key}: {m}"))),
        None => Ok(default),
    };
    let mut out: Vec<Target> = Vec::new();
    for f in list {
        let mut t = Target::new(&f.url.value).map_err(|m| at(path, &f.url, format!("url: {m}")))?;
        if let Some(name) = &f.name {
            if name.value.trim().is_empty() {
                return Err(at(path, name, "name: give a non-empty name".into()));
            }
            t.name = name.value.clone();
        }
        if out.iter().any(|o| o.name == t.name) {
            let s = f.name.as_ref().unwrap_or(&f.url);
            return Err(at(
                path,
                s,
                format!(
                    "remote_write target `{}` is listed twice: give each a distinct `name`",
                    t.name
                ),
            ));
        }
        if let Some(v) = &f.protocol_version {
            t.version = target::parse_version(&v.value.0)
                .map_err(|m| at(path, v, format!("protocol_version: {m}")))?;
        }
        t.interval = duration(&f.interval, "interval", t.interval)?;
        t.timeout = duration(&f.timeout, "timeout", t.timeout)?;
        if let Some(labels) = &f.external_labels {
            for (name, value) in &labels.value {
                config::check_label_name("external_labels", name)
                    .map_err(|m| at(path, labels, m))?;
                t.external_labels.push((name.clone(), value.clone()));
            }
        }
        let bearer = match (&f.bearer_token, &f.bearer_token_file) {
            (Some(s), Some(_)) => {
                return Err(at(
                    path,
                    s,
                    "give bearer_token or bearer_token_file, not both".into(),
                ))
            }
            (Some(s), None) => Some(Secret::Inline(s.value.clone())),
            (None, Some(s)) => Some(Secret::File(file_path(&s.value))),
            (None, None) => None,
        };
        t.auth = match (&f.basic_auth, bearer) {
            (Some(b), Some(_)) => {
                return Err(at(
                    path,
                    b,
                    "give basic_auth or a bearer token, not both".into(),
                ))
            }
            (Some(b), None) => {
                let password = match (&b.value.password, &b.value.password_file) {
                    (Some(p), None) => Secret::Inline(p.clone()),
                    (None, Some(p)) => Secret::File(file_path(p)),
                    _ => {
                        return Err(at(
                            path,
                            b,
                            "basic_auth: give `password` or `password_file` (one of them)".into(),
                        ))
                    }
                };
                Auth::Basic {
                    username: b.value.username.clone(),
                    password,
                }
            }
            (None, Some(s)) => Auth::Bearer(s),
            (None, None) => Auth::None,
        };
        let secret = match &t.auth {
            Auth::Basic { password, .. } => Some(password),
            Auth::Bearer(s) => Some(s),
            Auth::None => None,
        };
        if let Some(secret) = secret {
            if let Err(m) = secret.read() {
                let s = f
                    .basic_auth
                    .as_ref()
                    .map(|b| &b.referenced)
                    .or(f.bearer_token_file.as_ref().map(|b| &b.referenced));
                return Err(ConfigError {
                    file: path.into(),
                    pos: s.map(|s| (s.line(), s.column())),
                    message: format!("remote_write `{}`: {m}", t.name),
                });
            }
        }
        if let Some(tls) = &f.tls {
            t.ca_file = tls.ca_file.as_ref().map(|c| file_path(&c.value));
            t.insecure_skip_verify = tls.insecure_skip_verify;
            if let (Some(c), Some(file)) = (&tls.ca_file, &t.ca_file) {
                super::client::read_ca(file).map_err(|m| at(path, c, format!("ca_file: {m}")))?;
            }
        }
        if let Some(q) = &f.queue {
            if let Some(m) = &q.max_samples {
                t.max_samples = config::parse_count(&m.value.0)
                    .map_err(|e| at(path, m, format!("max_samples: {e}")))?;
            }
            t.min_backoff = duration(&q.min_backoff, "min_backoff", t.min_backoff)?;
            t.max_backoff = duration(&q.max_backoff, "max_backoff", t.max_backoff)?;
            if t.max_backoff < t.min_backoff {
                let s = q.max_backoff.as_ref().or(q.min_backoff.as_ref());
                if let Some(s) = s {
                    return Err(at(
                        path,
                        s,
                        "max_backoff must be at least min_backoff".into(),
                    ));
                }
            }
        }
        out.push(t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, Overrides};
    use metrics_core::remote_write::Version;
    use std::time::Duration;

    fn load(text: &str) -> Result<Vec<Target>, String> {
        parse(Path::new("/etc/gw/g.yaml"), text, &Overrides::default())
            .map(|l| l.remote_write)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_every_key() {
        let t = load("remote_write:\n  - url: http://p:9090/api/v1/write\n").unwrap();
        assert_eq!(t, vec![Target::new("http://p:9090/api/v1/write").unwrap()]);
        let text = "remote_write:
  - url: https://vm:8428/api/v1/write
    name: central
    protocol_version: 2
    interval: 5s
    timeout: 3s
    external_labels: {site: plant-7, region: eu}
    basic_auth: {username: u, password: p}
    tls: {insecure_skip_verify: true}
    queue: {max_samples: 1000, min_backoff: 100ms, max_backoff: 2s}
  - url: http://p/w
    bearer_token_file: token
";
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "abc\n").unwrap();
        let cfg = dir.path().join("g.yaml");
        let t = parse(&cfg, text, &Overrides::default())
            .unwrap()
            .remote_write;
        let a = &t[0];
        assert_eq!(a.name, "central");
        assert_eq!(a.version, Version::V2);
        assert_eq!(a.interval, Duration::from_secs(5));
        assert_eq!(a.timeout, Duration::from_secs(3));
        assert_eq!(
            a.external_labels,
            [
                ("region".into(), "eu".into()),
                ("site".into(), "plant-7".into())
            ]
        );
        assert_eq!(
            a.auth,
            Auth::Basic {
                username: "u".into(),
                password: Secret::Inline("p".into())
            }
        );
        assert!(a.insecure_skip_verify);
        assert_eq!(a.max_samples, 1000);
        assert_eq!(a.min_backoff, Duration::from_millis(100));
        assert_eq!(a.max_backoff, Duration::from_secs(2));
        let token = Secret::File(dir.path().join("token"));
        assert_eq!(t[1].auth, Auth::Bearer(token.clone()));
        assert_eq!(token.read().unwrap(), "abc");
    }

    #[test]
    fn errors_name_the_line_and_the_fix() {
        for (text, where_, says) in [
            (
                "remote_write:\n  - url: ftp://x\n",
                "g.yaml:2:",
                "http(s)://",
            ),
            (
                "remote_write:\n  - url: http://a/w\n    protocol_version: 3\n",
                "g.yaml:3:",
                "write 1",
            ),
            (
                "remote_write:\n  - url: http://a/w\n    interval: soon\n",
                "g.yaml:3:",
                "interval: `soon`",
            ),
            (
                "remote_write:\n  - url: http://a/w\n  - url: http://a/w\n",
                "g.yaml:3:",
                "distinct `name`",
            ),
            (
                "remote_write:\n  - url: http://a/w\n    external_labels: {__x: a}\n",
                "g.yaml:3:",
                "not a label name",
            ),
            (
                "remote_write:\n  - url: http://a/w\n    basic_auth: {username: u}\n",
                "g.yaml:3:",
                "password_file",
            ),
            (
                "remote_write:\n  - url: http://a/w\n    bearer_token_file: /nonexistent/t\n",
                "g.yaml:3:",
                "cannot read /nonexistent/t",
            ),
            (
                "remote_write:\n  - url: http://a/w\n    queue: {max_samples: 0}\n",
                "g.yaml:3:",
                "max_samples: `0`",
            ),
            (
                "remote_write:\n  - url: http://a/w\n    queue: {max_sample: 1}\n",
                "g.yaml:3:",
                "max_sample",
            ),
            (
                "remote_write:\n  - url: http://a/w\n    tls: {ca_file: /nonexistent/ca.pem}\n",
                "g.yaml:3:",
                "ca_file: cannot read",
            ),
        ] {
            let e = load(text).unwrap_err();
            assert!(e.starts_with(&format!("/etc/gw/{where_}")), "{text}: {e}");
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
