//! Encoders for the Prometheus text format 0.0.4, OpenMetrics 1.0 and the protobuf exposition.
//!
//! - [`encode`] streams a whole registry into any [`core::fmt::Write`] (a `String`, a
//!   [`SliceWriter`] over a fixed buffer, a [`VecWriter`], an `IoWriter` with `std`), without
//!   allocating.
//! - [`encode_bytes`] streams any format, the binary protobuf exposition included
//!   (length-delimited `io.prometheus.client.MetricFamily` messages), into a [`Bytes`] sink.
//! - [`ChunkedEncoder`] fills a caller's small buffer (64 bytes is plenty) chunk by chunk, for
//!   firmware that sends as it goes.
//!
//! Both write the same bytes: families in registry order, series in creation order, and for
//! every family `# HELP` (when there is help text), `# TYPE`, `# UNIT` (OpenMetrics, when there
//! is a unit), then its samples; OpenMetrics ends with `# EOF`. Numbers: integers as digits,
//! floats with the shortest digits that round-trip (as Go's `strconv` writes them), `+Inf`,
//! `-Inf`, `NaN`; `le` in the canonical form Prometheus 3 normalises to (`0.005`, `1.0`, `+Inf`).

mod chunked;
mod escape;
pub(crate) mod float;
pub(crate) mod line;
mod protobuf;
pub(crate) mod sink;

pub(crate) use escape::label_value as escape_label_value;

pub use chunked::ChunkedEncoder;
pub use float::write_u64;
#[cfg(feature = "std")]
pub use sink::IoWriter;
#[cfg(feature = "alloc")]
pub use sink::VecWriter;
pub use sink::{Sink, SliceWriter};

pub use crate::remote_write::{Bytes, FixedBytes};

use core::fmt::Write;

use crate::collect::Families;
use crate::escaping::Names;
use crate::{Error, Format};
use line::Meta;
use sink::SinkOf;

/// What an exposition leaves out or shows, beyond its [`Format`]. [`Options::new`] (the
/// default) shows everything the format has.
///
/// ```
/// use metrics_core::encoding::Options;
/// // As client_python's PROMETHEUS_DISABLE_CREATED_SERIES: no `_created` samples.
/// let opts = Options::new().created(false);
/// assert!(!opts.shows_created());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Options {
    created: bool,
    escaping: crate::Escaping,
}

impl Default for Options {
    fn default() -> Self {
        Self::new()
    }
}

impl Options {
    /// Everything on: `_created` samples in OpenMetrics.
    #[must_use]
    pub const fn new() -> Self {
        Options {
            created: true,
            escaping: crate::Escaping::Underscores,
        }
    }

    /// Shows (`true`, the default) or leaves out (`false`) the OpenMetrics `_created` samples
    /// of counters and histograms (see [`Collect::created`](crate::Collect::created)). The
    /// text format 0.0.4 never has them.
    #[must_use]
    pub const fn created(mut self, on: bool) -> Self {
        self.created = on;
        self
    }

    /// How names outside the legacy character set are written (default
    /// [`Escaping::Underscores`](crate::Escaping::Underscores); a registry with legacy names
    /// only is written the same under every scheme). Take it from
    /// [`negotiate_accept`](crate::negotiate::negotiate_accept).
    #[must_use]
    pub const fn escaping(mut self, escaping: crate::Escaping) -> Self {
        self.escaping = escaping;
        self
    }

    /// The escaping scheme.
    #[must_use]
    pub const fn escaping_scheme(&self) -> crate::Escaping {
        self.escaping
    }

    /// True when `_created` samples are shown.
    #[must_use]
    pub const fn shows_created(&self) -> bool {
        self.created
    }
}

/// Encodes every family of `registry` in `format` into `w`.
///
/// Allocates nothing; the only cost is the writer's. On a writer error the output is cut
/// short and [`Error::Write`] returned. [`Format::Protobuf`] is binary: it is
/// [`Error::BinaryFormat`] here (use [`encode_bytes`] or [`encode_to_vec`]).
pub fn encode<F, W>(registry: &F, format: Format, w: &mut W) -> Result<(), Error>
where
    F: Families + ?Sized,
    W: Write + ?Sized,
{
    encode_with(registry, format, Options::new(), w)
}

