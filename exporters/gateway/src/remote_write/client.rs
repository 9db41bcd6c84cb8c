//! One target's HTTP client (ureq with rustls): a write request POSTed with the version's
//! headers and the target's credentials, and what its answer means for the queue.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use metrics_exporter_push::retry;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use super::target::{Auth, Target};

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// 2xx: the receiver took the request.
    Sent,
    /// A connection error, a timeout, a 5xx or a 429: try again, after `after` when the
    /// receiver said (`Retry-After`).
    Retry {
        /// What went wrong.
        why: String,
        /// The receiver's `Retry-After`.
        after: Option<Duration>,
    },
    /// Another 4xx: the receiver will never take it; dropped.
    Refused {
        /// The status and the first line of the receiver's answer.
        why: String,
    },
}

/// Reads the certificates of a PEM file.
pub fn read_ca(file: &Path) -> Result<Vec<Certificate<'static>>, String> {
    let pem = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(format!("{}: {e}", file.display())),
        }
    }
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            file.display()
        ));
    }
    Ok(certs)
}

/// A target's client.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    url: String,
    headers: [(&'static str, &'static str); 3],
    auth: Auth,
}

/// The first line of an answer, at most this long, in messages.
const MAX_REASON: usize = 200;

impl Client {
    /// The client for `target` (reads its CA file).
    pub fn new(target: &Target) -> Result<Client, String> {
        let mut tls = TlsConfig::builder().disable_verification(target.insecure_skip_verify);
        if let Some(ca) = &target.ca_file {
            tls = tls.root_certs(RootCerts::Specific(Arc::new(read_ca(ca)?)));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(target.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("metrics-gateway/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls.build())
            .build()
            .into();
        Ok(Client {
            agent,
            url: target.url.clone(),
            headers: target.version.headers(),
            auth: target.auth.clone(),
        })
    }

    /// POSTs one compressed write request.
    pub fn post(&self, body: &[u8]) -> Attempt {
        let mut request = self.agent.post(&self.url);
        for (name, value) in self.headers {
            request = request.header(name, value);
        }
        let authorization = match &self.auth {
            Auth::None => None,
            Auth::Basic { username, password } => match password.read() {
                Ok(p) => Some(format!(
                    "Basic {}",
                    STANDARD.encode(format!("{username}:{p}"))
                )),
                Err(why) => return Attempt::Retry { why, after: None },
            },
            Auth::Bearer(token) => match token.read() {
                Ok(t) => Some(format!("Bearer {t}")),
                Err(why) => return Attempt::Retry { why, after: None },
            },
        };
        if let Some(a) = authorization {
            request = request.header("Authorization", a);
        }
        let mut response = match request.send(body) {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    why: e.to_string(),
                    after: None,
                }
            }
        };
        let status = response.status();
        if retry::classify(status.as_u16()) == retry::Status::Delivered {
            // Read the (short) answer so the connection can be used again.
            let _ = response.body_mut().read_to_string();
            return Attempt::Sent;
        }
        let after = response
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(retry::retry_after);
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let mut line = text.lines().next().unwrap_or("").trim().to_owned();
        if line.len() > MAX_REASON {
            let mut end = MAX_REASON;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            line.truncate(end);
        }
        let why = if line.is_empty() {
            format!("{status}")
        } else {
            format!("{status}: {line}")
        };
        if retry::classify(status.as_u16()) == retry::Status::Retry {
            Attempt::Retry { why, after }
        } else {
            Attempt::Refused { why }
        }
    }
}
