#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

mod atomic;
mod buckets;
mod collect;
mod collector;
mod counter;
mod desc;
pub mod encoding;
mod error;
mod escaping;
mod exemplar;
mod exposed;
mod gauge;
mod histogram;
mod name;
mod native;
pub mod negotiate;
pub mod parse;
pub mod remote_write;
pub mod snappy;
mod static_registry;
mod with_exemplars;

#[cfg(feature = "alloc")]
mod append;
#[cfg(feature = "alloc")]
mod family;
#[cfg(feature = "heapless")]
mod heapless_family;
#[cfg(feature = "alloc")]
mod index;
#[cfg(feature = "alloc")]
mod registry;
#[cfg(all(feature = "std", not(loom)))]
mod sharded;
#[cfg(all(feature = "std", not(loom)))]
mod sharded_histogram;
#[cfg(feature = "std")]
mod sharded_native;

pub use buckets::{exponential_buckets, linear_buckets, validate_buckets, DEFAULT_BUCKETS};
pub use collect::{
    Collect, Families, FamilyRef, HistogramValue, Kind, Metric, NativeHistogramValue, Sign,
    StrList, Value, Visitor, WithCreated, OVERFLOW_LABEL_VALUE,
};
pub use collector::{FnCounter, FnGauge};
pub use counter::{Counter, FloatCounter};
pub use desc::Desc;
pub use encoding::{encode, encode_bytes, encode_bytes_with, encode_with, ChunkedEncoder};
pub use error::{Error, Truncated};
pub use escaping::Escaping;
pub use exemplar::{Exemplar, ExemplarRef, EXEMPLAR_BYTES, EXEMPLAR_MAX_CHARS};
pub use gauge::Gauge;
pub use histogram::Histogram;
pub use name::{validate_label_name, validate_label_names, validate_metric_name};
pub use native::{
    native_bucket_index, NativeCounts, NativeHistogram, DEFAULT_NATIVE_ZERO_THRESHOLD,
};
pub use negotiate::{negotiate, Format};
pub use static_registry::{StaticEntry, StaticFamily, StaticRegistry, StaticSeries};
pub use with_exemplars::{CounterWithExemplar, HistogramWithExemplars};
#[cfg(feature = "alloc")]
pub use with_exemplars::{DynHistogramWithExemplars, RunTimeHistogram, WithExemplars};

#[cfg(feature = "alloc")]
pub use encoding::encode_to_vec;
#[cfg(feature = "alloc")]
pub use family::{Family, FamilyMember, DEFAULT_CARDINALITY_LIMIT};
#[cfg(feature = "heapless")]
pub use heapless_family::HeaplessFamily;
#[cfg(feature = "alloc")]
pub use histogram::DynHistogram;
#[cfg(feature = "alloc")]
pub use native::{DynNativeHistogram, NativeConfig};
#[cfg(feature = "alloc")]
pub use registry::Registry;
#[cfg(all(feature = "std", not(loom)))]
pub use sharded::ShardedCounter;
#[cfg(all(feature = "std", not(loom)))]
pub use sharded_histogram::ShardedHistogram;
#[cfg(feature = "std")]
pub use sharded_native::ShardedNativeHistogram;
#[cfg(all(feature = "std", loom))]
#[doc(hidden)]
pub use sharded_native::{claim_thread_slot, release_thread_slot};
