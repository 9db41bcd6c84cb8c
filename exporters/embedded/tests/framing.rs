//! Acceptance 1 of issue 7: the framing detects and recovers from a corrupted byte, a dropped
//! byte, a truncated frame and garbage before a frame, and the parser never panics.

mod common;

use common::{decode_all, device_answer, expected, frame_spans, request, OwnedFrame};
use metrics_core::Format;
use metrics_exporter_embedded::{
    frame, Client, Decoder, FrameError, FrameType, ScrapeError, SerialServer,
};
use proptest::prelude::*;

/// The frames of a real response (DATA frames of 32 bytes, then END) and their decoded form.
fn three_frames() -> (Vec<u8>, Vec<OwnedFrame>) {
    let _guard = common::lock();
    common::TICKS.inc();
    let wire = device_answer(&request(3, Format::Text));
    let (frames, errors) = decode_all(&wire, 64);
    assert!(errors.is_empty());
    assert!(frames.len() >= 4, "the test registry spans several frames");
    assert_eq!(frames.len(), frame_spans(&wire).len());
    (wire, frames)
}

#[test]
fn clean_stream_decodes_in_any_piece_size() {
    let (wire, frames) = three_frames();
    for piece in 1..=wire.len() {
        assert_eq!(
            decode_all(&wire, piece),
            (frames.clone(), vec![]),
            "piece {piece}"
        );
    }
}

#[test]
fn corrupted_byte_is_detected_and_the_next_frames_recovered() {
    let (wire, frames) = three_frames();
    let first = frame_spans(&wire)[0].1;
    for pos in 0..first {
        for flip in [0x01, 0x80, 0xFF, 0x5A] {
            let mut bad = wire.clone();
            bad[pos] ^= flip;
            let (got, errors) = decode_all(&bad, 5);
            assert_eq!(got, frames[1..], "byte {pos} ^ {flip:#x}");
            assert!(!errors.is_empty(), "byte {pos} ^ {flip:#x} went unnoticed");
        }
    }
}

#[test]
fn dropped_byte_is_detected_and_the_next_frames_recovered() {
    let (wire, frames) = three_frames();
    let first = frame_spans(&wire)[0].1;
    for pos in 0..first {
        let mut bad = wire.clone();
        bad.remove(pos);
        let (got, errors) = decode_all(&bad, 3);
        assert_eq!(got, frames[1..], "dropped byte {pos}");
        assert!(!errors.is_empty(), "dropped byte {pos} went unnoticed");
        // The damaged frame's own bytes are rescanned: a lost byte costs one frame only.
        assert!(errors.len() <= first, "{errors:?}");
    }
}

#[test]
fn truncated_frame_is_detected_and_the_next_frames_recovered() {
    let (wire, frames) = three_frames();
    let (_, first) = frame_spans(&wire)[0];
    for cut in 1..first {
        let mut bad = wire[..cut].to_vec();
        bad.extend_from_slice(&wire[first..]);
        let (got, errors) = decode_all(&bad, 11);
        assert_eq!(got, frames[1..], "first frame cut to {cut} bytes");
        assert!(!errors.is_empty() || cut < 2, "cut to {cut} went unnoticed");
    }
}

#[test]
fn truncated_last_frame_waits_then_reset_recovers() {
    let (wire, frames) = three_frames();
    let (_, first) = frame_spans(&wire)[0];
    let mut dec: Decoder = Decoder::new();
    assert_eq!(dec.feed(&wire[..first - 3]), first - 3);
    assert!(dec.poll().is_none(), "a cut frame is not a frame");
    assert_eq!(dec.pending(), first - 3);
    // The host's timeout: forget it, send the next request, read the next answer.
    assert_eq!(dec.reset(), first - 3);
    dec.feed(&wire[first..]);
    let f = dec.poll().unwrap().unwrap();
    assert_eq!(
        (f.kind, f.seq, f.payload),
        (frames[1].kind, 1, &frames[1].payload[..])
    );
}

