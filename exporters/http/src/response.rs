//! Writing a response within a deadline.
//!
//! Responses are written by hand through [`tiny_http::Request::into_writer`] rather than as a
//! `tiny_http::Response`, for three reasons: tiny_http drops a `Connection` header given to
//! its `Response` (and every response here says `Connection: close`, see below); its writer
//! would copy the body from a reader with no deadline; and it allocates a few header strings
//! per response where this writes the head into a buffer the worker reuses.
//!
//! `Connection: close`: tiny_http keeps a thread per open connection, waiting for the next
//! request with no timeout. A scraper that honours `close` (Prometheus, curl, every HTTP
//! library) closes the connection after the response, which ends that thread, so idle
//! keep-alive connections do not pile up threads and a stopped exporter leaves none behind
//! for well-behaved clients. Prometheus then opens one connection per scrape, which costs
//! nothing at scrape intervals.

use std::io::{self, Write};
use std::time::{Instant, SystemTime};

/// The status codes the exporter sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    HeadTooLarge,
    InternalError,
}

impl Status {
    pub(crate) fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::Unauthorized => 401,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::HeadTooLarge => 431,
            Status::InternalError => 500,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Unauthorized => "Unauthorized",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::HeadTooLarge => "Request Header Fields Too Large",
            Status::InternalError => "Internal Server Error",
        }
    }
}

/// One response, borrowed from the worker's buffers.
#[derive(Debug)]
pub(crate) struct Response<'a> {
    pub(crate) status: Status,
    pub(crate) content_type: &'static str,
    pub(crate) body: &'a [u8],
    /// `Content-Encoding: gzip`.
    pub(crate) gzip: bool,
    /// A `Vary` value, when the body depends on request headers.
    pub(crate) vary: Option<&'static str>,
    /// An `Allow` value (405).
    pub(crate) allow: Option<&'static str>,
    /// A `WWW-Authenticate` value (401).
    pub(crate) www_authenticate: Option<&'static str>,
}

impl<'a> Response<'a> {
    /// A plain response with no optional headers.
    pub(crate) fn new(status: Status, content_type: &'static str, body: &'a [u8]) -> Self {
        Response {
            status,
            content_type,
            body,
            gzip: false,
            vary: None,
            allow: None,
            www_authenticate: None,
        }
    }

    /// Writes the status line and headers into `head` (cleared first). `Content-Length` is
    /// the body's length, also for HEAD.
    pub(crate) fn write_head(&self, head: &mut Vec<u8>) {
        head.clear();
        // Writing into a Vec cannot fail.
        let _ = self.try_write_head(head);
    }

    fn try_write_head(&self, head: &mut Vec<u8>) -> io::Result<()> {
        write!(
            head,
            "HTTP/1.1 {} {}\r\n",
            self.status.code(),
            self.status.reason()
        )?;
        // A clock before 1970 (a board without a real-time clock) gets no Date, rather than
        // httpdate's panic.
        let now = SystemTime::now();
        if now >= SystemTime::UNIX_EPOCH {
            write!(head, "Date: {}\r\n", httpdate::HttpDate::from(now))?;
        }
        write!(
            head,
            "Content-Type: {}\r\nContent-Length: {}\r\n",
            self.content_type,
            self.body.len()
        )?;
        if self.gzip {
            head.extend_from_slice(b"Content-Encoding: gzip\r\n");
        }
        if let Some(vary) = self.vary {
            write!(head, "Vary: {vary}\r\n")?;
        }
        if let Some(allow) = self.allow {
            write!(head, "Allow: {allow}\r\n")?;
        }
        if let Some(challenge) = self.www_authenticate {
            write!(head, "WWW-Authenticate: {challenge}\r\n")?;
        }
        head.extend_from_slice(b"Connection: close\r\n\r\n");
        Ok(())
    }
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
        let mut r = Response::new(Status::MethodNotAllowed, "text/plain; charset=utf-8", b"no");
        r.allow = Some("GET, HEAD");
        r.vary = Some("Accept");
        r.gzip = true;
        let mut head = b"junk".to_vec();
        r.write_head(&mut head);
        let head = String::from_utf8(head).unwrap();
        assert!(
            head.starts_with("HTTP/1.1 405 Method Not Allowed\r\nDate: "),
            "{head}"
        );
        assert!(
            head.ends_with(
                " GMT\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\
             Content-Encoding: gzip\r\nVary: Accept\r\nAllow: GET, HEAD\r\n\
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
