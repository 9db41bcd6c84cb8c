//! The web configuration file of Prometheus' exporter-toolkit: TLS and basic-auth users.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::Error;

/// The realm sent in `WWW-Authenticate` with a `401`.
pub const REALM: &str = "metrics";

/// A web configuration file in the format of Prometheus' exporter-toolkit
/// (`--web.config.file`), whole, so an operator reuses the file they already have:
///
/// ```yaml
/// tls_server_config:
///   cert_file: server.crt      # relative to this file's directory (or `cert:` inline PEM)
///   key_file: server.key       # RSA or EC, PKCS#1, PKCS#8 or SEC1, unencrypted (or `key:`)
///   client_auth_type: RequireAndVerifyClientCert
///   client_ca_file: ca.crt     # (or `client_ca:`)
///   client_allowed_sans: [prometheus.example]
///   min_version: TLS12         # TLS12 or TLS13 (TLS10/TLS11: served as TLS12 and up)
///   max_version: TLS13
///   cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]   # TLS 1.2 only, as in Go
///   curve_preferences: [X25519, CurveP256]
///   prefer_server_cipher_suites: true
/// http_server_config:
///   http2: true                # accepted; this server speaks HTTP/1.1
///   headers:
///     X-Frame-Options: deny
/// basic_auth_users:
///   prometheus: $2y$10$...     # bcrypt hashes only (htpasswd -nBC 10 "" | tr -d ':\n')
/// rate_limit:
///   interval: 100ms            # a request per interval on average (0: no limit)
///   burst: 10                  # and up to this many at once; past it: 429
/// ```
///
/// Every section is optional. Checked when loaded, with messages naming the file: a password
/// that is not a bcrypt hash (`$2a$`, `$2b$`, `$2x$`, `$2y$`) is refused (the file would
/// otherwise hold a plaintext password); so are unknown fields, certificate and key files that
/// cannot be read or used, a `client_auth_type` that needs CAs without any, `client_allowed_sans`
/// with a client authentication that lets a client in without a certificate, cipher suites and
/// curves rustls does not offer, and response headers exporter-toolkit does not allow.
///
/// `client_auth_type` is one of Go's: `NoClientCert` (default), `RequestClientCert` and
/// `RequireAnyClientCert` (asked for, not verified: insecure, as in Go),
/// `VerifyClientCertIfGiven`, `RequireAndVerifyClientCert` (verified against the client CAs).
/// The certificate, key and client CA files are read again when they change on disk (checked
/// at each new TLS connection), so a renewed certificate is served without a restart; a
/// replacement that cannot be used is ignored (the last good files stay in use).
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
    tls: Option<TlsSettings>,
    /// `(name, bcrypt hash)`, in the file's order.
    users: Vec<(String, String)>,
    /// Per user (same index), the last password that verified.
    verified: Mutex<Vec<Option<Vec<u8>>>>,
    /// `http_server_config.headers`, checked.
    headers: Vec<(String, String)>,
    /// `rate_limit`: `(interval, burst)`, when on.
    rate_limit: Option<(Duration, u32)>,
}

/// Where the certificate, key and client CAs come from: a file (re-read when it changes) or
/// PEM given inline.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    File(PathBuf),
    Inline(Vec<u8>),
}

/// `client_auth_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    No,
    Request,
    RequireAny,
    VerifyIfGiven,
    RequireAndVerify,
}

