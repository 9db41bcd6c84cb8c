//! The frame format of the serial protocol (see `PROTOCOL.md`): constants, the frame view and
//! the encoders, shared by the device and the host.

use crc::{Crc, Digest, NoTable, CRC_16_IBM_3740, CRC_32_ISO_HDLC, CRC_8_SMBUS};
use metrics_core::Format;

/// First byte of every frame.
pub const SYNC0: u8 = 0xA5;
/// Second byte of every frame.
pub const SYNC1: u8 = 0x5A;
/// The protocol version this crate speaks.
pub const VERSION: u8 = 1;
/// Bytes before the payload: sync (2), version, type, id, seq (2), len, header CRC-8.
pub const HEADER_LEN: usize = 9;
/// Bytes after the payload: the CRC-16.
pub const TRAILER_LEN: usize = 2;
/// The largest payload a frame can carry (its length is one byte).
pub const MAX_PAYLOAD: usize = 255;
/// The largest frame on the wire.
pub const MAX_FRAME: usize = HEADER_LEN + MAX_PAYLOAD + TRAILER_LEN;
/// Payload length of an END frame: total length and CRC-32 of the exposition.
pub const END_PAYLOAD_LEN: usize = 8;

/// CRC-16/IBM-3740 (a.k.a. CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF), bitwise: no table in
/// flash. Hamming distance 4 for frames up to 4095 bytes, so every 1-, 2- and 3-bit error and
/// every burst up to 16 bits in a frame is detected.
pub(crate) const FRAME_CRC: Crc<u16, NoTable> = Crc::<u16, NoTable>::new(&CRC_16_IBM_3740);
/// CRC-8/SMBUS (poly 0x07) over header bytes 2..8: a corrupted length is rejected before the
/// decoder waits for that many bytes. Detects every error burst of up to 8 bits in the header.
pub(crate) const HEADER_CRC: Crc<u8, NoTable> = Crc::<u8, NoTable>::new(&CRC_8_SMBUS);
/// CRC-32/ISO-HDLC (the zlib/Ethernet CRC-32), bitwise, over a whole exposition.
pub(crate) const BODY_CRC: Crc<u32, NoTable> = Crc::<u32, NoTable>::new(&CRC_32_ISO_HDLC);

/// A frame's type byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameType {
    /// Host → device: send the exposition (payload: the format byte, optional).
    Scrape,
    /// Host → device, protocol 1.1: send your device id (no payload).
    Identify,
    /// Device → host: the next bytes of the exposition.
    Data,
    /// Device → host: the exposition is complete (payload: total length and CRC-32).
    End,
    /// Device → host: the request failed (payload: code, then a UTF-8 message).
    Error,
    /// Device → host, protocol 1.1: the device id (payload: 0 to [`MAX_DEVICE_ID`] bytes of
    /// UTF-8; none: the device has no id).
    Identity,
    /// A type this version does not know.
    Unknown(u8),
}

impl FrameType {
    /// The type byte on the wire.
    #[must_use]
    pub const fn to_byte(self) -> u8 {
        match self {
            FrameType::Scrape => 0x01,
            FrameType::Identify => 0x02,
            FrameType::Data => 0x81,
            FrameType::End => 0x82,
            FrameType::Error => 0x83,
            FrameType::Identity => 0x84,
            FrameType::Unknown(b) => b,
        }
    }

    /// The type of a type byte.
    #[must_use]
    pub const fn from_byte(b: u8) -> Self {
        match b {
            0x01 => FrameType::Scrape,
            0x02 => FrameType::Identify,
            0x81 => FrameType::Data,
            0x82 => FrameType::End,
            0x83 => FrameType::Error,
            0x84 => FrameType::Identity,
            b => FrameType::Unknown(b),
        }
    }
}

/// The longest device id an IDENTITY frame carries, in bytes.
pub const MAX_DEVICE_ID: usize = 64;

impl FrameType {
    /// True for the types a host sends (SCRAPE, IDENTIFY): a device answers them, a host
    /// skips them (its own requests echoed).
    #[must_use]
    pub const fn is_request(self) -> bool {
        matches!(self, FrameType::Scrape | FrameType::Identify)
    }
}

