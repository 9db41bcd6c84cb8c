//! A resumable encoder that fills small buffers.
//!
//! It keeps a cursor (family, line, byte offset within the line) and renders each line again
//! from where the previous buffer ended, skipping the bytes already sent. So that a line's
//! bytes never mix two readings, a series' values are captured once, when its first byte is
//! produced, and every line of the series (all buckets, `_sum` and `_count` of a histogram)
//! is rendered from that capture: the consistency guarantees of the streaming encoder hold
//! whatever the buffer size. The capture holds up to `B` finite buckets (default 32); a
//! histogram with more is [`Error::TooManyBuckets`].

use core::fmt::{self, Write};

use super::line::{self, Meta, Num, Slot};
use crate::collect::{Families, FamilyRef, StrList, Value};
use crate::exposed::base;
use crate::{Error, Format};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Stage {
    Meta(Meta),
    Series { index: usize },
    Eof,
    Done,
}

#[derive(Clone, Copy, Debug)]
enum Captured {
    Counter(Num),
    Gauge(f64),
    Histogram {
        buckets: usize,
        count: u64,
        sum: f64,
    },
}

/// Streams a registry into caller-provided buffers of any size, chunk by chunk.
///
/// ```
/// use metrics_core::{Counter, Desc, Format, StaticEntry, StaticRegistry, ChunkedEncoder};
/// static HITS: Counter = Counter::new();
/// static REGISTRY: StaticRegistry =
///     StaticRegistry::new(&[StaticEntry::metric(Desc::new("hits", "Cache hits."), &HITS)]);
///
/// let mut enc: ChunkedEncoder<'_, _> = ChunkedEncoder::new(&REGISTRY, Format::Text);
/// let mut buf = [0u8; 8];
/// let mut out = Vec::new();
/// loop {
///     let n = enc.fill(&mut buf).unwrap();
///     if n == 0 { break; }
///     out.extend_from_slice(&buf[..n]); // e.g. uart.write_all(&buf[..n])
/// }
/// assert_eq!(out, b"# HELP hits_total Cache hits.\n# TYPE hits_total counter\nhits_total 0\n");
/// ```
#[derive(Debug)]
pub struct ChunkedEncoder<'r, F: Families + ?Sized, const B: usize = 32> {
    registry: &'r F,
    format: Format,
    family: usize,
    stage: Stage,
    /// Line of the current series.
    line: usize,
    /// Bytes of the current line already delivered.
    offset: usize,
    captured: Option<Captured>,
    /// The current series' `_created` time, captured with its values.
    created: Option<f64>,
    cumulative: [u64; B],
}

impl<'r, F: Families + ?Sized, const B: usize> ChunkedEncoder<'r, F, B> {
    /// An encoder at the start of `registry`'s exposition.
    pub fn new(registry: &'r F, format: Format) -> Self {
        ChunkedEncoder {
            registry,
            format,
            family: 0,
            stage: Stage::Meta(Meta::Help),
            line: 0,
            offset: 0,
            captured: None,
            created: None,
            cumulative: [0; B],
        }
    }

    /// True once the whole exposition was delivered.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Starts again from the beginning (the next scrape), reusing the encoder.
    pub fn restart(&mut self) {
        self.family = 0;
        self.stage = Stage::Meta(Meta::Help);
        self.line = 0;
        self.offset = 0;
        self.captured = None;
    }

    /// Fills `buf` with the next bytes; returns how many. `Ok(0)` means the exposition is
    /// complete (or `buf` is empty). On an error the encoder stays where it was.
    pub fn fill(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut win = Window {
            buf,
            pos: 0,
            skip: 0,
            line: 0,
            full: false,
        };
        if win.buf.is_empty() {
            return Ok(0);
        }
        if self.format == Format::Protobuf {
            return Err(Error::BinaryFormat);
        }
        let registry = self.registry;
        let format = self.format;
        loop {
            let family = registry.family(self.family);
            match (self.stage, family) {
                (Stage::Done, _) => return Ok(win.pos),
                (Stage::Eof, _) | (Stage::Meta(_) | Stage::Series { .. }, None) => {
                    self.stage = Stage::Eof;
                    if format == Format::OpenMetrics
                        && !emit(&mut win, &mut self.offset, |w| w.write_str("# EOF\n"))?
                    {
                        return Ok(win.pos);
                    }
                    self.stage = Stage::Done;
                }
                (Stage::Meta(meta), Some(f)) => {
                    if !emit(&mut win, &mut self.offset, |w| {
                        line::write_meta(w, &f, format, meta).map(drop)
                    })? {
                        return Ok(win.pos);
                    }
                    self.stage = match meta {
                        Meta::Help => Stage::Meta(Meta::Type),
                        Meta::Type => Stage::Meta(Meta::Unit),
                        Meta::Unit => Stage::Series { index: 0 },
                    };
                }
                (Stage::Series { index }, Some(f)) => {
                    if index >= f.metric.series_count() {
                        self.family += 1;
                        self.stage = Stage::Meta(Meta::Help);
                        continue;
                    }
                    let mut finished = true;
                    // Captured with the values, when the series' first byte is produced.
                    if self.captured.is_none() {
                        self.created = if format == Format::OpenMetrics {
                            f.metric.created(index)
                        } else {
                            None
                        };
                    }
                    let mut state = SeriesState {
                        created: self.created,
                        line: &mut self.line,
                        offset: &mut self.offset,
                        captured: &mut self.captured,
                        cumulative: &mut self.cumulative,
                    };
                    f.metric.collect(index, &mut |values, value| {
                        finished = state.render(&mut win, &f, format, values, value)?;
                        Ok(())
                    })?;
                    if !finished {
                        return Ok(win.pos);
                    }
                    self.line = 0;
                    self.offset = 0;
                    self.captured = None;
                    self.stage = Stage::Series { index: index + 1 };
                }
            }
        }
    }
}

