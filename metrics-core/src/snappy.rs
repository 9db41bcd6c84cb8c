//! A Snappy block compressor (the raw block format, not the framed one): what Prometheus
//! Remote-Write puts on the wire (`Content-Encoding: snappy`).
//!
//! The format (google/snappy's `format_description.txt`): the uncompressed length as a varint,
//! then elements, each a *literal* (tag `00`, its length, the bytes) or a *copy* of earlier
//! output (tag `01`: length 4 to 11 and an offset below 2048 in two bytes; tag `10`: length 1
//! to 64 and a 16-bit offset). The compressor works as the reference one does: the input in
//! blocks of 64 KiB (so every offset fits 16 bits), a hash table of the positions of 4-byte
//! sequences seen in the block, a match extended as far as it goes and emitted as copies of at
//! most 64 bytes, and a step between probes that grows while nothing matches (incompressible
//! data is skipped over quickly).
//!
//! No allocation: the caller gives the output buffer (at least [`max_compressed_len`] bytes)
//! and, with [`compress_with`], the hash table, so firmware can keep both in a `static`.

use crate::Error;

/// Bytes of one block: copies never reach before its start, so offsets fit 16 bits.
const BLOCK: usize = 1 << 16;
/// Entries of the hash table [`compress`] keeps on the stack (8 KiB).
pub const DEFAULT_TABLE: usize = 1 << 12;

/// The most bytes [`compress`] can produce for `n` input bytes (google/snappy's
/// `MaxCompressedLength`).
pub const fn max_compressed_len(n: usize) -> usize {
    32 + n + n / 6
}

/// Compresses `input` into `out` with a hash table of [`DEFAULT_TABLE`] entries on the stack;
/// returns the compressed length.
///
/// # Errors
///
/// [`Error::Write`] when `out` is shorter than [`max_compressed_len`]`(input.len())`.
pub fn compress(input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let mut table = [0u16; DEFAULT_TABLE];
    compress_with(&mut table, input, out)
}

/// [`compress`] with the caller's hash table: a power of two between 256 and 65536 entries
/// (more entries find more matches in large inputs).
///
/// # Errors
///
/// [`Error::Write`] when `out` is shorter than [`max_compressed_len`]`(input.len())`, or the
/// table's size is not a power of two in that range.
pub fn compress_with(table: &mut [u16], input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    if out.len() < max_compressed_len(input.len())
        || !table.len().is_power_of_two()
        || !(256..=65536).contains(&table.len())
    {
        return Err(Error::Write);
    }
    let mut w = Out { buf: out, pos: 0 };
    w.varint(input.len() as u64);
    let shift = 32 - table.len().trailing_zeros();
    for block in input.chunks(BLOCK) {
        compress_block(table, shift, block, &mut w);
    }
    Ok(w.pos)
}

/// The output, known to be large enough (checked against `max_compressed_len` up front).
struct Out<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Out<'_> {
    #[inline]
    fn byte(&mut self, b: u8) {
        self.buf[self.pos] = b;
        self.pos += 1;
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.byte(v as u8 | 0x80);
            v >>= 7;
        }
        self.byte(v as u8);
    }

    fn literal(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let n = bytes.len() - 1;
        if n < 60 {
            self.byte((n as u8) << 2);
        } else {
            // 60..=63: the length-1 follows in 1 to 4 little-endian bytes.
            let extra = (usize::BITS - n.leading_zeros()).div_ceil(8) as usize;
            self.byte(((59 + extra) as u8) << 2);
            for i in 0..extra {
                self.byte((n >> (8 * i)) as u8);
            }
        }
        self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
    }

    /// Copies of `len` bytes from `offset` back (`offset` below 65536), split into elements of
    /// at most 64 bytes; the last one at least 4 so that the short form can take it.
    fn copy(&mut self, offset: usize, mut len: usize) {
        while len >= 68 {
            self.copy2(offset, 64);
            len -= 64;
        }
        if len > 64 {
            self.copy2(offset, 60);
            len -= 60;
        }
        if (4..12).contains(&len) && offset < 2048 {
            self.byte(0b01 | (((len - 4) as u8) << 2) | (((offset >> 8) as u8) << 5));
            self.byte(offset as u8);
        } else {
            self.copy2(offset, len);
        }
    }

    fn copy2(&mut self, offset: usize, len: usize) {
        self.byte(0b10 | (((len - 1) as u8) << 2));
        self.byte(offset as u8);
        self.byte((offset >> 8) as u8);
    }
}

#[inline]
fn load32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

#[inline]
fn hash(v: u32, shift: u32) -> usize {
    (v.wrapping_mul(0x1e35_a7bd) >> shift) as usize
}

