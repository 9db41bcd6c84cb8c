//! The framed serial protocol's receiving side (`exporters/embedded/PROTOCOL.md`), which the
//! gateway uses for every serial and TCP device: the `Decoder` on arbitrary bytes, the host's
//! `Response` check on the frames it yields, and the `Client` (what the gateway's sessions
//! call) reading a scrape answer from the same bytes.
//!
//! Input: byte 0 is the piece size the stream is fed in (1 to 256), byte 1 the request id the
//! `Response` waits for, byte 2 the most bytes one read of the client returns (1 to 256); the
//! rest is the stream.
//!
//! Asserted, for decoders of 16 bytes, 64 bytes and a whole frame (`MAX_FRAME`):
//! - no panic, and the decoder never stalls (it takes bytes or yields an event);
//! - every byte is accounted for exactly once, in stream order: as noise, as the one byte a
//!   rejected start marker costs, as part of an accepted frame, or still pending at the end
//!   (less than the buffer); the decoder's statistics agree with the events;
//! - an accepted frame is exactly the bytes at its place in the stream, with a start marker and
//!   a CRC-8 and CRC-16 that match (computed here with the `crc` crate, not the crate's
//!   code), and fits the buffer; each rejection is justified by the bytes (noise never swallows
//!   a start marker; a bad header has a wrong CRC-8; a bad frame a wrong CRC-16; a frame too
//!   long for the buffer announces that length);
//! - the events do not depend on how the stream was cut into pieces;
//! - `Response` takes each frame as the protocol's host rules say (ignored, the next DATA, an
//!   END whose length and CRC-32 match the DATA received, or the error the rules name);
//! - the `Client` sends one well-formed SCRAPE request and returns exactly the body those
//!   rules accept for its request id, or an error when they accept none.

#![no_main]

use std::io;

use libfuzzer_sys::fuzz_target;
use metrics_exporter_embedded::frame::{HEADER_LEN, MAX_FRAME, SYNC0, SYNC1, TRAILER_LEN, VERSION};
use metrics_exporter_embedded::{
    Client, Decoder, ErrorCode, Format, Frame, FrameError, FrameType, Response, ResponseError,
    ScrapeError, Step,
};

const HEADER_CRC: crc::Crc<u8> = crc::Crc::<u8>::new(&crc::CRC_8_SMBUS);
const FRAME_CRC: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740);
const BODY_CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Owned {
    version: u8,
    kind: FrameType,
    id: u8,
    seq: u16,
    payload: Vec<u8>,
}