#[test]
fn garbage_before_a_frame_is_skipped() {
    let (wire, frames) = three_frames();
    let garbages: [&[u8]; 6] = [
        b"\x00\x00\x00",
        b"hello\r\n",
        &[frame::SYNC0; 9],
        // A false start marker with a plausible header (a bad CRC-8, then a good one).
        &[0xA5, 0x5A, 0x01, 0x81, 0x03, 0x00, 0x00, 0x04, 0x00, 1, 2],
        &[0xA5, 0x5A, 0x01, 0x81, 0x03, 0x00, 0x00, 0x04, 0xFA, 1, 2],
        // A cut frame: a valid header announcing 255 bytes.
        &[0xA5, 0x5A, 0x01, 0x81, 0x03, 0x00, 0x00, 0xFF, 0x15, 1, 2],
    ];
    for g in garbages {
        let mut bad = g.to_vec();
        bad.extend_from_slice(&wire);
        let (got, errors) = decode_all(&bad, 4);
        assert_eq!(got, frames, "garbage {g:02x?}");
        assert!(!errors.is_empty());
        // Every garbage byte is accounted for as noise or a rejected false start.
        let skipped: usize = errors
            .iter()
            .map(|e| match e {
                FrameError::Noise(n) => *n,
                _ => 1,
            })
            .sum();
        assert_eq!(skipped, g.len(), "garbage {g:02x?}: {errors:?}");
    }
}

#[test]
fn whole_scrape_round_trips_and_a_lost_frame_fails_it() {
    let _guard = common::lock();
    common::LEVEL.set(-2.5);
    common::JITTER.observe(0.004);
    for format in [Format::Text, Format::OpenMetrics, Format::Protobuf] {
        let wire = device_answer(&request(9, format));
        assert_eq!(common::assemble(&wire, 9).unwrap(), expected(format));
        // Drop each whole frame in turn: always a failed scrape, never a short body.
        for (at, len) in frame_spans(&wire) {
            let mut bad = wire.clone();
            bad.drain(at..at + len);
            assert!(common::assemble(&bad, 9).is_err(), "frame at {at} dropped");
        }
        // Another request's answer is ignored.
        assert!(common::assemble(&wire, 10).is_err());
    }
}

#[test]
fn device_refuses_what_it_cannot_serve() {
    let mut out = [0u8; 32];
    let cases: [(FrameType, &[u8], u8, [u8; 2]); 3] = [
        (FrameType::Scrape, &[7], 1, [0x04, 7]),
        (FrameType::Scrape, &[0, 0], 2, [0x03, 0]),
        (FrameType::Unknown(0x05), &[], 3, [0x02, 5]),
    ];
    for (kind, payload, id, want) in cases {
        let n = frame::encode(kind, id, 0, payload, &mut out).unwrap();
        let (frames, errors) = decode_all(&device_answer(&out[..n]), 16);
        assert!(errors.is_empty());
        assert_eq!(
            frames,
            [OwnedFrame {
                kind: FrameType::Error,
                id,
                seq: 0,
                payload: want.to_vec()
            }]
        );
    }
    // A request of version 2 (valid CRCs, computed here with the `crc` crate): refused with
    // the device's version.
    let mut v2 = [
        0xA5, 0x5A, 0x02, 0x01, 0x04, 0x00, 0x00, 0x01, 0x00, 0x00, 0, 0,
    ];
    v2[8] = crc::Crc::<u8>::new(&crc::CRC_8_SMBUS).checksum(&v2[2..8]);
    let c = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740).checksum(&v2[2..10]);
    v2[10..].copy_from_slice(&c.to_le_bytes());
    let (frames, errors) = decode_all(&device_answer(&v2), 16);
    assert!(errors.is_empty());
    assert_eq!(frames.len(), 1);
    assert_eq!((frames[0].kind, frames[0].id), (FrameType::Error, 4));
    assert_eq!(frames[0].payload, [0x01, frame::VERSION]);
    // Response frames echoed back to the device get no answer.
    assert!(device_answer(&device_answer(&request(5, Format::Text))).is_empty());
}

/// A device on the other end of a `std::io` stream: `answer` (a real `SerialServer`)
/// answering whatever the client writes, with one fault injected into its next answer.
struct Device {
    /// What the device sends for the bytes it receives.
    answer: fn(&[u8]) -> Vec<u8>,
    out: Vec<u8>,
    read_at: usize,
    fault: Option<Fault>,
}

/// Damage done to the device's next answer.
type Fault = Box<dyn FnMut(&mut Vec<u8>)>;

