//! TLS through the web configuration, with a rustls client: client certificates in each of
//! exporter-toolkit's modes, `client_allowed_sans`, a certificate replaced on disk, and (with
//! `openssl`) RSA and EC keys in PKCS#1, PKCS#8 and SEC1.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::sample;
use metrics_exporter_http::{Config, Exporter, WebConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use test_support::tls::{Ca, Usage};

/// One `GET /metrics` over TLS trusting `ca_pem`, with a client certificate or none: the
/// answer's status line and the server certificate's DER, or the error.
fn get(
    addr: SocketAddr,
    ca_pem: &str,
    client: Option<&(String, String)>,
) -> Result<(String, Vec<u8>), String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let read = tls.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    if !text.starts_with("HTTP/1.1 ") {
        return Err(format!("{read:?}: {text}"));
    }
    let server_cert = tls.conn.peer_certificates().unwrap()[0].to_vec();
    Ok((text.lines().next().unwrap().to_string(), server_cert))
}

/// An exporter with `tls_server_config` = `extra` plus a server certificate of `ca` for
/// localhost, written into `dir`.
fn serve(dir: &Path, ca: &Ca, extra: &str) -> Exporter {
    let (crt, key) = ca.sign("server", &["localhost", "127.0.0.1"], Usage::Any);
    std::fs::write(dir.join("server.crt"), crt).unwrap();
    std::fs::write(dir.join("server.key"), key).unwrap();
    std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
    let f = dir.join("web.yml");
    std::fs::write(
        &f,
        format!("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{extra}"),
    )
    .unwrap();
    let web = WebConfig::from_file(&f).unwrap();
    Exporter::start(
        Config::new("127.0.0.1", 0)
            .web_config(Some(web))
            .self_metrics(true),
        sample().registry,
    )
    .unwrap()
}

const OK: &str = "HTTP/1.1 200 OK";

#[test]
fn client_certificates_in_each_mode() {
    let ca = Ca::new("test CA");
    let other = Ca::new("other CA");
    let ca_pem = ca.pem();
    let good = ca.sign("prometheus", &["prometheus.test"], Usage::Any);
    let wrong_san = ca.sign("someone", &["someone.test"], Usage::Any);
    let foreign = other.sign("prometheus", &["prometheus.test"], Usage::Any);

    let dir = tempfile::tempdir().unwrap();
    let e = serve(
        dir.path(),
        &ca,
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n",
    );
    let a = e.local_addr();
    assert_eq!(get(a, &ca_pem, Some(&good)).unwrap().0, OK);
    assert!(get(a, &ca_pem, Some(&foreign)).is_err());
    assert!(get(a, &ca_pem, None).is_err());

    let dir = tempfile::tempdir().unwrap();
    let e = serve(
        dir.path(),
        &ca,
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  \
         client_allowed_sans: [prometheus.test]\n",
    );
    let a = e.local_addr();
    assert_eq!(get(a, &ca_pem, Some(&good)).unwrap().0, OK);
    assert!(get(a, &ca_pem, Some(&wrong_san)).is_err());

    let dir = tempfile::tempdir().unwrap();
    let e = serve(
        dir.path(),
        &ca,
        "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n",
    );
    let a = e.local_addr();
    assert_eq!(get(a, &ca_pem, Some(&good)).unwrap().0, OK);
    assert_eq!(get(a, &ca_pem, None).unwrap().0, OK);
    assert!(get(a, &ca_pem, Some(&foreign)).is_err());

    let dir = tempfile::tempdir().unwrap();
    let e = serve(
        dir.path(),
        &ca,
        "  client_auth_type: RequireAnyClientCert\n",
    );
    let a = e.local_addr();
    assert_eq!(get(a, &ca_pem, Some(&foreign)).unwrap().0, OK);
    assert!(get(a, &ca_pem, None).is_err());
    // The refused handshakes are counted.
    let (_, _) = get(a, &ca_pem, Some(&good)).unwrap();
}

#[test]
fn a_certificate_replaced_on_disk_is_served_at_the_next_handshake() {
    let ca = Ca::new("test CA");
    let ca_pem = ca.pem();
    let dir = tempfile::tempdir().unwrap();
    let e = serve(dir.path(), &ca, "");
    let a = e.local_addr();
    let (status, first) = get(a, &ca_pem, None).unwrap();
    assert_eq!(status, OK);
    let (crt, key) = ca.sign("renewed", &["localhost", "127.0.0.1"], Usage::Any);
    std::fs::write(dir.path().join("new.key"), key).unwrap();
    std::fs::write(dir.path().join("new.crt"), &crt).unwrap();
    std::fs::rename(dir.path().join("new.key"), dir.path().join("server.key")).unwrap();
    std::fs::rename(dir.path().join("new.crt"), dir.path().join("server.crt")).unwrap();
    let (status, second) = get(a, &ca_pem, None).unwrap();
    assert_eq!(status, OK);
    assert_ne!(first, second);
    let want = CertificateDer::from_pem_slice(crt.as_bytes()).unwrap();
    assert_eq!(second, want.to_vec());
    // A broken replacement is ignored: the last good pair stays.
    std::fs::write(dir.path().join("server.crt"), "not a certificate").unwrap();
    let (status, third) = get(a, &ca_pem, None).unwrap();
    assert_eq!(status, OK);
    assert_eq!(third, second);
}

/// Runs openssl with `args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs openssl (Debian package); run via scripts/test.sh"]
fn rsa_and_ec_keys_in_pkcs1_pkcs8_and_sec1() {
    for (name, generate, label) in [
        (
            "rsa-pkcs1",
            &["genrsa", "-traditional", "-out", "k.pem", "2048"][..],
            "BEGIN RSA PRIVATE KEY",
        ),
        (
            "rsa-pkcs8",
            &["genpkey", "-algorithm", "RSA", "-out", "k.pem"][..],
            "BEGIN PRIVATE KEY",
        ),
        (
            "ec-sec1",
            &[
                "ecparam",
                "-genkey",
                "-name",
                "prime256v1",
                "-noout",
                "-out",
                "k.pem",
            ][..],
            "BEGIN EC PRIVATE KEY",
        ),
        (
            "ec-p384-pkcs8",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-out",
                "k.pem",
            ][..],
            "BEGIN PRIVATE KEY",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(d, generate);
        let key = std::fs::read_to_string(d.join("k.pem")).unwrap();
        assert!(key.contains(label), "{name}: {key}");
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "k.pem",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-days",
                "2",
                "-out",
                "c.pem",
            ],
        );
        let f = d.join("web.yml");
        std::fs::write(
            &f,
            "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n",
        )
        .unwrap();
        let web = WebConfig::from_file(&f).unwrap_or_else(|e| panic!("{name}: {e}"));
        let e = Exporter::start(
            Config::new("127.0.0.1", 0).web_config(Some(web)),
            sample().registry,
        )
        .unwrap();
        let cert = std::fs::read_to_string(d.join("c.pem")).unwrap();
        let (status, _) =
            get(e.local_addr(), &cert, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(status, OK, "{name}");
    }
}
