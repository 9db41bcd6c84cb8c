//! A resumable encoder that fills small buffers.
//!
//! It keeps a cursor (family, line, byte offset within the line) and renders each line again
//! from where the previous buffer ended, skipping the bytes already sent. So that a line's
//! bytes never mix two readings, a series' values are captured once, when its first byte is
//! produced, and every line of the series (all buckets, `_sum` and `_count` of a histogram)
//! is rendered from that capture: the consistency guarantees of the streaming encoder hold
//! whatever the buffer size. The capture holds up to `B` finite buckets (default 32); a
//! histogram with more is [`Error::TooManyBuckets`]. Likewise a line's exemplar is copied
//! once, when the line's first byte is produced, into a buffer of `X` bytes (default
//! [`EXEMPLAR_BYTES`], which holds any): an exemplar larger than `X` is left out (`X = 0`
//! leaves all out, for a device that sets none and wants the RAM).
//!
//! The protobuf exposition goes the same way, a *unit* at a time instead of a line: a family's
//! length and head, each series' `Metric` (its value captured when its first byte is
//! produced), the family's tail; or, for a family written one message per series (see
//! `encoding/protobuf.rs`), each series' whole message. A native histogram's buckets are
//! captured too, two slots of the `B` each (bucket index and count), after its classic ones.
//! (Only with the `chunked-protobuf` feature; without it `fill` answers
//! [`Error::BinaryFormat`] for the protobuf format.)

use core::fmt::{self, Write};

use super::line::{self, Meta, Num, Slot};
#[cfg(feature = "chunked-protobuf")]
use super::protobuf::{self as pb, Out};
use super::Options;
use crate::collect::{Families, FamilyRef, StrList, Value};
#[cfg(feature = "chunked-protobuf")]
use crate::collect::{HistogramValue, NativeHistogramValue, Sign};
use crate::escaping::Names;
use crate::exemplar::{ExemplarRef, EXEMPLAR_BYTES};
use crate::exposed::base;
use crate::{Error, Format};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Stage {
    Meta(Meta),
    Series { index: usize },
    Eof,
    Done,
}

#[cfg(feature = "chunked-protobuf")]
/// Where the protobuf exposition of the current family is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Unit {
    /// Measure the family (a new one starts here).
    Start,
    /// Its length and head (name, help, type).
    Head,
    /// Series `j` (a `metric` field, or a whole message).
    Series(usize),
    /// Its tail (unit).
    Tail,
}

#[cfg(feature = "chunked-protobuf")]
/// The protobuf exposition's place in the current family.
#[derive(Clone, Copy, Debug)]
struct PbFamily {
    unit: Unit,
    /// Series of the family, fixed when it starts.
    n: usize,
    /// One message for the whole family (else one per series).
    one: bool,
    /// Bytes of its `metric` fields, measured when it starts.
    total: usize,
    /// Of those, written so far.
    written: usize,
}

#[cfg(feature = "chunked-protobuf")]
/// A captured native histogram (its buckets are in the encoder's slots).
#[derive(Clone, Copy, Debug)]
struct NativeCap {
    schema: i8,
    zero_threshold: f64,
    zero_count: u64,
    negative: usize,
    positive: usize,
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
pub struct ChunkedEncoder<
    'r,
    F: Families + ?Sized,
    const B: usize = 32,
    const X: usize = EXEMPLAR_BYTES,
> {
    registry: &'r F,
    format: Format,
    options: Options,
    family: usize,
    stage: Stage,
    /// Line of the current series.
    line: usize,
    /// Bytes of the current line already delivered.
    offset: usize,
    captured: Option<Captured>,
    /// The current series' `_created` time, captured with its values.
    created: Option<f64>,
    /// The protobuf exposition's place in the current family.
    #[cfg(feature = "chunked-protobuf")]
    pb: PbFamily,
    /// The current series' native buckets, captured with its values (protobuf).
    #[cfg(feature = "chunked-protobuf")]
    native: Option<NativeCap>,
    cumulative: [u64; B],
    /// The current line's exemplar: its labels' length in `exemplar_buf`, value, timestamp.
    exemplar: Option<(usize, f64, Option<f64>)>,
    exemplar_buf: [u8; X],
}

impl<'r, F: Families + ?Sized, const B: usize, const X: usize> ChunkedEncoder<'r, F, B, X> {
    /// An encoder at the start of `registry`'s exposition.
    pub fn new(registry: &'r F, format: Format) -> Self {
        Self::with_options(registry, format, Options::new())
    }

