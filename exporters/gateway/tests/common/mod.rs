//! Shared by the integration tests: fake devices that answer with the real framed codec
//! (`metrics_exporter_embedded::SerialServer`, the firmware's own server) over real sockets or
//! a pty, and the gateway binary as a child process.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use metrics_core::parse::{Line, Parser};
use metrics_core::{Counter, Registry};
use metrics_exporter_embedded::frame::{self, BodyCheck, FrameType};
use metrics_exporter_embedded::{Decoder, SerialServer};

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
        id: None,
    }
}

/// A device's registry and the counter its line bumps.
#[derive(Clone)]
pub struct Device {
    pub registry: Arc<Registry>,
    pub requests: Arc<Counter>,
    /// The id it answers IDENTIFY with (protocol 1.1).
    pub id: Option<&'static str>,
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
    /// Firmware of protocol 1.0: refuses IDENTIFY as an unknown request type, serves SCRAPE.
    OldFirmware,
}

/// Answers framed requests on `stream` from `registry` until the stream ends or `alive`
/// turns false. The `requests` counter grows by one per read that carried bytes.
pub fn serve_framed(stream: impl Read + Write, device: &Device, alive: &AtomicBool) {
    serve_framed_with(stream, device, alive, Behaviour::Clean);
}

fn serve_framed_with(
    stream: impl Read + Write,
    device: &Device,
    alive: &AtomicBool,
    line: Behaviour,
) {
    let mut corrupt = line == Behaviour::CorruptFirst;
    let mut server: SerialServer<'_, Registry> = SerialServer::new(&device.registry);
    if let Some(id) = device.id {
        server = server.with_device_id(id);
    }
    let mut old = (line == Behaviour::OldFirmware).then(Decoder::<32>::new);
    let mut out = Vec::new();
    each_read(stream, alive, |input, stream| {
        device.requests.inc();
        out.clear();
        match &mut old {
            Some(decoder) => answer_as_1_0(decoder, &mut server, input, &mut out),
            None => {
                server.handle(input, &mut out).unwrap();
            }
        }
        if corrupt && !out.is_empty() {
            let mid = out.len() / 2;
            out[mid] ^= 0x10;
            corrupt = false;
        }
        stream.write_all(&out)
    });
}

/// A protocol 1.0 device: IDENTIFY is an unknown request type to it (ERROR `0x02`, detail the
/// type); other requests go to `server`.
fn answer_as_1_0(
    decoder: &mut Decoder<32>,
    server: &mut SerialServer<'_, Registry>,
    mut input: &[u8],
    out: &mut Vec<u8>,
) {
    while !input.is_empty() {
        let n = decoder.feed(input);
        input = &input[n..];
        while let Some(Ok(f)) = decoder.poll() {
            let mut wire = [0u8; frame::MAX_FRAME];
            let n = if f.kind == FrameType::Identify {
                frame::encode(FrameType::Error, f.id, 0, &[0x02, 0x02], &mut wire)
            } else {
                frame::encode(f.kind, f.id, f.seq, f.payload, &mut wire)
            }
            .unwrap();
            if f.kind == FrameType::Identify {
                out.extend_from_slice(&wire[..n]);
            } else {
                server.handle(&wire[..n], out).unwrap();
            }
        }
    }
}

/// Calls `answer` with the bytes of each read from `stream` (and flushes what it wrote),
/// until the stream ends, `answer` fails or `alive` turns false.
fn each_read<S: Read + Write>(
    mut stream: S,
    alive: &AtomicBool,
    mut answer: impl FnMut(&[u8], &mut S) -> std::io::Result<()>,
) {
    let mut buf = [0u8; 256];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if !alive.load(Ordering::SeqCst) {
            return;
        }
        if answer(&buf[..n], &mut stream)
            .and_then(|()| stream.flush())
            .is_err()
        {
            return;
        }
    }
}

/// A device on a pty: the gateway opens the slave side at [`path`](Self::path) as a serial
/// port; the device answers with the real framed codec on the master side. Dropping it (or
/// [`unplug`](Self::unplug)) is an unplugged cable: the master is closed at the next request,
/// and the path goes away.
pub struct PtyDevice {
    pub path: std::path::PathBuf,
    slave: Option<std::os::fd::OwnedFd>,
    alive: Arc<AtomicBool>,
}

