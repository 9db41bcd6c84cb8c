//! A request as the connection layer hands it to a [`Handler`](crate::Handler): its head
//! parsed with `httparse`, and its body when the route takes one.

use std::net::SocketAddr;
use std::ops::Range;

/// Most header lines a request head may have; more is a 431.
pub(crate) const MAX_HEADERS: usize = 64;

/// One HTTP/1.x request: method, target, headers and (for routes that accept one) its body.
///
/// Header names are matched case-insensitively; a header value that is not UTF-8 reads as
/// absent.
#[derive(Clone)]
pub struct Request {
    /// The head's bytes, then the body's.
    raw: Vec<u8>,
    head_len: usize,
    method: Range<usize>,
    target: Range<usize>,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    version: u8,
    headers: Vec<(Range<usize>, Range<usize>)>,
    peer: SocketAddr,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method())
            .field("target", &self.target())
            .field("body", &self.body().len())
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// What parsing the bytes received so far gave.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// A whole head: its length, and the request (without body yet).
    Head(Box<Request>),
    /// More bytes are needed.
    Partial,
    /// Not HTTP/1.x (400).
    Malformed,
    /// More header lines than [`MAX_HEADERS`] (431).
    TooManyHeaders,
}

fn offset(buf: &[u8], part: &[u8]) -> Range<usize> {
    // `part` borrows from `buf` (httparse returns slices of its input).
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    start..start + part.len()
}

/// Parses a request head at the start of `buf`.
pub(crate) fn parse(buf: &[u8], peer: SocketAddr) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) => Parsed::Partial,
        Ok(httparse::Status::Complete(head_len)) => {
            let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version)
            else {
                return Parsed::Malformed;
            };
            let headers = req
                .headers
                .iter()
                .map(|h| (offset(buf, h.name.as_bytes()), offset(buf, h.value)))
                .collect();
            Parsed::Head(Box::new(Request {
                raw: buf[..head_len].to_vec(),
                head_len,
                method: offset(buf, method.as_bytes()),
                target: offset(buf, target.as_bytes()),
                version,
                headers,
                peer,
            }))
        }
        Err(httparse::Error::TooManyHeaders) => Parsed::TooManyHeaders,
        Err(_) => Parsed::Malformed,
    }
}

/// Why a request's framing is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body, or `Content-Length` bytes of it.
    Length(usize),
    /// `Transfer-Encoding` (chunked bodies are not taken): 411.
    Chunked,
    /// A `Content-Length` that is not a number, or several different ones: 400.
    Invalid,
}

impl Request {
    fn text(&self, r: &Range<usize>) -> &str {
        std::str::from_utf8(&self.raw[r.clone()]).unwrap_or("")
    }

    /// The method (`GET`, `PUT`...), as sent.
    pub fn method(&self) -> &str {
        self.text(&self.method)
    }

    /// The request target: the path and query (`/metrics?x=1`), or the absolute form a proxy
    /// sends.
    pub fn target(&self) -> &str {
        self.text(&self.target)
    }

    /// The path of the target, without query or fragment.
    pub fn path(&self) -> &str {
        let t = self.target();
        let end = t.find(['?', '#']).unwrap_or(t.len());
        &t[..end]
    }

