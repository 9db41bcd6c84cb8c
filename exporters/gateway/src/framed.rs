//! The framed protocol's host side: a [`Session`] on the host client of `exporters/embedded`
//! (the one codec of `PROTOCOL.md`; this module only adapts it).

use std::io;
use std::time::{Duration, Instant};

use metrics_exporter_embedded::{Client, DecoderStats, Format, ScrapeError as CodecError};

use crate::config::Device;
use crate::link::DeadlineLink;
use crate::protocol::{ScrapeError, Scraped, Session};

/// A device session speaking the framed protocol: request ids and the decoder's state carry
/// over from one scrape to the next on the same link.
#[derive(Debug)]
pub struct FramedSession {
    client: Client<DeadlineLink>,
    /// Frames the decoder had rejected before the current scrape.
    rejected: u64,
}

/// Frames the decoder rejected: a bad header, a bad CRC, or a length over its buffer. (Noise
/// bytes are not frames; a frame damaged by noise shows up as one of these.)
fn rejected(s: &DecoderStats) -> u64 {
    u64::from(s.bad_header) + u64::from(s.bad_crc) + u64::from(s.too_long)
}

impl FramedSession {
    /// A session on `link`; a scrape may take at most `timeout` and read at most
    /// `max_body` bytes of exposition.
    pub fn new(link: DeadlineLink, timeout: Duration, max_body: usize) -> Self {
        let client = Client::new(link)
            .with_timeout(timeout)
            .with_max_body(max_body);
        let rejected = rejected(&client.stats());
        FramedSession { client, rejected }
    }

    /// The [`Connect`](crate::Connect) function for [`Poller::start`](crate::Poller::start).
    pub fn connect(device: &Device, link: DeadlineLink) -> Box<dyn Session> {
        Box::new(FramedSession::new(
            link,
            device.timeout,
            device.limits.max_response_bytes,
        ))
    }

    /// Frames rejected since the last call.
    fn new_rejections(&mut self) -> u64 {
        let now = rejected(&self.client.stats());
        // The decoder's counts may restart when it is reset.
        let delta = now.checked_sub(self.rejected).unwrap_or(now);
        self.rejected = now;
        delta
    }
}

impl Session for FramedSession {
    fn scrape(&mut self, deadline: Instant) -> Result<Scraped, ScrapeError> {
        self.client.get_mut().set_deadline(deadline);
        let result = self.client.scrape(Format::Text);
        let frame_errors = self.new_rejections();
        match result {
            Ok(body) => Ok(Scraped { body, frame_errors }),
            Err(CodecError::Timeout) => Err(ScrapeError::Timeout),
            Err(CodecError::Closed) => Err(ScrapeError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the device closed the link",
            ))),
            Err(CodecError::Io(e)) => Err(e.into()),
            Err(CodecError::TooLarge { limit }) => Err(ScrapeError::TooLarge { limit }),
            // A lost or damaged frame, or frames that do not make a response: at least one
            // frame was bad.
            Err(e) => Err(ScrapeError::Frame {
                message: e.to_string(),
                frame_errors: frame_errors.max(1),
            }),
        }
    }
}