impl PtyDevice {
    /// A device serving `device`'s registry, in raw mode as a UART is (no echo, no line
    /// editing, all 8 bits).
    pub fn start(device: Device) -> PtyDevice {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        use nix::sys::termios;
        let pty = nix::pty::openpty(None, None).unwrap();
        // Not inherited by a gateway started later: its copy of the master would keep the
        // line up after an unplug.
        for fd in [&pty.master, &pty.slave] {
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).unwrap();
        }
        let path = nix::unistd::ttyname(&pty.slave).unwrap();
        let mut t = termios::tcgetattr(&pty.slave).unwrap();
        termios::cfmakeraw(&mut t);
        termios::tcsetattr(&pty.slave, termios::SetArg::TCSANOW, &t).unwrap();
        let master = std::fs::File::from(pty.master);
        let alive = Arc::new(AtomicBool::new(true));
        let a = alive.clone();
        thread::spawn(move || serve_framed(master, &device, &a));
        PtyDevice {
            path,
            slave: Some(pty.slave),
            alive,
        }
    }

    /// Unplugs it: it answers no more, and its master closes at the next request.
    pub fn unplug(&mut self) {
        self.alive.store(false, Ordering::SeqCst);
        self.slave = None;
    }
}

impl Drop for PtyDevice {
    fn drop(&mut self) {
        self.unplug();
    }
}

/// A device on a TCP listener; [`kill`](Self::kill) closes it for good, like a killed QEMU.
pub struct TcpDevice {
    pub addr: SocketAddr,
    alive: Arc<AtomicBool>,
}

impl TcpDevice {
    pub fn start(name: &str, line: Behaviour) -> TcpDevice {
        Self::start_with(device_registry(name), line)
    }

    /// A device serving `device`'s registry.
    pub fn start_with(device: Device, line: Behaviour) -> TcpDevice {
        Self::serve(move |stream, alive| {
            if line == Behaviour::Silent {
                thread::sleep(Duration::from_secs(60));
                drop(stream);
            } else {
                serve_framed_with(stream, &device, alive, line);
            }
        })
    }

