#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod config;
pub mod exposition;
pub mod family;
pub mod framed;
pub mod limits;
pub mod link;
pub mod merge;
pub mod poller;
pub mod protocol;
pub mod push;
pub mod remote_write;
pub mod render;
pub mod server;
pub mod stale;
pub mod targets;
pub mod usb;

pub use config::{Address, Device};
pub use framed::FramedSession;
pub use poller::{Poller, Status};
pub use protocol::{Connect, ScrapeError, Scraped, Session};
pub use server::Server;
