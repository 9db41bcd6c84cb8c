#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod chain;
mod config;
mod error;
mod gzip;
mod listener;
mod response;
mod routes;
mod self_metrics;
mod server;
mod servers;
mod web_config;
mod worker;

pub use config::Config;
pub use error::Error;
pub use server::Exporter;
pub use web_config::{WebConfig, REALM};

/// The exposition formats, re-exported from `metrics-core` for [`Config::force_format`].
pub use metrics_core::Format;