impl Owned {
    fn frame(&self) -> Frame<'_> {
        Frame {
            version: self.version,
            kind: self.kind,
            id: self.id,
            seq: self.seq,
            payload: &self.payload,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Frame { at: usize, frame: Owned },
    Noise(usize),
    BadHeader,
    BadCrc,
    TooLong,
}

/// True when the 9 bytes at `at` are a start marker and a header with a matching CRC-8.
fn header_ok(s: &[u8], at: usize) -> bool {
    s.len() >= at + HEADER_LEN
        && s[at] == SYNC0
        && s[at + 1] == SYNC1
        && HEADER_CRC.checksum(&s[at + 2..at + 8]) == s[at + 8]
}

/// Checks one decoder event against the stream bytes at `at`; returns it and the bytes it used.
fn check_event(
    s: &[u8],
    at: usize,
    ev: Result<Frame<'_>, FrameError>,
    cap: usize,
) -> (Event, usize) {
    let marker = s.get(at) == Some(&SYNC0) && s.get(at + 1) == Some(&SYNC1);
    match ev {
        Ok(f) => {
            let total = HEADER_LEN + f.payload.len() + TRAILER_LEN;
            assert!(
                total <= cap,
                "a {total}-byte frame from a {cap}-byte buffer"
            );
            assert!(at + total <= s.len(), "a frame past the end of the stream");
            let b = &s[at..at + total];
            assert!(
                header_ok(s, at),
                "accepted frame with a bad header: {b:02x?}"
            );
            assert_eq!(usize::from(b[7]), f.payload.len());
            let crc = u16::from_le_bytes([b[total - 2], b[total - 1]]);
            assert_eq!(
                FRAME_CRC.checksum(&b[2..total - 2]),
                crc,
                "accepted frame with a bad CRC: {b:02x?}"
            );
            assert_eq!(f.version, b[2]);
            assert_eq!(f.kind.to_byte(), b[3]);
            assert_eq!(f.kind, FrameType::from_byte(b[3]));
            assert_eq!(f.id, b[4]);
            assert_eq!(f.seq, u16::from_le_bytes([b[5], b[6]]));
            assert_eq!(f.payload, &b[HEADER_LEN..total - 2]);
            let frame = Owned {
                version: f.version,
                kind: f.kind,
                id: f.id,
                seq: f.seq,
                payload: f.payload.to_vec(),
            };
            (Event::Frame { at, frame }, total)
        }
        Err(FrameError::Noise(n)) => {
            assert!(n > 0 && at + n <= s.len(), "noise of {n} at {at}");
            for i in at..at + n {
                assert!(
                    !(s[i] == SYNC0 && s.get(i + 1) == Some(&SYNC1)),
                    "a start marker at {i} skipped as noise"
                );
            }
            (Event::Noise(n), n)
        }
        Err(FrameError::BadHeader) => {
            assert!(
                marker && s.len() >= at + HEADER_LEN && !header_ok(s, at),
                "bad header at {at}"
            );
            (Event::BadHeader, 1)
        }
        Err(FrameError::TooLong) => {
            assert!(header_ok(s, at), "too long at {at} without a good header");
            let total = HEADER_LEN + usize::from(s[at + 7]) + TRAILER_LEN;
            assert!(total > cap, "a {total}-byte frame too long for {cap} bytes");
            (Event::TooLong, 1)
        }
        Err(FrameError::BadCrc) => {
            assert!(header_ok(s, at), "bad CRC at {at} without a good header");
            let total = HEADER_LEN + usize::from(s[at + 7]) + TRAILER_LEN;
            assert!(total <= cap && at + total <= s.len());
            let b = &s[at..at + total];
            let crc = u16::from_le_bytes([b[total - 2], b[total - 1]]);
            assert_ne!(
                FRAME_CRC.checksum(&b[2..total - 2]),
                crc,
                "a good frame rejected at {at}"
            );
            (Event::BadCrc, 1)
        }
        Err(e) => panic!("an error PROTOCOL.md does not know: {e:?}"),
    }
}

/// Feeds `s` in pieces of `piece` bytes to a decoder of `CAP` bytes; the checked events
/// (consecutive noise merged) and the bytes left pending.
fn run<const CAP: usize>(s: &[u8], piece: usize) -> (Vec<Event>, usize) {
    let mut dec = Decoder::<CAP>::new();
    let mut at = 0;
    let mut events: Vec<Event> = Vec::new();
    for mut chunk in s.chunks(piece) {
        while !chunk.is_empty() {
            let n = dec.feed(chunk);
            chunk = &chunk[n..];
            let mut progressed = n > 0;
            while let Some(ev) = dec.poll() {
                progressed = true;
                let (ev, used) = check_event(s, at, ev, CAP);
                at += used;
                match (events.last_mut(), ev) {
                    (Some(Event::Noise(m)), Event::Noise(n)) => *m += n,
                    (_, ev) => events.push(ev),
                }
            }
            assert!(
                progressed,
                "stuck: the decoder takes no byte and yields nothing"
            );
        }
    }
    let pending = dec.pending();
    assert_eq!(at + pending, s.len(), "bytes lost or counted twice");
    assert!(
        pending < CAP,
        "{pending} bytes pending in a {CAP}-byte decoder"
    );
    let st = dec.stats();
    let count = |f: fn(&Event) -> bool| events.iter().filter(|e| f(e)).count() as u32;
    assert_eq!(st.frames, count(|e| matches!(e, Event::Frame { .. })));
    assert_eq!(st.bad_header, count(|e| matches!(e, Event::BadHeader)));
    assert_eq!(st.bad_crc, count(|e| matches!(e, Event::BadCrc)));
    assert_eq!(st.too_long, count(|e| matches!(e, Event::TooLong)));
    let noise: usize = events
        .iter()
        .map(|e| if let Event::Noise(n) = e { *n } else { 0 })
        .sum();
    assert_eq!(st.noise_bytes as usize, noise);
    (events, pending)
}

fn check_decoder<const CAP: usize>(s: &[u8], piece: usize) -> Vec<Event> {
    let (events, pending) = run::<CAP>(s, piece);
    let whole = run::<CAP>(s, s.len().max(1));
    assert_eq!(
        (&events, pending),
        (&whole.0, whole.1),
        "pieces of {piece} bytes"
    );
    events
}

/// What the protocol's host rules make of a frame, for a response to request `id` that has
/// received `body` in `data` DATA frames and is `done` or not.
#[derive(Debug, PartialEq, Eq)]
enum Rule {
    Ignored,
    Data,
    End,
    Fail(ResponseError),
}

fn rule(f: &Owned, id: u8, data: u16, body: &[u8], done: bool) -> Rule {
    // Requests (SCRAPE, and protocol 1.1's IDENTIFY) echoed back are skipped.
    if matches!(f.kind, FrameType::Scrape | FrameType::Identify) || f.id != id {
        return Rule::Ignored;
    }
    if f.version != VERSION {
        return Rule::Fail(ResponseError::Version(f.version));
    }
    if done {
        return Rule::Fail(ResponseError::AfterEnd);
    }
    if f.kind == FrameType::Error {
        let code = f.payload.first().copied().unwrap_or(0);
        return Rule::Fail(ResponseError::Device(ErrorCode::from_byte(code)));
    }
    if f.seq != data {
        return Rule::Fail(ResponseError::Gap {
            expected: data,
            got: f.seq,
        });
    }
    match f.kind {
        FrameType::Data => Rule::Data,
        FrameType::End => {
            let Ok(p) = <[u8; 8]>::try_from(&f.payload[..]) else {
                return Rule::Fail(ResponseError::Malformed);
            };
            let announced = (
                u32::from_le_bytes([p[0], p[1], p[2], p[3]]),
                u32::from_le_bytes([p[4], p[5], p[6], p[7]]),
            );
            let received = (body.len() as u32, BODY_CRC.checksum(body));
            if announced == received {
                Rule::End
            } else {
                Rule::Fail(ResponseError::Mismatch {
                    announced,
                    received,
                })
            }
        }
        _ => Rule::Fail(ResponseError::Malformed),
    }
}

/// `Response` against the rules, over every frame decoded (until the first error).
fn check_response(events: &[Event], id: u8) {
    let mut response = Response::new(id);
    let (mut body, mut data, mut done) = (Vec::new(), 0u16, false);
    for ev in events {
        let Event::Frame { frame, .. } = ev else {
            continue;
        };
        let want = rule(frame, id, data, &body, done);
        let got = response.on_frame(&frame.frame());
        match (&want, got) {
            (Rule::Ignored, Ok(Step::Ignored)) => {}
            (Rule::Data, Ok(Step::Data(d))) => {
                assert_eq!(d, &frame.payload[..]);
                body.extend_from_slice(d);
                data = data.wrapping_add(1);
            }
            (Rule::End, Ok(Step::End)) => done = true,
            (Rule::Fail(w), Err(e)) if *w == e => return,
            (_, got) => panic!("{frame:?}: the rules say {want:?}, Response {got:?}"),
        }
        assert_eq!(response.is_done(), done);
        assert_eq!(response.started(), data > 0 || done);
    }
}

/// What a client scrape with request id 1 must return for these events.
fn client_expects(events: &[Event]) -> Result<Vec<u8>, &'static str> {
    let (mut body, mut data) = (Vec::new(), 0u16);
    for ev in events {
        match ev {
            // Before the response starts, broken frames and noise are earlier traffic.
            Event::Frame { frame, .. } => match rule(frame, 1, data, &body, false) {
                Rule::Ignored => {}
                Rule::Data => {
                    body.extend_from_slice(&frame.payload);
                    data += 1;
                }
                Rule::End => return Ok(body),
                Rule::Fail(_) => return Err("response"),
            },
            _ if data > 0 => return Err("frame"),
            _ => {}
        }
    }
    Err("closed")
}

