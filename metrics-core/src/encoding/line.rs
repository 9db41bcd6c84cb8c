//! The lines of an exposition, shared by the streaming and the chunked encoder.
//!
//! Text 0.0.4 and OpenMetrics 1.0 differ in few places, all here: a counter family's name
//! (`x_total` in text, `x` in OpenMetrics), HELP escaping of `"`, `# UNIT` and `# EOF`
//! (OpenMetrics only), and a histogram with negative buckets exposing no `_sum` in
//! OpenMetrics (its spec: `_sum` is a counter there).

use core::fmt::Write;

use super::escape;
use super::float::{write_canonical_f64, write_f64, write_positional_f64, write_u64_then};
use crate::collect::{FamilyRef, Kind, StrList, Value};
use crate::escaping::Names;
use crate::exemplar::{ExemplarRef, EXEMPLAR_BYTES};
use crate::exposed::base;
use crate::{Error, Format};

/// A sample's number.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Num {
    U64(u64),
    F64(f64),
}

/// The `# HELP`, `# TYPE` and `# UNIT` lines, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Meta {
    Help,
    Type,
    Unit,
}

/// The name on a family's metadata lines.
fn family_name<W: Write + ?Sized>(
    w: &mut W,
    f: &FamilyRef<'_>,
    format: Format,
    style: Names,
) -> core::fmt::Result {
    let name = f.desc.name();
    let (name, suffix) = match (f.kind, format) {
        (Kind::Counter, Format::OpenMetrics) => (base(name, Kind::Counter), ""),
        (Kind::Counter, _) => (base(name, Kind::Counter), "_total"),
        _ => (name, ""),
    };
    if style.plain() {
        w.write_str(name)?;
        return w.write_str(suffix);
    }
    let quoted = style.quoted(name);
    if quoted {
        w.write_str("\"")?;
        escape::label_value(w, name)?;
    } else {
        style.write(w, name)?;
    }
    w.write_str(suffix)?;
    if quoted {
        w.write_str("\"")?;
    }
    Ok(())
}

/// Writes one metadata line; `Ok(false)` when the line is absent (no help, no unit, or UNIT in
/// text).
pub(crate) fn write_meta<W: Write + ?Sized>(
    w: &mut W,
    f: &FamilyRef<'_>,
    format: Format,
    meta: Meta,
    style: Names,
) -> Result<bool, core::fmt::Error> {
    match meta {
        Meta::Help => {
            if f.desc.help().is_empty() {
                return Ok(false);
            }
            w.write_str("# HELP ")?;
            family_name(w, f, format, style)?;
            w.write_str(" ")?;
            escape::help(w, f.desc.help(), format == Format::OpenMetrics)?;
        }
        Meta::Type => {
            w.write_str("# TYPE ")?;
            family_name(w, f, format, style)?;
            w.write_str(" ")?;
            w.write_str(f.kind.as_str())?;
        }
        Meta::Unit => {
            let Some(unit) = f.desc.unit_str() else {
                return Ok(false);
            };
            if format != Format::OpenMetrics {
                return Ok(false);
            }
            w.write_str("# UNIT ")?;
            family_name(w, f, format, style)?;
            w.write_str(" ")?;
            w.write_str(unit)?;
        }
    }
    w.write_str("\n")?;
    Ok(true)
}

/// Writes one sample line: `base+suffix{labels[,le="…"]} value[ # {exemplar} v [t]]\n`.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn write_sample<W: Write + ?Sized>(
    w: &mut W,
    base: &str,
    suffix: &str,
    names: StrList<'_>,
    values: StrList<'_>,
    le: Option<f64>,
    style: Names,
    value: Num,
    exemplar: Option<&ExemplarRef<'_>>,
) -> core::fmt::Result {
    write_prefix(w, base, suffix, names, values, le, style)?;
    let Some(x) = exemplar else {
        return write_num_line(w, value);
    };
    match value {
        Num::U64(v) => write_u64_then(w, v, false)?,
        Num::F64(v) => write_f64(w, v)?,
    }
    write_exemplar(w, x)?;
    w.write_str("\n")
}

