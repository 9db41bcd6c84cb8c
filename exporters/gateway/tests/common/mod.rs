//! Shared by the integration tests: fake devices that answer with the real framed codec
//! (`metrics_exporter_embedded::SerialServer`, the firmware's own server) over real sockets or
//! a pty, and the gateway binary as a child process.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use metrics_core::parse::{Line, Parser};
use metrics_core::{Counter, Registry};
use metrics_exporter_embedded::SerialServer;

/// A device's metrics, as a firmware keeps them: a counter that grows with every request
/// received, a labelled gauge and a histogram.
pub fn device_registry(name: &str) -> Device {
    let mut r = Registry::new();
    let requests = r
        .counter("requests", "Requests received on the line.")
        .unwrap();
    let info = r
        .gauge_family("board_info", "The board.", &["board"])
        .unwrap();
    info.labels(&[name]).set(1.0);
    let jitter = r
        .histogram("tick_jitter_seconds", "Timer jitter.", &[0.001, 0.01, 0.1])
        .unwrap();
    for v in [0.0005, 0.002, 0.05, 0.5] {
        jitter.observe(v);
    }
    Device {
        registry: Arc::new(r),
        requests,
    }
}

/// A device's registry and the counter its line bumps.
#[derive(Clone)]
pub struct Device {
    pub registry: Arc<Registry>,
    pub requests: Arc<Counter>,
}

/// How a fake device behaves on the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Answers every request.
    Clean,
    /// Accepts connections and never answers (a hung device).
    Silent,
    /// Flips one bit in the middle of its first answer (noise on the line), then answers
    /// cleanly.
    CorruptFirst,
}

/// Answers framed requests on `stream` from `registry` until the stream ends or `alive`
/// turns false. The `requests` counter grows by one per read that carried bytes.
pub fn serve_framed(stream: impl Read + Write, device: &Device, alive: &AtomicBool) {
    serve_framed_with(stream, device, alive, Behaviour::Clean);
}

fn serve_framed_with(
    mut stream: impl Read + Write,
    device: &Device,
    alive: &AtomicBool,
    line: Behaviour,
) {
    let mut corrupt = line == Behaviour::CorruptFirst;
    let mut server: SerialServer<'_, Registry> = SerialServer::new(&device.registry);
    let mut buf = [0u8; 256];
    let mut out = Vec::new();
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if !alive.load(Ordering::SeqCst) {
            return;
        }
        device.requests.inc();
        out.clear();
        server.handle(&buf[..n], &mut out).unwrap();
        if corrupt && !out.is_empty() {
            let mid = out.len() / 2;
            out[mid] ^= 0x10;
            corrupt = false;
        }
        if stream
            .write_all(&out)
            .and_then(|()| stream.flush())
            .is_err()
        {
            return;
        }
    }
}

/// A device on a TCP listener; [`kill`](Self::kill) closes it for good, like a killed QEMU.
pub struct TcpDevice {
    pub addr: SocketAddr,
    alive: Arc<AtomicBool>,
}

impl TcpDevice {
    pub fn start(name: &str, line: Behaviour) -> TcpDevice {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let alive = Arc::new(AtomicBool::new(true));
        let a = alive.clone();
        let registry = device_registry(name);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                if !a.load(Ordering::SeqCst) {
                    return;
                }
                let (a, r) = (a.clone(), registry.clone());
                thread::spawn(move || {
                    if line == Behaviour::Silent {
                        thread::sleep(Duration::from_secs(60));
                        drop(stream);
                    } else {
                        serve_framed_with(stream, &r, &a, line);
                    }
                });
            }
        });
        TcpDevice { addr, alive }
    }

    pub fn url(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    pub fn kill(&self) {
        self.alive.store(false, Ordering::SeqCst);
        // Wake the accept loop so it ends and the port closes.
        let _ = TcpStream::connect(self.addr);
    }
}

