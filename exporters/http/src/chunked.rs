//! A bounded decoder of chunked request bodies (`Transfer-Encoding: chunked`), fed with what
//! the reactor reads: the decoded body never grows past the route's limit, and a size line or
//! trailer never past [`MAX_LINE`].

/// Longest chunk-size line or trailer line.
const MAX_LINE: usize = 4096;

/// Where the decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// A chunk-size line (hex size, optional extensions).
    Size,
    /// This many data bytes of the current chunk.
    Data(usize),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// Trailer lines, up to an empty one.
    Trailer,
}

/// Why a chunked body is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Error {
    /// The body would pass the limit: 413.
    TooLarge,
    /// Not chunked encoding: 400.
    Malformed,
}

fn line(buf: &[u8]) -> Result<Option<usize>, Error> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(end) => Ok(Some(end)),
        None if buf.len() > MAX_LINE => Err(Error::Malformed),
        None => Ok(None),
    }
}

/// Decodes what `buf` holds into `body` (consuming it from `buf`); `Ok(true)` once the body
/// is complete (what follows it stays in `buf`).
pub(crate) fn decode(
    state: &mut State,
    buf: &mut Vec<u8>,
    body: &mut dyn FnMut(&[u8]),
    total: &mut usize,
    limit: usize,
) -> Result<bool, Error> {
    loop {
        match *state {
            State::Size => {
                let Some(end) = line(buf)? else {
                    return Ok(false);
                };
                let text = std::str::from_utf8(&buf[..end]).map_err(|_| Error::Malformed)?;
                let hex = text.split(';').next().unwrap_or("").trim();
                if hex.is_empty() || hex.len() > 16 {
                    return Err(Error::Malformed);
                }
                let size = usize::from_str_radix(hex, 16).map_err(|_| Error::Malformed)?;
                buf.drain(..end + 2);
                if size == 0 {
                    *state = State::Trailer;
                } else if total.saturating_add(size) > limit {
                    return Err(Error::TooLarge);
                } else {
                    *state = State::Data(size);
                }
            }
            State::Data(n) => {
                let take = n.min(buf.len());
                body(&buf[..take]);
                buf.drain(..take);
                *total += take;
                if take < n {
                    *state = State::Data(n - take);
                    return Ok(false);
                }
                *state = State::DataEnd;
            }
            State::DataEnd => {
                if buf.len() < 2 {
                    return Ok(false);
                }
                if &buf[..2] != b"\r\n" {
                    return Err(Error::Malformed);
                }
                buf.drain(..2);
                *state = State::Size;
            }
            State::Trailer => {
                let Some(end) = line(buf)? else {
                    return Ok(false);
                };
                buf.drain(..end + 2);
                if end == 0 {
                    return Ok(true);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], limit: usize, pieces: usize) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let mut state = State::Size;
        let mut buf = Vec::new();
        let mut out = Vec::new();
        let mut total = 0;
        for piece in input.chunks(pieces) {
            buf.extend_from_slice(piece);
            if decode(
                &mut state,
                &mut buf,
                &mut |b| out.extend_from_slice(b),
                &mut total,
                limit,
            )? {
                let rest = std::mem::take(&mut buf);
                return Ok((out, rest));
            }
        }
        Ok((out, b"incomplete".to_vec()))
    }

    #[test]
    fn decodes_in_any_pieces() {
        let input =
            b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for pieces in [1, 2, 3, 7, 100] {
            let (body, rest) = run(input, 1000, pieces).unwrap();
            assert_eq!(body, b"Wikipedia in\r\n\r\nchunks.", "{pieces}");
            assert!(rest.ends_with(b"NEXT") || pieces < 100, "{pieces}");
        }
    }

    #[test]
    fn bounded() {
        assert_eq!(run(b"10\r\n", 15, 100), Err(Error::TooLarge));
        assert_eq!(
            run(b"8\r\n01234567\r\n8\r\n", 15, 100),
            Err(Error::TooLarge)
        );
        assert_eq!(
            run(b"ffffffffffffffffff\r\n", usize::MAX, 100),
            Err(Error::Malformed)
        );
        assert_eq!(run(b"zz\r\n", 15, 100), Err(Error::Malformed));
        assert_eq!(run(b"2\r\nabXX", 15, 100), Err(Error::Malformed));
        assert_eq!(run(&[b'1'; 5000], 15, 100), Err(Error::Malformed));
    }
}
