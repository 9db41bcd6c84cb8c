//! Writing an answer: its head, then its body within a deadline.
//!
//! Each single `write` is bounded by the socket's send timeout (`SO_SNDTIMEO`, set on every
//! accepted socket), and [`send`] checks a deadline over the whole answer between pieces, so a
//! client that does not read holds a worker for at most about the write timeout plus one send
//! timeout.

use std::io::{self, Write};
use std::time::{Instant, SystemTime};

use crate::handler::{reason, Response};

/// Writes the status line and headers of `r` into `head` (cleared first). `Content-Length`
/// is the body's length, also for HEAD; `extra` are the web configuration's
/// `http_server_config.headers`; `close` adds `Connection: close`.
pub(crate) fn write_head(
    r: &Response,
    extra: &[(String, String)],
    close: bool,
    head: &mut Vec<u8>,
) {
    head.clear();
    // Writing into a Vec cannot fail.
    let _ = try_write_head(r, extra, close, head);
}

fn try_write_head(
    r: &Response,
    extra: &[(String, String)],
    close: bool,
    head: &mut Vec<u8>,
) -> io::Result<()> {
    write!(head, "HTTP/1.1 {} {}\r\n", r.status, reason(r.status))?;
    // A clock before 1970 (a board without a real-time clock) gets no Date, rather than
    // httpdate's panic.
    let now = SystemTime::now();
    if now >= SystemTime::UNIX_EPOCH {
        write!(head, "Date: {}\r\n", httpdate::HttpDate::from(now))?;
    }
    write!(
        head,
        "Content-Type: {}\r\nContent-Length: {}\r\n",
        r.content_type,
        r.body.len()
    )?;
    for (name, value) in &r.headers {
        write!(head, "{name}: {value}\r\n")?;
    }
    for (name, value) in extra {
        write!(head, "{name}: {value}\r\n")?;
    }
    if close {
        head.extend_from_slice(b"Connection: close\r\n");
    }
    head.extend_from_slice(b"\r\n");
    Ok(())
}

/// Writes `head`, then `body` unless `head_only`, then flushes; fails with `TimedOut` once
/// `deadline` has passed. Each single `write` is bounded by the socket's send timeout (set on
/// the listener, see `listener.rs`), so the whole call returns at most about one send timeout
/// after the deadline, however slowly the client reads.
pub(crate) fn send(
    w: &mut dyn Write,
    head: &[u8],
    body: &[u8],
    head_only: bool,
    deadline: Instant,
) -> io::Result<()> {
    write_by(w, head, deadline)?;
    if !head_only {
        write_by(w, body, deadline)?;
    }
    w.flush()
}

/// Largest piece handed to one `write`, so the deadline is checked between pieces.
const PIECE: usize = 64 * 1024;

fn write_by(w: &mut dyn Write, mut buf: &[u8], deadline: Instant) -> io::Result<()> {
    while !buf.is_empty() {
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not read the response within the write timeout",
            ));
        }
        match w.write(&buf[..buf.len().min(PIECE)]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn head() {
        let mut r = Response::default();
        r.status(405)
            .header("Allow", "GET, HEAD")
            .header("Vary", "Accept")
            .body(b"no");
        let mut head = b"junk".to_vec();
        let extra = [("X-Frame-Options".to_string(), "deny".to_string())];
        write_head(&r, &extra, true, &mut head);
        let head = String::from_utf8(head).unwrap();
        assert!(
            head.starts_with("HTTP/1.1 405 Method Not Allowed\r\nDate: "),
            "{head}"
        );
        assert!(
            head.ends_with(
                " GMT\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\
             Allow: GET, HEAD\r\nVary: Accept\r\nX-Frame-Options: deny\r\n\
             Connection: close\r\n\r\n"
            ),
            "{head}"
        );
    }

    /// A writer that accepts 3 bytes per call.
    struct Slow(Vec<u8>);
    impl Write for Slow {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn partial_writes_and_deadline() {
        let far = Instant::now() + Duration::from_secs(60);
        let mut w = Slow(Vec::new());
        send(&mut w, b"head:", b"body", false, far).unwrap();
        assert_eq!(w.0, b"head:body");
        let mut w = Slow(Vec::new());
        send(&mut w, b"head:", b"body", true, far).unwrap();
        assert_eq!(w.0, b"head:");
        let now = Instant::now();
        let e = send(&mut Slow(Vec::new()), b"head", b"", false, now).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }
}
