//! The gateway's poller and HTTP server against devices on real sockets and a real pty.
//!
//! The devices here speak a stand-in exchange (the request line `SCRAPE`, the answer an
//! exposition ended by `# END`), implemented only in this test, because the framed codec of
//! `exporters/embedded` is not merged yet; everything else (links, deadlines, device threads,
//! merging, HTTP) is the gateway's real code. Once the codec lands these devices speak it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use metrics_gateway::config::{Address, Device};
use metrics_gateway::link::DeadlineLink;
use metrics_gateway::{Poller, ScrapeError, Scraped, Server, Session};

/// The test's side of the stand-in exchange.
struct LineSession(DeadlineLink);

impl Session for LineSession {
    fn scrape(&mut self, deadline: Instant) -> Result<Scraped, ScrapeError> {
        let link = &mut self.0;
        link.set_deadline(deadline);
        link.write_all(b"SCRAPE\n")?;
        link.flush()?;
        let mut body = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            if link.read(&mut byte)? == 0 {
                return Err(ScrapeError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            body.push(byte[0]);
            if body.ends_with(b"# END\n") {
                body.truncate(body.len() - 6);
                return Ok(Scraped {
                    body,
                    frame_errors: 0,
                });
            }
        }
    }
}

/// Answers `SCRAPE` lines on `stream` with `body` (its counter grows per scrape) until the
/// stream closes or `alive` turns false.
fn serve_device(stream: impl Read + Write, name: &str, alive: &AtomicBool) {
    let mut reader = BufReader::new(stream);
    let mut n = 0u64;
    let mut line = String::new();
    while alive.load(Ordering::SeqCst) {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line.trim() == "SCRAPE" => {
                n += 1;
                let body = format!(
                    "# HELP scrapes_total Scrapes answered.\n# TYPE scrapes_total counter\n\
                     scrapes_total {n}\n# TYPE board_info gauge\nboard_info{{board=\"{name}\"}} 1\n# END\n"
                );
                if !alive.load(Ordering::SeqCst) {
                    return;
                }
                let s = reader.get_mut();
                if s.write_all(body.as_bytes())
                    .and_then(|()| s.flush())
                    .is_err()
                {
                    return;
                }
            }
            Ok(_) => {}
        }
    }
}

/// A device on a TCP listener; `kill` closes it for good (like a killed QEMU).
struct TcpDevice {
    addr: SocketAddr,
    alive: Arc<AtomicBool>,
}

impl TcpDevice {
    fn start(name: &'static str, answer: bool) -> TcpDevice {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let alive = Arc::new(AtomicBool::new(true));
        let a = alive.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                if !a.load(Ordering::SeqCst) {
                    return;
                }
                if answer {
                    let a = a.clone();
                    thread::spawn(move || serve_device(stream, name, &a));
                } else {
                    // Accepts and never answers.
                    thread::spawn(move || {
                        thread::sleep(Duration::from_secs(60));
                        drop(stream);
                    });
                }
            }
        });
        TcpDevice { addr, alive }
    }

    fn kill(&self) {
        self.alive.store(false, Ordering::SeqCst);
        // Wake the accept loop so it ends and the port closes.
        let _ = std::net::TcpStream::connect(self.addr);
    }

    fn device(&self, name: &str) -> Device {
        Device {
            name: name.into(),
            address: Address::parse(&format!("tcp://{}", self.addr), None).unwrap(),
            timeout: Duration::from_millis(500),
            retries: 1,
        }
    }
}

