//! The lines of an exposition, shared by the streaming and the chunked encoder.
//!
//! Text 0.0.4 and OpenMetrics 1.0 differ in few places, all here: a counter family's name
//! (`x_total` in text, `x` in OpenMetrics), HELP escaping of `"`, `# UNIT` and `# EOF`
//! (OpenMetrics only), and a histogram with negative buckets exposing no `_sum` in
//! OpenMetrics (its spec: `_sum` is a counter there).

use core::fmt::Write;

use super::escape;
use super::float::{write_canonical_f64, write_f64, write_u64};
use crate::collect::{FamilyRef, HistogramValue, Kind, StrList, Value};
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
) -> core::fmt::Result {
    let name = f.desc.name();
    match (f.kind, format) {
        (Kind::Counter, Format::OpenMetrics) => w.write_str(base(name, Kind::Counter)),
        (Kind::Counter, Format::Text) => {
            let b = base(name, Kind::Counter);
            w.write_str(b)?;
            w.write_str("_total")
        }
        _ => w.write_str(name),
    }
}

/// Writes one metadata line; `Ok(false)` when the line is absent (no help, no unit, or UNIT in
/// text).
pub(crate) fn write_meta<W: Write + ?Sized>(
    w: &mut W,
    f: &FamilyRef<'_>,
    format: Format,
    meta: Meta,
) -> Result<bool, core::fmt::Error> {
    match meta {
        Meta::Help => {
            if f.desc.help().is_empty() {
                return Ok(false);
            }
            w.write_str("# HELP ")?;
            family_name(w, f, format)?;
            w.write_str(" ")?;
            escape::help(w, f.desc.help(), format == Format::OpenMetrics)?;
        }
        Meta::Type => {
            w.write_str("# TYPE ")?;
            family_name(w, f, format)?;
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
            family_name(w, f, format)?;
            w.write_str(" ")?;
            w.write_str(unit)?;
        }
    }
    w.write_str("\n")?;
    Ok(true)
}

/// Writes one sample line: `base+suffix{labels[,le="…"]} value\n`.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn write_sample<W: Write + ?Sized>(
    w: &mut W,
    base: &str,
    suffix: &str,
    names: StrList<'_>,
    values: StrList<'_>,
    le: Option<f64>,
    value: Num,
) -> core::fmt::Result {
    w.write_str(base)?;
    w.write_str(suffix)?;
    let n = names.len();
    if n > 0 || le.is_some() {
        w.write_str("{")?;
        for i in 0..n {
            if i > 0 {
                w.write_str(",")?;
            }
            w.write_str(names.get(i))?;
            w.write_str("=\"")?;
            escape::label_value(w, values.get(i))?;
            w.write_str("\"")?;
        }
        if let Some(le) = le {
            w.write_str(if n > 0 { ",le=\"" } else { "le=\"" })?;
            write_canonical_f64(w, le)?;
            w.write_str("\"")?;
        }
        w.write_str("}")?;
    }
    w.write_str(" ")?;
    match value {
        Num::U64(v) => write_u64(w, v)?,
        Num::F64(v) => write_f64(w, v)?,
    }
    w.write_str("\n")
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

/// Writes every sample line of one series (the streaming path).
pub(crate) fn write_series<W: Write + ?Sized>(
    w: &mut W,
    f: &FamilyRef<'_>,
    format: Format,
    values: StrList<'_>,
    value: Value<'_>,
) -> Result<(), Error> {
    check(f, values, &value)?;
    let names = f.desc.label_names();
    let name = f.desc.name();
    match value {
        Value::Counter(v) => write_sample(
            w,
            base(name, Kind::Counter),
            "_total",
            names,
            values,
            None,
            Num::U64(v),
        )?,
        Value::CounterF64(v) => write_sample(
            w,
            base(name, Kind::Counter),
            "_total",
            names,
            values,
            None,
            Num::F64(v),
        )?,
        Value::Gauge(v) => write_sample(w, name, "", names, values, None, Num::F64(v))?,
        Value::Histogram(h) => write_histogram(w, name, format, names, values, h)?,
    }
    Ok(())
}

fn write_histogram<W: Write + ?Sized>(
    w: &mut W,
    name: &str,
    format: Format,
    names: StrList<'_>,
    values: StrList<'_>,
    h: &dyn HistogramValue,
) -> core::fmt::Result {
    let bounds = h.bounds();
    let mut cum = 0u64;
    for (i, &le) in bounds.iter().enumerate() {
        cum += h.bucket(i);
        write_sample(w, name, "_bucket", names, values, Some(le), Num::U64(cum))?;
    }
    cum += h.bucket(bounds.len());
    write_sample(
        w,
        name,
        "_bucket",
        names,
        values,
        Some(f64::INFINITY),
        Num::U64(cum),
    )?;
    if !omit_sum(format, bounds) {
        write_sample(w, name, "_sum", names, values, None, Num::F64(h.sum()))?;
    }
    write_sample(w, name, "_count", names, values, None, Num::U64(cum))
}
