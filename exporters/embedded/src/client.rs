//! Host side (`std` feature): a blocking scrape client over any `std::io::Read + Write`
//! (a serial port, a `TcpStream` to QEMU's UART), built on [`Decoder`] and [`Response`].

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};
use std::vec::Vec;

use metrics_core::Format;

use crate::frame::{self, format_byte, FrameType, MAX_FRAME};
use crate::{Decoder, DecoderStats, ErrorCode, Frame, FrameError, Response, ResponseError, Step};

/// Why a scrape failed. The client is ready for the next scrape after any of them.
#[derive(Debug)]
#[non_exhaustive]
pub enum ScrapeError {
    /// Reading or writing the stream failed (a read timeout is `TimedOut`/`WouldBlock`).
    Io(io::Error),
    /// The stream ended before the response did.
    Closed,
    /// No complete response within the client's timeout.
    Timeout,
    /// A frame of the response was lost or corrupted on the line.
    Frame(FrameError),
    /// The frames received do not make a valid response.
    Response(ResponseError),
    /// The exposition grew past the client's limit ([`Client::with_max_body`]); the client
    /// stopped reading at the frame that crossed it, so the rest of the response was not
    /// buffered.
    TooLarge {
        /// The limit, in bytes of exposition.
        limit: usize,
    },
}

impl std::fmt::Display for ScrapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScrapeError::Io(e) => write!(f, "serial I/O failed: {e}"),
            ScrapeError::Closed => f.write_str("the device's stream closed mid-response"),
            ScrapeError::Timeout => f.write_str("no complete response before the timeout"),
            ScrapeError::Frame(e) => write!(f, "bad frame in the response: {e}"),
            ScrapeError::Response(e) => write!(f, "invalid response: {e}"),
            ScrapeError::TooLarge { limit } => write!(
                f,
                "the exposition is larger than the limit of {limit} bytes; reading stopped there"
            ),
        }
    }
}

impl std::error::Error for ScrapeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ScrapeError::Io(e) => Some(e),
            ScrapeError::Frame(e) => Some(e),
            ScrapeError::Response(e) => Some(e),
            _ => None,
        }
    }
}

/// Scrapes a device over a byte stream, one request at a time.
///
/// Set a read timeout on the stream (e.g. `TcpStream::set_read_timeout`) shorter than the
/// client's own timeout so a silent device cannot block a read forever.
#[derive(Debug)]
pub struct Client<S> {
    stream: S,
    decoder: Decoder<MAX_FRAME>,
    next_id: u8,
    timeout: Duration,
    max_body: usize,
}

impl<S: Read + Write> Client<S> {
    /// A client on `stream` with a 5 s timeout per scrape and no limit on the exposition's
    /// size.
    pub fn new(stream: S) -> Self {
        Client {
            stream,
            decoder: Decoder::new(),
            next_id: 1,
            timeout: Duration::from_secs(5),
            max_body: usize::MAX,
        }
    }

    /// Sets the largest exposition a scrape accepts, in bytes: a response whose DATA frames
    /// carry more fails with [`ScrapeError::TooLarge`] as soon as the frame that crosses the
    /// limit arrives, so at most `bytes` are ever buffered (a device that streams without end
    /// costs no more memory than that). Without it a scrape is bounded only by its timeout.
    #[must_use]
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Sets the time a whole scrape may take.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// What the decoder saw so far (noise bytes, CRC errors): the line's health.
    pub fn stats(&self) -> DecoderStats {
        self.decoder.stats()
    }

    /// Requests the exposition in `format` and returns it once its END frame checked out.
    pub fn scrape(&mut self, format: Format) -> Result<Vec<u8>, ScrapeError> {
        let result = self.try_scrape(format);
        if result.is_err() {
            // A cut frame must not be glued to the next response.
            self.decoder.reset();
        }
        result
    }