    /// A device that runs `connection` on a thread of its own for every connection accepted.
    pub fn serve(connection: impl Fn(TcpStream, &AtomicBool) + Send + Sync + 'static) -> TcpDevice {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let alive = Arc::new(AtomicBool::new(true));
        let a = alive.clone();
        let connection = Arc::new(connection);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                if !a.load(Ordering::SeqCst) {
                    return;
                }
                let (a, c) = (a.clone(), connection.clone());
                thread::spawn(move || c(stream, &a));
            }
        });
        TcpDevice { addr, alive }
    }

    /// A device whose exposition is `body()`, whatever it holds (any bytes), framed by the
    /// real codec: a hostile or broken firmware. `requests` counts the scrapes it answered.
    pub fn answering(
        requests: Arc<AtomicU64>,
        body: impl Fn() -> Vec<u8> + Send + Sync + 'static,
    ) -> TcpDevice {
        Self::serve(move |stream, alive| {
            on_requests(stream, alive, |id, stream| {
                requests.fetch_add(1, Ordering::SeqCst);
                stream.write_all(&framed_answer(id, &body()))
            })
        })
    }

    /// A device that answers a scrape with DATA frames that never end (until the link
    /// closes); `closed` is set once a write fails: the gateway hung up.
    pub fn endless(closed: Arc<AtomicBool>) -> TcpDevice {
        Self::serve(move |stream, alive| {
            on_requests(stream, alive, |id, stream| {
                let mut buf = [0u8; frame::MAX_FRAME];
                let line = [b'#'; 200];
                for seq in 0u16.. {
                    let n = frame::encode(FrameType::Data, id, seq, &line, &mut buf).unwrap();
                    if let Err(e) = stream.write_all(&buf[..n]) {
                        closed.store(true, Ordering::SeqCst);
                        return Err(e);
                    }
                }
                Ok(())
            })
        })
    }

    /// A device that answers every request with `bytes` of noise (no frame at all).
    pub fn noise(bytes: usize) -> TcpDevice {
        Self::serve(move |stream, alive| {
            on_requests(stream, alive, |id, stream| {
                let noise: Vec<u8> = (0..bytes)
                    .map(|i| (i as u8).wrapping_mul(37) ^ id)
                    .collect();
                stream.write_all(&noise)
            })
        })
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

/// Reads framed requests from `stream` with the codec's `Decoder` and calls `answer` with the
/// id of each SCRAPE, until the stream ends, `answer` fails or `alive` turns false.
fn on_requests(
    stream: TcpStream,
    alive: &AtomicBool,
    mut answer: impl FnMut(u8, &mut TcpStream) -> std::io::Result<()>,
) {
    let mut decoder: Decoder<{ frame::MAX_FRAME }> = Decoder::new();
    each_read(stream, alive, |mut input, stream| {
        let mut ids = Vec::new();
        while !input.is_empty() {
            let fed = decoder.feed(input);
            input = &input[fed..];
            while let Some(event) = decoder.poll() {
                if let Ok(f) = event {
                    if f.kind == FrameType::Scrape {
                        ids.push(f.id);
                    }
                }
            }
        }
        ids.into_iter().try_for_each(|id| answer(id, stream))
    });
}

/// The response to request `id` carrying `body`, as a device's codec frames it: DATA frames of
/// up to 255 bytes, then END with the length and CRC-32.
pub fn framed_answer(id: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; frame::MAX_FRAME];
    let mut check = BodyCheck::new();
    let mut seq = 0u16;
    for chunk in body.chunks(frame::MAX_PAYLOAD) {
        check.update(chunk);
        let n = frame::encode(FrameType::Data, id, seq, chunk, &mut buf).unwrap();
        out.extend_from_slice(&buf[..n]);
        seq += 1;
    }
    let (len, crc) = check.finish();
    let end = frame::end_payload(len, crc);
    let n = frame::encode(FrameType::End, id, seq, &end, &mut buf).unwrap();
    out.extend_from_slice(&buf[..n]);
    out
}

/// Samples of an exposition as (name, sorted unescaped labels) -> value; also checks that
/// the whole text parses, that no series is there twice and that every family has at most
/// one HELP and one TYPE line.
pub fn samples(text: &str) -> HashMap<(String, Vec<(String, String)>), f64> {
    let mut out = HashMap::new();
    let mut meta: HashMap<(String, &str), usize> = HashMap::new();
    for line in Parser::new(text) {
        match line.unwrap_or_else(|e| panic!("{e}\n{text}")) {
            Line::Help { name, .. } => *meta.entry((name.into(), "help")).or_default() += 1,
            Line::Type { name, .. } => *meta.entry((name.into(), "type")).or_default() += 1,
            Line::Sample(s) => {
                let mut labels: Vec<(String, String)> = s
                    .labels()
                    .map(|l| {
                        let (k, v) = l.unwrap();
                        let mut u = String::new();
                        v.write_to(&mut u).unwrap();
                        (k.to_owned(), u)
                    })
                    .collect();
                labels.sort();
                let key = (s.name.to_owned(), labels);
                assert!(
                    out.insert(key.clone(), s.value).is_none(),
                    "duplicate {key:?}"
                );
            }
            _ => {}
        }
    }
    for (k, n) in meta {
        assert_eq!(n, 1, "{k:?} appears {n} times:\n{text}");
    }
    out
}

/// A [`samples`] key.
pub fn key(name: &str, labels: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    let mut l: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    l.sort();
    (name.into(), l)
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
    /// What it wrote on stderr so far (also copied to the test's stderr).
    log: Arc<Mutex<String>>,
}

impl Gateway {
    pub fn start(args: &[&str]) -> Gateway {
        let port = test_support::free_port();
        Self::start_on(&format!("127.0.0.1:{port}"), args)
    }

