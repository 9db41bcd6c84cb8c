//! The protobuf exposition: length-delimited `io.prometheus.client.MetricFamily` messages
//! (prometheus/client_model `metrics.proto`, proto2), written by hand without allocation.
//!
//! # Messages
//!
//! Every field is written in field-number order with explicit presence, as client_golang
//! writes them: a family's `name` (a counter's with `_total`, the name Prometheus stores),
//! `help` (also when empty), `type`, its `metric`s, then `unit` when the family has one.
//! A series is a `Metric` with its `label` pairs (raw UTF-8: protobuf needs no escaping) and
//! one of `counter { value, created_timestamp }`, `gauge { value }` or `histogram`. A
//! histogram has `sample_count` and `sample_sum`; classic buckets (`cumulative_count`,
//! `upper_bound` for each finite bound; the `+Inf` bucket is implied by `sample_count`) when
//! it has bounds, and the native fields (`schema`, `zero_threshold`, `zero_count`, spans and
//! deltas) when it has native buckets (see [`NativeHistogramValue`]). Spans are runs of
//! consecutive populated bucket indices (gaps are not joined with zero-count buckets), deltas
//! are written unpacked, as proto2 declares them. A native histogram with no bucket, no zero
//! count and a zero threshold of 0 gets the no-op span `{offset: 0, length: 0}` client_golang
//! writes, so that Prometheus still reads it as native. Families without series are left out.
//!
//! Exemplars ([`Collect::exemplar`](crate::Collect::exemplar)): a counter's in its `exemplar`,
//! a classic bucket's in the bucket's (the `+Inf` bucket, otherwise implied, written explicitly
//! to carry one, as client_golang does), and a native histogram's with a timestamp also in
//! `exemplars`. Each series of a family with exemplars is a message of its own, its exemplars
//! read once (up to [`MAX_EXEMPLARS`] buckets) so that measuring and writing see the same. The
//! chunked encoder writes no exemplars. Names are escaped under the negotiated scheme as the
//! text encoders escape them (as they are with `allow-utf-8`).
//!
//! # Sizes before bytes
//!
//! A message is prefixed by its length, so every size is computed before its bytes are
//! written: each message type has one `write` generic over [`Out`], run once into [`Len`]
//! (which only adds up) and once into the real sink, so the two cannot disagree.
//!
//! A family's length covers all its series, and a series read twice (once to measure, once to
//! write) may have changed in between: a histogram's counts are varints whose length grows with
//! them, and its native buckets come and go. So a family whose series' sizes depend on their
//! values (histograms, and counters with a start time) is written as one `MetricFamily` message
//! per series, each measured and written from one consistent snapshot. Counter and gauge values
//! are fixed-size doubles, so their families are one message: measured in a first pass over the
//! series (their number fixed at its start), written in a second; should a collector give other
//! labels in the second pass, the encoder stops with [`Error::ChangedWhileEncoding`] rather than
//! write a message whose length is wrong.

use super::line;
use crate::collect::{
    Families, FamilyRef, HistogramValue, Kind, NativeHistogramValue, Sign, StrList, Value,
};
use crate::escaping::{is_legacy, write_escaped, Escaping, Names};
use crate::exposed::base;
use crate::remote_write::pb::{key, len_field, varint_len, Writer, I64, LEN, VARINT};
use crate::remote_write::Bytes;
use crate::{Error, ExemplarRef, EXEMPLAR_BYTES};

/// The most exemplars a series carries in the protobuf exposition (buckets 0 to 15 of a
/// histogram: the `+Inf` bucket of one with more bounds carries none here).
pub(crate) const MAX_EXEMPLARS: usize = 16;

/// Where a message goes: a sink, or a counter of its bytes.
pub(crate) trait Out {
    fn byte(&mut self, b: u8) -> Result<(), Error>;
    fn bytes(&mut self, b: &[u8]) -> Result<(), Error>;
    fn varint(&mut self, v: u64) -> Result<(), Error>;
}

/// Counts bytes instead of writing them.
pub(crate) struct Len(pub(crate) usize);

impl Out for Len {
    #[inline]
    fn byte(&mut self, _: u8) -> Result<(), Error> {
        self.0 += 1;
        Ok(())
    }
    #[inline]
    fn bytes(&mut self, b: &[u8]) -> Result<(), Error> {
        self.0 += b.len();
        Ok(())
    }
    #[inline]
    fn varint(&mut self, v: u64) -> Result<(), Error> {
        self.0 += varint_len(v);
        Ok(())
    }
}