/// The code byte of an ERROR frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request's version byte is not one the device speaks (message byte 0: its version).
    UnsupportedVersion,
    /// The request's type is not one the device serves.
    UnknownType,
    /// The request's payload is malformed.
    BadRequest,
    /// The SCRAPE format byte names no known format.
    UnsupportedFormat,
    /// The device's encoder failed (message: the core's error).
    Encoding,
    /// A code this version does not know.
    Other(u8),
}

impl ErrorCode {
    /// The code byte on the wire.
    #[must_use]
    pub const fn to_byte(self) -> u8 {
        match self {
            ErrorCode::UnsupportedVersion => 0x01,
            ErrorCode::UnknownType => 0x02,
            ErrorCode::BadRequest => 0x03,
            ErrorCode::UnsupportedFormat => 0x04,
            ErrorCode::Encoding => 0x05,
            ErrorCode::Other(b) => b,
        }
    }

    /// The code of a code byte.
    #[must_use]
    pub const fn from_byte(b: u8) -> Self {
        match b {
            0x01 => ErrorCode::UnsupportedVersion,
            0x02 => ErrorCode::UnknownType,
            0x03 => ErrorCode::BadRequest,
            0x04 => ErrorCode::UnsupportedFormat,
            0x05 => ErrorCode::Encoding,
            b => ErrorCode::Other(b),
        }
    }
}

/// The format byte of a SCRAPE request.
#[must_use]
pub const fn format_byte(format: Format) -> u8 {
    match format {
        Format::Text => 0,
        Format::OpenMetrics => 1,
        Format::Protobuf => 2,
    }
}

/// The format of a SCRAPE format byte, if known.
#[must_use]
pub const fn format_from_byte(b: u8) -> Option<Format> {
    match b {
        0 => Some(Format::Text),
        1 => Some(Format::OpenMetrics),
        #[cfg(feature = "protobuf")]
        2 => Some(Format::Protobuf),
        _ => None,
    }
}

/// A decoded frame whose CRC matched. Borrows its payload from the decoder's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The version byte.
    pub version: u8,
    /// The type.
    pub kind: FrameType,
    /// The request id (a response echoes its request's).
    pub id: u8,
    /// The frame's number within its response (0 in requests).
    pub seq: u16,
    /// The payload.
    pub payload: &'a [u8],
}

/// The header of a frame, bytes 0..9.
#[must_use]
pub fn header(kind: FrameType, id: u8, seq: u16, len: u8) -> [u8; HEADER_LEN] {
    let seq = seq.to_le_bytes();
    let mut h = [
        SYNC0,
        SYNC1,
        VERSION,
        kind.to_byte(),
        id,
        seq[0],
        seq[1],
        len,
        0,
    ];
    h[HEADER_LEN - 1] = HEADER_CRC.checksum(&h[2..HEADER_LEN - 1]);
    h
}

/// The CRC-16 trailer of a frame with `header` and `payload`.
#[must_use]
pub fn trailer(header: &[u8; HEADER_LEN], payload: &[u8]) -> [u8; TRAILER_LEN] {
    let mut d = FRAME_CRC.digest();
    d.update(&header[2..]);
    d.update(payload);
    d.finalize().to_le_bytes()
}

/// A payload longer than [`MAX_PAYLOAD`] bytes, or an output buffer too small for the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLong;

impl core::fmt::Display for TooLong {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("payload over 255 bytes or output buffer too small for the frame")
    }
}

/// Encodes one frame into `out`; returns its length.
pub fn encode(
    kind: FrameType,
    id: u8,
    seq: u16,
    payload: &[u8],
    out: &mut [u8],
) -> Result<usize, TooLong> {
    let len = u8::try_from(payload.len()).map_err(|_| TooLong)?;
    let total = HEADER_LEN + payload.len() + TRAILER_LEN;
    let out = out.get_mut(..total).ok_or(TooLong)?;
    let h = header(kind, id, seq, len);
    out[..HEADER_LEN].copy_from_slice(&h);
    out[HEADER_LEN..total - TRAILER_LEN].copy_from_slice(payload);
    out[total - TRAILER_LEN..].copy_from_slice(&trailer(&h, payload));
    Ok(total)
}

