//! A registry's samples as Remote-Write series: one series per line the text format shows (a
//! counter's `_total`, a gauge, a histogram's `_bucket` per bound, `_sum` and `_count`), each
//! with its labels sorted by name as the specification asks (`__name__` among them, so it sorts
//! after upper-case names and before lower-case ones).

use core::fmt::Write;

use crate::collect::{Families, FamilyRef, Kind, StrList, Value};
use crate::encoding::float::write_canonical_f64;
use crate::encoding::line::{self, Num};
use crate::exposed;
use crate::Error;

/// The most labels one series may carry here, `__name__` and `le` included.
pub const MAX_LABELS: usize = 48;

/// Where a label's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Source {
    /// `__name__`: the family's base name and the line's suffix.
    MetricName,
    /// The family's label `i`.
    Family(usize),
    /// A histogram bucket's `le`.
    Le,
    /// External label `i` (added to every series that does not have that label).
    External(usize),
}

/// The sorted label names of a family's series and where each value comes from.
pub(super) struct Order<'a> {
    entries: [(&'a str, Source); MAX_LABELS],
    len: usize,
}

impl<'a> Order<'a> {
    fn new(f: &FamilyRef<'a>, external: &'a [(&'a str, &'a str)]) -> Result<Self, Error> {
        let mut o = Order {
            entries: [("", Source::MetricName); MAX_LABELS],
            len: 0,
        };
        o.push("__name__", Source::MetricName)?;
        let names = f.desc.label_names();
        for i in 0..names.len() {
            o.push(names.get(i), Source::Family(i))?;
        }
        if f.kind == Kind::Histogram {
            o.push("le", Source::Le)?;
        }
        for (i, (name, _)) in external.iter().enumerate() {
            // A series' own label wins over an external one of the same name.
            if !o.entries[..o.len].iter().any(|(n, _)| n == name) {
                o.push(name, Source::External(i))?;
            }
        }
        // Insertion sort: a handful of labels.
        for i in 1..o.len {
            let mut j = i;
            while j > 0 && o.entries[j - 1].0.as_bytes() > o.entries[j].0.as_bytes() {
                o.entries.swap(j - 1, j);
                j -= 1;
            }
        }
        Ok(o)
    }

    fn push(&mut self, name: &'a str, source: Source) -> Result<(), Error> {
        if self.len == MAX_LABELS {
            return Err(Error::TooManyLabels { limit: MAX_LABELS });
        }
        self.entries[self.len] = (name, source);
        self.len += 1;
        Ok(())
    }
}

/// A label value: a string, or the metric name in two parts.
#[derive(Clone, Copy, Debug)]
pub(super) enum Val<'a> {
    Str(&'a str),
    Name(&'a str, &'static str),
}

impl Val<'_> {
    pub(super) fn len(&self) -> usize {
        match self {
            Val::Str(s) => s.len(),
            Val::Name(b, s) => b.len() + s.len(),
        }
    }
}

/// One series: a line of the exposition.
pub(super) struct Line<'l, 'a> {
    pub(super) family: &'l FamilyRef<'a>,
    pub(super) base: &'a str,
    pub(super) suffix: &'static str,
    order: &'l Order<'a>,
    values: StrList<'l>,
    pub(super) le: Option<&'l str>,
    external: &'a [(&'a str, &'a str)],
    /// The sample's value.
    pub(super) value: f64,
    /// The series' start (Unix seconds), for counters and histograms.
    pub(super) created: Option<f64>,
}

impl<'l, 'a> Line<'l, 'a> {
    /// The labels, sorted by name, without those whose value is empty (an empty value is no
    /// label in Prometheus).
    pub(super) fn labels(&self) -> impl Iterator<Item = (&'l str, Source, Val<'l>)> + '_
    where
        'a: 'l,
    {
        self.order.entries[..self.order.len]
            .iter()
            .filter_map(move |&(name, source)| {
                let v = match source {
                    Source::MetricName => Val::Name(self.base, self.suffix),
                    Source::Family(i) => Val::Str(self.values.get(i)),
                    Source::Le => Val::Str(self.le?),
                    Source::External(i) => Val::Str(self.external[i].1),
                };
                (v.len() > 0).then_some((name, source, v))
            })
    }
}

/// What a write request does with the walk.
pub(super) trait Emit {
    /// A family starts.
    fn family(&mut self, f: &FamilyRef<'_>, base: &str) -> Result<(), Error>;
    /// A series of the current family starts (its label values).
    fn series(&mut self, f: &FamilyRef<'_>, values: StrList<'_>) -> Result<(), Error>;
    /// One sample line of the current series.
    fn line(&mut self, line: &Line<'_, '_>) -> Result<(), Error>;
}

/// `le` formatted into a small buffer.
struct LeBuf {
    buf: [u8; 40],
    len: usize,
}

impl Write for LeBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(core::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Walks every sample of `registry`; returns how many series (lines) it emitted.
pub(super) fn walk<F: Families + ?Sized, E: Emit>(
    registry: &F,
    external: &[(&str, &str)],
    e: &mut E,
) -> Result<usize, Error> {
    let mut lines = 0;
    for i in 0..registry.family_count() {
        let Some(f) = registry.family(i) else { break };
        let base = exposed::base(f.desc.name(), f.kind);
        let order = Order::new(&f, external)?;
        e.family(&f, base)?;
        for j in 0..f.metric.series_count() {
            let created = match f.kind {
                Kind::Gauge => None,
                _ => f.metric.created(j),
            };
            f.metric.collect(j, &mut |values, value| {
                line::check(&f, values, &value)?;
                e.series(&f, values)?;
                let bounds: &[f64] = match value {
                    Value::Histogram(h) => h.bounds(),
                    _ => &[],
                };
                let mut cumulative = 0u64;
                let mut k = 0;
                while let Some((suffix, slot)) = line::plan(f.kind, bounds.len(), false, false, k) {
                    k += 1;
                    let num = line::number(slot, value, bounds.len(), &mut cumulative, None)?;
                    let mut le = LeBuf {
                        buf: [0; 40],
                        len: 0,
                    };
                    let has_le = match line::le(slot, bounds) {
                        Some(b) => {
                            write_canonical_f64(&mut le, b).map_err(|_| Error::Write)?;
                            true
                        }
                        None => false,
                    };
                    let le_str = core::str::from_utf8(&le.buf[..le.len]).ok();
                    e.line(&Line {
                        family: &f,
                        base,
                        suffix,
                        order: &order,
                        values,
                        le: if has_le { le_str } else { None },
                        external,
                        value: match num {
                            Num::U64(v) => v as f64,
                            Num::F64(v) => v,
                        },
                        created,
                    })?;
                    lines += 1;
                }
                Ok(())
            })?;
        }
    }
    Ok(lines)
}