impl<B: Bytes + ?Sized> Out for Writer<'_, B> {
    #[inline]
    fn byte(&mut self, b: u8) -> Result<(), Error> {
        Writer::byte(self, b)
    }
    #[inline]
    fn bytes(&mut self, b: &[u8]) -> Result<(), Error> {
        Writer::bytes(self, b)
    }
    #[inline]
    fn varint(&mut self, v: u64) -> Result<(), Error> {
        Writer::varint(self, v)
    }
}

/// A protobuf message: its fields, written into an [`Out`].
pub(crate) trait Msg {
    fn write<O: Out>(&self, o: &mut O) -> Result<(), Error>;

    /// The message's length in bytes.
    #[inline]
    fn size(&self) -> usize {
        let mut len = Len(0);
        // `Len` never fails.
        let _ = self.write(&mut len);
        len.0
    }
}

/// A varint field, written even when 0 (proto2 presence).
#[inline]
fn varint<O: Out>(o: &mut O, field: u8, v: u64) -> Result<(), Error> {
    o.byte(key(field, VARINT))?;
    o.varint(v)
}

/// A `double` field.
#[inline]
fn double<O: Out>(o: &mut O, field: u8, v: f64) -> Result<(), Error> {
    o.byte(key(field, I64))?;
    o.bytes(&v.to_bits().to_le_bytes())
}

/// A `string` field made of `parts` one after the other.
#[inline]
fn string<O: Out>(o: &mut O, field: u8, parts: &[&str]) -> Result<(), Error> {
    o.byte(key(field, LEN))?;
    o.varint(parts.iter().map(|p| p.len()).sum::<usize>() as u64)?;
    for p in parts {
        o.bytes(p.as_bytes())?;
    }
    Ok(())
}

/// A `string` field holding a metric or label `name` written in `style` (escaped under the
/// negotiated scheme when it is outside the legacy set; as it is with `allow-utf-8`: protobuf
/// needs no quoting), then `suffix` as it is (as the text encoders write `_total`).
fn name_field<O: Out>(
    o: &mut O,
    field: u8,
    style: Names,
    name: &str,
    suffix: &str,
) -> Result<(), Error> {
    if style.plain() || style.escaping == Escaping::AllowUtf8 || is_legacy(name) {
        return string(o, field, &[name, suffix]);
    }
    let mut len = Len(0);
    let _ = write_escaped(&mut FmtOut(&mut len, Ok(())), name, style.escaping);
    o.byte(key(field, LEN))?;
    o.varint((len.0 + suffix.len()) as u64)?;
    let mut w = FmtOut(o, Ok(()));
    let _ = write_escaped(&mut w, name, style.escaping);
    w.1?;
    o.bytes(suffix.as_bytes())
}

/// An [`Out`] as a `fmt::Write` (for the name escaper), keeping the first error.
struct FmtOut<'o, O: Out>(&'o mut O, Result<(), Error>);

impl<O: Out> core::fmt::Write for FmtOut<'_, O> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        if self.1.is_ok() {
            self.1 = self.0.bytes(s.as_bytes());
        }
        match self.1 {
            Ok(()) => Ok(()),
            Err(_) => Err(core::fmt::Error),
        }
    }
}

/// A message field: key, length, the message.
#[inline]
fn nested<O: Out, M: Msg>(o: &mut O, field: u8, m: &M) -> Result<(), Error> {
    sized(o, field, m, m.size())
}

/// [`nested`] for a message whose length (`size`) is known.
#[inline]
fn sized<O: Out, M: Msg>(o: &mut O, field: u8, m: &M, size: usize) -> Result<(), Error> {
    o.byte(key(field, LEN))?;
    o.varint(size as u64)?;
    m.write(o)
}

/// `sint32`/`sint64` zigzag encoding.
#[inline]
const fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// `google.protobuf.Timestamp` (proto3: zero fields are left out).
struct Timestamp(f64);