/// Writes an exemplar as OpenMetrics puts it after a sample's value:
/// ` # {name="value",…} value[ timestamp]`.
pub(crate) fn write_exemplar<W: Write + ?Sized>(
    w: &mut W,
    x: &ExemplarRef<'_>,
) -> core::fmt::Result {
    w.write_str(" # {")?;
    for (i, (name, value)) in x.labels().enumerate() {
        if i > 0 {
            w.write_str(",")?;
        }
        w.write_str(name)?;
        w.write_str("=\"")?;
        escape::label_value(w, value)?;
        w.write_str("\"")?;
    }
    w.write_str("} ")?;
    write_f64(w, x.value())?;
    if let Some(t) = x.timestamp() {
        w.write_str(" ")?;
        write_positional_f64(w, t)?;
    }
    Ok(())
}

/// The exemplar line `slot` can carry: a counter's `_total` (0) or a bucket (its index,
/// `+Inf` = `buckets`).
#[inline]
pub(crate) fn exemplar_bucket(slot: Slot, kind: Kind, buckets: usize) -> Option<usize> {
    match slot {
        Slot::Scalar if kind == Kind::Counter => Some(0),
        Slot::Bucket(i) => Some(i),
        Slot::Inf => Some(buckets),
        _ => None,
    }
}

/// Writes the start of a sample line, up to and including the space before the value:
/// `base+suffix{labels[,le="…"]} `. Labelled families keep this pre-rendered per series
/// (see `Family`), so it is the one place that spells it.
///
/// Constant pieces are merged (`="`, `",`, `"} `) so that a line with one label takes eight
/// writes: the scrape of a large registry is dominated by the number of writes per line.
#[inline]
pub(crate) fn write_prefix<W: Write + ?Sized>(
    w: &mut W,
    base: &str,
    suffix: &str,
    names: StrList<'_>,
    values: StrList<'_>,
    le: Option<f64>,
    style: Names,
) -> core::fmt::Result {
    if !style.plain() {
        return write_prefix_utf8(w, base, suffix, names, values, le, style);
    }
    w.write_str(base)?;
    w.write_str(suffix)?;
    let n = names.len();
    if n == 0 && le.is_none() {
        return w.write_str(" ");
    }
    for i in 0..n {
        w.write_str(if i == 0 { "{" } else { "\"," })?;
        w.write_str(names.get(i))?;
        w.write_str("=\"")?;
        escape::label_value(w, values.get(i))?;
    }
    if let Some(le) = le {
        w.write_str(if n > 0 { "\",le=\"" } else { "{le=\"" })?;
        write_canonical_f64(w, le)?;
    }
    w.write_str("\"} ")
}

/// [`write_prefix`] for a family with names outside the legacy set: each escaped, or (with
/// `allow-utf-8`) quoted, the metric name then inside the braces.
#[cold]
fn write_prefix_utf8<W: Write + ?Sized>(
    w: &mut W,
    base: &str,
    suffix: &str,
    names: StrList<'_>,
    values: StrList<'_>,
    le: Option<f64>,
    style: Names,
) -> core::fmt::Result {
    let quoted = style.quoted(base);
    if quoted {
        w.write_str("{\"")?;
        escape::label_value(w, base)?;
        w.write_str(suffix)?;
        w.write_str("\"")?;
    } else {
        style.write(w, base)?;
        w.write_str(suffix)?;
    }
    let n = names.len();
    if n == 0 && le.is_none() {
        return w.write_str(if quoted { "} " } else { " " });
    }
    let mut first = !quoted;
    for i in 0..n {
        w.write_str(if first { "{" } else { "," })?;
        first = false;
        style.write(w, names.get(i))?;
        w.write_str("=\"")?;
        escape::label_value(w, values.get(i))?;
        w.write_str("\"")?;
    }
    if let Some(le) = le {
        w.write_str(if first { "{le=\"" } else { ",le=\"" })?;
        write_canonical_f64(w, le)?;
        w.write_str("\"")?;
    }
    w.write_str("} ")
}

/// Writes a sample's number and the line's newline.
#[inline]
pub(crate) fn write_num_line<W: Write + ?Sized>(w: &mut W, value: Num) -> core::fmt::Result {
    match value {
        Num::U64(v) => write_u64_then(w, v, true),
        Num::F64(v) => {
            write_f64(w, v)?;
            w.write_str("\n")
        }
    }
}

/// The number a counter's or gauge's value shows, and its line's name suffix; `None` for a
/// histogram.
#[inline]
pub(crate) fn scalar(value: &Value<'_>) -> Option<(&'static str, Num)> {
    match *value {
        Value::Counter(v) => Some(("_total", Num::U64(v))),
        Value::CounterF64(v) => Some(("_total", Num::F64(v))),
        Value::Gauge(v) => Some(("", Num::F64(v))),
        Value::Histogram(_) => None,
    }
}

