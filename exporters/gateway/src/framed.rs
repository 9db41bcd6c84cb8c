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
    /// Whether to ask the device for its id (IDENTIFY) before the first scrape on this link,
    /// and the device's name for what is said about it.
    identify: Option<String>,
    /// Its answer, once asked: `Some(None)` when it has no id.
    identity: Option<Option<String>>,
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
        FramedSession {
            client,
            rejected,
            identify: None,
            identity: None,
        }
    }

    /// Asks the device (named `name` in messages) for its id (protocol 1.1's IDENTIFY)
    /// once, before the first scrape on this link, and reports it with every scrape.
    #[must_use]
    pub fn identifying(mut self, name: &str) -> Self {
        self.identify = Some(name.to_owned());
        self
    }

    /// The [`Connect`](crate::Connect) function for [`Poller::start`](crate::Poller::start).
    pub fn connect(device: &Device, link: DeadlineLink) -> Box<dyn Session> {
        let session = FramedSession::new(link, device.timeout, device.limits.max_response_bytes);
        if device.id_label.is_some() {
            Box::new(session.identifying(&device.name))
        } else {
            Box::new(session)
        }
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
        if let (Some(name), None) = (self.identify.clone(), &self.identity) {
            let answer = self.client.identify();
            let frame_errors = self.new_rejections();
            let id = answer.map_err(|e| error(e, frame_errors))?;
            self.identity = Some(id.and_then(|id| match checked_id(id) {
                Ok(id) => Some(id),
                Err(why) => {
                    // Said once per connection; its series are served without the id.
                    eprintln!("metrics-gateway: device `{name}`: {why}; served without it");
                    None
                }
            }));
        }
        let result = self.client.scrape(Format::Text);
        let frame_errors = self.new_rejections();
        let device_id = self.identity.clone().flatten();
        result
            .map(|body| Scraped {
                body,
                frame_errors,
                device_id,
            })
            .map_err(|e| error(e, frame_errors))
    }
}

/// The device id as reported, if it is 1 to 64 bytes of UTF-8 without control characters
/// (it becomes a label value); else what is wrong with it.
fn checked_id(id: Vec<u8>) -> Result<String, String> {
    let bad = |why: &str| {
        format!(
            "the device id it reports {why}: it must be 1 to {} bytes of UTF-8 without \
             control characters (PROTOCOL.md, IDENTITY)",
            metrics_exporter_embedded::frame::MAX_DEVICE_ID
        )
    };
    let id = String::from_utf8(id).map_err(|_| bad("is not UTF-8"))?;
    if id.len() > metrics_exporter_embedded::frame::MAX_DEVICE_ID {
        return Err(bad("is too long"));
    }
    if id.chars().any(char::is_control) {
        return Err(bad("holds control characters"));
    }
    Ok(id)
}

/// A codec error as the poller's [`ScrapeError`].
fn error(e: CodecError, frame_errors: u64) -> ScrapeError {
    match e {
        CodecError::Timeout => ScrapeError::Timeout,
        CodecError::Closed => ScrapeError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the device closed the link",
        )),
        CodecError::Io(e) => e.into(),
        CodecError::TooLarge { limit } => ScrapeError::TooLarge { limit },
        // A lost or damaged frame, or frames that do not make a response: at least one
        // frame was bad.
        e => ScrapeError::Frame {
            message: e.to_string(),
            frame_errors: frame_errors.max(1),
        },
    }
}