fn get(server: &Server, path: &str) -> (u16, String) {
    let agent = test_support::agent(Duration::from_secs(10));
    let url = format!("http://{}{path}", server.local_addr());
    // The agent reads error statuses as answers, with their bodies.
    let mut r = agent
        .get(&url)
        .call()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

fn start(devices: Vec<Device>) -> Server {
    let poller = Arc::new(
        Poller::start(
            devices,
            Arc::new(|_: &Device, l| Box::new(LineSession(l)) as Box<dyn Session>),
        )
        .unwrap(),
    );
    Server::start("127.0.0.1:0".parse().unwrap(), poller, 2).unwrap()
}

#[test]
fn two_devices_merged_then_one_dies_and_the_other_is_still_served() {
    let a = TcpDevice::start("a", true);
    let b = TcpDevice::start("b", true);
    let server = start(vec![a.device("a"), b.device("b")]);

    let (code, text) = get(&server, "/metrics");
    assert_eq!(code, 200);
    assert!(text.contains("scrapes_total{device=\"a\"} 1\n"), "{text}");
    assert!(text.contains("scrapes_total{device=\"b\"} 1\n"), "{text}");
    assert!(
        text.contains("gateway_device_up{device=\"b\"} 1\n"),
        "{text}"
    );
    assert_eq!(
        text.matches("# TYPE scrapes_total counter").count(),
        1,
        "{text}"
    );

    let (code, text) = get(&server, "/probe?target=a");
    assert_eq!(code, 200);
    assert!(text.contains("scrapes_total{device=\"a\"} 2\n"), "{text}");
    assert!(!text.contains("device=\"b\""), "{text}");

    b.kill();
    // Within one scrape: the next one already sees b down, and a keeps being served.
    let (_, text) = get(&server, "/metrics");
    assert!(
        text.contains("gateway_device_up{device=\"b\"} 0\n"),
        "{text}"
    );
    assert!(
        !text.contains("scrapes_total{device=\"b\"}"),
        "stale b served: {text}"
    );
    assert!(
        text.contains("gateway_device_up{device=\"a\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("scrapes_total{device=\"a\"} 3\n"), "{text}");
    assert!(
        text.contains("gateway_device_scrape_failures_total{device=\"b\"} 1\n"),
        "{text}"
    );
    a.kill();
}

#[test]
fn a_silent_device_does_not_hold_up_the_others() {
    let good = TcpDevice::start("good", true);
    let silent = TcpDevice::start("silent", false);
    let server = start(vec![good.device("good"), silent.device("silent")]);

    let t = Instant::now();
    let (_, text) = get(&server, "/probe?target=good");
    assert!(
        t.elapsed() < Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    assert!(
        text.contains("gateway_device_up{device=\"good\"} 1\n"),
        "{text}"
    );

    // The silent one costs its own timeout and retry (2 × 500 ms), not more.
    let t = Instant::now();
    let (_, text) = get(&server, "/metrics");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(
        text.contains("gateway_device_up{device=\"silent\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains("scrapes_total{device=\"good\"} 2\n"),
        "{text}"
    );
}

#[test]
fn probe_errors_are_clear() {
    let a = TcpDevice::start("a", true);
    let server = start(vec![a.device("a")]);
    for (path, code, says) in [
        (
            "/probe?target=nope",
            404,
            "unknown target `nope`: the devices are a",
        ),
        ("/probe", 400, "missing target"),
        ("/nothing", 404, "try /metrics"),
    ] {
        let (status, body) = get(&server, path);
        assert_eq!(status, code, "{path}");
        assert!(body.contains(says), "{path}: {body}");
    }
    let (code, text) = get(&server, "/metrics");
    assert_eq!(code, 200);
    assert!(text.contains("scrapes_total{device=\"a\"} 1\n"), "{text}");
}

/// Acceptance 3: the gateway reads a real serial device path (the slave side of a pty, opened
/// by the serialport crate with its baud rate), the device answering on the master side.
#[test]
fn reads_a_real_serial_device_path() {
    let pty = nix::pty::openpty(None, None).unwrap();
    let path = nix::unistd::ttyname(&pty.slave).unwrap();
    // Raw mode on the line, as a UART is: no echo, no line editing.
    let mut t = nix::sys::termios::tcgetattr(&pty.slave).unwrap();
    nix::sys::termios::cfmakeraw(&mut t);
    nix::sys::termios::tcsetattr(&pty.slave, nix::sys::termios::SetArg::TCSANOW, &t).unwrap();
    let master = std::fs::File::from(pty.master);
    let alive = Arc::new(AtomicBool::new(true));
    let a = alive.clone();
    thread::spawn(move || serve_device(master, "uart", &a));

    let device = Device {
        name: "uart".into(),
        address: Address::parse(&format!("{}@115200", path.display()), None).unwrap(),
        timeout: Duration::from_secs(1),
        retries: 0,
    };
    let server = start(vec![device]);
    let (_, text) = get(&server, "/probe?target=uart");
    assert!(
        text.contains("gateway_device_up{device=\"uart\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("board_info{device=\"uart\",board=\"uart\"} 1\n"),
        "{text}"
    );
    let (_, text) = get(&server, "/metrics");
    assert!(
        text.contains("scrapes_total{device=\"uart\"} 2\n"),
        "{text}"
    );
    drop(pty.slave);
}