    /// An encoder with [`Options`] (e.g. without `_created` samples).
    pub fn with_options(registry: &'r F, format: Format, options: Options) -> Self {
        ChunkedEncoder {
            registry,
            format,
            options,
            exemplar: None,
            exemplar_buf: [0; X],
            family: 0,
            stage: Stage::Meta(Meta::Help),
            line: 0,
            offset: 0,
            captured: None,
            created: None,
            #[cfg(feature = "chunked-protobuf")]
            pb: PB_START,
            #[cfg(feature = "chunked-protobuf")]
            native: None,
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
        self.exemplar = None;
        #[cfg(feature = "chunked-protobuf")]
        {
            self.pb = PB_START;
        }
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
            #[cfg(feature = "chunked-protobuf")]
            return self.fill_protobuf(&mut win);
            #[cfg(not(feature = "chunked-protobuf"))]
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
                    let style = Names::of(&f, self.options.escaping_scheme());
                    if !emit(&mut win, &mut self.offset, |w| {
                        line::write_meta(w, &f, format, meta, style).map(drop)
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
                    let om = format == Format::OpenMetrics;
                    if self.captured.is_none() {
                        self.created = if om && self.options.shows_created() {
                            f.metric.created(index)
                        } else {
                            None
                        };
                    }
                    let mut state = SeriesState {
                        style: Names::of(&f, self.options.escaping_scheme()),
                        exemplars: (X > 0 && om && f.metric.has_exemplars()).then_some(index),
                        exemplar: &mut self.exemplar,
                        exemplar_buf: &mut self.exemplar_buf,
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

#[cfg(feature = "chunked-protobuf")]
const PB_START: PbFamily = PbFamily {
    unit: Unit::Start,
    n: 0,
    one: false,
    total: 0,
    written: 0,
};

#[cfg(feature = "chunked-protobuf")]
impl<F: Families + ?Sized, const B: usize, const X: usize> ChunkedEncoder<'_, F, B, X> {
    /// [`fill`](Self::fill) for the protobuf exposition.
    fn fill_protobuf(&mut self, win: &mut Window<'_>) -> Result<usize, Error> {
        loop {
            if self.stage == Stage::Done {
                return Ok(win.pos);
            }
            let Some(f) = self.registry.family(self.family) else {
                self.stage = Stage::Done;
                return Ok(win.pos);
            };
            let PbFamily {
                unit,
                n,
                one,
                total,
                written,
            } = self.pb;
            let style = Names::of(&f, self.options.escaping_scheme());
            let next = match unit {
                Unit::Start => {
                    let n = f.metric.series_count();
                    let shows_created = self.options.shows_created();
                    let created = |j| {
                        if shows_created {
                            f.metric.created(j)
                        } else {
                            None
                        }
                    };
                    let one = n > 0 && pb::one_message(&f, n, created);
                    let total = if one { pb::measure(&f, n, style)? } else { 0 };
                    self.pb = PbFamily {
                        unit: if one { Unit::Head } else { Unit::Series(0) },
                        n,
                        one,
                        total,
                        written: 0,
                    };
                    continue;
                }
                Unit::Head | Unit::Tail => {
                    let family = pb::Family {
                        f: &f,
                        metrics: total,
                        style,
                    };
                    let head = unit == Unit::Head;
                    if !emit_pb(win, &mut self.offset, |w| {
                        if head {
                            family.start(w)
                        } else {
                            family.tail(w)
                        }
                    })? {
                        return Ok(win.pos);
                    }
                    if head {
                        Unit::Series(0)
                    } else {
                        self.family += 1;
                        Unit::Start
                    }
                }
                Unit::Series(j) if j >= n => {
                    if one {
                        if written != total {
                            return Err(Error::ChangedWhileEncoding);
                        }
                        Unit::Tail
                    } else {
                        self.family += 1;
                        Unit::Start
                    }
                }
                Unit::Series(j) => {
                    if self.captured.is_none() {
                        self.created = if one || !self.options.shows_created() {
                            None
                        } else {
                            f.metric.created(j)
                        };
                    }
                    let mut done = false;
                    let mut now = written;
                    let mut state = PbSeries {
                        captured: &mut self.captured,
                        native: &mut self.native,
                        cumulative: &mut self.cumulative,
                    };
                    let offset = &mut self.offset;
                    let seen = pb::with_series(&f, j, self.created, style, &[], |s| {
                        let value = state.capture(s.value)?;
                        let snap = state.snapshot(s.value);
                        let s = pb::Series {
                            value: match value {
                                Some(v) => v,
                                None => Value::Histogram(&snap),
                            },
                            ..*s
                        };
                        done = emit_pb(win, offset, |w| {
                            if one {
                                now = pb::write_member(w, &s, written, total)?;
                                Ok(())
                            } else {
                                pb::write_alone(w, &f, &s)
                            }
                        })?;
                        Ok(())
                    });
                    // A series gone from a family measured as one message is an error; from
                    // a family of one message per series, it is skipped.
                    let seen = if one {
                        pb::changed(seen).map(|()| true)?
                    } else {
                        seen?
                    };
                    if seen && !done {
                        return Ok(win.pos);
                    }
                    self.captured = None;
                    self.native = None;
                    self.pb.written = now;
                    Unit::Series(j + 1)
                }
            };
            self.pb.unit = next;
        }
    }
}

#[cfg(feature = "chunked-protobuf")]
/// The current series' capture, for the protobuf exposition.
struct PbSeries<'s, const B: usize> {
    captured: &'s mut Option<Captured>,
    native: &'s mut Option<NativeCap>,
    cumulative: &'s mut [u64; B],
}

#[cfg(feature = "chunked-protobuf")]
impl<const B: usize> PbSeries<'_, B> {
    /// Captures `value` the first time; returns a scalar's captured value (a histogram's is
    /// read back with [`snapshot`](Self::snapshot)).
    fn capture(&mut self, value: Value<'_>) -> Result<Option<Value<'static>>, Error> {
        if self.captured.is_none() {
            let c = capture_into(self.cumulative, value)?;
            if let Value::Histogram(h) = value {
                *self.native = match h.native() {
                    Some(n) => Some(capture_native(self.cumulative, h.bounds().len(), n)?),
                    None => None,
                };
            }
            *self.captured = Some(c);
        }
        Ok(match *self.captured {
            Some(Captured::Counter(Num::U64(v))) => Some(Value::Counter(v)),
            Some(Captured::Counter(Num::F64(v))) => Some(Value::CounterF64(v)),
            Some(Captured::Gauge(v)) => Some(Value::Gauge(v)),
            _ => None,
        })
    }

    /// The captured histogram, with the live one's bounds (they never change).
    fn snapshot<'a>(&'a self, value: Value<'a>) -> Snap<'a> {
        let bounds: &[f64] = match value {
            Value::Histogram(h) => h.bounds(),
            _ => &[],
        };
        let (count, sum) = match *self.captured {
            Some(Captured::Histogram { count, sum, .. }) => (count, sum),
            _ => (0, 0.0),
        };
        Snap {
            bounds,
            slots: &self.cumulative[..],
            count,
            sum,
            native: *self.native,
        }
    }
}

#[cfg(feature = "chunked-protobuf")]
/// Captures a native histogram's buckets into `slots` after the `classic` ones: two slots
/// per bucket (index, count), negative side first.
fn capture_native(
    slots: &mut [u64],
    classic: usize,
    n: &dyn NativeHistogramValue,
) -> Result<NativeCap, Error> {
    let (negative, positive) = (n.bucket_len(Sign::Negative), n.bucket_len(Sign::Positive));
    if classic + 2 * (negative + positive) > slots.len() {
        return Err(Error::TooManyBuckets {
            capacity: slots.len(),
        });
    }
    let mut at = classic;
    for (side, len) in [(Sign::Negative, negative), (Sign::Positive, positive)] {
        for i in 0..len {
            let (index, count) = n.bucket(side, i);
            slots[at] = index as u32 as u64;
            slots[at + 1] = count;
            at += 2;
        }
    }
    Ok(NativeCap {
        schema: n.schema(),
        zero_threshold: n.zero_threshold(),
        zero_count: n.zero_count(),
        negative,
        positive,
    })
}

#[cfg(feature = "chunked-protobuf")]
/// A captured histogram as the protobuf writer reads it.
struct Snap<'a> {
    bounds: &'a [f64],
    /// Cumulative classic counts, then native (index, count) pairs.
    slots: &'a [u64],
    count: u64,
    sum: f64,
    native: Option<NativeCap>,
}

#[cfg(feature = "chunked-protobuf")]
impl HistogramValue for Snap<'_> {
    fn bounds(&self) -> &[f64] {
        self.bounds
    }
    fn bucket(&self, i: usize) -> u64 {
        let below = match i {
            0 => 0,
            _ => self.slots[i - 1],
        };
        let upto = if i < self.bounds.len() {
            self.slots[i]
        } else {
            self.count
        };
        upto - below
    }
    fn sum(&self) -> f64 {
        self.sum
    }
    fn count(&self) -> u64 {
        self.count
    }
    fn native(&self) -> Option<&dyn NativeHistogramValue> {
        self.native
            .is_some()
            .then_some(self as &dyn NativeHistogramValue)
    }
}

#[cfg(feature = "chunked-protobuf")]
impl NativeHistogramValue for Snap<'_> {
    fn schema(&self) -> i8 {
        self.native.map_or(0, |n| n.schema)
    }
    fn zero_threshold(&self) -> f64 {
        self.native.map_or(0.0, |n| n.zero_threshold)
    }
    fn zero_count(&self) -> u64 {
        self.native.map_or(0, |n| n.zero_count)
    }
    fn bucket_len(&self, side: Sign) -> usize {
        match (self.native, side) {
            (Some(n), Sign::Negative) => n.negative,
            (Some(n), Sign::Positive) => n.positive,
            (None, _) => 0,
        }
    }
    fn bucket(&self, side: Sign, i: usize) -> (i32, u64) {
        let skip = match (self.native, side) {
            (Some(n), Sign::Positive) => n.negative,
            _ => 0,
        };
        let at = self.bounds.len() + 2 * (skip + i);
        (self.slots[at] as u32 as i32, self.slots[at + 1])
    }
}

/// Renders one unit (a line, or a piece of the protobuf exposition) into `win`, skipping the
/// `offset` bytes already delivered. `Ok(true)` when the unit is complete (offset reset),
/// `Ok(false)` when the buffer filled first (offset advanced).
fn emit_pb(
    win: &mut Window<'_>,
    offset: &mut usize,
    render: impl FnOnce(&mut Window<'_>) -> Result<(), Error>,
) -> Result<bool, Error> {
    win.skip = *offset;
    win.line = 0;
    match render(win) {
        Ok(()) => {
            *offset = 0;
            Ok(true)
        }
        Err(Error::Write) if win.full => {
            *offset = win.line;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

#[cfg(feature = "chunked-protobuf")]
impl Out for Window<'_> {
    #[inline]
    fn byte(&mut self, b: u8) -> Result<(), Error> {
        self.put(&[b])
    }
    #[inline]
    fn bytes(&mut self, b: &[u8]) -> Result<(), Error> {
        self.put(b)
    }
    fn varint(&mut self, mut v: u64) -> Result<(), Error> {
        let mut buf = [0u8; 10];
        let mut n = 0;
        while v >= 0x80 {
            buf[n] = v as u8 | 0x80;
            v >>= 7;
            n += 1;
        }
        buf[n] = v as u8;
        self.put(&buf[..=n])
    }
}

struct SeriesState<'s, const B: usize, const X: usize> {
    /// How the family's names are written.
    style: Names,
    /// The series' index when its exemplars are written.
    exemplars: Option<usize>,
    exemplar: &'s mut Option<(usize, f64, Option<f64>)>,
    exemplar_buf: &'s mut [u8; X],
    /// The series' `_created` time (OpenMetrics only).
    created: Option<f64>,
    line: &'s mut usize,
    offset: &'s mut usize,
    captured: &'s mut Option<Captured>,
    cumulative: &'s mut [u64; B],
}

impl<const B: usize, const X: usize> SeriesState<'_, B, X> {
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
        let style = self.style;
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
            if X > 0 && *self.offset == 0 {
                // The line starts in this buffer: capture its exemplar now.
                let bucket = line::exemplar_bucket(slot, f.kind, buckets);
                *self.exemplar = match (self.exemplars, bucket) {
                    (Some(index), Some(bucket)) => f
                        .metric
                        .exemplar(index, bucket, &mut self.exemplar_buf[..])
                        .map(|x| (x.raw().len(), x.value(), x.timestamp())),
                    _ => None,
                };
            }
            // `X == 0` holds no exemplar: the exemplar writer is left out of this encoder's
            // code (a firmware's flash), not just never called.
            let exemplar = match *self.exemplar {
                Some((len, v, t)) if X > 0 => {
                    Some(ExemplarRef::from_parts(&self.exemplar_buf[..len], v, t))
                }
                _ => None,
            };
            if !emit(win, self.offset, |w| {
                line::write_sample(
                    w,
                    base,
                    suffix,
                    names,
                    values,
                    le,
                    style,
                    num,
                    exemplar.as_ref(),
                )
            })? {
                return Ok(false);
            }
            *self.line += 1;
        }
        Ok(true)
    }

