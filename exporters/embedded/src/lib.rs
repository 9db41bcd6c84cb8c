#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(any(feature = "std", test))]
extern crate std;

#[cfg(feature = "std")]
mod client;
mod decoder;
pub mod frame;
mod http;
#[cfg(feature = "nb")]
mod nb;
mod response;
mod serial;

#[cfg(feature = "std")]
pub use client::{Client, ScrapeError};
pub use decoder::{Decoder, DecoderStats, FrameError};
pub use frame::{ErrorCode, Frame, FrameType};
pub use http::HttpServer;
#[cfg(feature = "nb")]
pub use nb::{NbError, NbSerial};
pub use response::{Response, ResponseError, Step};
pub use serial::SerialServer;

/// The byte-stream traits the servers are generic over, re-exported.
pub use embedded_io;
/// The exposition formats, re-exported from `metrics-core`.
pub use metrics_core::Format;
