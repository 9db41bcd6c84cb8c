//! TLS from the web configuration: a rustls 0.23 server configuration (ring provider) with
//! exporter-toolkit's client authentication, versions, suites and curves, rebuilt when the
//! certificate, key or client CA files change on disk.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{ring, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig,
    SignatureScheme,
};

use crate::web_config::{ClientAuth, Source, TlsSettings};

/// A server configuration and the certificate and key PEM it was built from.
pub(crate) struct Built {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) pem: (Vec<u8>, Vec<u8>),
}

fn read(what: &str, source: &Source) -> Result<Vec<u8>, String> {
    match source {
        Source::Inline(pem) => Ok(pem.clone()),
        Source::File(path) => std::fs::read(path).map_err(|e| {
            format!(
                "tls_server_config: cannot read {what} {}: {e}",
                path.display()
            )
        }),
    }
}

fn named(what: &str, source: &Source) -> String {
    match source {
        Source::Inline(_) => format!("the inline {what}"),
        Source::File(p) => format!("{what} {}", p.display()),
    }
}

fn certificates(what: &str, source: &Source) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(what, source)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls_server_config: {}: {e}", named(what, source)))?;
    if certs.is_empty() {
        return Err(format!(
            "tls_server_config: {} holds no PEM CERTIFICATE block",
            named(what, source)
        ));
    }
    Ok(certs)
}

/// The Go name of a TLS 1.2 suite as rustls names it.
fn rustls_suite_name(go: &str) -> String {
    if go.ends_with("CHACHA20_POLY1305") {
        format!("{go}_SHA256")
    } else {
        go.to_string()
    }
}

/// The ring provider restricted and ordered as `cipher_suites` and `curve_preferences` say.
fn provider(t: &TlsSettings) -> Result<CryptoProvider, String> {
    // rustls 0.23.48 deprecates the ring provider because it has no post-quantum key
    // exchange (X25519MLKEM768); aws-lc-rs has one but needs a C build of AWS-LC. ring is kept:
    // X25519, P-256 and P-384 as exporter-toolkit's Go offered before 1.24.
    #[allow(deprecated)]
    let mut p = ring::default_provider();
    if !t.cipher_suites.is_empty() {
        let mut suites: Vec<_> = p
            .cipher_suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS13)
            .copied()
            .collect();
        for go in &t.cipher_suites {
            let want = rustls_suite_name(go);
            let found = p
                .cipher_suites
                .iter()
                .find(|s| {
                    s.version() == &rustls::version::TLS12 && format!("{:?}", s.suite()) == want
                })
                .ok_or_else(|| {
                    let offered: Vec<String> = p
                        .cipher_suites
                        .iter()
                        .filter(|s| s.version() == &rustls::version::TLS12)
                        .map(|s| format!("{:?}", s.suite()))
                        .collect();
                    format!(
                        "tls_server_config.cipher_suites: {go} is not offered (rustls offers \
                         only AEAD suites with forward secrecy for TLS 1.2: {})",
                        offered.join(", ")
                    )
                })?;
            suites.push(*found);
        }
        p.cipher_suites = suites;
    }
    if !t.curves.is_empty() {
        let mut groups = Vec::new();
        for go in &t.curves {
            let want = match go.as_str() {
                "X25519" => "X25519",
                "CurveP256" => "secp256r1",
                "CurveP384" => "secp384r1",
                other => {
                    return Err(format!(
                        "tls_server_config.curve_preferences: {other} is not offered; use \
                         X25519, CurveP256 or CurveP384"
                    ))
                }
            };
            if let Some(g) = p
                .kx_groups
                .iter()
                .find(|g| format!("{:?}", g.name()) == want)
            {
                groups.push(*g);
            }
        }
        p.kx_groups = groups;
    }
    Ok(p)
}