impl std::io::Write for Device {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut answer = (self.answer)(buf);
        if let Some(mut f) = self.fault.take() {
            f(&mut answer);
        }
        self.out.extend_from_slice(&answer);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::io::Read for Device {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = &self.out[self.read_at..];
        if rest.is_empty() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        let n = rest.len().min(buf.len()).min(13);
        buf[..n].copy_from_slice(&rest[..n]);
        self.read_at += n;
        Ok(n)
    }
}

#[test]
fn client_fails_a_damaged_scrape_and_the_retry_succeeds() {
    let _guard = common::lock();
    let faults: Vec<(&str, Fault)> = vec![
        ("corrupted byte", Box::new(|w: &mut Vec<u8>| w[20] ^= 0x10)),
        (
            "dropped byte",
            Box::new(|w: &mut Vec<u8>| {
                w.remove(30);
            }),
        ),
        (
            "truncated END",
            Box::new(|w: &mut Vec<u8>| w.truncate(w.len() - 4)),
        ),
        (
            "garbage before",
            Box::new(|w: &mut Vec<u8>| w.splice(0..0, [0xA5, 0x5A, 0, 0xA5, 1]).for_each(drop)),
        ),
    ];
    for (name, fault) in faults {
        let device = Device {
            answer: device_answer,
            out: Vec::new(),
            read_at: 0,
            fault: Some(fault),
        };
        let mut client = Client::new(device).with_timeout(std::time::Duration::from_millis(300));
        let first = client.scrape(Format::OpenMetrics);
        if name == "garbage before" {
            assert_eq!(first.unwrap(), expected(Format::OpenMetrics), "{name}");
        } else {
            assert!(first.is_err(), "{name}: damage not detected");
        }
        assert_eq!(
            client.scrape(Format::Text).unwrap(),
            expected(Format::Text),
            "{name}: retry"
        );
        let stats = client.stats();
        assert!(
            stats.noise_bytes + stats.bad_crc > 0 || name == "truncated END",
            "{name}: {stats:?}"
        );
    }
}

