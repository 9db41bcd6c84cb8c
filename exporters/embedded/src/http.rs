//! Enough HTTP/1.x for Prometheus to scrape a device with a TCP stack directly.

use embedded_io::{Read, Write};
use metrics_core::{negotiate, ChunkedEncoder, Families, Format, EXEMPLAR_BYTES};

/// Headers kept per request; more is `431`.
const MAX_HEADERS: usize = 24;

/// Answers one HTTP/1.x request per connection with the exposition of a registry.
///
/// * `GET /metrics` (any query string) → `200` with the `Content-Type` negotiated from `Accept`
///   by the core's [`negotiate()`]; the body is streamed through the core's chunked encoder in
///   pieces of `CHUNK` bytes, as `Transfer-Encoding: chunked` to HTTP/1.1 clients and until the
///   connection closes for HTTP/1.0 ones. `HEAD /metrics` sends the same headers, no body.
/// * Another path → `404`; another method → `405` (with `Allow: GET, HEAD`); a request that
///   does not parse → `400`; a request line and headers over `REQ` bytes or over 24 headers
///   → `431`.
///
/// Every response carries `Connection: close`: close the connection after [`serve`](Self::serve).
/// After an error answer the request may not have been read to its end; close gracefully (shut
/// down the sending side, read and drop what still arrives for a moment, then close), or the
/// TCP stack may reset the connection before the client has read the answer.
/// Any bytes whatsoever yield one of these answers; nothing panics.
///
/// `X` is the encoder's exemplar buffer, as [`SerialServer`](crate::SerialServer)'s: `0` for
/// a firmware that sets no exemplars (none served, the exemplar writer left out of its flash).
#[derive(Debug)]
pub struct HttpServer<
    'r,
    F: Families + ?Sized,
    const REQ: usize = 512,
    const CHUNK: usize = 128,
    const X: usize = EXEMPLAR_BYTES,
> {
    registry: &'r F,
    buf: [u8; REQ],
}

/// What [`HttpServer::parse`] made of the bytes so far.
enum Parsed {
    Partial,
    Reply(Reply),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    Metrics {
        format: Format,
        head: bool,
        chunked: bool,
    },
    Status(u16),
}

impl<'r, F: Families + ?Sized, const REQ: usize, const CHUNK: usize, const X: usize>
    HttpServer<'r, F, REQ, CHUNK, X>
{
    /// A server of `registry`.
    pub const fn new(registry: &'r F) -> Self {
        HttpServer {
            registry,
            buf: [0; REQ],
        }
    }

    /// Reads one request from `io` and answers it. Returns the status sent, or `0` when the
    /// peer closed the connection before sending anything. After a `200` whose body could not
    /// be encoded the chunked body is left unterminated (the client sees a cut response) and
    /// `500` is returned.
    pub fn serve<T: Read + Write + ?Sized>(&mut self, io: &mut T) -> Result<u16, T::Error> {
        let mut filled = 0;
        let reply = loop {
            if filled == REQ {
                break Reply::Status(431);
            }
            let n = io.read(&mut self.buf[filled..])?;
            if n == 0 {
                if filled == 0 {
                    return Ok(0);
                }
                break Reply::Status(400);
            }
            filled += n;
            if let Parsed::Reply(r) = parse(&self.buf[..filled]) {
                break r;
            }
        };
        match reply {
            Reply::Status(code) => {
                write_status(io, code)?;
                Ok(code)
            }
            Reply::Metrics {
                format,
                head,
                chunked,
            } => {
                io.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: ")?;
                io.write_all(format.content_type().as_bytes())?;
                io.write_all(b"\r\nConnection: close\r\n")?;
                if chunked {
                    io.write_all(b"Transfer-Encoding: chunked\r\n")?;
                }
                io.write_all(b"\r\n")?;
                if head {
                    io.flush()?;
                    return Ok(200);
                }
                let status = stream_body::<F, T, CHUNK, X>(self.registry, format, chunked, io)?;
                io.flush()?;
                Ok(status)
            }
        }
    }
}

fn stream_body<F: Families + ?Sized, T: Write + ?Sized, const CHUNK: usize, const X: usize>(
    registry: &F,
    format: Format,
    chunked: bool,
    io: &mut T,
) -> Result<u16, T::Error> {
    let mut enc: ChunkedEncoder<'_, F, 32, X> = ChunkedEncoder::new(registry, format);
    let mut chunk = [0u8; CHUNK];
    loop {
        let n = match enc.fill(&mut chunk) {
            Ok(n) => n,
            Err(_) => return Ok(500),
        };
        if n == 0 {
            break;
        }
        if chunked {
            let mut hex = [0u8; 18];
            io.write_all(hex_line(n, &mut hex))?;
            io.write_all(&chunk[..n])?;
            io.write_all(b"\r\n")?;
        } else {
            io.write_all(&chunk[..n])?;
        }
    }
    if chunked {
        io.write_all(b"0\r\n\r\n")?;
    }
    Ok(200)
}