impl Msg for Timestamp {
    fn write<O: Out>(&self, o: &mut O) -> Result<(), Error> {
        let secs = libm_floor(self.0);
        let mut s = secs as i64;
        let mut nanos = ((self.0 - secs) * 1e9 + 0.5) as i64;
        if nanos >= 1_000_000_000 {
            s += 1;
            nanos -= 1_000_000_000;
        }
        if s != 0 {
            varint(o, 1, s as u64)?;
        }
        if nanos != 0 {
            varint(o, 2, nanos as u64)?;
        }
        Ok(())
    }
}

/// `floor` without `std` (finite inputs only: the caller checks).
fn libm_floor(v: f64) -> f64 {
    // Beyond 2^52 every f64 is an integer; the casts below are exact inside.
    if v.abs() >= 4_503_599_627_370_496.0 {
        return v;
    }
    let t = v as i64 as f64;
    if t > v {
        t - 1.0
    } else {
        t
    }
}

/// `Counter` or `Gauge`: `value`, and a counter's `created_timestamp`.
struct Scalar<'e> {
    value: f64,
    exemplar: Option<&'e ExemplarRef<'e>>,
    created: Option<f64>,
}

impl Msg for Scalar<'_> {
    fn write<O: Out>(&self, o: &mut O) -> Result<(), Error> {
        double(o, 1, self.value)?;
        if let Some(e) = self.exemplar {
            nested(o, 2, &ExemplarMsg(e))?;
        }
        if let Some(c) = self.created {
            nested(o, 3, &Timestamp(c))?;
        }
        Ok(())
    }
}

/// A classic `Bucket`.
struct Bucket<'e> {
    cumulative: u64,
    upper: f64,
    exemplar: Option<&'e ExemplarRef<'e>>,
}

impl Msg for Bucket<'_> {
    fn write<O: Out>(&self, o: &mut O) -> Result<(), Error> {
        varint(o, 1, self.cumulative)?;
        double(o, 2, self.upper)?;
        match self.exemplar {
            Some(e) => nested(o, 3, &ExemplarMsg(e)),
            None => Ok(()),
        }
    }
}

/// An `Exemplar`: its labels, value and timestamp.
struct ExemplarMsg<'e>(&'e ExemplarRef<'e>);

impl Msg for ExemplarMsg<'_> {
    fn write<O: Out>(&self, o: &mut O) -> Result<(), Error> {
        for (name, value) in self.0.labels() {
            nested(
                o,
                1,
                &Label {
                    style: Names::PLAIN,
                    name,
                    value,
                },
            )?;
        }
        double(o, 2, self.0.value())?;
        match self.0.timestamp().filter(|t| t.is_finite()) {
            Some(t) => nested(o, 3, &Timestamp(t)),
            None => Ok(()),
        }
    }
}

/// A `BucketSpan`.
struct Span {
    offset: i32,
    length: u32,
}

impl Msg for Span {
    fn write<O: Out>(&self, o: &mut O) -> Result<(), Error> {
        varint(o, 1, zigzag(i64::from(self.offset)))?;
        varint(o, 2, u64::from(self.length))
    }
}

/// The spans of one side of a native histogram: runs of consecutive bucket indices.
struct Spans<'h> {
    h: &'h dyn NativeHistogramValue,
    side: Sign,
    len: usize,
    i: usize,
    /// The index of the last bucket of the previous span.
    prev: i32,
}

impl<'h> Spans<'h> {
    fn new(h: &'h dyn NativeHistogramValue, side: Sign) -> Self {
        Spans {
            h,
            side,
            len: h.bucket_len(side),
            i: 0,
            prev: 0,
        }
    }
}

impl Iterator for Spans<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        if self.i >= self.len {
            return None;
        }
        let (start, _) = self.h.bucket(self.side, self.i);
        // The first span's offset is its start index; later ones the gap after the previous.
        let offset = if self.i == 0 {
            start
        } else {
            start.wrapping_sub(self.prev).wrapping_sub(1)
        };
        let mut end = start;
        self.i += 1;
        while self.i < self.len {
            let (k, _) = self.h.bucket(self.side, self.i);
            if k != end.wrapping_add(1) {
                break;
            }
            end = k;
            self.i += 1;
        }
        self.prev = end;
        Some(Span {
            offset,
            length: end.wrapping_sub(start) as u32 + 1,
        })
    }
}

/// A `Histogram`: one consistent snapshot.
struct Hist<'h> {
    h: &'h dyn HistogramValue,
    created: Option<f64>,
    /// Bucket `i`'s exemplar at `i` (`bounds().len()`: the `+Inf` bucket's).
    exemplars: &'h [Option<ExemplarRef<'h>>],
}

