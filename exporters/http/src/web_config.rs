//! The web configuration file of Prometheus' exporter-toolkit: TLS and basic-auth users.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::Error;

/// The realm sent in `WWW-Authenticate` with a `401`.
pub const REALM: &str = "metrics";

/// A web configuration file in the format of Prometheus' exporter-toolkit
/// (`--web.config.file`), so an operator reuses the file they already have:
///
/// ```yaml
/// tls_server_config:
///   cert_file: server.crt      # relative to this file's directory
///   key_file: server.key       # PKCS#8 or PKCS#1 (RSA), unencrypted
/// basic_auth_users:
///   prometheus: $2y$10$...     # bcrypt hashes only (htpasswd -nBC 10 "" | tr -d ':\n')
/// ```
///
/// Both sections are optional. Checked when loaded, with messages naming the file:
///
/// - a password that is not a bcrypt hash (`$2a$`, `$2b$`, `$2x$`, `$2y$`) is refused: the
///   file would otherwise hold a plaintext password;
/// - `client_auth_type` other than `NoClientCert` is refused: TLS goes through tiny_http's
///   rustls support, which offers no client-certificate verification (it builds its rustls
///   configuration with `with_no_client_auth()`), so a file asking for client certificates
///   would silently let any client in;
/// - the certificate and key files must exist and hold PEM blocks tiny_http can use, and
///   fields exporter-toolkit has but this crate does not implement (`min_version`,
///   `cipher_suites`, `http_server_config`, ...) are refused rather than ignored.
///
/// With users, every request needs `Authorization: Basic` with a listed user and its
/// password; otherwise the answer is `401 Unauthorized` with
/// `WWW-Authenticate: Basic realm="metrics"`. The user name is compared in constant time
/// against every listed user; an unknown user still costs one bcrypt verification, so the
/// time does not tell whether a user exists. bcrypt is slow by design (tens of milliseconds
/// at cost 10), so a successful verification is cached: per user, the last password that
/// verified, compared in constant time. A wrong password is never cached.
#[derive(Clone)]
pub struct WebConfig {
    inner: Arc<Inner>,
}

struct Inner {
    file: PathBuf,
    tls: Option<Tls>,
    /// `(name, bcrypt hash)`, in the file's order.
    users: Vec<(String, String)>,
    /// Per user (same index), the last password that verified.
    verified: Mutex<Vec<Option<Vec<u8>>>>,
}

/// The PEM bytes of the certificate chain and the key.
#[derive(Clone)]
pub(crate) struct Tls {
    pub(crate) certificate: Vec<u8>,
    pub(crate) private_key: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    tls_server_config: Option<TlsFile>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_auth_type: Option<String>,
    client_ca_file: Option<PathBuf>,
}

impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No hashes, no key.
        f.debug_struct("WebConfig")
            .field("file", &self.inner.file)
            .field("tls", &self.inner.tls.is_some())
            .field(
                "users",
                &self.inner.users.iter().map(|u| &u.0).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn invalid(file: &Path, message: impl Into<String>) -> Error {
    Error::WebConfig {
        file: file.to_path_buf(),
        message: message.into(),
    }
}

/// True when `hash` looks like a bcrypt hash (`$2?$NN$` and 53 characters of salt and hash).
fn is_bcrypt(hash: &str) -> bool {
    let b = hash.as_bytes();
    hash.len() == 60
        && (hash.starts_with("$2a$")
            || hash.starts_with("$2b$")
            || hash.starts_with("$2x$")
            || hash.starts_with("$2y$"))
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
        && hash.parse::<bcrypt::HashParts>().is_ok()
}

/// True when `pem` holds a PEM block whose label is one of `labels`.
fn has_pem(pem: &[u8], labels: &[&str]) -> bool {
    let text = String::from_utf8_lossy(pem);
    labels
        .iter()
        .any(|l| text.contains(&format!("-----BEGIN {l}-----")))
}

impl WebConfig {
    /// Reads and checks the file at `path` (see the type's documentation).
    pub fn from_file(path: impl AsRef<Path>) -> Result<WebConfig, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(path, format!("cannot read it: {e}")))?;
        let file: File = serde_saphyr::from_str(&text).map_err(|e| invalid(path, e.to_string()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let tls = match file.tls_server_config {
            None => None,
            Some(t) => Some(load_tls(path, dir, t)?),
        };
        let mut users = Vec::new();
        for (name, hash) in file.basic_auth_users {
            if !is_bcrypt(&hash) {
                return Err(invalid(
                    path,
                    format!(
                        "basic_auth_users: the password of user {name:?} is not a bcrypt hash \
                         (plaintext passwords are refused): write its bcrypt hash instead, for \
                         example the output of `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"
                    ),
                ));
            }
            users.push((name, hash));
        }
        let verified = Mutex::new(vec![None; users.len()]);
        Ok(WebConfig {
            inner: Arc::new(Inner {
                file: path.to_path_buf(),
                tls,
                users,
                verified,
            }),
        })
    }

    /// The file it was read from.
    pub fn file(&self) -> &Path {
        &self.inner.file
    }

    /// Whether it serves over TLS.
    pub fn tls(&self) -> bool {
        self.inner.tls.is_some()
    }

    /// Whether requests need basic auth.
    pub fn basic_auth(&self) -> bool {
        !self.inner.users.is_empty()
    }

    pub(crate) fn tls_pem(&self) -> Option<&Tls> {
        self.inner.tls.as_ref()
    }

    /// The PEM bytes of the certificate chain and of the private key, when it serves over TLS
    /// (checked when loaded): for a server that builds its own listener, such as
    /// `metrics-gateway`, to serve the same file.
    pub fn tls_certificate_and_key(&self) -> Option<(&[u8], &[u8])> {
        self.inner
            .tls
            .as_ref()
            .map(|t| (t.certificate.as_slice(), t.private_key.as_slice()))
    }

    /// Whether a request with this `Authorization` header value (or none) may pass: always
    /// without users; with users, only `Basic` credentials of a listed user with its password.
    pub fn authorize(&self, authorization: Option<&str>) -> bool {
        let users = &self.inner.users;
        if users.is_empty() {
            return true;
        }
        let Some((user, password)) = authorization.and_then(basic_credentials) else {
            return false;
        };
        // Every name is compared, in constant time; the last match wins.
        let mut found: Option<usize> = None;
        for (i, (name, _)) in users.iter().enumerate() {
            if bool::from(name.as_bytes().ct_eq(user.as_bytes())) {
                found = Some(i);
            }
        }
        let Some(i) = found else {
            // Spend what a known user costs, so the time does not reveal who exists.
            let _ = bcrypt::verify(&password, &users[0].1);
            return false;
        };
        {
            let verified = self
                .inner
                .verified
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(good) = &verified[i] {
                if bool::from(good.as_slice().ct_eq(password.as_slice())) {
                    return true;
                }
            }
        }
        // The slow check runs without the lock: other scrapes are not held up.
        if bcrypt::verify(&password, &users[i].1).unwrap_or(false) {
            self.inner
                .verified
                .lock()
                .unwrap_or_else(PoisonError::into_inner)[i] = Some(password);
            return true;
        }
        false
    }
}

fn load_tls(path: &Path, dir: &Path, t: TlsFile) -> Result<Tls, Error> {
    match t.client_auth_type.as_deref() {
        None | Some("") | Some("NoClientCert") => {}
        Some(other) => {
            return Err(invalid(
                path,
                format!(
                    "tls_server_config.client_auth_type {other:?} is not supported: TLS is \
                     served through tiny_http's rustls support, which cannot verify client \
                     certificates; remove it (or set NoClientCert) and use basic_auth_users, \
                     or put a TLS proxy that checks client certificates in front"
                ),
            ))
        }
    }
    if t.client_ca_file.is_some() {
        return Err(invalid(
            path,
            "tls_server_config.client_ca_file is given, but client certificates cannot be \
             verified (tiny_http's rustls support has no client authentication): remove it",
        ));
    }
    let read = |field: &str, p: Option<PathBuf>, labels: &[&str]| -> Result<Vec<u8>, Error> {
        let p = p.ok_or_else(|| {
            invalid(
                path,
                format!("tls_server_config needs {field} (a PEM file, relative to this file)"),
            )
        })?;
        let full = dir.join(&p);
        let bytes = std::fs::read(&full).map_err(|e| {
            invalid(
                path,
                format!(
                    "tls_server_config.{field}: cannot read {}: {e}",
                    full.display()
                ),
            )
        })?;
        if !has_pem(&bytes, labels) {
            return Err(invalid(
                path,
                format!(
                    "tls_server_config.{field}: {} holds no PEM block of the kinds {labels:?} \
                     (encrypted and EC-only keys are not supported: convert with `openssl \
                     pkcs8 -topk8 -nocrypt`)",
                    full.display()
                ),
            ));
        }
        Ok(bytes)
    };
    Ok(Tls {
        certificate: read("cert_file", t.cert_file, &["CERTIFICATE"])?,
        private_key: read("key_file", t.key_file, &["PRIVATE KEY", "RSA PRIVATE KEY"])?,
    })
}

/// `Basic <base64(user:password)>` as its user and password.
fn basic_credentials(header: &str) -> Option<(String, Vec<u8>)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn basic(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    #[test]
    fn basic_auth_checks_user_and_password_and_caches_only_success() {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let f = write(
            dir.path(),
            "web.yml",
            &format!("basic_auth_users:\n  alice: {hash}\n"),
        );
        let c = WebConfig::from_file(&f).unwrap();
        assert!(c.basic_auth() && !c.tls());
        assert!(!c.authorize(None));
        assert!(!c.authorize(Some("Bearer x")));
        assert!(!c.authorize(Some(&basic("alice", "wrong"))));
        assert!(
            c.inner.verified.lock().unwrap()[0].is_none(),
            "a wrong password was cached"
        );
        assert!(!c.authorize(Some(&basic("bob", "s3cret"))));
        assert!(c.authorize(Some(&basic("alice", "s3cret"))));
        assert_eq!(
            c.inner.verified.lock().unwrap()[0].as_deref(),
            Some(&b"s3cret"[..])
        );
        // Cached: still right, and a wrong password still fails.
        assert!(c.authorize(Some(&basic("alice", "s3cret"))));
        assert!(!c.authorize(Some(&basic("alice", "s3cret!"))));
        assert!(!c.authorize(Some(&basic("alic", "s3cret"))));
    }

    /// The error loading a file holding `text`, and the file's path.
    fn refused(text: &str) -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "web.yml", text);
        let e = WebConfig::from_file(&f).unwrap_err().to_string();
        (e, f.display().to_string())
    }

    #[test]
    fn a_plaintext_password_is_refused_naming_file_and_user() {
        let (e, file) = refused("basic_auth_users:\n  alice: hunter2\n");
        assert!(
            e.contains(&file) && e.contains("\"alice\"") && e.contains("bcrypt"),
            "{e}"
        );
    }

    #[test]
    fn client_certificates_and_unknown_fields_are_refused() {
        let tls = "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n";
        let (e, _) = refused(&format!(
            "{tls}  client_auth_type: RequireAndVerifyClientCert\n"
        ));
        assert!(
            e.contains("RequireAndVerifyClientCert") && e.contains("tiny_http"),
            "{e}"
        );
        let (e, _) = refused(&format!("{tls}  client_ca_file: ca.crt\n"));
        assert!(e.contains("client_ca_file"), "{e}");
        let (e, _) = refused(&format!("{tls}  min_version: TLS13\n"));
        assert!(e.contains("min_version"), "{e}");
        let (e, _) = refused(tls);
        assert!(e.contains("a.crt"), "{e}");
    }
}
