//! One client connection: its socket, its TLS state, the bytes received and not yet used,
//! and what it is waiting for.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rustls::ServerConnection;

use crate::Request;

/// Bytes read from a socket at a time.
const CHUNK: usize = 8 * 1024;

/// What a connection waits for, and until when.
#[derive(Debug)]
pub(crate) enum Phase {
    /// Between requests (keep-alive): closed, silently, at the idle timeout.
    Idle { until: Instant },
    /// A request head: 408 at the head timeout.
    Head { until: Instant },
    /// The body of this request: 408 at the body timeout.
    Body {
        until: Instant,
        request: Box<Request>,
        remaining: usize,
    },
    /// A chunked body of this request, decoded as it comes, up to `limit` bytes: 408 at the
    /// body timeout.
    Chunked {
        until: Instant,
        request: Box<Request>,
        state: crate::chunked::State,
        total: usize,
        limit: usize,
    },
    /// Refused: whatever the client still sends is read and thrown away until it closes or
    /// until then, so that the refusal reaches it (closing with unread data would reset the
    /// connection and could destroy the answer in flight).
    Closing { until: Instant },
}

/// Keeps the count of open connections: one per live `Conn`.
#[derive(Debug)]
pub(crate) struct Open(Arc<AtomicUsize>);

impl Open {
    pub(crate) fn new(count: &Arc<AtomicUsize>) -> Open {
        count.fetch_add(1, Ordering::SeqCst);
        Open(count.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What reading the socket gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fill {
    /// Nothing more for now (or the limit reached).
    Open,
    /// The client closed its side.
    Eof,
    /// A socket error or a TLS protocol error.
    Failed,
}

/// One accepted connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    pub(crate) tls: Option<Box<ServerConnection>>,
    pub(crate) peer: SocketAddr,
    /// Plaintext received and not used yet.
    pub(crate) buf: Vec<u8>,
    pub(crate) phase: Phase,
    /// When it last received anything (or was accepted): the oldest idle one is closed first
    /// when the connection cap is reached.
    pub(crate) last_active: Instant,
    /// TLS records wait to be written (the socket was full).
    pub(crate) wants_write: bool,
    /// Requests answered on it.
    pub(crate) requests: u64,
    _open: Open,
}

impl Conn {
    pub(crate) fn new(
        stream: TcpStream,
        tls: Option<Box<ServerConnection>>,
        peer: SocketAddr,
        phase: Phase,
        open: Open,
    ) -> Conn {
        Conn {
            stream,
            tls,
            peer,
            buf: Vec::new(),
            phase,
            last_active: Instant::now(),
            wants_write: false,
            requests: 0,
            _open: open,
        }
    }

    /// Whether the TLS handshake is still going on.
    pub(crate) fn handshaking(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.is_handshaking())
    }

    /// Reads (non-blocking) what the socket holds into `buf`, until it is empty or `buf`
    /// holds `limit` bytes. With TLS, also answers the handshake.
    pub(crate) fn fill(&mut self, limit: usize) -> Fill {
        let mut chunk = [0u8; CHUNK];
        match &mut self.tls {
            None => loop {
                if self.buf.len() >= limit {
                    return Fill::Open;
                }
                let want = (limit - self.buf.len()).min(CHUNK);
                match self.stream.read(&mut chunk[..want]) {
                    Ok(0) => return Fill::Eof,
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Fill::Open,
                    Err(_) => return Fill::Failed,
                }
            },
            Some(tls) => loop {
                // The plaintext rustls holds first: it reads no more records while it holds
                // too much.
                loop {
                    if self.buf.len() >= limit {
                        return Fill::Open;
                    }
                    let want = (limit - self.buf.len()).min(CHUNK);
                    match tls.reader().read(&mut chunk[..want]) {
                        Ok(0) => return Fill::Eof,
                        Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => return Fill::Failed,
                    }
                }
                let read = tls.read_tls(&mut self.stream);
                let state = tls.process_new_packets();
                // Handshake messages, alerts.
                if flush(tls, &mut self.stream).is_err() {
                    return Fill::Failed;
                }
                self.wants_write = tls.wants_write();
                if state.is_err() {
                    return Fill::Failed;
                }
                match read {
                    Ok(0) => return Fill::Eof,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Fill::Open,
                    Err(_) => return Fill::Failed,
                }
            },
        }
    }

    /// Writes pending TLS records (non-blocking).
    pub(crate) fn flush_tls(&mut self) -> io::Result<()> {
        if let Some(tls) = &mut self.tls {
            flush(tls, &mut self.stream)?;
            self.wants_write = tls.wants_write();
        }
        Ok(())
    }

    /// Sends `bytes` as far as the socket takes them without blocking (a refusal), then
    /// closes the sending side.
    pub(crate) fn send_nonblocking(&mut self, bytes: &[u8]) {
        match &mut self.tls {
            None => {
                let _ = self.stream.write(bytes);
            }
            Some(tls) => {
                if !tls.is_handshaking() {
                    let _ = tls.writer().write_all(bytes);
                }
                tls.send_close_notify();
                let _ = flush(tls, &mut self.stream);
            }
        }
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Sends a short interim answer (`100 Continue`) without blocking, as far as the socket
    /// takes it.
    pub(crate) fn send_interim(&mut self, bytes: &[u8]) {
        match &mut self.tls {
            None => {
                let _ = self.stream.write(bytes);
            }
            Some(tls) => {
                let _ = tls.writer().write_all(bytes);
                let _ = flush(tls, &mut self.stream);
                self.wants_write = tls.wants_write();
            }
        }
    }

    /// Switches the socket between the reactor (non-blocking) and a worker (blocking, bounded
    /// by the send timeout).
    pub(crate) fn set_blocking(&self, blocking: bool) -> io::Result<()> {
        self.stream.set_nonblocking(!blocking)
    }

    /// A writer for the answer (blocking socket): plaintext, or through TLS.
    pub(crate) fn writer(&mut self) -> ConnWriter<'_> {
        ConnWriter {
            stream: &mut self.stream,
            tls: self.tls.as_deref_mut(),
        }
    }

    /// Ends the connection after an answer with `Connection: close`.
    pub(crate) fn close(mut self) {
        if let Some(tls) = &mut self.tls {
            tls.send_close_notify();
            let _ = flush(tls, &mut self.stream);
        }
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Writes what rustls has to send, until done or the socket would block.
fn flush(tls: &mut ServerConnection, stream: &mut TcpStream) -> io::Result<()> {
    while tls.wants_write() {
        match tls.write_tls(stream) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The answer's writer on a blocking socket: each `write` hands at most one piece to
/// rustls and writes its records out, each socket write bounded by the send timeout.
pub(crate) struct ConnWriter<'a> {
    stream: &'a mut TcpStream,
    tls: Option<&'a mut ServerConnection>,
}

impl Write for ConnWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.tls {
            None => self.stream.write(buf),
            Some(tls) => {
                let n = tls.writer().write(buf)?;
                while tls.wants_write() {
                    match tls.write_tls(self.stream) {
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}
