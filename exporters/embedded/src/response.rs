//! Host side: checks the frames of one scrape response (ids, sequence, END totals).

use crate::frame::{BodyCheck, ErrorCode, Frame, FrameType, END_PAYLOAD_LEN, VERSION};

/// What a frame meant for the response being assembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// A frame of another request (a late answer to an earlier one) or a request frame: skip it.
    Ignored,
    /// The next bytes of the exposition, in order.
    Data(&'a [u8]),
    /// The exposition is complete and its length and CRC-32 matched.
    End,
}

/// Why a response cannot be trusted. Each ends the response: send a new request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// A frame is missing: the sequence number jumped.
    Gap {
        /// The number expected.
        expected: u16,
        /// The number received.
        got: u16,
    },
    /// The END frame's totals differ from the DATA received.
    Mismatch {
        /// (length, CRC-32) the device announced.
        announced: (u32, u32),
        /// (length, CRC-32) received.
        received: (u32, u32),
    },
    /// An END frame whose payload is not 8 bytes, or a frame of a type no response has.
    Malformed,
    /// A frame of another protocol version.
    Version(u8),
    /// The device answered with an ERROR frame.
    Device(ErrorCode),
    /// A frame arrived after the END frame.
    AfterEnd,
}

impl core::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ResponseError::Gap { expected, got } => {
                write!(f, "lost frame: expected seq {expected}, got {got}")
            }
            ResponseError::Mismatch {
                announced,
                received,
            } => write!(
                f,
                "END announced {} bytes (crc32 {:08x}) but {} bytes (crc32 {:08x}) arrived",
                announced.0, announced.1, received.0, received.1
            ),
            ResponseError::Malformed => f.write_str("malformed response frame"),
            ResponseError::Version(v) => {
                write!(f, "device speaks protocol version {v}, not {VERSION}")
            }
            ResponseError::Device(code) => write!(f, "device error {:#04x}", code.to_byte()),
            ResponseError::AfterEnd => f.write_str("frame after the END frame"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ResponseError {}

/// Assembles the response to one SCRAPE request with id `id`: feed it every decoded frame.
///
/// DATA payloads come back in order as [`Step::Data`]; the response is complete at
/// [`Step::End`], after its totals were checked. A missing DATA frame (sequence gap), a lost
/// END (the next request's timeout) or a corrupted body (length or CRC-32 mismatch) are errors.
#[derive(Clone, Debug)]
pub struct Response {
    id: u8,
    next_seq: u16,
    check: BodyCheck,
    done: bool,
}

impl Response {
    /// Waits for the answer to request `id`.
    #[must_use]
    pub const fn new(id: u8) -> Self {
        Response {
            id,
            next_seq: 0,
            check: BodyCheck::new(),
            done: false,
        }
    }

    /// True once the END frame was accepted.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// True once a frame of this response arrived.
    #[must_use]
    pub fn started(&self) -> bool {
        self.next_seq > 0 || self.done
    }

    /// Takes the next decoded frame.
    pub fn on_frame<'a>(&mut self, frame: &Frame<'a>) -> Result<Step<'a>, ResponseError> {
        if frame.kind.is_request() || frame.id != self.id {
            return Ok(Step::Ignored);
        }
        if frame.version != VERSION {
            return Err(ResponseError::Version(frame.version));
        }
        if self.done {
            return Err(ResponseError::AfterEnd);
        }
        if frame.kind == FrameType::Error {
            let code = frame.payload.first().copied().unwrap_or(0);
            return Err(ResponseError::Device(ErrorCode::from_byte(code)));
        }
        if frame.seq != self.next_seq {
            return Err(ResponseError::Gap {
                expected: self.next_seq,
                got: frame.seq,
            });
        }
        match frame.kind {
            FrameType::Data => {
                self.next_seq = self.next_seq.wrapping_add(1);
                self.check.update(frame.payload);
                Ok(Step::Data(frame.payload))
            }
            FrameType::End => {
                let p: &[u8; END_PAYLOAD_LEN] = frame
                    .payload
                    .try_into()
                    .map_err(|_| ResponseError::Malformed)?;
                let announced = (
                    u32::from_le_bytes([p[0], p[1], p[2], p[3]]),
                    u32::from_le_bytes([p[4], p[5], p[6], p[7]]),
                );
                let received = self.check.clone().finish();
                if announced != received {
                    return Err(ResponseError::Mismatch {
                        announced,
                        received,
                    });
                }
                self.done = true;
                Ok(Step::End)
            }
            _ => Err(ResponseError::Malformed),
        }
    }
}