/// `with_max_body`: an exposition of exactly the limit is read; one byte over fails with
/// `TooLarge` at the frame that crosses the limit, before the rest of the response is read.
#[test]
fn client_stops_reading_at_its_body_limit() {
    let _guard = common::lock();
    let len = expected(Format::Text).len();
    let device = || Device {
        answer: device_answer,
        out: Vec::new(),
        read_at: 0,
        fault: None,
    };
    let mut client = Client::new(device()).with_max_body(len);
    assert_eq!(client.scrape(Format::Text).unwrap().len(), len);

    let mut client = Client::new(device()).with_max_body(len - 1);
    match client.scrape(Format::Text) {
        Err(ScrapeError::TooLarge { limit }) => assert_eq!(limit, len - 1),
        other => panic!("{other:?}"),
    }

    let mut client = Client::new(device()).with_max_body(10);
    assert!(matches!(
        client.scrape(Format::Text),
        Err(ScrapeError::TooLarge { limit: 10 })
    ));
    let d = client.get_mut();
    // The first DATA frame (64 bytes of payload) crossed the limit: the read stopped within
    // one piece (13 bytes) of its end.
    assert!(
        d.read_at <= frame::HEADER_LEN + 64 + frame::TRAILER_LEN + 13,
        "{}",
        d.read_at
    );
    assert!(d.read_at < d.out.len(), "the whole response was read");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes in arbitrary pieces: no panic, and every byte is accounted for exactly
    /// once as noise, a rejected start byte, part of a frame, or still pending.
    #[test]
    fn decoder_never_panics_and_accounts_for_every_byte(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        piece in 1usize..300,
        small in any::<bool>(),
    ) {
        fn run<const CAP: usize>(bytes: &[u8], piece: usize) -> (usize, usize) {
            let mut dec = Decoder::<CAP>::new();
            let mut accounted = 0;
            for mut chunk in bytes.chunks(piece) {
                while !chunk.is_empty() {
                    let n = dec.feed(chunk);
                    chunk = &chunk[n..];
                    while let Some(ev) = dec.poll() {
                        accounted += match ev {
                            Ok(f) => frame::HEADER_LEN + f.payload.len() + frame::TRAILER_LEN,
                            Err(FrameError::Noise(n)) => n,
                            Err(_) => 1,
                        };
                    }
                }
            }
            (accounted, dec.pending())
        }
        let (accounted, pending) = if small { run::<16>(&bytes, piece) } else { run::<{ frame::MAX_FRAME }>(&bytes, piece) };
        prop_assert_eq!(accounted + pending, bytes.len());
        prop_assert!(pending < frame::MAX_FRAME);
    }

    /// Frames with arbitrary payloads, arbitrary garbage between them: every frame comes out,
    /// in order (unless the garbage itself happens to hold a frame with a valid CRC, which
    /// then may swallow a real one).
    #[test]
    fn frames_survive_garbage_between_them(
        frames in proptest::collection::vec(
            (any::<u8>(), any::<u16>(), proptest::collection::vec(any::<u8>(), 0..=255),
             proptest::collection::vec(any::<u8>(), 0..40)),
            1..6),
        piece in 1usize..100,
    ) {
        let mut wire = Vec::new();
        let mut want = Vec::new();
        for (id, seq, payload, garbage) in &frames {
            wire.extend_from_slice(garbage);
            let mut buf = [0u8; frame::MAX_FRAME];
            let n = frame::encode(FrameType::Data, *id, *seq, payload, &mut buf).unwrap();
            wire.extend_from_slice(&buf[..n]);
            want.push(OwnedFrame { kind: FrameType::Data, id: *id, seq: *seq, payload: payload.clone() });
        }
        let (got, _) = decode_all(&wire, piece);
        let spurious = got.iter().filter(|f| !want.contains(f)).count();
        if spurious == 0 {
            prop_assert_eq!(got, want);
        }
    }

    /// One random mutation (flip, drop, insert) of a whole scrape's bytes: the host gets the
    /// exact exposition or an error, never a wrong body.
    #[test]
    fn damaged_scrape_never_yields_a_wrong_body(
        ticks in 0u64..1_000_000,
        level in any::<f64>(),
        at in any::<prop::sample::Index>(),
        op in 0u8..3,
        byte in any::<u8>(),
    ) {
        let _guard = common::lock();
        common::TICKS.inc_by(ticks);
        common::LEVEL.set(level);
        let format = if ticks % 2 == 0 { Format::Text } else { Format::OpenMetrics };
        let wire = device_answer(&request(200, format));
        let want = expected(format);
        let mut bad = wire.clone();
        let i = at.index(bad.len());
        match op {
            0 => bad[i] ^= byte.max(1),
            1 => { bad.remove(i); }
            _ => bad.insert(i, byte),
        }
        if let Ok(body) = common::assemble(&bad, 200) {
            prop_assert_eq!(body, want);
        }
        prop_assert_eq!(common::assemble(&wire, 200), Ok(expected(format)));
    }
}

#[test]
fn encoding_error_mid_response_ends_it_with_an_error_frame() {
    use metrics_core::{Counter, Desc, Histogram, StaticEntry, StaticRegistry};
    use metrics_exporter_embedded::{ErrorCode, ResponseError, SerialServer};
    // 40 buckets: more than the chunked encoder's snapshot holds (32).
    const BOUNDS: [f64; 40] = {
        let mut b = [0.0; 40];
        let mut i = 0;
        while i < 40 {
            b[i] = (i + 1) as f64;
            i += 1;
        }
        b
    };
    static FIRST: Counter = Counter::new();
    static WIDE: Histogram<40> = Histogram::new(&BOUNDS);
    static REGISTRY: StaticRegistry = StaticRegistry::new(&[
        StaticEntry::metric(Desc::new("first", "Encoded before the error."), &FIRST),
        StaticEntry::metric(Desc::new("wide", "Too many buckets."), &WIDE),
    ]);
    let mut server: SerialServer<'_, _, 16> = SerialServer::new(&REGISTRY);
    let mut wire = Vec::new();
    server
        .handle(&request(77, Format::Text), &mut wire)
        .unwrap();
    let (frames, errors) = decode_all(&wire, 9);
    assert!(errors.is_empty());
    let last = frames.last().unwrap();
    assert_eq!(last.kind, FrameType::Error);
    assert_eq!(last.payload, [ErrorCode::Encoding.to_byte(), 0x01]);
    // DATA frames went out before the error, numbered, and the ERROR frame continues the count.
    assert!(frames.len() > 2);
    assert_eq!(usize::from(last.seq), frames.len() - 1);
    assert_eq!(
        common::assemble(&wire, 77),
        Err(ResponseError::Device(ErrorCode::Encoding).to_string())
    );
}