/// Checks that a series fits its family.
#[inline]
pub(crate) fn check(
    f: &FamilyRef<'_>,
    values: StrList<'_>,
    value: &Value<'_>,
) -> Result<(), Error> {
    if value.kind() != f.kind {
        return Err(Error::KindMismatch);
    }
    if values.len() != f.desc.label_names().len() {
        return Err(Error::LabelCount {
            expected: f.desc.label_names().len(),
            got: values.len(),
        });
    }
    Ok(())
}

/// True when OpenMetrics must not expose this histogram's `_sum` (negative buckets).
#[inline]
pub(crate) fn omit_sum(format: Format, bounds: &[f64]) -> bool {
    format == Format::OpenMetrics && bounds.first().is_some_and(|b| *b < 0.0)
}

/// Which number a sample line shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// A counter's or gauge's value.
    Scalar,
    /// The cumulative count up to finite bucket `i`.
    Bucket(usize),
    /// The `+Inf` bucket.
    Inf,
    /// A histogram's sum.
    Sum,
    /// A histogram's count (equal to the `+Inf` bucket).
    Count,
    /// The series' start time (OpenMetrics `_created`, counters and histograms).
    Created,
}

/// Line `k` of a series, in exposition order, as (name suffix, slot); `None` past the last.
/// Both encoders follow this one plan: buckets, `+Inf`, `_sum` (unless `omit_sum`), `_count`,
/// then `_created` when `created` (OpenMetrics with a start time; never for a gauge).
#[inline]
pub(crate) fn plan(
    kind: Kind,
    buckets: usize,
    omit_sum: bool,
    created: bool,
    k: usize,
) -> Option<(&'static str, Slot)> {
    let created = (created && kind != Kind::Gauge).then_some(("_created", Slot::Created));
    match kind {
        Kind::Counter => match k {
            0 => Some(("_total", Slot::Scalar)),
            1 => created,
            _ => None,
        },
        Kind::Gauge => (k == 0).then_some(("", Slot::Scalar)),
        Kind::Histogram => {
            if k < buckets {
                return Some(("_bucket", Slot::Bucket(k)));
            }
            if k == buckets {
                return Some(("_bucket", Slot::Inf));
            }
            match k - buckets - 1 + usize::from(omit_sum) {
                0 => Some(("_sum", Slot::Sum)),
                1 => Some(("_count", Slot::Count)),
                2 => created,
                _ => None,
            }
        }
    }
}

/// The `le` label of a slot.
#[inline]
pub(crate) fn le(slot: Slot, bounds: &[f64]) -> Option<f64> {
    match slot {
        Slot::Bucket(i) => bounds.get(i).copied(),
        Slot::Inf => Some(f64::INFINITY),
        _ => None,
    }
}

/// The number line `slot` of a series shows, read from `value`; `cumulative` carries a
/// histogram's running bucket total from one line of the plan to the next (start it at 0).
#[inline]
pub(crate) fn number(
    slot: Slot,
    value: Value<'_>,
    buckets: usize,
    cumulative: &mut u64,
    created: Option<f64>,
) -> Result<Num, Error> {
    Ok(match (slot, value) {
        (Slot::Scalar, Value::Counter(v)) => Num::U64(v),
        (Slot::Scalar, Value::CounterF64(v) | Value::Gauge(v)) => Num::F64(v),
        (Slot::Bucket(i), Value::Histogram(h)) => {
            *cumulative += h.bucket(i);
            Num::U64(*cumulative)
        }
        (Slot::Inf, Value::Histogram(h)) => {
            *cumulative += h.bucket(buckets);
            Num::U64(*cumulative)
        }
        (Slot::Sum, Value::Histogram(h)) => Num::F64(h.sum()),
        (Slot::Count, _) => Num::U64(*cumulative),
        (Slot::Created, _) => Num::F64(created.unwrap_or(0.0)),
        _ => return Err(Error::KindMismatch),
    })
}