/// [`encode`] with [`Options`] (e.g. without `_created` samples).
pub fn encode_with<F, W>(
    registry: &F,
    format: Format,
    options: Options,
    w: &mut W,
) -> Result<(), Error>
where
    F: Families + ?Sized,
    W: Write + ?Sized,
{
    if format == Format::Protobuf {
        return Err(Error::BinaryFormat);
    }
    let mut sink = SinkOf(w);
    // On wasm32 every writer goes through one `dyn Sink`: a module then holds one copy of the
    // encoder and of the number formatting under it (the one `write_rendered` needs anyway),
    // not one more per writer type, for an indirect call per write.
    #[cfg(target_arch = "wasm32")]
    let sink: &mut dyn Sink = &mut sink;
    #[cfg(not(target_arch = "wasm32"))]
    let sink = &mut sink;
    encode_into(registry, format, options, sink)
}

/// [`encode`] into the sink it picked: `write_rendered` gets it as a `dyn Sink` without a
/// second wrapper (one indirect call per write).
fn encode_into<F, S>(registry: &F, format: Format, options: Options, w: &mut S) -> Result<(), Error>
where
    F: Families + ?Sized,
    S: Sink + Write + ?Sized,
{
    for i in 0..registry.family_count() {
        let Some(f) = registry.family(i) else { break };
        let style = Names::of(&f, options.escaping);
        for meta in [Meta::Help, Meta::Type, Meta::Unit] {
            line::write_meta(w, &f, format, meta, style)?;
        }
        let base = crate::exposed::base(f.desc.name(), f.kind);
        let rendered = f.metric.write_rendered(w.as_dyn())?;
        let om = format == Format::OpenMetrics;
        let exemplars = om && f.metric.has_exemplars();
        for j in rendered..f.metric.series_count() {
            let created = if om && options.created {
                f.metric.created(j)
            } else {
                None
            };
            let exemplars = exemplars.then_some(j);
            f.metric.collect(j, &mut |values, value| {
                line::write_series(
                    w, &f, base, format, values, value, created, exemplars, style,
                )
            })?;
        }
    }
    if format == Format::OpenMetrics {
        Write::write_str(w, "# EOF\n")?;
    }
    Ok(())
}

/// Encodes every family of `registry` in any `format`, the binary [`Format::Protobuf`]
/// included, into a byte sink (a `Vec<u8>`, a [`FixedBytes`] over a fixed buffer).
///
/// Allocates nothing; the only cost is the sink's. On a sink error the output is cut short
/// and [`Error::Write`] returned.
pub fn encode_bytes<F, B>(registry: &F, format: Format, out: &mut B) -> Result<(), Error>
where
    F: Families + ?Sized,
    B: Bytes + ?Sized,
{
    encode_bytes_with(registry, format, Options::new(), out)
}

/// [`encode_bytes`] with [`Options`] (e.g. without `_created` samples or, in protobuf,
/// `created_timestamp` fields).
pub fn encode_bytes_with<F, B>(
    registry: &F,
    format: Format,
    options: Options,
    out: &mut B,
) -> Result<(), Error>
where
    F: Families + ?Sized,
    B: Bytes + ?Sized,
{
    match format {
        Format::Protobuf => protobuf::encode(registry, options, out),
        Format::Text | Format::OpenMetrics => {
            encode_with(registry, format, options, &mut sink::TextBytes(out))
        }
    }
}

/// Encodes into a `Vec<u8>`, appending (any format, the binary [`Format::Protobuf`] included).
#[cfg(feature = "alloc")]
pub fn encode_to_vec<F: Families + ?Sized>(
    registry: &F,
    format: Format,
    out: &mut alloc::vec::Vec<u8>,
) -> Result<(), Error> {
    encode_bytes_with(registry, format, Options::new(), out)
}
