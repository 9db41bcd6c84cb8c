#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod chain;
mod chunked;
mod config;
mod connection;
mod error;
mod gzip;
mod handler;
mod http_server;
mod listener;
mod rate_limit;
mod reactor;
mod request;
mod response;
mod routes;
mod self_metrics;
mod server;
mod tls;
mod web_config;
mod worker;

pub use config::Config;
pub use error::Error;
pub use handler::{Handler, Refusal, Response};
pub use http_server::Server;
pub use request::Request;
pub use server::Exporter;
pub use web_config::{WebConfig, REALM};

/// The exposition formats, re-exported from `metrics-core` for [`Config::force_format`].
pub use metrics_core::Format;