impl Msg for Hist<'_> {
    fn write<O: Out>(&self, o: &mut O) -> Result<(), Error> {
        let h = self.h;
        let bounds = h.bounds();
        // `_count` is the sum of the buckets, so it always equals the `+Inf` bucket.
        let count = (0..=bounds.len()).fold(0u64, |n, i| n.wrapping_add(h.bucket(i)));
        varint(o, 1, count)?;
        double(o, 2, h.sum())?;
        let exemplar = |i: usize| self.exemplars.get(i).and_then(Option::as_ref);
        let mut acc = 0u64;
        for (i, &upper) in bounds.iter().enumerate() {
            acc = acc.wrapping_add(h.bucket(i));
            nested(
                o,
                3,
                &Bucket {
                    cumulative: acc,
                    upper,
                    exemplar: exemplar(i),
                },
            )?;
        }
        // The `+Inf` bucket is implied by `sample_count`; written (as client_golang does) only
        // to carry its exemplar.
        if let (false, Some(e)) = (bounds.is_empty(), exemplar(bounds.len())) {
            nested(
                o,
                3,
                &Bucket {
                    cumulative: count,
                    upper: f64::INFINITY,
                    exemplar: Some(e),
                },
            )?;
        }
        if let Some(n) = h.native() {
            varint(o, 5, zigzag(i64::from(n.schema())))?;
            double(o, 6, n.zero_threshold())?;
            varint(o, 7, n.zero_count())?;
            let (neg, pos) = (n.bucket_len(Sign::Negative), n.bucket_len(Sign::Positive));
            for (side, span_field) in [(Sign::Negative, 9), (Sign::Positive, 12)] {
                for span in Spans::new(n, side) {
                    nested(o, span_field, &span)?;
                }
                if side == Sign::Positive
                    && neg == 0
                    && pos == 0
                    && n.zero_count() == 0
                    && n.zero_threshold() == 0.0
                {
                    // The no-op span: native, not classic, even before any observation.
                    nested(
                        o,
                        12,
                        &Span {
                            offset: 0,
                            length: 0,
                        },
                    )?;
                }
                let mut prev = 0u64;
                let delta_field = span_field + 1;
                for i in 0..n.bucket_len(side) {
                    let (_, c) = n.bucket(side, i);
                    varint(o, delta_field, zigzag(c.wrapping_sub(prev) as i64))?;
                    prev = c;
                }
            }
        }
        if let Some(c) = self.created {
            nested(o, 15, &Timestamp(c))?;
        }
        if h.native().is_some() {
            // `exemplars` (field 16, a two-byte key): Prometheus takes a native histogram's
            // exemplars from here, and only those with a timestamp.
            for e in self.exemplars.iter().flatten() {
                if e.timestamp().is_some_and(f64::is_finite) {
                    o.varint((16 << 3) | u64::from(LEN))?;
                    let m = ExemplarMsg(e);
                    o.varint(m.size() as u64)?;
                    m.write(o)?;
                }
            }
        }
        Ok(())
    }
}

/// A `LabelPair`.
struct Label<'a> {
    style: Names,
    name: &'a str,
    value: &'a str,
}

impl Msg for Label<'_> {
    fn write<O: Out>(&self, o: &mut O) -> Result<(), Error> {
        name_field(o, 1, self.style, self.name, "")?;
        string(o, 2, &[self.value])
    }
}

/// A `Metric`: one series.
pub(crate) struct Series<'a> {
    pub(crate) names: StrList<'a>,
    pub(crate) values: StrList<'a>,
    pub(crate) value: Value<'a>,
    pub(crate) created: Option<f64>,
    /// How the label names are written.
    pub(crate) style: Names,
    /// The series' exemplars by bucket (a counter's at 0); empty: none.
    pub(crate) exemplars: &'a [Option<ExemplarRef<'a>>],
}

impl Series<'_> {
    /// The bytes of this series as a `metric` field.
    fn field_size(&self) -> usize {
        len_field(self.size())
    }
}

