//! Escaping of label values and HELP text.

use core::fmt::{Result, Write};

/// Writes a label value: `\` as `\\`, `"` as `\"`, newline as `\n` (both formats).
#[inline]
pub(crate) fn label_value<W: Write + ?Sized>(w: &mut W, s: &str) -> Result {
    escape(w, s, true)
}

/// Writes HELP text: `\` and newline escaped; `"` too in OpenMetrics.
#[inline]
pub(crate) fn help<W: Write + ?Sized>(w: &mut W, s: &str, quote: bool) -> Result {
    escape(w, s, quote)
}

/// Copies runs of bytes that need no escape in one `write_str` each.
#[inline]
fn escape<W: Write + ?Sized>(w: &mut W, s: &str, quote: bool) -> Result {
    let bytes = s.as_bytes();
    let Some(first) = find_special(bytes, quote) else {
        // The common case: nothing to escape, one write.
        return w.write_str(s);
    };
    let mut start = 0;
    let mut next = Some(first);
    while let Some(off) = next {
        let i = start + off;
        let rep = match bytes[i] {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            _ => "\\\"",
        };
        // `i` is at an ASCII byte, so both slices end on char boundaries (`get` has no panic
        // path to link).
        w.write_str(s.get(start..i).unwrap_or(""))?;
        w.write_str(rep)?;
        start = i + 1;
        next = find_special(&bytes[start..], quote);
    }
    w.write_str(s.get(start..).unwrap_or(""))
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Nonzero where a byte of `x` equals `c` (the classic SWAR zero-byte test on `x ^ c…c`; it
/// can flag a byte above a true match, which only matters once a match exists, and the exact
/// position is then found byte by byte).
#[inline]
fn has_byte(x: u64, c: u8) -> u64 {
    let y = x ^ (LO * u64::from(c));
    y.wrapping_sub(LO) & !y & HI
}

/// The index of the first `\`, newline or (with `quote`) `"` in `b`, eight bytes at a time.
/// On wasm32 one copy for label values and HELP text alike (`quote` then a run-time argument),
/// not one inlined per caller.
#[cfg_attr(not(target_arch = "wasm32"), inline)]
#[cfg_attr(target_arch = "wasm32", inline(never))]
fn find_special(b: &[u8], quote: bool) -> Option<usize> {
    let is_special = |c: u8| c == b'\\' || c == b'\n' || (quote && c == b'"');
    if b.len() < 8 {
        // Short values (most label values): a plain scan, no chunking set-up.
        let mut i = 0;
        while i < b.len() {
            if is_special(b[i]) {
                return Some(i);
            }
            i += 1;
        }
        return None;
    }
    let mut chunks = b.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let mut hit = has_byte(x, b'\\') | has_byte(x, b'\n');
        if quote {
            hit |= has_byte(x, b'"');
        }
        if hit != 0 {
            return chunk.iter().position(|&c| is_special(c)).map(|p| base + p);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| is_special(c))
        .map(|p| base + p)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::String;

    #[test]
    fn escapes() {
        let mut s = String::new();
        super::label_value(&mut s, "a\\b\"c\nd é").unwrap();
        assert_eq!(s, "a\\\\b\\\"c\\nd é");
        let mut s = String::new();
        super::help(&mut s, "say \"hi\"\\\n", false).unwrap();
        assert_eq!(s, "say \"hi\"\\\\\\n");
        let mut s = String::new();
        super::help(&mut s, "say \"hi\"", true).unwrap();
        assert_eq!(s, "say \\\"hi\\\"");
    }

    #[test]
    fn finds_specials_at_every_position() {
        for len in 0..40 {
            for pos in 0..len {
                for special in [b'\\', b'\n', b'"'] {
                    let mut v = std::vec![b'a'; len];
                    v[pos] = special;
                    let quote_hit = if special == b'"' { None } else { Some(pos) };
                    assert_eq!(super::find_special(&v, true), Some(pos));
                    assert_eq!(super::find_special(&v, false), quote_hit);
                }
            }
            assert_eq!(super::find_special(&std::vec![0xffu8; len], true), None);
        }
    }
}