/// Writes one frame to `w` without copying the payload. Payloads over [`MAX_PAYLOAD`] are cut
/// there (the device's buffers are smaller anyway).
pub fn write<W: embedded_io::Write + ?Sized>(
    w: &mut W,
    kind: FrameType,
    id: u8,
    seq: u16,
    payload: &[u8],
) -> Result<(), W::Error> {
    let payload = &payload[..payload.len().min(MAX_PAYLOAD)];
    // The cut above makes the length fit.
    let h = header(kind, id, seq, payload.len() as u8);
    w.write_all(&h)?;
    w.write_all(payload)?;
    w.write_all(&trailer(&h, payload))
}

/// The END payload: total length and CRC-32 of the exposition, both little-endian.
#[must_use]
pub fn end_payload(total_len: u32, crc32: u32) -> [u8; END_PAYLOAD_LEN] {
    let mut p = [0; END_PAYLOAD_LEN];
    p[..4].copy_from_slice(&total_len.to_le_bytes());
    p[4..].copy_from_slice(&crc32.to_le_bytes());
    p
}

/// Length and CRC-32 of an exposition, accumulated DATA payload by DATA payload.
#[derive(Clone)]
pub struct BodyCheck {
    len: u32,
    digest: Digest<'static, u32, NoTable>,
}

impl core::fmt::Debug for BodyCheck {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BodyCheck")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Default for BodyCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl BodyCheck {
    /// Nothing seen yet.
    #[must_use]
    pub const fn new() -> Self {
        BodyCheck {
            len: 0,
            digest: BODY_CRC.digest(),
        }
    }

    /// Adds the next bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.len = self.len.wrapping_add(bytes.len() as u32);
        self.digest.update(bytes);
    }

    /// (total length, CRC-32) of what was added.
    #[must_use]
    pub fn finish(self) -> (u32, u32) {
        (self.len, self.digest.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_values() {
        // The catalogue check values over "123456789": proves the algorithms are the named ones.
        assert_eq!(FRAME_CRC.checksum(b"123456789"), 0x29B1);
        assert_eq!(HEADER_CRC.checksum(b"123456789"), 0xF4);
        assert_eq!(BODY_CRC.checksum(b"123456789"), 0xCBF4_3926);
        let mut b = BodyCheck::new();
        b.update(b"1234");
        b.update(b"56789");
        assert_eq!(b.finish(), (9, 0xCBF4_3926));
    }

    #[test]
    fn example_bytes() {
        // The examples of PROTOCOL.md, byte for byte (computed independently, see there).
        let mut out = [0u8; 32];
        let n = encode(FrameType::Scrape, 7, 0, &[1], &mut out).unwrap();
        assert_eq!(
            &out[..n],
            &[0xA5, 0x5A, 0x01, 0x01, 0x07, 0x00, 0x00, 0x01, 0x2E, 0x01, 0x35, 0x04]
        );
        let n = encode(FrameType::Data, 7, 0, b"a 1", &mut out).unwrap();
        assert_eq!(
            &out[..n],
            &[0xA5, 0x5A, 0x01, 0x81, 0x07, 0x00, 0x00, 0x03, 0xB7, 0x61, 0x20, 0x31, 0x14, 0xDF]
        );
        let mut b = BodyCheck::new();
        b.update(b"a 1");
        let (len, crc) = b.finish();
        let n = encode(FrameType::End, 7, 1, &end_payload(len, crc), &mut out).unwrap();
        assert_eq!(
            &out[..n],
            &[
                0xA5, 0x5A, 0x01, 0x82, 0x07, 0x01, 0x00, 0x08, 0x4B, 0x03, 0x00, 0x00, 0x00, 0x9D,
                0x5C, 0x0E, 0x72, 0xCE, 0xF8
            ]
        );
    }

    #[test]
    fn too_long() {
        let mut out = [0u8; MAX_FRAME + 1];
        assert_eq!(
            encode(FrameType::Data, 0, 0, &[0; 256], &mut out),
            Err(TooLong)
        );
        assert_eq!(
            encode(FrameType::Data, 0, 0, &[0; 10], &mut out[..20]),
            Err(TooLong)
        );
        assert_eq!(
            encode(FrameType::Data, 0, 0, &[0; 255], &mut out),
            Ok(MAX_FRAME)
        );
    }

    #[test]
    fn type_and_code_bytes_round_trip() {
        for b in 0..=255u8 {
            assert_eq!(FrameType::from_byte(b).to_byte(), b);
            assert_eq!(ErrorCode::from_byte(b).to_byte(), b);
        }
    }
}