    /// The first value of header `name` (case-insensitive), if present and UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| self.raw[n.clone()].eq_ignore_ascii_case(name.as_bytes()))
            .and_then(|(_, v)| std::str::from_utf8(&self.raw[v.clone()]).ok())
    }

    /// Every header line, as `(name, value)`; values that are not UTF-8 are skipped.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().filter_map(|(n, v)| {
            Some((
                std::str::from_utf8(&self.raw[n.clone()]).ok()?,
                std::str::from_utf8(&self.raw[v.clone()]).ok()?,
            ))
        })
    }

    /// The body: empty unless the route accepts one ([`Handler::max_body`](crate::Handler)).
    pub fn body(&self) -> &[u8] {
        &self.raw[self.head_len..]
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// True for `HEAD`: the answer has the headers of a `GET` and no body.
    pub fn is_head(&self) -> bool {
        self.method() == "HEAD"
    }

    /// The size of the head as sent.
    pub(crate) fn head_len(&self) -> usize {
        self.head_len
    }

    /// Whether the client keeps the connection open after the answer: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    pub(crate) fn keep_alive(&self) -> bool {
        let tokens = self
            .headers
            .iter()
            .filter(|(n, _)| self.raw[n.clone()].eq_ignore_ascii_case(b"connection"))
            .map(|(_, v)| &self.raw[v.clone()]);
        let mut close = self.version == 0;
        for value in tokens {
            for token in value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    return false;
                }
                if token.eq_ignore_ascii_case(b"keep-alive") {
                    close = false;
                }
            }
        }
        !close
    }

    /// How the body is framed.
    pub(crate) fn framing(&self) -> Framing {
        let mut length: Option<usize> = None;
        for (n, v) in &self.headers {
            let name = &self.raw[n.clone()];
            if name.eq_ignore_ascii_case(b"transfer-encoding") {
                return Framing::Chunked;
            }
            if name.eq_ignore_ascii_case(b"content-length") {
                let value = self.raw[v.clone()].trim_ascii();
                let parsed = std::str::from_utf8(value)
                    .ok()
                    .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|s| s.parse::<usize>().ok());
                match (parsed, length) {
                    (None, _) => return Framing::Invalid,
                    (Some(a), Some(b)) if a != b => return Framing::Invalid,
                    (Some(a), _) => length = Some(a),
                }
            }
        }
        Framing::Length(length.unwrap_or(0))
    }

    /// Appends body bytes.
    pub(crate) fn push_body(&mut self, bytes: &[u8]) {
        self.raw.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "127.0.0.1:1".parse().unwrap()
    }

    fn head(text: &str) -> Request {
        match parse(text.as_bytes(), peer()) {
            Parsed::Head(r) => *r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_heads() {
        let r = head("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\naccept:  text/plain \r\n\r\nrest");
        assert_eq!(r.method(), "GET");
        assert_eq!(r.target(), "/metrics?x=1");
        assert_eq!(r.path(), "/metrics");
        assert_eq!(r.header("ACCEPT"), Some("text/plain"));
        assert_eq!(r.header("nope"), None);
        assert_eq!(r.head_len(), 60);
        assert!(r.body().is_empty());
        assert!(r.keep_alive());
        assert_eq!(r.framing(), Framing::Length(0));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nHost", peer()),
            Parsed::Partial
        ));
        assert!(matches!(
            parse(b"NOT HTTP\r\n\r\n", peer()),
            Parsed::Malformed
        ));
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "a: b\r\n".repeat(65));
        assert!(matches!(
            parse(many.as_bytes(), peer()),
            Parsed::TooManyHeaders
        ));
    }

    #[test]
    fn connection_and_framing() {
        assert!(!head("GET / HTTP/1.0\r\n\r\n").keep_alive());
        assert!(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive());
        assert!(!head("GET / HTTP/1.1\r\nConnection: x, close\r\n\r\n").keep_alive());
        let f = |h: &str| head(&format!("PUT / HTTP/1.1\r\n{h}\r\n")).framing();
        assert_eq!(f("Content-Length: 12\r\n"), Framing::Length(12));
        assert_eq!(
            f("Content-Length: 12\r\nContent-Length: 12\r\n"),
            Framing::Length(12)
        );
        assert_eq!(
            f("Content-Length: 12\r\nContent-Length: 13\r\n"),
            Framing::Invalid
        );
        assert_eq!(f("Content-Length: -1\r\n"), Framing::Invalid);
        assert_eq!(
            f("Content-Length: 99999999999999999999999\r\n"),
            Framing::Invalid
        );
        assert_eq!(f("Transfer-Encoding: chunked\r\n"), Framing::Chunked);
    }
}
