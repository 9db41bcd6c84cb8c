//! The few protobuf wire pieces the write requests need: varints, tags, lengths.

use super::Bytes;
use crate::Error;

/// Wire types.
pub(crate) const VARINT: u8 = 0;
pub(crate) const I64: u8 = 1;
pub(crate) const LEN: u8 = 2;

/// The key byte of field `field` (below 16) with wire type `wire`.
#[inline]
pub(crate) const fn key(field: u8, wire: u8) -> u8 {
    (field << 3) | wire
}

/// Bytes of `v` as a varint.
#[inline]
pub(crate) const fn varint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits, at least one.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Bytes of a length-delimited field (`key`, length, `n` bytes of payload).
#[inline]
pub(crate) const fn len_field(n: usize) -> usize {
    1 + varint_len(n as u64) + n
}

/// Bytes of a varint field (`key`, the varint), or 0 when `v` is 0 (proto3 omits defaults).
#[inline]
pub(crate) const fn varint_field(v: u64) -> usize {
    if v == 0 {
        0
    } else {
        1 + varint_len(v)
    }
}

/// Writes protobuf pieces into a [`Bytes`] sink, through a small staging buffer so that short
/// pieces do not each cost a call into the sink.
pub(crate) struct Writer<'w, B: Bytes + ?Sized> {
    out: &'w mut B,
    buf: [u8; 64],
    len: usize,
}

impl<'w, B: Bytes + ?Sized> Writer<'w, B> {
    pub(crate) fn new(out: &'w mut B) -> Self {
        Writer {
            out,
            buf: [0; 64],
            len: 0,
        }
    }

    #[inline]
    pub(crate) fn byte(&mut self, b: u8) -> Result<(), Error> {
        if self.len == self.buf.len() {
            self.flush()?;
        }
        self.buf[self.len] = b;
        self.len += 1;
        Ok(())
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) -> Result<(), Error> {
        if b.len() > self.buf.len() - self.len {
            self.flush()?;
            if b.len() > self.buf.len() {
                return self.out.put(b);
            }
        }
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
        Ok(())
    }

    pub(crate) fn varint(&mut self, mut v: u64) -> Result<(), Error> {
        while v >= 0x80 {
            self.byte(v as u8 | 0x80)?;
            v >>= 7;
        }
        self.byte(v as u8)
    }

    /// A length-delimited field's key and length; its payload follows.
    pub(crate) fn len_key(&mut self, field: u8, n: usize) -> Result<(), Error> {
        self.byte(key(field, LEN))?;
        self.varint(n as u64)
    }

    /// A varint field, omitted when `v` is 0.
    pub(crate) fn varint_field(&mut self, field: u8, v: u64) -> Result<(), Error> {
        if v == 0 {
            return Ok(());
        }
        self.byte(key(field, VARINT))?;
        self.varint(v)
    }

    /// A `double` field (always written: a sample's value 0 is a value).
    pub(crate) fn double(&mut self, field: u8, v: f64) -> Result<(), Error> {
        self.byte(key(field, I64))?;
        self.bytes(&v.to_bits().to_le_bytes())
    }

    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        if self.len > 0 {
            let n = core::mem::take(&mut self.len);
            self.out.put(&self.buf[..n])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths() {
        for (v, n) in [
            (0u64, 1),
            (1, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (u64::MAX, 10),
        ] {
            assert_eq!(varint_len(v), n, "{v}");
        }
    }
}
