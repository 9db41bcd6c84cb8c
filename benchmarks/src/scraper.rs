//! A minimal keep-alive HTTP/1.1 client for the scrape benchmarks: one connection, buffers
//! reused, a `Content-Length` or chunked body read whole (not decompressed), so that the
//! client's own cost is small and the same for every exporter.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

/// One keep-alive connection to an exporter.
#[derive(Debug)]
pub struct Scraper {
    addr: SocketAddr,
    reader: Option<BufReader<TcpStream>>,
    request: Vec<u8>,
    line: String,
    /// The last body read.
    pub body: Vec<u8>,
    /// Whether the last answer said `Content-Encoding: gzip`.
    pub gzipped: bool,
}

impl Scraper {
    /// A client of `addr` asking for `path` with these extra header lines (each ending in
    /// `\r\n`), e.g. the `Accept` and `Accept-Encoding` Prometheus sends.
    pub fn new(addr: SocketAddr, path: &str, headers: &str) -> Scraper {
        Scraper {
            addr,
            reader: None,
            request: format!("GET {path} HTTP/1.1\r\nHost: bench\r\n{headers}\r\n").into_bytes(),
            line: String::new(),
            body: Vec::new(),
            gzipped: false,
        }
    }

    /// One scrape; the body's length. Reconnects when the server closed the connection.
    pub fn scrape(&mut self) -> io::Result<usize> {
        match self.try_scrape() {
            Ok(n) => Ok(n),
            Err(_) => {
                self.reader = None;
                self.try_scrape()
            }
        }
    }

    fn try_scrape(&mut self) -> io::Result<usize> {
        if self.reader.is_none() {
            let s = TcpStream::connect(self.addr)?;
            s.set_nodelay(true)?;
            self.reader = Some(BufReader::with_capacity(64 * 1024, s));
        }
        let r = self.reader.as_mut().expect("connected");
        r.get_mut().write_all(&self.request)?;
        let mut length = None;
        let mut chunked = false;
        let mut close = false;
        self.gzipped = false;
        let mut status = true;
        loop {
            self.line.clear();
            if r.read_line(&mut self.line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let l = self.line.trim_end();
            if status {
                if !l.starts_with("HTTP/1.1 200") {
                    return Err(io::Error::other(format!("answer: {l}")));
                }
                status = false;
                continue;
            }
            if l.is_empty() {
                break;
            }
            let (name, value) = l.split_once(':').unwrap_or((l, ""));
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("content-encoding") {
                self.gzipped = value.eq_ignore_ascii_case("gzip");
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        self.body.clear();
        if chunked {
            loop {
                self.line.clear();
                r.read_line(&mut self.line)?;
                let size =
                    usize::from_str_radix(self.line.trim_end().split(';').next().unwrap_or(""), 16)
                        .map_err(io::Error::other)?;
                let start = self.body.len();
                self.body.resize(start + size, 0);
                r.read_exact(&mut self.body[start..])?;
                self.line.clear();
                r.read_line(&mut self.line)?;
                if size == 0 {
                    break;
                }
            }
        } else if let Some(n) = length {
            self.body.resize(n, 0);
            r.read_exact(&mut self.body)?;
        } else {
            r.read_to_end(&mut self.body)?;
            close = true;
        }
        if close {
            self.reader = None;
        }
        Ok(self.body.len())
    }
}
