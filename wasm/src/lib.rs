#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

#[macro_use]
mod wrapper;

mod abi;
mod counter;
mod error;
mod exposition;
mod format;
mod gauge;
mod histogram;
mod registry;
mod series;
mod slot;
mod standalone;

#[doc(hidden)]
pub use abi::{RawMetric, RawRegistry};
pub use counter::{Counter, CounterChild};
pub use exposition::Exposition;
pub use format::{content_type, negotiate};
pub use gauge::{Gauge, GaugeChild};
pub use histogram::{Histogram, HistogramChild};
pub use registry::Registry;