    fn capture(&mut self, value: Value<'_>) -> Result<Captured, Error> {
        capture_into(self.cumulative, value)
    }
}

/// Captures `value`; a histogram's cumulative counts of its finite buckets go into `slots`.
fn capture_into(slots: &mut [u64], value: Value<'_>) -> Result<Captured, Error> {
    Ok(match value {
        Value::Counter(v) => Captured::Counter(Num::U64(v)),
        Value::CounterF64(v) => Captured::Counter(Num::F64(v)),
        Value::Gauge(v) => Captured::Gauge(v),
        Value::Histogram(h) => {
            let buckets = h.bounds().len();
            if buckets > slots.len() {
                return Err(Error::TooManyBuckets {
                    capacity: slots.len(),
                });
            }
            let mut acc = 0u64;
            for (i, slot) in slots.iter_mut().enumerate().take(buckets) {
                acc += h.bucket(i);
                *slot = acc;
            }
            Captured::Histogram {
                buckets,
                count: acc + h.bucket(buckets),
                sum: h.sum(),
            }
        }
    })
}

/// [`emit_pb`] for a text line.
fn emit(
    win: &mut Window<'_>,
    offset: &mut usize,
    render: impl FnOnce(&mut Window<'_>) -> fmt::Result,
) -> Result<bool, Error> {
    emit_pb(win, offset, |w| render(w).map_err(|_| Error::Write))
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
        self.put(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

impl Window<'_> {
    /// Copies `b` after skipping what is left to skip; [`Error::Write`] once the buffer is full.
    #[inline]
    fn put(&mut self, mut b: &[u8]) -> Result<(), Error> {
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
            return Err(Error::Write);
        }
        Ok(())
    }
}
