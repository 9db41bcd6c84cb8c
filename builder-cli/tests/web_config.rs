//! `--web-config-file`: basic auth and TLS on the real `builder_cli` exporter, the refusals
//! at start, the example file in `monitoring/`, a real Prometheus scraping over TLS with a
//! right and a wrong password, and with a client certificate of the test CA (up), of another
//! CA and without one (down); a certificate replaced on disk served without a restart.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use base64::Engine as _;
use common::{free_port, BIN};
use test_support::tls::{Ca, Usage};
use test_support::{spawn_listening, workspace_root, Prometheus, Tool};

const JOB: &str = "name: web\nsteps:\n  - name: only\n    run: 'true'\nprofiles:\n  main: {}\n";

/// A directory with a job file and a web config built from `web` (written as `web.yml`).
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(web: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("job.yaml"), JOB).unwrap();
        std::fs::write(dir.path().join("web.yml"), web).unwrap();
        Setup { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `builder_cli validate --job job.yaml --prometheus-port PORT --web-config-file web.yml`.
    fn command(&self, port: u16, extra: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("validate")
            .arg("--job")
            .arg(self.path("job.yaml"))
            .arg("--prometheus-port")
            .arg(port.to_string())
            .arg("--prometheus-address")
            .arg("127.0.0.1")
            .arg("--web-config-file")
            .arg(self.path("web.yml"))
            .args(extra)
            .stdin(Stdio::null());
        c
    }

    fn run(&self) -> Output {
        self.command(free_port(), &[]).output().unwrap()
    }

    /// Starts an exporter that lingers, and waits until its port accepts connections.
    fn serve(&self) -> (Child, u16) {
        let port = free_port();
        let child = spawn_listening(
            self.command(port, &["--linger", "120s"])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            ("127.0.0.1", port),
            "the exporter",
        );
        (child, port)
    }
}

/// A throwaway self-signed certificate for 127.0.0.1 and localhost: `(cert PEM, key PEM)`.
fn certificate() -> (String, String) {
    let c =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    (c.cert.pem(), c.signing_key.serialize_pem())
}

/// The lowest bcrypt cost: the tests check the logic, not the slowness.
fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