/// Builds the server configuration `t` describes, reading its files.
pub(crate) fn build(t: &TlsSettings) -> Result<Built, String> {
    let provider = Arc::new(provider(t)?);
    let cert_pem = read("cert_file", &t.cert)?;
    let key_pem = read("key_file", &t.key)?;
    let certs = certificates("cert_file", &t.cert)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "tls_server_config: {} holds no usable private key ({e}): an unencrypted RSA or \
             EC key in PKCS#1 (`RSA PRIVATE KEY`), PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC \
             PRIVATE KEY`) PEM is needed",
            named("key_file", &t.key)
        )
    })?;

    let mut versions = Vec::new();
    if t.versions.0 {
        versions.push(&rustls::version::TLS12);
    }
    if t.versions.1 {
        versions.push(&rustls::version::TLS13);
    }
    let algorithms = provider.signature_verification_algorithms;
    let roots = || -> Result<Arc<RootCertStore>, String> {
        let source = t.client_ca.as_ref().ok_or("client_ca_file is needed")?;
        let mut roots = RootCertStore::empty();
        for c in certificates("client_ca_file", source)? {
            roots.add(c).map_err(|e| {
                format!(
                    "tls_server_config: {}: {e}",
                    named("client_ca_file", source)
                )
            })?;
        }
        Ok(Arc::new(roots))
    };
    let verifier: Arc<dyn ClientCertVerifier> = match t.client_auth {
        ClientAuth::No => WebPkiClientVerifier::no_client_auth(),
        ClientAuth::Request | ClientAuth::RequireAny => Arc::new(AnyCertificate {
            mandatory: t.client_auth == ClientAuth::RequireAny,
            algorithms,
        }),
        ClientAuth::VerifyIfGiven | ClientAuth::RequireAndVerify => {
            let mut b = WebPkiClientVerifier::builder_with_provider(roots()?, provider.clone());
            if t.client_auth == ClientAuth::VerifyIfGiven {
                b = b.allow_unauthenticated();
            }
            b.build()
                .map_err(|e| format!("tls_server_config: client CAs: {e}"))?
        }
    };
    let verifier: Arc<dyn ClientCertVerifier> = if t.allowed_sans.is_empty() {
        verifier
    } else {
        Arc::new(AllowedSans {
            inner: verifier,
            allowed: t.allowed_sans.clone(),
        })
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "tls_server_config: the certificate and key cannot be used together: {e} \
                 (does {} belong to {}?)",
                named("key_file", &t.key),
                named("cert_file", &t.cert)
            )
        })?;
    config.ignore_client_order = t.prefer_server_cipher_suites;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Built {
        config: Arc::new(config),
        pem: (cert_pem, key_pem),
    })
}

/// A file's identity and version: modification time, size, inode.
type Stamp = Vec<Option<(SystemTime, u64, u64)>>;

fn stamp(t: &TlsSettings) -> Stamp {
    let one = |s: &Source| match s {
        Source::Inline(_) => None,
        Source::File(p) => file_stamp(p),
    };
    let mut v = vec![one(&t.cert), one(&t.key)];
    if let Some(ca) = &t.client_ca {
        v.push(one(ca));
    }
    v
}

fn file_stamp(p: &Path) -> Option<(SystemTime, u64, u64)> {
    let m = std::fs::metadata(p).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some((m.modified().ok()?, m.len(), inode))
}

/// The current server configuration, rebuilt when a file it was built from changes.
pub(crate) struct Reloading {
    settings: TlsSettings,
    state: Mutex<(Stamp, Arc<ServerConfig>)>,
}

impl fmt::Debug for Reloading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reloading")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Reloading {
    pub(crate) fn new(settings: TlsSettings) -> Result<Reloading, String> {
        let s = stamp(&settings);
        let built = build(&settings)?;
        Ok(Reloading {
            settings,
            state: Mutex::new((s, built.config)),
        })
    }

    /// The configuration for a new connection: rebuilt first when a file changed (a
    /// replacement that cannot be used is ignored, and tried again when it changes again).
    pub(crate) fn current(&self) -> Arc<ServerConfig> {
        let now = stamp(&self.settings);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if now != state.0 {
            state.0 = now;
            if let Ok(built) = build(&self.settings) {
                state.1 = built.config;
            }
        }
        state.1.clone()
    }
}

/// `RequestClientCert` / `RequireAnyClientCert`: a certificate is asked for (and required),
/// its handshake signature checked, and nothing else, as Go does.
#[derive(Debug)]
struct AnyCertificate {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyCertificate {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `client_allowed_sans`: the certificate must also carry one of these SANs exactly (DNS,
/// IP, e-mail or URI), as exporter-toolkit checks.
#[derive(Debug)]
struct AllowedSans {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

/// The SANs of a DER certificate, as strings.
pub(crate) fn sans(der: &[u8]) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                Some((*s).to_string())
            }
            GeneralName::IPAddress(b) => match b.len() {
                4 => Some(std::net::IpAddr::from(<[u8; 4]>::try_from(*b).ok()?).to_string()),
                16 => Some(std::net::IpAddr::from(<[u8; 16]>::try_from(*b).ok()?).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

impl ClientCertVerifier for AllowedSans {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if sans(end_entity.as_ref())
            .iter()
            .any(|san| self.allowed.iter().any(|a| a == san))
        {
            Ok(verified)
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