/// `tls_server_config`, checked.
#[derive(Clone, Debug)]
pub(crate) struct TlsSettings {
    pub(crate) cert: Source,
    pub(crate) key: Source,
    pub(crate) client_ca: Option<Source>,
    pub(crate) client_auth: ClientAuth,
    pub(crate) allowed_sans: Vec<String>,
    /// TLS 1.2, TLS 1.3 allowed.
    pub(crate) versions: (bool, bool),
    /// Go names of the TLS 1.2 suites, in preference order (empty: rustls' defaults).
    pub(crate) cipher_suites: Vec<String>,
    /// Go names of the key exchange groups, in preference order (empty: rustls' defaults).
    pub(crate) curves: Vec<String>,
    pub(crate) prefer_server_cipher_suites: bool,
    /// The certificate and key PEM as loaded.
    pub(crate) loaded: (Vec<u8>, Vec<u8>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    tls_server_config: Option<TlsFile>,
    http_server_config: Option<HttpFile>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
    rate_limit: Option<RateLimitFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_auth_type: Option<String>,
    client_ca_file: Option<PathBuf>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    #[allow(dead_code)]
    http2: Option<bool>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitFile {
    interval: Option<String>,
    burst: Option<u32>,
}

impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No hashes, no key.
        f.debug_struct("WebConfig")
            .field("file", &self.inner.file)
            .field("tls", &self.inner.tls)
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
            Some(t) => Some(tls_settings(path, dir, t)?),
        };
        let headers = match file.http_server_config {
            None => Vec::new(),
            Some(h) => response_headers(path, h.headers)?,
        };
        let rate_limit = match file.rate_limit {
            None => None,
            Some(r) => rate_limit(path, r)?,
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
        let tls = match tls {
            // Every certificate, key and CA usable now: errors at start, not at the first
            // handshake.
            Some(mut t) => {
                let built = crate::tls::build(&t).map_err(|e| invalid(path, e))?;
                t.loaded = built.pem;
                Some(t)
            }
            None => None,
        };
        Ok(WebConfig {
            inner: Arc::new(Inner {
                file: path.to_path_buf(),
                tls,
                users,
                verified,
                headers,
                rate_limit,
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

    pub(crate) fn tls_settings(&self) -> Option<&TlsSettings> {
        self.inner.tls.as_ref()
    }

    /// Whether clients must present a certificate (`RequireAnyClientCert`,
    /// `RequireAndVerifyClientCert`).
    pub fn client_certificates_required(&self) -> bool {
        self.inner.tls.as_ref().is_some_and(|t| {
            matches!(
                t.client_auth,
                ClientAuth::RequireAny | ClientAuth::RequireAndVerify
            )
        })
    }

    /// `http_server_config.headers`: added to every response.
    pub(crate) fn response_headers(&self) -> &[(String, String)] {
        &self.inner.headers
    }

    /// `rate_limit`: `(interval, burst)` when on.
    pub(crate) fn rate_limit(&self) -> Option<(Duration, u32)> {
        self.inner.rate_limit
    }

    /// The PEM bytes of the certificate chain and of the private key as they were when the
    /// file was loaded, when it serves over TLS: for a server that builds its own listener.
    pub fn tls_certificate_and_key(&self) -> Option<(&[u8], &[u8])> {
        self.inner
            .tls
            .as_ref()
            .map(|t| (t.loaded.0.as_slice(), t.loaded.1.as_slice()))
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

fn tls_settings(path: &Path, dir: &Path, t: TlsFile) -> Result<TlsSettings, Error> {
    let source = |field: &str,
                  inline: Option<String>,
                  file: Option<PathBuf>|
     -> Result<Option<Source>, Error> {
        match (inline, file) {
            (Some(_), Some(_)) => Err(invalid(
                path,
                format!("tls_server_config: give {field} or {field}_file, not both"),
            )),
            (Some(pem), None) => Ok(Some(Source::Inline(pem.into_bytes()))),
            (None, Some(f)) if f.as_os_str().is_empty() => Ok(None),
            (None, Some(f)) => Ok(Some(Source::File(dir.join(f)))),
            (None, None) => Ok(None),
        }
    };
    let need = |field: &str, s: Option<Source>| {
        s.ok_or_else(|| {
            invalid(
                path,
                format!(
                    "tls_server_config needs {field}_file (a PEM file, relative to this file) \
                     or {field} (PEM inline)"
                ),
            )
        })
    };
    let cert = need("cert", source("cert", t.cert, t.cert_file)?)?;
    let key = need("key", source("key", t.key, t.key_file)?)?;
    let client_ca = source("client_ca", t.client_ca, t.client_ca_file)?;
    let client_auth = match t.client_auth_type.as_deref() {
        None | Some("") | Some("NoClientCert") => ClientAuth::No,
        Some("RequestClientCert") => ClientAuth::Request,
        Some("RequireAnyClientCert") => ClientAuth::RequireAny,
        Some("VerifyClientCertIfGiven") => ClientAuth::VerifyIfGiven,
        Some("RequireAndVerifyClientCert") => ClientAuth::RequireAndVerify,
        Some(other) => {
            return Err(invalid(
                path,
                format!(
                    "tls_server_config.client_auth_type {other:?} is not one of NoClientCert, \
                     RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, \
                     RequireAndVerifyClientCert"
                ),
            ))
        }
    };
    if matches!(
        client_auth,
        ClientAuth::VerifyIfGiven | ClientAuth::RequireAndVerify
    ) && client_ca.is_none()
    {
        return Err(invalid(
            path,
            format!(
                "tls_server_config.client_auth_type {:?} verifies client certificates: give \
                 client_ca_file (the PEM certificates of the CAs that sign them)",
                t.client_auth_type.unwrap_or_default()
            ),
        ));
    }
    let allowed_sans = t.client_allowed_sans.unwrap_or_default();
    if !allowed_sans.is_empty()
        && !matches!(
            client_auth,
            ClientAuth::RequireAny | ClientAuth::RequireAndVerify
        )
    {
        return Err(invalid(
            path,
            "tls_server_config.client_allowed_sans needs client_auth_type \
             RequireAndVerifyClientCert (or RequireAnyClientCert): the others let a client in \
             without a certificate, leaving no SAN to check",
        ));
    }
    let version = |field: &str, v: Option<String>, default: u8| -> Result<u8, Error> {
        match v.as_deref() {
            None | Some("") => Ok(default),
            Some("TLS10") => Ok(10),
            Some("TLS11") => Ok(11),
            Some("TLS12") => Ok(12),
            Some("TLS13") => Ok(13),
            Some(other) => Err(invalid(
                path,
                format!("tls_server_config.{field} {other:?} is not TLS10, TLS11, TLS12 or TLS13"),
            )),
        }
    };
    let min = version("min_version", t.min_version, 12)?;
    let max = version("max_version", t.max_version, 13)?;
    let versions = (min <= 12 && max >= 12, max >= 13);
    if min > max || !(versions.0 || versions.1) {
        return Err(invalid(
            path,
            format!(
                "tls_server_config: no TLS version between min_version and max_version that \
                 this server speaks (TLS12 and TLS13; TLS 1.0 and 1.1 are not offered by \
                 rustls): got TLS{min}..TLS{max}"
            ),
        ));
    }
    Ok(TlsSettings {
        cert,
        key,
        client_ca,
        client_auth,
        allowed_sans,
        versions,
        cipher_suites: t.cipher_suites.unwrap_or_default(),
        curves: t.curve_preferences.unwrap_or_default(),
        prefer_server_cipher_suites: t.prefer_server_cipher_suites.unwrap_or(true),
        loaded: (Vec::new(), Vec::new()),
    })
}

/// `http_server_config.headers`: the five exporter-toolkit allows, with its checks.
fn response_headers(
    path: &Path,
    headers: BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    for (name, value) in headers {
        let allowed = [
            "Strict-Transport-Security",
            "X-Content-Type-Options",
            "X-Frame-Options",
            "X-XSS-Protection",
            "Content-Security-Policy",
        ];
        let Some(canonical) = allowed.iter().find(|a| a.eq_ignore_ascii_case(&name)) else {
            return Err(invalid(
                path,
                format!(
                    "http_server_config.headers: {name:?} cannot be set; the headers are \
                     {allowed:?}"
                ),
            ));
        };
        if value.is_empty() {
            continue;
        }
        let ok = match *canonical {
            "X-Content-Type-Options" => value.eq_ignore_ascii_case("nosniff"),
            "X-Frame-Options" => {
                value.eq_ignore_ascii_case("deny") || value.eq_ignore_ascii_case("sameorigin")
            }
            _ => value
                .bytes()
                .all(|b| b == b'\t' || (b' '..=b'~').contains(&b)),
        };
        if !ok {
            return Err(invalid(
                path,
                format!("http_server_config.headers: invalid value {value:?} for {canonical}"),
            ));
        }
        out.push((canonical.to_string(), value));
    }
    Ok(out)
}

/// `rate_limit`: off when the interval is 0 or absent.
fn rate_limit(path: &Path, r: RateLimitFile) -> Result<Option<(Duration, u32)>, Error> {
    let interval = match r.interval.as_deref().map(str::trim) {
        None | Some("") | Some("0") => return Ok(None),
        Some(text) => humantime::parse_duration(text).map_err(|e| {
            invalid(
                path,
                format!("rate_limit.interval {text:?} is not a duration such as 100ms or 1s: {e}"),
            )
        })?,
    };
    if interval.is_zero() {
        return Ok(None);
    }
    let burst = r.burst.unwrap_or(0);
    if burst == 0 {
        return Err(invalid(
            path,
            "rate_limit.burst must be at least 1 with an interval (a burst of 0 refuses every \
             request)",
        ));
    }
    Ok(Some((interval, burst)))
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

    /// A CA-less self-signed certificate and its key (EC P-256, PKCS#8), written into `dir`.
    fn certificate(dir: &Path) {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        write(dir, "a.crt", &c.cert.pem());
        write(dir, "a.key", &c.signing_key.serialize_pem());
    }

    #[test]
    fn the_whole_exporter_toolkit_format_is_read() {
        let dir = tempfile::tempdir().unwrap();
        certificate(dir.path());
        let f = write(
            dir.path(),
            "web.yml",
            "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: a.crt\n  \
             client_allowed_sans: [localhost]\n  min_version: TLS12\n  max_version: TLS13\n  \
             cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, \
             TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305]\n  curve_preferences: [X25519, CurveP256]\n  \
             prefer_server_cipher_suites: false\n\
             http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n    \
             X-Content-Type-Options: nosniff\n\
             rate_limit:\n  interval: 100ms\n  burst: 5\n",
        );
        let c = WebConfig::from_file(&f).unwrap();
        assert!(c.tls() && c.client_certificates_required() && !c.basic_auth());
        assert_eq!(c.rate_limit(), Some((Duration::from_millis(100), 5)));
        assert_eq!(
            c.response_headers(),
            [
                ("X-Content-Type-Options".to_string(), "nosniff".to_string()),
                ("X-Frame-Options".to_string(), "deny".to_string())
            ]
        );
        let t = c.tls_settings().unwrap();
        assert_eq!(t.client_auth, ClientAuth::RequireAndVerify);
        assert_eq!(t.versions, (true, true));
        assert!(c
            .tls_certificate_and_key()
            .unwrap()
            .0
            .starts_with(b"-----BEGIN"));
        // Inline PEM works the same.
        let cert = std::fs::read_to_string(dir.path().join("a.crt")).unwrap();
        let key = std::fs::read_to_string(dir.path().join("a.key")).unwrap();
        let indent = |s: &str| s.replace('\n', "\n    ");
        let f = write(
            dir.path(),
            "inline.yml",
            &format!(
                "tls_server_config:\n  cert: |\n    {}\n  key: |\n    {}\n",
                indent(&cert),
                indent(&key)
            ),
        );
        assert!(WebConfig::from_file(&f).unwrap().tls());
    }

    #[test]
    fn inconsistent_tls_settings_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        certificate(dir.path());
        let refused_in = |text: &str| {
            let f = write(dir.path(), "web.yml", text);
            WebConfig::from_file(&f).unwrap_err().to_string()
        };
        let tls = "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n";
        let e = refused_in(&format!(
            "{tls}  client_auth_type: RequireAndVerifyClientCert\n"
        ));
        assert!(e.contains("client_ca_file"), "{e}");
        let e = refused_in(&format!("{tls}  client_auth_type: Whatever\n"));
        assert!(e.contains("Whatever"), "{e}");
        let e = refused_in(&format!(
            "{tls}  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: a.crt\n  \
             client_allowed_sans: [x]\n"
        ));
        assert!(e.contains("client_allowed_sans"), "{e}");
        let e = refused_in(&format!(
            "{tls}  min_version: TLS13\n  max_version: TLS12\n"
        ));
        assert!(e.contains("min_version"), "{e}");
        let e = refused_in(&format!("{tls}  max_version: TLS11\n"));
        assert!(e.contains("TLS 1.0 and 1.1"), "{e}");
        let e = refused_in(&format!(
            "{tls}  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n"
        ));
        assert!(e.contains("TLS_RSA_WITH_AES_128_CBC_SHA"), "{e}");
        let e = refused_in(&format!("{tls}  curve_preferences: [CurveP521]\n"));
        assert!(e.contains("CurveP521"), "{e}");
        let e = refused_in(&format!("{tls}  unknown_field: 1\n"));
        assert!(e.contains("unknown_field"), "{e}");
        let e = refused_in("http_server_config:\n  headers:\n    Server: me\n");
        assert!(e.contains("Server"), "{e}");
        let e = refused_in("http_server_config:\n  headers:\n    X-Frame-Options: allow\n");
        assert!(e.contains("X-Frame-Options"), "{e}");
        let e = refused_in("rate_limit:\n  interval: 1s\n  burst: 0\n");
        assert!(e.contains("burst"), "{e}");
        let e = refused_in("rate_limit:\n  interval: soon\n  burst: 1\n");
        assert!(e.contains("interval"), "{e}");
        let e = refused_in("tls_server_config:\n  cert_file: nope.crt\n  key_file: a.key\n");
        assert!(e.contains("nope.crt"), "{e}");
        let e = refused_in("tls_server_config:\n  cert_file: a.key\n  key_file: a.key\n");
        assert!(e.contains("CERTIFICATE"), "{e}");
        let e = refused_in("tls_server_config:\n  cert_file: a.crt\n  key_file: a.crt\n");
        assert!(e.contains("private key"), "{e}");
        // A key that does not belong to the certificate.
        let other = rcgen::KeyPair::generate().unwrap();
        write(dir.path(), "other.key", &other.serialize_pem());
        let e = refused_in("tls_server_config:\n  cert_file: a.crt\n  key_file: other.key\n");
        assert!(e.contains("cannot be used together"), "{e}");
        assert!(
            WebConfig::from_file(write(dir.path(), "ok.yml", "rate_limit:\n  interval: 0s\n"))
                .unwrap()
                .rate_limit()
                .is_none()
        );
    }
}
