//! The frame decoder: finds frames in a byte stream with noise, drops and cuts in it.

use crate::frame::{
    Frame, FrameType, FRAME_CRC, HEADER_CRC, HEADER_LEN, MAX_FRAME, SYNC0, SYNC1, TRAILER_LEN,
};

/// Why bytes of the stream were not a frame. After each, the decoder has already resynchronised:
/// it goes on scanning for the next start marker right after the bad one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// This many bytes before a start marker belonged to no frame (line noise, a cut frame's
    /// tail, a frame from before the decoder started).
    Noise(usize),
    /// A start marker followed by a header whose CRC-8 does not match: a corrupted or cut
    /// header, or a false start marker in noise.
    BadHeader,
    /// A frame whose CRC-16 did not match the bytes that followed its header: a corrupted,
    /// shortened (dropped byte) or cut frame.
    BadCrc,
    /// A header announcing a frame longer than this decoder's buffer holds.
    TooLong,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrameError::Noise(n) => write!(f, "{n} byte(s) of noise outside any frame"),
            FrameError::BadHeader => f.write_str("frame header CRC mismatch"),
            FrameError::BadCrc => f.write_str("frame CRC mismatch (corrupted or lost bytes)"),
            FrameError::TooLong => f.write_str("frame longer than the decoder's buffer"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FrameError {}

/// Counts of what the decoder saw, for health metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Frames decoded with a matching CRC.
    pub frames: u32,
    /// Bytes skipped as noise.
    pub noise_bytes: u32,
    /// Header CRC-8 mismatches.
    pub bad_header: u32,
    /// Frame CRC-16 mismatches.
    pub bad_crc: u32,
    /// Headers announcing frames longer than the buffer.
    pub too_long: u32,
}

/// Finds frames in a byte stream, with a fixed buffer of `CAP` bytes and no heap.
///
/// Feed received bytes with [`feed`](Self::feed) and take frames and errors out with
/// [`poll`](Self::poll) until it returns `None`. Frames whose payload does not fit in `CAP`
/// are reported as [`FrameError::TooLong`]; the default `CAP` holds any frame. A device that only
/// reads requests can use a small `CAP` (a SCRAPE frame is 11 bytes).
///
/// Resynchronisation: the decoder scans for the start marker `A5 5A`, checks the header's CRC-8,
/// reads the length from it and waits for the whole frame. If a CRC does not match, it drops
/// only the first byte of the supposed frame and scans again from the second, so a frame following a corrupted
/// or shortened one is found even when its bytes were already taken in as the bad frame's tail.
///
/// ```
/// use metrics_exporter_embedded::{frame, Decoder, FrameType};
/// let mut wire = [0u8; 32];
/// wire[..3].copy_from_slice(b"\x00\xff!"); // noise first
/// let n = frame::encode(FrameType::Scrape, 9, 0, &[0], &mut wire[3..]).unwrap();
/// let mut dec: Decoder = Decoder::new();
/// assert_eq!(dec.feed(&wire[..3 + n]), 3 + n);
/// assert!(dec.poll().unwrap().is_err()); // 3 bytes of noise
/// let f = dec.poll().unwrap().unwrap();
/// assert_eq!((f.kind, f.id, f.payload), (FrameType::Scrape, 9, &[0][..]));
/// assert!(dec.poll().is_none());
/// ```
#[derive(Clone, Debug)]
pub struct Decoder<const CAP: usize = MAX_FRAME> {
    buf: [u8; CAP],
    start: usize,
    end: usize,
    stats: DecoderStats,
}

impl<const CAP: usize> Default for Decoder<CAP> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const CAP: usize> Decoder<CAP> {
    /// An empty decoder.
    #[must_use]
    pub const fn new() -> Self {
        Decoder {
            buf: [0; CAP],
            start: 0,
            end: 0,
            stats: DecoderStats {
                frames: 0,
                noise_bytes: 0,
                bad_header: 0,
                bad_crc: 0,
                too_long: 0,
            },
        }
    }

    /// Takes in as many of `bytes` as the buffer has room for; returns how many. Call
    /// [`poll`](Self::poll) until `None` before feeding the rest: that makes room.
    pub fn feed(&mut self, bytes: &[u8]) -> usize {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 && CAP - self.end < bytes.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = bytes.len().min(CAP - self.end);
        self.buf[self.end..self.end + n].copy_from_slice(&bytes[..n]);
        self.end += n;
        n
    }

    /// Bytes held that are not yet a frame or an error.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.end - self.start
    }

    /// Forgets the bytes held (e.g. after a timeout: a cut frame will never complete).
    /// Returns how many there were.
    pub fn reset(&mut self) -> usize {
        let n = self.pending();
        self.start = 0;
        self.end = 0;
        n
    }

    /// What the decoder saw so far.
    #[must_use]
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    /// The next frame or error among the bytes fed, or `None` when more bytes are needed.
    pub fn poll(&mut self) -> Option<Result<Frame<'_>, FrameError>> {
        let held = &self.buf[self.start..self.end];
        // Scan for the start marker; a lone SYNC0 at the very end may be the start of one.
        let mut skip = 0;
        while skip < held.len() {
            if held[skip] == SYNC0 && held.get(skip + 1).is_none_or(|&b| b == SYNC1) {
                break;
            }
            skip += 1;
        }
        if skip > 0 {
            self.start += skip;
            self.stats.noise_bytes = self.stats.noise_bytes.saturating_add(skip as u32);
            return Some(Err(FrameError::Noise(skip)));
        }
        if held.len() < HEADER_LEN {
            return None;
        }
        if HEADER_CRC.checksum(&held[2..HEADER_LEN - 1]) != held[HEADER_LEN - 1] {
            self.start += 1;
            self.stats.bad_header = self.stats.bad_header.saturating_add(1);
            return Some(Err(FrameError::BadHeader));
        }
        let total = HEADER_LEN + usize::from(held[HEADER_LEN - 2]) + TRAILER_LEN;
        if total > CAP {
            self.start += 1;
            self.stats.too_long = self.stats.too_long.saturating_add(1);
            return Some(Err(FrameError::TooLong));
        }
        if held.len() < total {
            return None;
        }
        let body = &held[2..total - TRAILER_LEN];
        let crc = u16::from_le_bytes([held[total - 2], held[total - 1]]);
        if FRAME_CRC.checksum(body) != crc {
            self.start += 1;
            self.stats.bad_crc = self.stats.bad_crc.saturating_add(1);
            return Some(Err(FrameError::BadCrc));
        }
        let begin = self.start;
        self.start += total;
        self.stats.frames = self.stats.frames.saturating_add(1);
        let f = &self.buf[begin..begin + total];
        Some(Ok(Frame {
            version: f[2],
            kind: FrameType::from_byte(f[3]),
            id: f[4],
            seq: u16::from_le_bytes([f[5], f[6]]),
            payload: &f[HEADER_LEN..total - TRAILER_LEN],
        }))
    }
}