    fn try_scrape(&mut self, format: Format) -> Result<Vec<u8>, ScrapeError> {
        let id = self.send(FrameType::Scrape, &[format_byte(format)])?;
        let mut response = Response::new(id);
        let mut body = Vec::new();
        let max_body = self.max_body;
        self.receive(|event| match event {
            // Before the response starts, noise and broken frames are leftovers of earlier
            // traffic; inside it they mean a lost frame.
            Err(e) if response.started() => Err(ScrapeError::Frame(e)),
            Err(_) => Ok(false),
            Ok(f) => match response.on_frame(f).map_err(ScrapeError::Response)? {
                Step::Ignored => Ok(false),
                Step::Data(d) if d.len() > max_body - body.len() => {
                    Err(ScrapeError::TooLarge { limit: max_body })
                }
                Step::Data(d) => {
                    body.extend_from_slice(d);
                    Ok(false)
                }
                Step::End => Ok(true),
            },
        })?;
        Ok(body)
    }

    /// Asks the device for its id (an IDENTIFY request, protocol 1.1 of `PROTOCOL.md`):
    /// `Ok(Some(bytes))`, or `Ok(None)` when the device has none: it answered an empty
    /// IDENTITY, or it speaks protocol 1.0 and refused the request as an unknown type.
    pub fn identify(&mut self) -> Result<Option<Vec<u8>>, ScrapeError> {
        let result = self.try_identify();
        if result.is_err() {
            self.decoder.reset();
        }
        result
    }

    fn try_identify(&mut self) -> Result<Option<Vec<u8>>, ScrapeError> {
        let id = self.send(FrameType::Identify, &[])?;
        let mut answer = None;
        self.receive(|event| {
            // The answer is one frame: anything damaged is noise until it comes (or the
            // timeout does).
            let Ok(f) = event else { return Ok(false) };
            if f.kind.is_request() || f.id != id {
                return Ok(false);
            }
            if f.version != frame::VERSION {
                return Err(ScrapeError::Response(ResponseError::Version(f.version)));
            }
            let code = || ErrorCode::from_byte(f.payload.first().copied().unwrap_or(0));
            match f.kind {
                FrameType::Identity if f.payload.is_empty() => Ok(true),
                FrameType::Identity => {
                    answer = Some(f.payload.to_vec());
                    Ok(true)
                }
                // A 1.0 device: it has no IDENTIFY, so no id.
                FrameType::Error if code() == ErrorCode::UnknownType => Ok(true),
                FrameType::Error => Err(ScrapeError::Response(ResponseError::Device(code()))),
                _ => Err(ScrapeError::Response(ResponseError::Malformed)),
            }
        })?;
        Ok(answer)
    }

    /// Sends a request of type `kind` with a new id, which it returns.
    fn send(&mut self, kind: FrameType, payload: &[u8]) -> Result<u8, ScrapeError> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let mut req = [0u8; MAX_FRAME];
        let n = frame::encode(kind, id, 0, payload, &mut req).expect("a request fits a frame");
        self.stream.write_all(&req[..n]).map_err(ScrapeError::Io)?;
        self.stream.flush().map_err(ScrapeError::Io)?;
        Ok(id)
    }

    /// Reads and decodes until `on_event`, given each decoded frame or decoding error, says
    /// the answer is complete (`Ok(true)`) or fails, or the timeout passes.
    fn receive(
        &mut self,
        mut on_event: impl FnMut(Result<&Frame<'_>, FrameError>) -> Result<bool, ScrapeError>,
    ) -> Result<(), ScrapeError> {
        let deadline = Instant::now() + self.timeout;
        let mut buf = [0u8; 512];
        loop {
            if Instant::now() >= deadline {
                return Err(ScrapeError::Timeout);
            }
            let n = match self.stream.read(&mut buf) {
                Ok(0) => return Err(ScrapeError::Closed),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(ScrapeError::Io(e)),
            };
            let mut input = &buf[..n];
            while !input.is_empty() {
                let fed = self.decoder.feed(input);
                input = &input[fed..];
                while let Some(event) = self.decoder.poll() {
                    if on_event(event.as_ref().map_err(|e| *e))? {
                        return Ok(());
                    }
                }
            }
        }
    }
}