struct SeriesState<'s, const B: usize> {
    /// The series' `_created` time (OpenMetrics only).
    created: Option<f64>,
    line: &'s mut usize,
    offset: &'s mut usize,
    captured: &'s mut Option<Captured>,
    cumulative: &'s mut [u64; B],
}

impl<const B: usize> SeriesState<'_, B> {
    /// Renders the series' remaining lines into `win`; `Ok(true)` when all are delivered.
    fn render(
        &mut self,
        win: &mut Window<'_>,
        f: &FamilyRef<'_>,
        format: Format,
        values: StrList<'_>,
        value: Value<'_>,
    ) -> Result<bool, Error> {
        line::check(f, values, &value)?;
        let captured = match *self.captured {
            Some(c) => c,
            None => {
                let c = self.capture(value)?;
                *self.captured = Some(c);
                c
            }
        };
        let bounds: &[f64] = match value {
            Value::Histogram(h) => h.bounds(),
            _ => &[],
        };
        let names = f.desc.label_names();
        let base = base(f.desc.name(), f.kind);
        let buckets = match captured {
            Captured::Histogram { buckets, .. } => buckets,
            _ => 0,
        };
        let omit = line::omit_sum(format, bounds);
        let created = self.created;
        while let Some((suffix, slot)) =
            line::plan(f.kind, buckets, omit, created.is_some(), *self.line)
        {
            let num = match (slot, captured) {
                (Slot::Scalar, Captured::Counter(n)) => n,
                (Slot::Scalar, Captured::Gauge(v)) => Num::F64(v),
                (Slot::Bucket(i), _) => Num::U64(self.cumulative[i]),
                (Slot::Sum, Captured::Histogram { sum, .. }) => Num::F64(sum),
                (Slot::Inf | Slot::Count, Captured::Histogram { count, .. }) => Num::U64(count),
                (Slot::Created, _) => Num::F64(created.unwrap_or(0.0)),
                _ => return Err(Error::KindMismatch),
            };
            let le = line::le(slot, bounds);
            if !emit(win, self.offset, |w| {
                line::write_sample(w, base, suffix, names, values, le, num)
            })? {
                return Ok(false);
            }
            *self.line += 1;
        }
        Ok(true)
    }

    fn capture(&mut self, value: Value<'_>) -> Result<Captured, Error> {
        Ok(match value {
            Value::Counter(v) => Captured::Counter(Num::U64(v)),
            Value::CounterF64(v) => Captured::Counter(Num::F64(v)),
            Value::Gauge(v) => Captured::Gauge(v),
            Value::Histogram(h) => {
                let buckets = h.bounds().len();
                if buckets > B {
                    return Err(Error::TooManyBuckets { capacity: B });
                }
                let mut acc = 0u64;
                for i in 0..buckets {
                    acc += h.bucket(i);
                    self.cumulative[i] = acc;
                }
                Captured::Histogram {
                    buckets,
                    count: acc + h.bucket(buckets),
                    sum: h.sum(),
                }
            }
        })
    }
}

/// Renders one line into `win`, skipping the `offset` bytes already delivered. `Ok(true)` when
/// the line is complete (offset reset), `Ok(false)` when the buffer filled first (offset
/// advanced).
fn emit(
    win: &mut Window<'_>,
    offset: &mut usize,
    render: impl FnOnce(&mut Window<'_>) -> fmt::Result,
) -> Result<bool, Error> {
    win.skip = *offset;
    win.line = 0;
    match render(win) {
        Ok(()) => {
            *offset = 0;
            Ok(true)
        }
        Err(_) if win.full => {
            *offset = win.line;
            Ok(false)
        }
        Err(_) => Err(Error::Write),
    }
}

/// The caller's buffer as a `fmt::Write` that drops the first `skip` bytes and stops when full.
struct Window<'b> {
    buf: &'b mut [u8],
    pos: usize,
    skip: usize,
    /// Bytes of the current line seen (skipped or copied).
    line: usize,
    full: bool,
}

impl Write for Window<'_> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut b = s.as_bytes();
        if self.skip > 0 {
            let n = self.skip.min(b.len());
            self.skip -= n;
            self.line += n;
            b = &b[n..];
        }
        let n = (self.buf.len() - self.pos).min(b.len());
        self.buf[self.pos..self.pos + n].copy_from_slice(&b[..n]);
        self.pos += n;
        self.line += n;
        if n < b.len() {
            self.full = true;
            return Err(fmt::Error);
        }
        Ok(())
    }
}
