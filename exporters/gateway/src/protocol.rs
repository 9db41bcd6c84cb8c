//! How one scrape is asked of a device over a link: a session speaking the request/response
//! exchange of the framed serial protocol (`exporters/embedded/PROTOCOL.md`).

use std::fmt;
use std::io;

use std::time::Instant;

use crate::config::Device;
use crate::link::DeadlineLink;

/// A device's answer to one scrape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scraped {
    /// The exposition the device sent.
    pub body: Vec<u8>,
    /// Frames rejected (bad check, wrong sequence, noise) on the way to this answer.
    pub frame_errors: u64,
    /// The id the device reported (protocol 1.1's IDENTIFY), when asked for and it has one.
    pub device_id: Option<String>,
}

/// Why a scrape failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ScrapeError {
    /// The link failed or closed; the gateway reconnects at the next attempt.
    Io(io::Error),
    /// No complete answer before the deadline.
    Timeout,
    /// Only corrupt or out-of-sequence frames arrived.
    Frame {
        /// What the codec said.
        message: String,
        /// Frames rejected in this attempt.
        frame_errors: u64,
    },
    /// The exposition passed the session's size limit; reading stopped there, and the rest
    /// of the answer is still on the link (the gateway closes it).
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
}

impl ScrapeError {
    /// Frames rejected during the failed attempt.
    pub fn frame_errors(&self) -> u64 {
        match self {
            ScrapeError::Frame { frame_errors, .. } => *frame_errors,
            _ => 0,
        }
    }
}

impl From<io::Error> for ScrapeError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ScrapeError::Timeout,
            _ => ScrapeError::Io(e),
        }
    }
}

impl fmt::Display for ScrapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScrapeError::Io(e) => write!(f, "link error: {e}"),
            ScrapeError::Timeout => f.write_str("no answer before the scrape timeout"),
            ScrapeError::Frame { message, .. } => write!(f, "frame error: {message}"),
            ScrapeError::TooLarge { limit } => write!(
                f,
                "the exposition is larger than the limit of {limit} bytes; reading stopped there"
            ),
        }
    }
}

impl std::error::Error for ScrapeError {}

/// A connection to one device, able to ask it for its exposition: the host side of the
/// framed protocol's request/response exchange, over a [`DeadlineLink`].
pub trait Session: Send {
    /// Sends one scrape request and reads the answer, by `deadline`. An answer over the
    /// device's `max_response_bytes` is [`ScrapeError::TooLarge`], found before more than
    /// that was buffered.
    fn scrape(&mut self, deadline: Instant) -> Result<Scraped, ScrapeError>;
}

/// Makes a [`Session`] on a freshly opened link to `device`.
pub type Connect = dyn Fn(&Device, DeadlineLink) -> Box<dyn Session> + Send + Sync;