impl Drop for TcpDevice {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `GET url` → (status, body); error statuses are answers too.
pub fn get(url: &str) -> (u16, String) {
    let agent = test_support::agent(Duration::from_secs(10));
    let mut r = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

/// The value of the series `name{labels}` (labels exactly as written, in order) in `text`.
pub fn value(text: &str, name: &str, labels: &str) -> Option<f64> {
    Parser::new(text).find_map(|l| match l {
        Ok(Line::Sample(s)) if s.name == name && s.raw_labels == labels => Some(s.value),
        _ => None,
    })
}

/// The gateway binary, running; killed when dropped.
pub struct Gateway {
    child: Child,
    pub addr: SocketAddr,
}

impl Gateway {
    pub fn start(args: &[&str]) -> Gateway {
        let port = test_support::free_port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_metrics-gateway"))
            .args(["--listen", &listen])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let g = Gateway {
            child,
            addr: listen.parse().unwrap(),
        };
        let until = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(g.addr).is_err() {
            assert!(
                Instant::now() < until,
                "the gateway did not listen on {listen}"
            );
            thread::sleep(Duration::from_millis(20));
        }
        g
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Seconds since the Unix epoch, as Prometheus timestamps samples.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Prometheus (a real server) scrapes `gateway`: `/metrics` as job `gateway`, and every
/// device through `/probe?target=` as job `probe` (the multi-target relabelling), every
/// second. Checks, through its API, for every device in `devices`: up, the counter `counter`
/// growing between two scrapes, and the histogram `histogram`'s `_count` equal to its `+Inf`
/// bucket. Then calls `kill` (which stops `devices[1]`) and checks that the killed device is
/// down at the next scrape, its series gone, while `devices[0]` keeps being served.
pub fn check_through_prometheus(
    gateway: &Gateway,
    devices: &[&str],
    counter: &str,
    histogram: &str,
    kill: impl FnOnce(),
) {
    use test_support::Prometheus;
    let targets: Vec<String> = devices.iter().map(|d| format!("'{d}'")).collect();
    let addr = gateway.addr;
    let config = [
        "global:".to_owned(),
        "  scrape_interval: 1s".into(),
        "  scrape_timeout: 1s".into(),
        "scrape_configs:".into(),
        "  - job_name: gateway".into(),
        "    static_configs:".into(),
        format!("      - targets: ['{addr}']"),
        "  - job_name: probe".into(),
        "    metrics_path: /probe".into(),
        "    static_configs:".into(),
        format!("      - targets: [{}]", targets.join(", ")),
        "    relabel_configs:".into(),
        "      - source_labels: [__address__]".into(),
        "        target_label: __param_target".into(),
        "      - source_labels: [__param_target]".into(),
        "        target_label: instance".into(),
        "      - target_label: __address__".into(),
        format!("        replacement: '{addr}'"),
    ]
    .join("\n")
        + "\n";
    let p = Prometheus::start(&config, |_| {});
    let patience = Duration::from_secs(30);
    for d in devices {
        let sel =
            |name: &str, extra: &str| format!("{name}{{job=\"gateway\",device=\"{d}\"{extra}}}");
        p.expect(&format!("up{{job=\"probe\",instance=\"{d}\"}}"), 1.0);
        p.expect(
            &format!("gateway_device_up{{job=\"probe\",device=\"{d}\"}}"),
            1.0,
        );
        p.expect(&sel("gateway_device_up", ""), 1.0);
        // The counter grows between two scrapes.
        let first = p.wait_for("the device counter", patience, |p| {
            p.value(&sel(counter, ""))
        });
        p.wait_for("the device counter to grow", patience, |p| {
            p.value(&sel(counter, "")).filter(|v| *v > first)
        });
        // The histogram's _count equals its +Inf bucket, and has observations.
        let (count, inf) = p.wait_for("the histogram", patience, |p| {
            Some((
                p.value(&sel(&format!("{histogram}_count"), ""))?,
                p.value(&sel(&format!("{histogram}_bucket"), ",le=\"+Inf\""))?,
            ))
        });
        assert!(count > 0.0, "{d}: no observations");
        p.expect(
            &format!(
                "{} - ignoring(le) {}",
                sel(&format!("{histogram}_count"), ""),
                sel(&format!("{histogram}_bucket"), ",le=\"+Inf\"")
            ),
            0.0,
        );
        eprintln!(
            "{d}: {counter} grew past {first}; {histogram}_count {count} = +Inf bucket {inf}"
        );
    }

    let (alive, killed) = (devices[0], devices[1]);
    let before = p
        .value(&format!("{counter}{{job=\"gateway\",device=\"{alive}\"}}"))
        .unwrap();
    let killed_unix = unix_now();
    kill();
    let killed_at = Instant::now();
    let up_killed = format!("gateway_device_up{{job=\"gateway\",device=\"{killed}\"}}");
    p.wait_for(
        "the killed device to be down",
        Duration::from_secs(10),
        |p| (p.value(&up_killed) == Some(0.0)).then_some(()),
    );
    let took = killed_at.elapsed();
    // Within one scrape: the first sample Prometheus stored after the kill is already 0.
    let range = p
        .query(&format!("{up_killed}[30s]"))
        .unwrap_or_else(|e| panic!("{e}"));
    let samples: Vec<(f64, f64)> = range[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v[0].as_f64().unwrap(),
                v[1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    let first_after = samples.iter().find(|(t, _)| *t > killed_unix);
    assert_eq!(
        first_after.map(|s| s.1),
        Some(0.0),
        "the first scrape after the kill (at {killed_unix}) must say down: {samples:?}"
    );
    assert_eq!(
        p.value(&format!("{counter}{{job=\"gateway\",device=\"{killed}\"}}")),
        None,
        "the killed device's series are still served"
    );
    p.expect(
        &format!("gateway_device_up{{job=\"probe\",device=\"{killed}\"}}"),
        0.0,
    );
    p.expect(
        &format!("gateway_device_up{{job=\"gateway\",device=\"{alive}\"}}"),
        1.0,
    );
    p.wait_for("the live device's counter to keep growing", patience, |p| {
        p.value(&format!("{counter}{{job=\"gateway\",device=\"{alive}\"}}"))
            .filter(|v| *v > before)
    });
    eprintln!(
        "{killed} down {took:?} after the kill (first scrape after it: {first_after:?}); {alive} still served"
    );
}
