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
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep = match b {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'"' if quote => "\\\"",
            _ => continue,
        };
        // `i` is at an ASCII byte, so both slices end on char boundaries.
        w.write_str(&s[start..i])?;
        w.write_str(rep)?;
        start = i + 1;
    }
    w.write_str(&s[start..])
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
}