    /// The gateway listening on `listen` (a restart on the port of the one before).
    pub fn start_on(listen: &str, args: &[&str]) -> Gateway {
        let listen = listen.to_owned();
        let mut child = Command::new(env!("CARGO_BIN_EXE_metrics-gateway"))
            .args(["--listen", &listen])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (stderr, l) = (child.stderr.take().unwrap(), log.clone());
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                eprintln!("{line}");
                let mut l = l.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let g = Gateway {
            child,
            addr: listen.parse().unwrap(),
            log,
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

    /// What the gateway wrote on stderr, once a line containing `says` is there (waiting up
    /// to 5 s for it, since stderr is read on another thread).
    pub fn log_with(&self, says: &str) -> String {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.log.lock().unwrap().clone();
            if log.contains(says) || Instant::now() > until {
                return log;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Gateway {
    /// SIGKILL, and waits until the process is gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// The scrape job of the README ("Discovery") for the gateway at `addr`: the devices from
/// `/targets` (`http_sd_configs`), each scraped through `/probe?target=`.
pub fn discovery_job(job: &str, addr: SocketAddr) -> String {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("  - job_name: gateway-devices\n")
        .expect("the README's discovery job");
    let len = readme[start..].find("```").unwrap();
    readme[start..start + len]
        .replace("gateway-devices", job)
        .replace("gateway:9110", &addr.to_string())
}

/// The stale time the gateway of [`check_through_prometheus`] is started with.
pub const STALE_AFTER: &str = "4s";

/// Prometheus (a real server) scrapes `gateway`: `/metrics` as job `gateway`, and every
/// device through `/probe?target=` as job `probe`, found on `/targets` (`http_sd_configs`,
/// the README's job), every second. Checks, through its API, for every device in `devices`:
/// listed by the targets API with health up, the counter `counter` growing between two
/// scrapes, and the histogram `histogram`'s `_count` equal to its `+Inf` bucket. Then calls
/// `kill` (which stops `devices[1]`) and checks that the killed device is down at the next
/// scrape while its series stay for the gateway's stale time ([`STALE_AFTER`], which the
/// gateway must be started with), then leave while `gateway_device_up` 0 and the last
/// success time stay and its probe fails; `devices[0]` keeps being served throughout.
pub fn check_through_prometheus(
    gateway: &Gateway,
    devices: &[&str],
    counter: &str,
    histogram: &str,
    kill: impl FnOnce(),
) {
    check_through(
        test_support::Tool::PROMETHEUS,
        gateway,
        devices,
        counter,
        histogram,
        kill,
    );
}

/// [`check_through_prometheus`] with the Prometheus of `tool` (2.42 or 3.5.3).
pub fn check_through(
    tool: test_support::Tool,
    gateway: &Gateway,
    devices: &[&str],
    counter: &str,
    histogram: &str,
    kill: impl FnOnce(),
) {
    use test_support::Prometheus;
    let addr = gateway.addr;
    // Prometheus 3 asks for the protobuf exposition only: `/metrics` and `/probe` re-encode
    // the devices' text as protobuf (Prometheus 2 gets OpenMetrics).
    let protocols = if tool == test_support::Tool::PROMETHEUS3 {
        for path in [
            "/metrics".to_string(),
            format!("/probe?target={}", devices[0]),
        ] {
            let r = test_support::agent(Duration::from_secs(10))
                .get(&gateway.url(&path))
                .header("Accept", metrics_core::Format::Protobuf.content_type())
                .call()
                .unwrap();
            assert_eq!(
                r.headers().get("content-type").unwrap(),
                metrics_core::Format::Protobuf.content_type(),
                "{path}"
            );
        }
        "  scrape_protocols: [PrometheusProto]"
    } else {
        // 2.42 knows no `scrape_protocols`; it asks for OpenMetrics first.
        ""
    };
    let config = [
        "global:".to_owned(),
        "  scrape_interval: 1s".into(),
        "  scrape_timeout: 1s".into(),
        protocols.into(),
        "scrape_configs:".into(),
        "  - job_name: gateway".into(),
        "    static_configs:".into(),
        format!("      - targets: ['{addr}']"),
        discovery_job("probe", addr),
    ]
    .join("\n")
        + "\n";
    let p = Prometheus::start_tool(tool, &config, |_| {});
    let patience = Duration::from_secs(30);
    let listed = p.wait_for("every device in the targets API", patience, |p| {
        let t = p.api("targets?state=active").ok()?;
        let probes: Vec<serde_json::Value> = t["activeTargets"]
            .as_array()?
            .iter()
            .filter(|t| t["labels"]["job"] == "probe" && t["health"] == "up")
            .cloned()
            .collect();
        (probes.len() == devices.len()).then_some(probes)
    });
    for d in devices {
        let t = listed
            .iter()
            .find(|t| t["labels"]["instance"] == *d)
            .unwrap_or_else(|| panic!("{d} not in {listed:?}"));
        let url = t["scrapeUrl"].as_str().unwrap();
        assert_eq!(url, format!("http://{addr}/probe?target={d}"), "{t}");
        assert_eq!(t["discoveredLabels"]["__meta_gateway_device"], *d, "{t}");
    }
    eprintln!("the targets API lists {devices:?} from /targets, health up");
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
    let samples = |promql: &str| -> Vec<(f64, f64)> {
        let range = p.query(promql).unwrap_or_else(|e| panic!("{e}"));
        range[0]["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v[0].as_f64().unwrap(),
                    v[1].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect()
    };
    let ups = samples(&format!("{up_killed}[30s]"));
    let first_after = ups.iter().find(|(t, _)| *t > killed_unix);
    assert_eq!(
        first_after.map(|s| s.1),
        Some(0.0),
        "the first scrape after the kill (at {killed_unix}) must say down: {ups:?}"
    );
    // Its series stay for the stale time, then leave.
    let killed_counter = format!("{counter}{{job=\"gateway\",device=\"{killed}\"}}");
    p.wait_for("the killed device's series to leave", patience, |p| {
        p.value(&killed_counter).is_none().then_some(())
    });
    let gone = killed_at.elapsed();
    let last_served = samples(&format!("{killed_counter}[1m]"))
        .last()
        .map(|s| s.0)
        .unwrap();
    let stale: f64 = STALE_AFTER.trim_end_matches('s').parse().unwrap();
    assert!(
        last_served > killed_unix + 0.5 && last_served < killed_unix + stale + 1.5,
        "served until {:.3} s after the kill; the stale time is {stale} s",
        last_served - killed_unix
    );
    p.expect(&up_killed, 0.0);
    assert!(
        p.value(&format!(
            "gateway_device_last_success_timestamp_seconds{{job=\"gateway\",device=\"{killed}\"}}"
        ))
        .is_some_and(|t| t <= killed_unix + 0.5),
        "the last success time stays"
    );
    p.wait_for("the killed device's probe to fail", patience, |p| {
        (p.value(&format!("up{{job=\"probe\",instance=\"{killed}\"}}")) == Some(0.0)).then_some(())
    });
    p.expect(
        &format!("gateway_device_up{{job=\"gateway\",device=\"{alive}\"}}"),
        1.0,
    );
    p.wait_for("the live device's counter to keep growing", patience, |p| {
        p.value(&format!("{counter}{{job=\"gateway\",device=\"{alive}\"}}"))
            .filter(|v| *v > before)
    });
    eprintln!(
        "{killed} down {took:?} after the kill (first scrape after it: {first_after:?}), its \
         series served until {:.1} s after it (stale time {STALE_AFTER}) and gone {gone:?} \
         after it; its probe down; {alive} still served",
        last_served - killed_unix
    );
}

/// `promtool check metrics` on `exposition`: what it said (empty: no complaint). Panics when
/// promtool fails to parse it.
pub fn promtool_check_metrics(exposition: &[u8]) -> String {
    let mut child = test_support::Tool::PROMTOOL
        .command()
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}", test_support::Tool::PROMTOOL.unavailable(&e)));
    child.stdin.take().unwrap().write_all(exposition).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool: {said}\n{}",
        String::from_utf8_lossy(exposition)
    );
    said
}