/// A device link that answers with the fuzzer's bytes, `read` bytes at a time, then closes.
struct Link<'a> {
    rest: &'a [u8],
    read: usize,
    sent: Vec<u8>,
}

impl io::Read for Link<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.rest.len().min(buf.len()).min(self.read);
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

impl io::Write for Link<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sent.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn check_client(s: &[u8], read: usize, events: &[Event]) {
    let link = Link {
        rest: s,
        read,
        sent: Vec::new(),
    };
    let mut client = Client::new(link).with_timeout(std::time::Duration::from_secs(3600));
    let got = client.scrape(Format::Text);
    // The request: SCRAPE, id 1, seq 0, the text format's byte.
    let mut req = vec![SYNC0, SYNC1, VERSION, 0x01, 1, 0, 0, 1];
    req.push(HEADER_CRC.checksum(&req[2..]));
    req.push(0x00);
    let crc = FRAME_CRC.checksum(&req[2..]);
    req.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(client.get_mut().sent, req);
    let got = match got {
        Ok(body) => Ok(body),
        Err(ScrapeError::Response(_)) => Err("response"),
        Err(ScrapeError::Frame(_)) => Err("frame"),
        Err(ScrapeError::Closed) => Err("closed"),
        Err(e) => panic!("in-memory link: {e}"),
    };
    assert_eq!(got, client_expects(events));
}

fuzz_target!(|data: &[u8]| {
    let (head, stream) = data.split_at(data.len().min(3));
    let byte = |i: usize| usize::from(head.get(i).copied().unwrap_or(0));
    let piece = byte(0) + 1;
    check_decoder::<16>(stream, piece);
    check_decoder::<64>(stream, piece);
    let events = check_decoder::<MAX_FRAME>(stream, piece);
    check_response(&events, byte(1) as u8);
    check_client(stream, byte(2) + 1, &events);
});
