//! Device side of the framed serial protocol: answers SCRAPE requests with DATA frames streamed
//! through the core's chunked encoder, then an END frame; and IDENTIFY requests (protocol 1.1)
//! with an IDENTITY frame holding the device id.

use embedded_io::{Read, Write};
use metrics_core::{ChunkedEncoder, Families, EXEMPLAR_BYTES};

use crate::frame::{self, end_payload, format_from_byte, BodyCheck, ErrorCode, FrameType};
use crate::Decoder;

/// Requests are small: the device's decoder holds frames of up to 21 payload bytes.
const RX: usize = 32;

/// Serves `registry` over a byte stream with the framed protocol of `PROTOCOL.md`.
///
/// `CHUNK` is the DATA payload size and the encoder's buffer (on the stack while answering);
/// it must be at most 255. Nothing is allocated; the struct itself is about 40 bytes plus a
/// pointer, so it can live in a `static` or on the main loop's stack.
///
/// `X` is the encoder's exemplar buffer (on the stack while answering; see
/// [`ChunkedEncoder`]): the default holds any exemplar. A firmware that sets no exemplars
/// passes `0`: OpenMetrics answers then carry none, and the exemplar writer is left out of
/// its flash (about 1.7 KB on a Cortex-M0, the firmware examples' choice) and the buffer out
/// of its stack.
#[derive(Debug)]
pub struct SerialServer<
    'r,
    F: Families + ?Sized,
    const CHUNK: usize = 64,
    const X: usize = EXEMPLAR_BYTES,
> {
    registry: &'r F,
    device_id: &'r str,
    decoder: Decoder<RX>,
    answered: u32,
}

impl<'r, F: Families + ?Sized, const CHUNK: usize, const X: usize> SerialServer<'r, F, CHUNK, X> {
    /// A server of `registry`.
    pub const fn new(registry: &'r F) -> Self {
        assert!(CHUNK > 0 && CHUNK <= frame::MAX_PAYLOAD);
        SerialServer {
            registry,
            device_id: "",
            decoder: Decoder::new(),
            answered: 0,
        }
    }

    /// The device id IDENTIFY requests are answered with (protocol 1.1; see `PROTOCOL.md`):
    /// a serial number, a MAC address, the chip's unique id in hex; at most
    /// [`frame::MAX_DEVICE_ID`] bytes. Without it the answer says the device has none.
    #[must_use]
    pub const fn with_device_id(mut self, id: &'r str) -> Self {
        assert!(id.len() <= frame::MAX_DEVICE_ID);
        self.device_id = id;
        self
    }

    /// Counts of the decoder (noise, CRC errors) and the number of requests answered.
    pub fn stats(&self) -> (crate::DecoderStats, u32) {
        (self.decoder.stats(), self.answered)
    }

    /// Reads from `io` (blocking until bytes arrive) and answers every complete request in
    /// them. Returns how many requests were answered; `Ok(0)` also when `io` reached its end.
    /// Call it in the main loop.
    pub fn poll<T: Read + Write + ?Sized>(&mut self, io: &mut T) -> Result<usize, T::Error> {
        let mut buf = [0u8; RX];
        let n = io.read(&mut buf)?;
        self.handle(&buf[..n], io)
    }

    /// Answers the requests found in `input` (bytes received some other way, e.g. from an
    /// interrupt's ring buffer) on `out`. Returns how many were answered.
    pub fn handle<W: Write + ?Sized>(
        &mut self,
        input: &[u8],
        out: &mut W,
    ) -> Result<usize, W::Error> {
        let mut input = input;
        let mut answered = 0;
        let mut chunk = [0u8; CHUNK];
        loop {
            let n = self.decoder.feed(input);
            input = &input[n..];
            while let Some(event) = self.decoder.poll() {
                let Ok(f) = event else { continue };
                // Noise and CRC errors are counted by the decoder; the host's timeout and
                // retry recover from them.
                let (id, kind, version) = (f.id, f.kind, f.version);
                let request = Request::of(kind, version, f.payload);
                answer::<F, W, X>(self.registry, self.device_id, out, id, request, &mut chunk)?;
                answered += 1;
            }
            if input.is_empty() {
                break;
            }
        }
        self.answered = self.answered.wrapping_add(answered as u32);
        Ok(answered)
    }
}

/// A request, judged.
enum Request {
    Scrape(metrics_core::Format),
    Identify,
    Refuse(ErrorCode, u8),
    /// Not a request (a response frame echoed back): no answer.
    None,
}

impl Request {
    fn of(kind: FrameType, version: u8, payload: &[u8]) -> Self {
        if version != frame::VERSION {
            return Request::Refuse(ErrorCode::UnsupportedVersion, frame::VERSION);
        }
        match kind {
            FrameType::Scrape => match payload {
                [] => Request::Scrape(metrics_core::Format::Text),
                [b] => match format_from_byte(*b) {
                    Some(f) => Request::Scrape(f),
                    None => Request::Refuse(ErrorCode::UnsupportedFormat, *b),
                },
                _ => Request::Refuse(ErrorCode::BadRequest, 0),
            },
            FrameType::Identify if payload.is_empty() => Request::Identify,
            FrameType::Identify => Request::Refuse(ErrorCode::BadRequest, 0),
            FrameType::Data | FrameType::End | FrameType::Error | FrameType::Identity => {
                Request::None
            }
            FrameType::Unknown(b) => Request::Refuse(ErrorCode::UnknownType, b),
        }
    }
}

fn answer<F: Families + ?Sized, W: Write + ?Sized, const X: usize>(
    registry: &F,
    device_id: &str,
    out: &mut W,
    id: u8,
    request: Request,
    chunk: &mut [u8],
) -> Result<(), W::Error> {
    let format = match request {
        Request::None => return Ok(()),
        Request::Refuse(code, detail) => {
            return frame::write(out, FrameType::Error, id, 0, &[code.to_byte(), detail]);
        }
        Request::Identify => {
            frame::write(out, FrameType::Identity, id, 0, device_id.as_bytes())?;
            return out.flush();
        }
        Request::Scrape(format) => format,
    };
    let mut enc: ChunkedEncoder<'_, F, 32, X> = ChunkedEncoder::new(registry, format);
    let mut check = BodyCheck::new();
    let mut seq: u16 = 0;
    loop {
        match enc.fill(chunk) {
            Ok(0) => break,
            Ok(n) => {
                check.update(&chunk[..n]);
                frame::write(out, FrameType::Data, id, seq, &chunk[..n])?;
                seq = seq.wrapping_add(1);
            }
            Err(e) => {
                let detail = encoding_detail(&e);
                let payload = [ErrorCode::Encoding.to_byte(), detail];
                return frame::write(out, FrameType::Error, id, seq, &payload);
            }
        }
    }
    let (len, crc) = check.finish();
    frame::write(out, FrameType::End, id, seq, &end_payload(len, crc))?;
    out.flush()
}

/// The detail byte of an encoding ERROR frame (see `PROTOCOL.md`). A byte rather than the
/// error's message: formatting the message would link `core::fmt`'s `Debug` machinery (about
/// 3 KB of flash on a Cortex-M0).
fn encoding_detail(e: &metrics_core::Error) -> u8 {
    match e {
        metrics_core::Error::TooManyBuckets { .. } => 1,
        metrics_core::Error::KindMismatch => 2,
        metrics_core::Error::LabelCount { .. } => 3,
        metrics_core::Error::Write => 4,
        _ => 0,
    }
}
