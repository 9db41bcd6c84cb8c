//! A siege of hostile clients against a real server process, with a scraper measuring it
//! throughout (issue 14's acceptance): 500 connections that send a request head and never
//! finish it, 500 that announce a 100 MB body and never send it, 500 idle keep-alive
//! connections (each has its one request answered, then idles) and a client trickling one
//! byte a second, all at once, while a scraper asks every 100 ms. The server's threads, descriptors and resident memory are read from
//! `/proc/<pid>`.
//!
//! [`siege`] asserts: every scrape answered (200, with the expected text) within 1 s;
//! threads never above their level before the siege plus [`SPARE_THREADS`]; within 5 s of
//! the clients closing, threads and descriptors back to their level before; resident memory
//! grown by less than 8 MiB. No fixed sleep synchronises anything: waits poll with deadlines.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Connections of each hostile kind.
pub const EACH: usize = 500;
/// Threads the server may have above its level before the siege.
pub const SPARE_THREADS: usize = 2;
/// Most resident memory growth allowed, in KiB.
pub const MAX_RSS_GROWTH_KIB: u64 = 8 * 1024;

/// What to besiege.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server process.
    pub pid: u32,
    /// Where it listens (plain HTTP).
    pub addr: SocketAddr,
    /// The path the scraper asks for.
    pub path: &'static str,
    /// Text every scrape's body must contain.
    pub expect: &'static str,
}

/// What the siege measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Threads, descriptors and resident KiB of the server before the siege.
    pub before: (usize, usize, u64),
    /// The most threads and resident KiB seen during it.
    pub peak: (usize, u64),
    /// Threads and descriptors once the clients had closed, and how long that took.
    pub after: (usize, usize, Duration),
    /// Scrapes answered during the siege, and the slowest.
    pub scrapes: (usize, Duration),
}

/// The threads of process `pid`.
pub fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count())
}

/// The open file descriptors of process `pid`.
pub fn descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// The resident memory of process `pid`, in KiB.
pub fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Raises this process's soft limit on open files to its hard limit (at most `want`): the
/// siege holds 1,500 sockets, more than the usual soft limit of 1,024.
pub fn raise_open_files(want: u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    let target = want.min(hard);
    if soft < target {
        setrlimit(Resource::RLIMIT_NOFILE, target, hard).expect("setrlimit RLIMIT_NOFILE");
    }
}

/// One scrape on a new connection: `Err` unless 200 with `expect` in the body.
fn scrape(addr: SocketAddr, path: &str, expect: &str) -> Result<(), String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
        .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(1)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: siege\r\nConnection: close\r\nAccept-Encoding: identity\r\n\r\n"
    )
    .map_err(|e| format!("send: {e}"))?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)
        .map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&answer);
    if !text.starts_with("HTTP/1.1 200 ") || !text.contains(expect) {
        return Err(format!("answer: {}", &text[..text.len().min(200)]));
    }
    Ok(())
}

/// Waits (at most 2 s) for the first bytes of the answer on a keep-alive connection, leaving
/// the connection open. An error (the server closed an older connection to make room) ends
/// the wait: that is fine.
fn await_answer(s: &mut TcpStream) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 512];
    let _ = s.read(&mut buf);
}