impl Msg for Series<'_> {
    fn write<O: Out>(&self, o: &mut O) -> Result<(), Error> {
        for i in 0..self.names.len() {
            nested(
                o,
                1,
                &Label {
                    style: self.style,
                    name: self.names.get(i),
                    value: self.values.get(i),
                },
            )?;
        }
        let created = self.created.filter(|c| c.is_finite());
        match self.value {
            Value::Counter(_) | Value::CounterF64(_) => {
                let value = match self.value {
                    Value::Counter(v) => v as f64,
                    Value::CounterF64(v) => v,
                    _ => 0.0,
                };
                let exemplar = self.exemplars.first().and_then(Option::as_ref);
                nested(
                    o,
                    3,
                    &Scalar {
                        value,
                        exemplar,
                        created,
                    },
                )
            }
            Value::Gauge(v) => nested(
                o,
                2,
                &Scalar {
                    value: v,
                    exemplar: None,
                    created: None,
                },
            ),
            Value::Histogram(h) => nested(
                o,
                7,
                &Hist {
                    h,
                    created,
                    exemplars: self.exemplars,
                },
            ),
        }
    }
}

/// The `MetricType` number.
const fn metric_type(kind: Kind) -> u64 {
    match kind {
        Kind::Counter => 0,
        Kind::Gauge => 1,
        Kind::Histogram => 4,
    }
}

/// A `MetricFamily` whose `metric` fields take `metrics` bytes (written between its head and
/// its tail).
pub(crate) struct Family<'f, 'a> {
    pub(crate) f: &'f FamilyRef<'a>,
    pub(crate) metrics: usize,
    /// How the metric name is written.
    pub(crate) style: Names,
}

impl Family<'_, '_> {
    /// `name`, `help`, `type`.
    fn head<O: Out>(&self, o: &mut O) -> Result<(), Error> {
        let f = self.f;
        let name = f.desc.name();
        if f.kind == Kind::Counter {
            name_field(o, 1, self.style, base(name, Kind::Counter), "_total")?;
        } else {
            name_field(o, 1, self.style, name, "")?;
        }
        string(o, 2, &[f.desc.help()])?;
        varint(o, 3, metric_type(f.kind))
    }

    /// `unit`.
    pub(crate) fn tail<O: Out>(&self, o: &mut O) -> Result<(), Error> {
        match self.f.desc.unit_str() {
            Some(unit) => string(o, 5, &[unit]),
            None => Ok(()),
        }
    }

    /// The delimiting length and the head: the caller writes `metrics` bytes of series, then
    /// the tail.
    pub(crate) fn start<O: Out>(&self, o: &mut O) -> Result<(), Error> {
        let mut len = Len(self.metrics);
        let _ = self.head(&mut len);
        let _ = self.tail(&mut len);
        o.varint(len.0 as u64)?;
        self.head(o)
    }
}

/// True when the family is one message (see the module docs): every series' size is fixed by
/// its labels.
pub(crate) fn one_message(
    f: &FamilyRef<'_>,
    n: usize,
    created: impl Fn(usize) -> Option<f64>,
) -> bool {
    if f.metric.has_exemplars() {
        // An exemplar may change between measuring and writing: one message per series.
        return false;
    }
    match f.kind {
        Kind::Gauge => true,
        Kind::Counter => (0..n).all(|j| created(j).is_none()),
        Kind::Histogram => false,
    }
}

