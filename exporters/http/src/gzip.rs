//! gzip: whether a request accepts it, and a compressor each worker reuses.

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// gzip member header (RFC 1952): magic, deflate, no flags, no mtime, XFL 4 (fastest), OS
/// unknown.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];

/// True when an `Accept-Encoding` header value allows gzip: `gzip` (or `x-gzip`) with a
/// positive q-value, or else `*` with a positive q-value. An explicit `gzip;q=0` refuses it
/// even when `*` is allowed; a malformed q-value counts as 0, as in
/// [`metrics_core::negotiate()`]. No header: identity.
pub(crate) fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(header) = accept_encoding else {
        return false;
    };
    let mut star = false;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let mut acceptable = true;
        for param in parts {
            if let Some((name, value)) = param.split_once('=') {
                if name.trim().eq_ignore_ascii_case("q") {
                    acceptable = q_positive(value);
                }
            }
        }
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            return acceptable;
        }
        if coding == "*" {
            star = acceptable;
        }
    }
    star
}

/// True for a q-value above zero (`1`, `0.5`, `.5`, `0.001`); false for zero and anything
/// that is not digits with at most one dot.
fn q_positive(value: &str) -> bool {
    let v = value.trim().trim_matches('"');
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    !(int.is_empty() && frac.is_empty())
        && digits(int)
        && digits(frac)
        && int.bytes().chain(frac.bytes()).any(|b| b != b'0')
}

/// A gzip compressor whose deflate state (a few hundred KiB) is allocated once and reset for
/// every response, so compressing allocates nothing once the output buffer is large enough.
pub(crate) struct Gzip {
    deflate: Compress,
}

impl std::fmt::Debug for Gzip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gzip").finish_non_exhaustive()
    }
}

impl Gzip {
    /// A compressor at the fastest level: exposition text is repetitive and compresses about
    /// tenfold even so, and scrapes should cost little CPU.
    pub(crate) fn new() -> Self {
        Gzip {
            deflate: Compress::new(Compression::fast(), false),
        }
    }

    /// Replaces `out` with `input` as one gzip member. On a deflate error (which a valid
    /// compressor does not produce) `out` is left unspecified.
    pub(crate) fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), ()> {
        out.clear();
        out.extend_from_slice(&HEADER);
        self.deflate.reset();
        let mut consumed = 0;
        loop {
            if out.capacity() - out.len() < 256 {
                out.reserve((input.len() - consumed) / 4 + 4096);
            }
            let before = self.deflate.total_in();
            let status = self
                .deflate
                .compress_vec(&input[consumed..], out, FlushCompress::Finish)
                .map_err(|_| ())?;
            consumed += (self.deflate.total_in() - before) as usize;
            match status {
                Status::StreamEnd => break,
                Status::Ok => {}
                // No room to make progress: grow.
                Status::BufError => out.reserve(out.capacity().max(4096)),
            }
        }
        let mut crc = Crc::new();
        crc.update(input);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE: the input length modulo 2^32.
        out.extend_from_slice(&(input.len() as u32).to_le_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn accept_encoding() {
        for (h, want) in [
            ("gzip", true),
            ("GZip", true),
            ("x-gzip", true),
            ("deflate, gzip", true),
            ("gzip;q=1.0, identity; q=0.5, *;q=0", true),
            ("br;q=1.0, gzip;q=0.8, *;q=0.1", true),
            ("gzip;q=0", false),
            ("gzip; q=0.000", false),
            ("gzip;q=abc", false),
            ("gzip;q=-1", false),
            ("gzip;q=.5", true),
            ("*", true),
            ("*;q=0", false),
            ("*, gzip;q=0", false),
            ("gzip;q=0, *", false),
            ("identity", false),
            ("deflate, br", false),
            ("", false),
            (",,;;==", false),
        ] {
            assert_eq!(accepts_gzip(Some(h)), want, "{h:?}");
        }
        assert!(!accepts_gzip(None));
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn round_trips_and_reuses_its_state() {
        let mut gz = Gzip::new();
        let mut out = Vec::new();
        let mut big = Vec::new();
        for i in 0..50_000 {
            big.extend_from_slice(format!("series_total{{i=\"{i}\"}} {}\n", i * 7).as_bytes());
        }
        for input in [&b""[..], b"a", b"hello hello hello hello\n", &big, b"again"] {
            gz.compress(input, &mut out).unwrap();
            assert_eq!(gunzip(&out), input);
        }
        gz.compress(&big, &mut out).unwrap();
        assert!(out.len() < big.len() / 4, "{} of {}", out.len(), big.len());
        // Steady state: the buffer is large enough, nothing grows.
        let cap = out.capacity();
        gz.compress(&big, &mut out).unwrap();
        assert_eq!(out.capacity(), cap);
    }
}
