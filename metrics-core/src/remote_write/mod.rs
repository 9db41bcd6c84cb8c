//! Prometheus Remote-Write requests from a registry: 1.0's `prometheus.WriteRequest` and
//! 2.0's `io.prometheus.write.v2.Request`, written by hand (no protobuf library), without
//! allocation, into any [`Bytes`] sink; [`snappy`](crate::snappy) compresses them for the
//! wire. So a process that cannot be scraped (a one-shot run, an edge worker, a device behind
//! NAT) can write what it holds to Prometheus' receiver, Mimir, Thanos Receive or
//! VictoriaMetrics.
//!
//! Every sample line the text format would show becomes a series: a counter's `x_total`, a
//! gauge, a histogram's `x_bucket{le}` per bound (classic buckets, `le` in canonical form as in
//! a scrape), `x_sum` and `x_count`, all at one timestamp, labels sorted by name, labels with
//! an empty value left out, and *external labels* added to every series that does not carry
//! the label itself. 1.0 also carries each family's metadata (type, help, unit); 2.0 carries it
//! per series, with the series' start as `created_timestamp` where the registry knows it
//! ([`Collect::created`](crate::Collect::created)).
//!
//! ```
//! # #[cfg(feature = "alloc")] {
//! use metrics_core::remote_write::{self, Version, WriteOptions};
//! use metrics_core::{snappy, Registry};
//!
//! let mut registry = Registry::new();
//! registry.counter("jobs", "Jobs done.").unwrap().inc_by(3);
//! let mut request = Vec::new();
//! let opts = WriteOptions { timestamp_ms: 1_700_000_000_000, external_labels: &[("site", "a")] };
//! let series = remote_write::encode(&registry, Version::V2, &opts, &mut request).unwrap();
//! assert_eq!(series, 1);
//! let mut body = vec![0; snappy::max_compressed_len(request.len())];
//! let n = snappy::compress(&request, &mut body).unwrap();
//! body.truncate(n);
//! // POST `body` with the headers of `Version::V2.headers()`.
//! # }
//! ```

pub(crate) mod pb;
mod series;
mod v1;
mod v2;

pub use series::MAX_LABELS;

use crate::collect::{Families, Kind};
use crate::Error;

/// Where a write request goes: an in-memory buffer or a fixed one.
pub trait Bytes {
    /// Appends `bytes`, or fails (a full buffer) with [`Error::Write`].
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error>;
}

#[cfg(feature = "alloc")]
impl Bytes for alloc::vec::Vec<u8> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// A fixed buffer as a [`Bytes`] sink (firmware).
#[derive(Debug)]
pub struct FixedBytes<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> FixedBytes<'a> {
    /// An empty sink over `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        FixedBytes { buf, len: 0 }
    }

    /// What was written.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Bytes for FixedBytes<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let end = self.len + bytes.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(Error::Write)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

/// The protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// Remote-Write 1.0 (`prometheus.WriteRequest`): every receiver takes it.
    V1,
    /// Remote-Write 2.0 (`io.prometheus.write.v2.Request`): a symbol table, metadata and
    /// created timestamps per series.
    V2,
}

impl Version {
    /// The request headers besides the body's length: (name, value) pairs.
    pub const fn headers(self) -> [(&'static str, &'static str); 3] {
        match self {
            Version::V1 => [
                ("Content-Type", "application/x-protobuf"),
                ("Content-Encoding", "snappy"),
                ("X-Prometheus-Remote-Write-Version", "0.1.0"),
            ],
            Version::V2 => [
                (
                    "Content-Type",
                    "application/x-protobuf;proto=io.prometheus.write.v2.Request",
                ),
                ("Content-Encoding", "snappy"),
                ("X-Prometheus-Remote-Write-Version", "2.0.0"),
            ],
        }
    }
}

/// What a request carries besides the registry's series.
#[derive(Clone, Copy, Debug)]
pub struct WriteOptions<'a> {
    /// The timestamp of every sample, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Labels added to every series that does not carry them (a site, a gateway's name).
    pub external_labels: &'a [(&'a str, &'a str)],
}

/// The `MetricType` number of both versions' metadata.
const fn metric_type(kind: Kind) -> u64 {
    match kind {
        Kind::Counter => 1,
        Kind::Gauge => 2,
        Kind::Histogram => 3,
    }
}

/// Writes a write request of `version` with every series of `registry` (uncompressed: compress
/// it with [`snappy`](crate::snappy) before sending). Returns the number of series (one sample
/// each).
///
/// # Errors
///
/// [`Error::Write`] when `out` refuses bytes (the request is then incomplete);
/// [`Error::TooManyLabels`] for a series with more than [`MAX_LABELS`] labels; the encoders'
/// errors for a collector whose values do not fit its family.
pub fn encode<F, B>(
    registry: &F,
    version: Version,
    opts: &WriteOptions<'_>,
    out: &mut B,
) -> Result<usize, Error>
where
    F: Families + ?Sized,
    B: Bytes + ?Sized,
{
    let w = pb::Writer::new(out);
    match version {
        Version::V1 => {
            let mut e = v1::V1 {
                w,
                timestamp_ms: opts.timestamp_ms,
                metadata: true,
            };
            let n = series::walk(registry, opts.external_labels, &mut e)?;
            e.w.flush()?;
            Ok(n)
        }
        Version::V2 => {
            let mut e = v2::V2::new(w, opts.timestamp_ms, opts.external_labels)?;
            let n = series::walk(registry, opts.external_labels, &mut e)?;
            e.w.flush()?;
            Ok(n)
        }
    }
}