fn compress_block(table: &mut [u16], shift: u32, block: &[u8], w: &mut Out<'_>) {
    // Shorter blocks, and the last bytes of any, are literals: a match needs 4 bytes, and
    // probing stops early enough that a 4-byte load never runs past the end.
    const MARGIN: usize = 15;
    if block.len() < MARGIN {
        w.literal(block);
        return;
    }
    table.fill(0);
    let limit = block.len() - MARGIN;
    let mut literal_start = 0;
    let mut i = 1;
    let mut next_hash = hash(load32(block, i), shift);
    'outer: loop {
        // Look for a match; after 32 misses the step grows by one every 32 misses.
        let mut skip = 32u32;
        let mut next = i;
        let candidate = loop {
            i = next;
            let step = (skip >> 5) as usize;
            skip += 1;
            next = i + step;
            if next > limit {
                break 'outer;
            }
            let h = next_hash;
            next_hash = hash(load32(block, next), shift);
            let c = table[h] as usize;
            table[h] = i as u16;
            if load32(block, c) == load32(block, i) && c < i {
                break c;
            }
        };
        w.literal(&block[literal_start..i]);
        // Emit matches as long as the next position starts one too.
        let mut candidate = candidate;
        loop {
            let start = i;
            let mut len = 4;
            while start + len < block.len() && block[candidate + len] == block[start + len] {
                len += 1;
            }
            w.copy(start - candidate, len);
            i = start + len;
            literal_start = i;
            if i >= limit {
                break 'outer;
            }
            // Remember the position before, and try the current one.
            let prev = hash(load32(block, i - 1), shift);
            table[prev] = (i - 1) as u16;
            let h = hash(load32(block, i), shift);
            let c = table[h] as usize;
            table[h] = i as u16;
            if c < i && load32(block, c) == load32(block, i) {
                candidate = c;
                continue;
            }
            next_hash = hash(load32(block, i + 1), shift);
            i += 1;
            break;
        }
    }
    w.literal(&block[literal_start..]);
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    /// A minimal decoder, for round trips here (the independent check is Python's cramjam in
    /// tests/remote_write.rs).
    fn decompress(mut b: &[u8]) -> Vec<u8> {
        let mut n = 0u64;
        let mut s = 0;
        loop {
            let x = b[0];
            b = &b[1..];
            n |= u64::from(x & 0x7f) << s;
            s += 7;
            if x < 0x80 {
                break;
            }
        }
        let mut out = Vec::new();
        while !b.is_empty() {
            let tag = b[0];
            match tag & 3 {
                0 => {
                    let mut len = usize::from(tag >> 2);
                    let mut hdr = 1;
                    if len >= 60 {
                        let extra = len - 59;
                        len = 0;
                        for i in 0..extra {
                            len |= usize::from(b[1 + i]) << (8 * i);
                        }
                        hdr += extra;
                    }
                    len += 1;
                    out.extend_from_slice(&b[hdr..hdr + len]);
                    b = &b[hdr + len..];
                }
                1 => {
                    let len = usize::from((tag >> 2) & 7) + 4;
                    let off = (usize::from(tag >> 5) << 8) | usize::from(b[1]);
                    for _ in 0..len {
                        out.push(out[out.len() - off]);
                    }
                    b = &b[2..];
                }
                2 => {
                    let len = usize::from(tag >> 2) + 1;
                    let off = usize::from(b[1]) | (usize::from(b[2]) << 8);
                    assert!(off > 0 && off <= out.len());
                    for _ in 0..len {
                        out.push(out[out.len() - off]);
                    }
                    b = &b[3..];
                }
                _ => panic!("4-byte offsets are never written"),
            }
        }
        assert_eq!(out.len() as u64, n);
        out
    }

    fn round_trip(input: &[u8]) -> usize {
        let mut out = vec![0u8; max_compressed_len(input.len())];
        let n = compress(input, &mut out).unwrap();
        assert_eq!(decompress(&out[..n]), input);
        n
    }

    #[test]
    fn round_trips_and_compresses_repetition() {
        // Miri interprets every step: smaller inputs there, the block edges (64 KiB) only
        // natively.
        let big = if cfg!(miri) { 3_000 } else { 200_000 };
        assert_eq!(round_trip(b""), 1);
        round_trip(b"a");
        round_trip(b"abcdefghijklmnopqrstuvwxyz");
        let text: Vec<u8> = b"metric_total{job=\"a\",le=\"0.5\"} 12\n"
            .iter()
            .copied()
            .cycle()
            .take(big)
            .collect();
        let n = round_trip(&text);
        assert!(n * 10 < text.len(), "{n} of {}", text.len());
        // Pseudo-random bytes: incompressible, within the bound.
        let mut x = 0x1234_5678_u32;
        let noise: Vec<u8> = (0..big / 2)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        round_trip(&noise);
        // Long runs (copies longer than 64), and lengths around the literal and block edges.
        round_trip(&vec![7u8; big / 3]);
        for len in [59, 60, 61, 64, 65, 255, 256, 257, 65_535, 65_536, 65_537] {
            if len <= text.len() {
                round_trip(&text[..len]);
            }
        }
    }

    #[test]
    fn refuses_a_short_output_or_a_bad_table() {
        let mut out = [0u8; 10];
        assert_eq!(compress(b"0123456789", &mut out), Err(Error::Write));
        let mut out = [0u8; 64];
        assert_eq!(
            compress_with(&mut [0u16; 100], b"x", &mut out),
            Err(Error::Write)
        );
    }
}