/// Writes every sample line of one series (the streaming path); `base` is the family's
/// [`base`] name, computed once per family by the caller; `created` is the series' start time
/// (written in OpenMetrics only, see [`Collect::created`](crate::Collect::created));
/// `exemplars` is the series' index when its exemplars are to be written (OpenMetrics, a
/// family whose [`has_exemplars`](crate::Collect::has_exemplars)).
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_series<W: Write + ?Sized>(
    w: &mut W,
    f: &FamilyRef<'_>,
    base: &str,
    format: Format,
    values: StrList<'_>,
    value: Value<'_>,
    created: Option<f64>,
    exemplars: Option<usize>,
    style: Names,
) -> Result<(), Error> {
    check(f, values, &value)?;
    let created = created.filter(|_| format == Format::OpenMetrics && f.kind != Kind::Gauge);
    let mut line = Line {
        f,
        base,
        values,
        exemplars,
        style,
    };
    match exemplars {
        // The copy buffer only for series that can carry exemplars.
        Some(_) => line.write_all(w, format, value, created, &mut [0u8; EXEMPLAR_BYTES]),
        None => line.write_all(w, format, value, created, &mut []),
    }
}

/// One series' lines as the streaming encoder writes them.
struct Line<'a, 'f> {
    f: &'a FamilyRef<'f>,
    base: &'a str,
    values: StrList<'a>,
    exemplars: Option<usize>,
    style: Names,
}

impl Line<'_, '_> {
    fn write_all<W: Write + ?Sized>(
        &mut self,
        w: &mut W,
        format: Format,
        value: Value<'_>,
        created: Option<f64>,
        buf: &mut [u8],
    ) -> Result<(), Error> {
        let (f, base, values, style) = (self.f, self.base, self.values, self.style);
        let names = f.desc.label_names();
        // Counters and gauges: one line (two with `_created`), no plan to walk.
        if let Some((suffix, num)) = scalar(&value) {
            let x = self.exemplar((f.kind == Kind::Counter).then_some(0), buf);
            write_sample(w, base, suffix, names, values, None, style, num, x.as_ref())?;
            if let Some(t) = created {
                let t = Num::F64(t);
                write_sample(w, base, "_created", names, values, None, style, t, None)?;
            }
            return Ok(());
        }
        let bounds: &[f64] = match value {
            Value::Histogram(h) => h.bounds(),
            _ => &[],
        };
        let omit = omit_sum(format, bounds);
        let mut cumulative = 0u64;
        let mut k = 0;
        while let Some((suffix, slot)) = plan(f.kind, bounds.len(), omit, created.is_some(), k) {
            let num = number(slot, value, bounds.len(), &mut cumulative, created)?;
            let x = self.exemplar(exemplar_bucket(slot, f.kind, bounds.len()), &mut *buf);
            write_sample(
                w,
                base,
                suffix,
                names,
                values,
                le(slot, bounds),
                style,
                num,
                x.as_ref(),
            )?;
            k += 1;
        }
        Ok(())
    }

    /// The exemplar of line `bucket` (see [`exemplar_bucket`]), when exemplars are written.
    #[inline]
    fn exemplar<'b>(&self, bucket: Option<usize>, buf: &'b mut [u8]) -> Option<ExemplarRef<'b>> {
        let (index, bucket) = (self.exemplars?, bucket?);
        self.f.metric.exemplar(index, bucket, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_orders_lines_and_omits_the_sum_when_asked() {
        let lines = |omit| {
            (0..)
                .map_while(|k| plan(Kind::Histogram, 2, omit, false, k))
                .collect::<std::vec::Vec<_>>()
        };
        assert_eq!(
            lines(false),
            [
                ("_bucket", Slot::Bucket(0)),
                ("_bucket", Slot::Bucket(1)),
                ("_bucket", Slot::Inf),
                ("_sum", Slot::Sum),
                ("_count", Slot::Count)
            ]
        );
        assert_eq!(lines(true).len(), 4);
        assert!(!lines(true).contains(&("_sum", Slot::Sum)));
        assert_eq!(
            plan(Kind::Counter, 0, false, false, 0),
            Some(("_total", Slot::Scalar))
        );
        assert_eq!(plan(Kind::Counter, 0, false, false, 1), None);
        assert_eq!(
            plan(Kind::Counter, 0, false, true, 1),
            Some(("_created", Slot::Created))
        );
        assert_eq!(
            plan(Kind::Histogram, 2, false, true, 5),
            Some(("_created", Slot::Created))
        );
        assert_eq!(plan(Kind::Histogram, 2, false, true, 6), None);
        assert_eq!(plan(Kind::Gauge, 0, false, false, 1), None);
        assert_eq!(plan(Kind::Gauge, 0, false, true, 1), None);
    }
}