/// Collects series `j` of `f`, checks it against the family and hands it to `visit` as a
/// `Metric`; `Ok(false)` when the collector had no such series.
pub(crate) fn with_series(
    f: &FamilyRef<'_>,
    j: usize,
    created: Option<f64>,
    style: Names,
    exemplars: &[Option<ExemplarRef<'_>>],
    mut visit: impl FnMut(&Series<'_>) -> Result<(), Error>,
) -> Result<bool, Error> {
    let names = f.desc.label_names();
    let mut seen = false;
    f.metric.collect(j, &mut |values, value| {
        line::check(f, values, &value)?;
        seen = true;
        visit(&Series {
            names,
            values,
            value,
            created,
            style,
            exemplars,
        })
    })?;
    Ok(seen)
}

/// The bytes of the first `n` series of a one-message family as `metric` fields.
pub(crate) fn measure(f: &FamilyRef<'_>, n: usize, style: Names) -> Result<usize, Error> {
    let mut total = 0usize;
    for j in 0..n {
        with_series(f, j, None, style, &[], |s| {
            total += s.field_size();
            Ok(())
        })?;
    }
    Ok(total)
}

/// Writes series `s` of a one-message family as its `metric` field, `written` bytes of the
/// `total` the family measured before it; returns the new `written`. A series that would
/// not fit what was measured is [`Error::ChangedWhileEncoding`].
pub(crate) fn write_member<O: Out>(
    o: &mut O,
    s: &Series<'_>,
    written: usize,
    total: usize,
) -> Result<usize, Error> {
    let size = s.size();
    let written = written + len_field(size);
    if written > total {
        return Err(Error::ChangedWhileEncoding);
    }
    sized(o, 4, s, size)?;
    Ok(written)
}

/// Writes series `s` as a whole `MetricFamily` message of its own.
pub(crate) fn write_alone<O: Out>(
    o: &mut O,
    f: &FamilyRef<'_>,
    s: &Series<'_>,
) -> Result<(), Error> {
    let size = s.size();
    let family = Family {
        f,
        metrics: len_field(size),
        style: s.style,
    };
    family.start(o)?;
    sized(o, 4, s, size)?;
    family.tail(o)
}

/// A collector that changed between measuring and writing a one-message family.
pub(crate) fn changed(seen: Result<bool, Error>) -> Result<(), Error> {
    match seen {
        Ok(true) => Ok(()),
        Ok(false) | Err(Error::KindMismatch | Error::LabelCount { .. }) => {
            Err(Error::ChangedWhileEncoding)
        }
        Err(e) => Err(e),
    }
}

/// Writes series `j` of `f` as a message of its own with its exemplars, each read once (so
/// measuring and writing see the same ones) into a scratch buffer on the stack, out of line so
/// that families without exemplars do not pay for the buffer's stack.
#[inline(never)]
fn write_with_exemplars<O: Out>(
    o: &mut O,
    f: &FamilyRef<'_>,
    j: usize,
    created: Option<f64>,
    style: Names,
) -> Result<(), Error> {
    let mut scratch = [[0u8; EXEMPLAR_BYTES]; MAX_EXEMPLARS];
    let buckets = if f.kind == Kind::Histogram {
        MAX_EXEMPLARS
    } else {
        1
    };
    let mut refs: [Option<ExemplarRef<'_>>; MAX_EXEMPLARS] = [None; MAX_EXEMPLARS];
    for (i, (slot, buf)) in refs
        .iter_mut()
        .zip(scratch.iter_mut())
        .enumerate()
        .take(buckets)
    {
        *slot = f.metric.exemplar(j, i, buf);
    }
    with_series(f, j, created, style, &refs, |s| write_alone(o, f, s))?;
    Ok(())
}

/// Writes family `f` (nothing when it has no series).
pub(crate) fn write_family<O: Out>(
    o: &mut O,
    f: &FamilyRef<'_>,
    options: super::Options,
) -> Result<(), Error> {
    let created = |j: usize| {
        if options.shows_created() {
            f.metric.created(j)
        } else {
            None
        }
    };
    let n = f.metric.series_count();
    if n == 0 {
        return Ok(());
    }
    let style = Names::of(f, options.escaping_scheme());
    if f.metric.has_exemplars() {
        for j in 0..n {
            write_with_exemplars(o, f, j, created(j), style)?;
        }
        return Ok(());
    }
    if !one_message(f, n, created) {
        for j in 0..n {
            with_series(f, j, created(j), style, &[], |s| write_alone(o, f, s))?;
        }
        return Ok(());
    }
    let total = measure(f, n, style)?;
    let family = Family {
        f,
        metrics: total,
        style,
    };
    family.start(o)?;
    let mut written = 0usize;
    for j in 0..n {
        changed(with_series(f, j, None, style, &[], |s| {
            written = write_member(o, s, written, total)?;
            Ok(())
        }))?;
    }
    if written != total {
        return Err(Error::ChangedWhileEncoding);
    }
    family.tail(o)
}

/// Encodes every family of `registry` into `out`.
pub(crate) fn encode<F, B>(registry: &F, options: super::Options, out: &mut B) -> Result<(), Error>
where
    F: Families + ?Sized,
    B: Bytes + ?Sized,
{
    let mut w = Writer::new(out);
    for i in 0..registry.family_count() {
        let Some(f) = registry.family(i) else { break };
        write_family(&mut w, &f, options)?;
    }
    w.flush()
}