/// One plain HTTP/1.0 request to `/metrics`: the whole answer (head and body).
fn get(port: u16, authorization: Option<String>) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(s, "GET /metrics HTTP/1.0\r\n{auth}\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

fn basic(user: &str, password: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {b64}")
}

#[test]
fn basic_auth_needs_a_listed_user_and_its_password() {
    let setup = Setup::new(&format!(
        "basic_auth_users:\n  scraper: {}\n",
        hash("right-password")
    ));
    let (mut child, port) = setup.serve();
    let answers = [
        (None, false),
        (Some(basic("scraper", "wrong-password")), false),
        (Some(basic("someone", "right-password")), false),
        (Some("Bearer right-password".to_string()), false),
        (Some(basic("scraper", "right-password")), true),
        // Again: now from the cache of good verifications.
        (Some(basic("scraper", "right-password")), true),
        (Some(basic("scraper", "wrong-password")), false),
    ];
    for (auth, ok) in answers {
        let a = get(port, auth.clone());
        if ok {
            assert!(a.starts_with("HTTP/1.1 200"), "{auth:?}: {a}");
            assert!(a.contains("pipeline_run_info{"), "{a}");
        } else {
            assert!(a.starts_with("HTTP/1.1 401"), "{auth:?}: {a}");
            assert!(
                a.contains("WWW-Authenticate: Basic realm=\"metrics\""),
                "{auth:?}: {a}"
            );
            assert!(!a.contains("pipeline_run_info"), "{a}");
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_plaintext_password_is_refused_at_start() {
    let setup = Setup::new("basic_auth_users:\n  scraper: hunter2\n");
    let out = setup.run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&setup.path("web.yml").display().to_string())
            && stderr.contains("\"scraper\"")
            && stderr.contains("not a bcrypt hash"),
        "{stderr}"
    );
}

#[test]
fn client_certificates_without_client_cas_are_refused_at_start() {
    let setup = Setup::new(
        "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n  client_auth_type: RequireAndVerifyClientCert\n",
    );
    let (cert, key) = certificate();
    std::fs::write(setup.path("s.crt"), cert).unwrap();
    std::fs::write(setup.path("s.key"), key).unwrap();
    let out = setup.run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("RequireAndVerifyClientCert") && stderr.contains("client_ca_file"),
        "{stderr}"
    );
}

/// The subject of the certificate a TLS server on `port` presents now (a new handshake), as
/// `openssl s_client` sees it with the given client certificate.
fn served_subject(port: u16, dir: &Path) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .arg("-cert")
        .arg(dir.join("good.crt"))
        .arg("-key")
        .arg(dir.join("good.key"))
        .stdin(Stdio::null())
        .output()
        .expect("openssl (Debian package openssl)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("subject="))
        .unwrap_or_default()
        .to_string()
}

#[test]
#[ignore = "needs prometheus and openssl (Debian packages); run via scripts/test.sh"]
fn prometheus_scrapes_with_a_client_certificate_and_others_are_refused() {
    let ca = Ca::new("test CA");
    let other_ca = Ca::new("another CA");
    let (server_crt, server_key) = ca.sign("server-1", &["127.0.0.1", "localhost"], Usage::Server);
    let (good_crt, good_key) = ca.sign("prometheus", &["prometheus.test"], Usage::Client);
    let (bad_crt, bad_key) = other_ca.sign("prometheus", &["prometheus.test"], Usage::Client);
    let setup = Setup::new(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  \
         client_allowed_sans: [prometheus.test]\n",
    );
    for (name, text) in [
        ("server.crt", &server_crt),
        ("server.key", &server_key),
        ("ca.crt", &ca.pem()),
        ("good.crt", &good_crt),
        ("good.key", &good_key),
    ] {
        std::fs::write(setup.path(name), text).unwrap();
    }
    let (mut child, port) = setup.serve();

    let job = |name: &str, client: Option<&str>| {
        let cert = client
            .map(|c| format!("\n      cert_file: {c}.crt\n      key_file: {c}.key"))
            .unwrap_or_default();
        format!(
            r#"
  - job_name: {name}
    scheme: https
    tls_config:
      ca_file: ca.pem{cert}
    static_configs:
      - targets: ['127.0.0.1:{port}']
"#
        )
    };
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:{}{}{}",
        job("good", Some("good")),
        job("other_ca", Some("bad")),
        job("none", None),
    );
    let prom = Prometheus::start(&config, |dir| {
        for (name, text) in [
            ("ca.pem", ca.pem()),
            ("good.crt", good_crt.clone()),
            ("good.key", good_key.clone()),
            ("bad.crt", bad_crt.clone()),
            ("bad.key", bad_key.clone()),
        ] {
            std::fs::write(dir.join(name), text).unwrap();
        }
    });
    prom.expect("up{job=\"good\"}", 1.0);
    prom.expect("up{job=\"other_ca\"}", 0.0);
    prom.expect("up{job=\"none\"}", 0.0);
    assert_eq!(
        prom.value("pipeline_run_info{job=\"good\",exported_job=\"web\"}"),
        Some(1.0)
    );

    // A renewed certificate replaced on disk is served at the next handshake, no restart.
    assert!(
        served_subject(port, setup.dir.path()).contains("server-1"),
        "{}",
        served_subject(port, setup.dir.path())
    );
    let (renewed_crt, renewed_key) =
        ca.sign("server-2", &["127.0.0.1", "localhost"], Usage::Server);
    // The key first (the pair is checked together: a certificate without its key is not
    // taken, the old pair stays until both match).
    std::fs::write(setup.path("server.key.new"), &renewed_key).unwrap();
    std::fs::write(setup.path("server.crt.new"), &renewed_crt).unwrap();
    std::fs::rename(setup.path("server.key.new"), setup.path("server.key")).unwrap();
    std::fs::rename(setup.path("server.crt.new"), setup.path("server.crt")).unwrap();
    let subject = served_subject(port, setup.dir.path());
    assert!(subject.contains("server-2"), "{subject}");
    // And Prometheus still scrapes it (new connections see the new certificate).
    prom.expect("up{job=\"good\"}", 1.0);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_web_config_without_an_exporter_is_an_error() {
    let setup = Setup::new("basic_auth_users: {}\n");
    let out = setup.command(0, &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--prometheus-port"), "{stderr}");
}

/// Copies `monitoring/web-config.yml` into `dir` with a fresh certificate and key beside it;
/// returns the copy's path.
fn example_in(dir: &Path) -> PathBuf {
    let example = workspace_root().join("monitoring/web-config.yml");
    let copy = dir.join("web-config.yml");
    std::fs::copy(&example, &copy).unwrap();
    std::fs::create_dir_all(dir.join("web-config")).unwrap();
    let (cert, key) = certificate();
    std::fs::write(dir.join("web-config/server.crt"), cert).unwrap();
    std::fs::write(dir.join("web-config/server.key"), key).unwrap();
    copy
}

#[test]
#[ignore = "needs promtool (Debian prometheus); run via scripts/test.sh"]
fn the_example_web_config_passes_promtool_and_starts_builder_cli() {
    let dir = tempfile::tempdir().unwrap();
    let copy = example_in(dir.path());
    let out = Tool::PROMTOOL
        .command()
        .arg("check")
        .arg("web-config")
        .arg(&copy)
        .output()
        .unwrap_or_else(|e| panic!("{}", Tool::PROMTOOL.unavailable(&e)));
    assert!(
        out.status.success(),
        "promtool check web-config: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The documented example password is the one hashed in the file.
    let text = std::fs::read_to_string(&copy).unwrap();
    let hash = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("prometheus: "))
        .unwrap();
    assert!(bcrypt::verify("change-me", hash).unwrap());
    // builder_cli takes the same file.
    std::fs::write(dir.path().join("job.yaml"), JOB).unwrap();
    let out = Command::new(BIN)
        .args(["validate", "--prometheus-address", "127.0.0.1", "--job"])
        .arg(dir.path().join("job.yaml"))
        .arg("--prometheus-port")
        .arg(free_port().to_string())
        .arg("--web-config-file")
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs prometheus (Debian package); run via scripts/test.sh"]
fn prometheus_scrapes_over_tls_with_basic_auth_and_a_wrong_password_is_down() {
    let (cert, key) = certificate();
    let setup = Setup::new(&format!(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: {}\n",
        hash("right-password")
    ));
    std::fs::write(setup.path("server.crt"), &cert).unwrap();
    std::fs::write(setup.path("server.key"), &key).unwrap();
    let (mut child, port) = setup.serve();

    // Plain HTTP to the TLS port gets no metrics.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(
        !String::from_utf8_lossy(&answer).contains("pipeline_run_info"),
        "plain HTTP was answered"
    );

    let job = |name: &str, password: &str| {
        format!(
            r#"
  - job_name: {name}
    scheme: https
    tls_config:
      ca_file: ca.pem
    basic_auth:
      username: prometheus
      password: {password}
    static_configs:
      - targets: ['127.0.0.1:{port}']
"#
        )
    };
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:{}{}",
        job("good", "right-password"),
        job("bad", "wrong-password")
    );
    let prom = Prometheus::start(&config, |dir| {
        std::fs::write(dir.join("ca.pem"), &cert).unwrap();
    });
    prom.expect("up{job=\"good\"}", 1.0);
    prom.expect("up{job=\"bad\"}", 0.0);
    assert!(
        prom.value("scrape_samples_scraped{job=\"good\"}")
            .is_some_and(|n| n > 5.0),
        "the good target's samples were not ingested"
    );
    assert_eq!(
        prom.value("pipeline_run_info{exported_job=\"web\"}"),
        Some(1.0)
    );
    let error = prom.wait_for(
        "the bad target's scrape error",
        Duration::from_secs(30),
        |p| {
            let targets = p.api("targets").ok()?;
            targets["activeTargets"]
                .as_array()?
                .iter()
                .find(|t| t["labels"]["job"] == "bad")
                .and_then(|t| t["lastError"].as_str().map(str::to_string))
                .filter(|e| !e.is_empty())
        },
    );
    assert!(error.contains("401"), "{error}");
    let _ = child.kill();
    let _ = child.wait();
}