/// Polls `check` every 20 ms until it holds or `limit` has passed; true if it held.
fn within(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the siege against `t` and asserts what the module says.
pub fn siege(t: &Target) -> Report {
    raise_open_files(8192);
    // Warm up: the first scrapes grow the server's buffers for good.
    for _ in 0..20 {
        scrape(t.addr, t.path, t.expect).expect("a scrape before the siege");
    }
    // Settled: the same threads and descriptors twice in a row, 100 ms apart.
    let mut before = (threads(t.pid), descriptors(t.pid));
    assert!(
        within(Duration::from_secs(10), || {
            let now = (threads(t.pid), descriptors(t.pid));
            let same = now == before;
            before = now;
            thread::sleep(Duration::from_millis(80));
            same
        }),
        "the server does not settle before the siege: {before:?}"
    );
    let rss_before = resident_kib(t.pid);
    let (threads_before, fds_before) = before;

    let stop = Arc::new(AtomicBool::new(false));
    // The monitor: peaks of threads and resident memory.
    let peak_threads = Arc::new(AtomicUsize::new(threads_before));
    let peak_rss = Arc::new(AtomicU64::new(rss_before));
    let monitor = {
        let (stop, pt, pr, pid) = (stop.clone(), peak_threads.clone(), peak_rss.clone(), t.pid);
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                pt.fetch_max(threads(pid), Ordering::SeqCst);
                pr.fetch_max(resident_kib(pid), Ordering::SeqCst);
                thread::sleep(Duration::from_millis(10));
            }
        })
    };
    // The scraper: every 100 ms, on a new connection.
    let scrapes = Arc::new(Mutex::new((0usize, Duration::ZERO, Vec::<String>::new())));
    let scraper = {
        let (stop, scrapes, t) = (stop.clone(), scrapes.clone(), t.clone());
        thread::spawn(move || {
            let mut next = Instant::now();
            while !stop.load(Ordering::SeqCst) {
                let started = Instant::now();
                let result = scrape(t.addr, t.path, t.expect);
                let took = started.elapsed();
                let mut s = scrapes.lock().unwrap();
                s.0 += 1;
                s.1 = s.1.max(took);
                if let Err(e) = result {
                    s.2.push(format!("after {took:?}: {e}"));
                } else if took >= Duration::from_secs(1) {
                    s.2.push(format!("answered after {took:?}"));
                }
                drop(s);
                next += Duration::from_millis(100);
                thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        })
    };

    // The siege, the three kinds interleaved.
    let trickling = Arc::new(AtomicBool::new(true));
    let trickler = {
        let (trickling, addr) = (trickling.clone(), t.addr);
        thread::spawn(move || {
            let Ok(mut s) = TcpStream::connect(addr) else {
                return;
            };
            let request = b"GET /metrics HTTP/1.1\r\nHost: trickle\r\nX-Slow: "
                .iter()
                .cycle();
            for byte in request {
                if !trickling.load(Ordering::SeqCst) || s.write_all(&[*byte]).is_err() {
                    return;
                }
                // Sleeps in short steps, so that the end of the siege is seen at once.
                let next = Instant::now() + Duration::from_secs(1);
                while Instant::now() < next && trickling.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(20));
                }
            }
        })
    };
    let started = Instant::now();
    let mut hostile = Vec::with_capacity(3 * EACH);
    for i in 0..3 * EACH {
        let request: &[u8] = match i % 3 {
            0 => b"GET /metrics HTTP/1.1\r\nHost: siege\r\nX-Unfinished: ",
            1 => b"POST /metrics HTTP/1.1\r\nHost: siege\r\nContent-Length: 100000000\r\n\r\n",
            _ => b"GET /-/healthy HTTP/1.1\r\nHost: siege\r\n\r\n",
        };
        let mut s = TcpStream::connect(t.addr).expect("a hostile connection");
        // The server may already have closed an older one to make room: that is fine.
        let _ = s.write_all(request);
        if i % 3 == 2 {
            // A keep-alive client reads its answer, then idles. Without the read, the 500
            // requests would be a burst of concurrent requests, past the cap on requests in
            // flight, whose 503s (load shedding by design, as node_exporter's
            // `--web.max-requests`) would hit the scraper too on a busy machine.
            await_answer(&mut s);
        }
        hostile.push(s);
    }
    let opened = started.elapsed();
    // Hold the siege for 3 s of scrapes.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        thread::sleep(Duration::from_millis(50));
    }
    // The clients close.
    drop(hostile);
    trickling.store(false, Ordering::SeqCst);
    trickler.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    scraper.join().unwrap();
    monitor.join().unwrap();
    let closed = Instant::now();
    let back = within(Duration::from_secs(5), || {
        threads(t.pid) <= threads_before && descriptors(t.pid) <= fds_before
    });
    let after = (threads(t.pid), descriptors(t.pid), closed.elapsed());
    let rss_after = resident_kib(t.pid);

    let (count, slowest, failures) = scrapes.lock().unwrap().clone();
    let report = Report {
        before: (threads_before, fds_before, rss_before),
        peak: (
            peak_threads.load(Ordering::SeqCst),
            peak_rss.load(Ordering::SeqCst).max(rss_after),
        ),
        after,
        scrapes: (count, slowest),
    };
    eprintln!(
        "siege ({} connections opened in {opened:?}): {report:?}",
        3 * EACH
    );
    assert!(
        failures.is_empty(),
        "{} of {count} scrapes failed or took 1 s or more: {failures:#?}",
        failures.len()
    );
    assert!(count >= 25, "only {count} scrapes in the siege");
    assert!(
        report.peak.0 <= threads_before + SPARE_THREADS,
        "threads went from {threads_before} up to {}",
        report.peak.0
    );
    assert!(
        back,
        "5 s after the clients closed: threads {} (before {threads_before}), descriptors {} \
         (before {fds_before})",
        after.0, after.1
    );
    assert!(
        report.peak.1 < rss_before + MAX_RSS_GROWTH_KIB,
        "resident memory grew from {rss_before} KiB to {} KiB",
        report.peak.1
    );
    report
}
