//! Shared by the integration tests: a registry with a counter, a gauge and a histogram, and
//! the bytes a real `SerialServer` sends for a request.
#![allow(dead_code)]

use metrics_core::{Counter, Desc, Format, Gauge, Histogram, StaticEntry, StaticRegistry};
use metrics_exporter_embedded::{frame, Decoder, FrameType, Response, SerialServer, Step};

pub static TICKS: Counter = Counter::new();
pub static LEVEL: Gauge = Gauge::new();
pub static JITTER: Histogram<4> = Histogram::new(&[0.001, 0.01, 0.1, 1.0]);
pub static REGISTRY: StaticRegistry = StaticRegistry::new(&[
    StaticEntry::metric(Desc::new("ticks", "Timer ticks since boot."), &TICKS),
    StaticEntry::metric(
        Desc::new("level", "A level with a \"quoted\" help\\."),
        &LEVEL,
    ),
    StaticEntry::metric(
        Desc::new("jitter_seconds", "Tick jitter.").unit("seconds"),
        &JITTER,
    ),
]);

/// Tests run in parallel and share the registry: hold this while changing it and scraping it.
pub fn lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The SCRAPE request frame for `id`.
pub fn request(id: u8, format: Format) -> Vec<u8> {
    let mut out = vec![0; frame::MAX_FRAME];
    let n = frame::encode(
        FrameType::Scrape,
        id,
        0,
        &[frame::format_byte(format)],
        &mut out,
    )
    .unwrap();
    out.truncate(n);
    out
}

/// What the device sends in answer to `request` (its whole output).
pub fn device_answer(input: &[u8]) -> Vec<u8> {
    let mut server: SerialServer<'_, _, 32> = SerialServer::new(&REGISTRY);
    let mut out = Vec::new();
    server.handle(input, &mut out).unwrap();
    out
}

/// The exposition the core's streaming encoder writes now.
pub fn expected(format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    metrics_core::encode_bytes(&REGISTRY, format, &mut out).unwrap();
    out
}

/// Splits `wire` into the frames it is made of (offsets of each frame's first byte and length).
pub fn frame_spans(wire: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        let len = frame::HEADER_LEN + wire[at + 7] as usize + frame::TRAILER_LEN;
        spans.push((at, len));
        at += len;
    }
    spans
}

/// Decodes `wire` fed in pieces of `piece` bytes: the frames (as owned copies) and errors.
pub fn decode_all(
    wire: &[u8],
    piece: usize,
) -> (Vec<OwnedFrame>, Vec<metrics_exporter_embedded::FrameError>) {
    let mut dec: Decoder = Decoder::new();
    let mut frames = Vec::new();
    let mut errors = Vec::new();
    for mut chunk in wire.chunks(piece.max(1)) {
        while !chunk.is_empty() {
            let n = dec.feed(chunk);
            chunk = &chunk[n..];
            while let Some(ev) = dec.poll() {
                match ev {
                    Ok(f) => frames.push(OwnedFrame {
                        kind: f.kind,
                        id: f.id,
                        seq: f.seq,
                        payload: f.payload.to_vec(),
                    }),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    (frames, errors)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedFrame {
    pub kind: FrameType,
    pub id: u8,
    pub seq: u16,
    pub payload: Vec<u8>,
}

/// Runs the host's response check over `wire`: the body if the response checked out.
pub fn assemble(wire: &[u8], id: u8) -> Result<Vec<u8>, String> {
    let (frames, errors) = decode_all(wire, 7);
    let mut response = Response::new(id);
    let mut body = Vec::new();
    for f in &frames {
        let frame = metrics_exporter_embedded::Frame {
            version: frame::VERSION,
            kind: f.kind,
            id: f.id,
            seq: f.seq,
            payload: &f.payload,
        };
        match response.on_frame(&frame) {
            Ok(Step::Data(d)) => body.extend_from_slice(d),
            Ok(Step::End) => {
                return if errors.is_empty() {
                    Ok(body)
                } else {
                    Err(format!("frame errors {errors:?} yet a complete response"))
                }
            }
            Ok(Step::Ignored) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("no END frame".into())
}