/// `n` in hex followed by CRLF.
fn hex_line(mut n: usize, out: &mut [u8; 18]) -> &[u8] {
    let mut i = 16;
    out[16] = b'\r';
    out[17] = b'\n';
    loop {
        i -= 1;
        out[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    &out[i..]
}

fn write_status<T: Write + ?Sized>(io: &mut T, code: u16) -> Result<(), T::Error> {
    let (line, body): (&[u8], &[u8]) = match code {
        404 => (
            b"404 Not Found",
            b"Not Found: the metrics are at /metrics\n",
        ),
        405 => (
            b"405 Method Not Allowed\r\nAllow: GET, HEAD",
            b"Method Not Allowed: use GET or HEAD\n",
        ),
        431 => (
            b"431 Request Header Fields Too Large",
            b"Request Header Fields Too Large\n",
        ),
        _ => (b"400 Bad Request", b"Bad Request\n"),
    };
    io.write_all(b"HTTP/1.1 ")?;
    io.write_all(line)?;
    io.write_all(
        b"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ",
    )?;
    let mut digits = [0u8; 20];
    io.write_all(decimal(body.len(), &mut digits))?;
    io.write_all(b"\r\n\r\n")?;
    io.write_all(body)?;
    io.flush()
}

fn decimal(mut n: usize, out: &mut [u8; 20]) -> &[u8] {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &out[i..]
}

fn parse(bytes: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(bytes) {
        Ok(httparse::Status::Partial) => Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => Parsed::Reply(Reply::Status(431)),
        Err(_) => Parsed::Reply(Reply::Status(400)),
        Ok(httparse::Status::Complete(_)) => Parsed::Reply(route(&req)),
    }
}

fn route(req: &httparse::Request<'_, '_>) -> Reply {
    let (Some(method), Some(path), Some(version)) = (req.method, req.path, req.version) else {
        return Reply::Status(400);
    };
    let head = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Reply::Status(405),
    };
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    if path != "/metrics" {
        return Reply::Status(404);
    }
    let accept = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("accept"))
        .and_then(|h| core::str::from_utf8(h.value).ok());
    let format = negotiate(accept);
    // Without the `protobuf` feature a scraper that prefers protobuf gets its fallback, text.
    #[cfg(not(feature = "protobuf"))]
    let format = match format {
        Format::Protobuf => Format::Text,
        f => f,
    };
    Reply::Metrics {
        format,
        head,
        chunked: version >= 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_decimal() {
        let mut h = [0u8; 18];
        assert_eq!(hex_line(0, &mut h), b"0\r\n");
        assert_eq!(hex_line(0x1a2, &mut h), b"1a2\r\n");
        assert_eq!(
            hex_line(usize::MAX, &mut h).len(),
            2 * size_of::<usize>() + 2
        );
        let mut d = [0u8; 20];
        assert_eq!(decimal(0, &mut d), b"0");
        assert_eq!(decimal(1234, &mut d), b"1234");
    }

    #[test]
    fn routes() {
        let r = |s: &str| match parse(s.as_bytes()) {
            Parsed::Partial => None,
            Parsed::Reply(r) => Some(r),
        };
        assert_eq!(r("GET /metrics HTTP/1.1\r\n"), None);
        assert_eq!(
            r("GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Some(Reply::Metrics {
                format: Format::Text,
                head: false,
                chunked: false
            })
        );
        assert_eq!(
            r("HEAD /metrics HTTP/1.1\r\nACCEPT: application/openmetrics-text\r\n\r\n"),
            Some(Reply::Metrics {
                format: Format::OpenMetrics,
                head: true,
                chunked: true
            })
        );
        assert_eq!(r("GET / HTTP/1.1\r\n\r\n"), Some(Reply::Status(404)));
        assert_eq!(
            r("POST /metrics HTTP/1.1\r\n\r\n"),
            Some(Reply::Status(405))
        );
        assert_eq!(r("GET /metrics HTTP/2.0\r\n\r\n"), Some(Reply::Status(400)));
        assert_eq!(r("\x00\x01\r\n\r\n"), Some(Reply::Status(400)));
    }
}