/// Protocol 1.1's device id, with the wire bytes of `PROTOCOL.md` (computed with Python's
/// bitwise CRCs): a 1.1 device with an id answers IDENTIFY with it, one without an id with an
/// empty IDENTITY, and a 1.0 device (its answer as it was on the wire: ERROR unknown type)
/// is read as having none; each is scraped as before.
#[test]
fn device_ids_from_new_firmware_and_none_from_old() {
    let _guard = common::lock();
    let hex = |s: &str| -> Vec<u8> {
        s.split(' ')
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    };
    let with_id = |input: &[u8]| {
        let mut server: SerialServer<'_, _, 32> =
            SerialServer::new(&common::REGISTRY).with_device_id("fw-0042");
        let mut out = Vec::new();
        server.handle(input, &mut out).unwrap();
        out
    };
    // The documented bytes.
    let identify = hex("A5 5A 01 02 09 00 00 00 4B 3C 93");
    assert_eq!(
        with_id(&identify),
        hex("A5 5A 01 84 09 00 00 07 82 66 77 2D 30 30 34 32 77 39")
    );
    assert_eq!(
        device_answer(&identify),
        hex("A5 5A 01 84 09 00 00 00 97 0C C0")
    );
    // A 1.0 device: the IDENTIFY of the client's first request (id 1) refused as an
    // unknown type, every other request served.
    fn old(input: &[u8]) -> Vec<u8> {
        if input.get(3) == Some(&0x02) {
            assert_eq!(input[4], 1, "the client's first request");
            return "A5 5A 01 83 01 00 00 02 00 02 02 8C D5"
                .split(' ')
                .map(|b| u8::from_str_radix(b, 16).unwrap())
                .collect();
        }
        device_answer(input)
    }
    for (name, answer, id) in [
        (
            "1.1 with an id",
            with_id as fn(&[u8]) -> Vec<u8>,
            Some(&b"fw-0042"[..]),
        ),
        ("1.1 without", device_answer, None),
        ("1.0", old, None),
    ] {
        let line = Device {
            answer,
            out: Vec::new(),
            read_at: 0,
            fault: None,
        };
        let mut client = Client::new(line).with_timeout(std::time::Duration::from_millis(300));
        assert_eq!(client.identify().unwrap().as_deref(), id, "{name}");
        assert_eq!(
            client.scrape(Format::Text).unwrap(),
            expected(Format::Text),
            "{name}"
        );
    }
}

/// The server's exemplar buffer `X`: the default serves a counter's exemplar in OpenMetrics,
/// as the core's streaming encoder writes it; `X = 0` (the firmware examples') serves the same
/// exposition without it.
#[test]
fn exemplars_are_served_unless_the_exemplar_buffer_is_zero() {
    use metrics_core::{encode_bytes, CounterWithExemplar, Desc, StaticEntry, StaticRegistry};
    static JOBS: CounterWithExemplar = CounterWithExemplar::new();
    static REGISTRY: StaticRegistry =
        StaticRegistry::new(&[StaticEntry::metric(Desc::new("jobs", "Jobs done."), &JOBS)]);
    JOBS.inc_with_exemplar(&[("trace_id", "4bf92f35")], Some(1_700_000_000.5))
        .unwrap();
    let mut whole = Vec::new();
    encode_bytes(&REGISTRY, Format::OpenMetrics, &mut whole).unwrap();
    let whole = String::from_utf8(whole).unwrap();
    assert!(
        whole.contains("jobs_total 1 # {trace_id=\"4bf92f35\"} 1 1700000000.5\n"),
        "{whole}"
    );
    let scrape = |wire: Vec<u8>| String::from_utf8(common::assemble(&wire, 5).unwrap()).unwrap();
    let mut wire = Vec::new();
    let mut server: SerialServer<'_, _, 16> = SerialServer::new(&REGISTRY);
    server
        .handle(&request(5, Format::OpenMetrics), &mut wire)
        .unwrap();
    assert_eq!(scrape(wire), whole);
    let mut wire = Vec::new();
    let mut server: SerialServer<'_, _, 16, 0> = SerialServer::new(&REGISTRY);
    server
        .handle(&request(5, Format::OpenMetrics), &mut wire)
        .unwrap();
    assert_eq!(
        scrape(wire),
        whole.replace(" # {trace_id=\"4bf92f35\"} 1 1700000000.5", "")
    );
}
