//! Remote-Write 2.0: `io.prometheus.write.v2.Request`.
//!
//! ```text
//! Request    { repeated string symbols = 4; repeated TimeSeries timeseries = 5; }
//! TimeSeries { repeated uint32 labels_refs = 1; repeated Sample samples = 2;
//!              Metadata metadata = 5; int64 created_timestamp = 6; }
//! Sample     { double value = 1; int64 timestamp = 2; }
//! Metadata   { MetricType type = 1; uint32 help_ref = 3; uint32 unit_ref = 4; }
//! ```
//!
//! Every string is a reference into `symbols`, which must start with the empty string. The
//! writer streams: it appends a symbol right before the first series that uses it (repeated
//! fields may come in any order on the wire, and a receiver resolves references once the whole
//! message is read), each family's names, help and unit once per family, each series' label
//! values once per series, and each bucket's `le` once per line. A symbol is not looked up
//! again (no table to keep): Snappy compresses the repeats.

use super::pb::{len_field, varint_field, varint_len, Writer};
use super::series::{Emit, Line, Source, Val, MAX_LABELS};
use super::{metric_type, Bytes};
use crate::collect::{FamilyRef, Kind, StrList};
use crate::Error;

/// Suffixes whose `__name__` a family's lines use, in a fixed order.
const SUFFIXES: [&str; 5] = ["", "_total", "_bucket", "_sum", "_count"];

pub(super) struct V2<'w, B: Bytes + ?Sized> {
    pub(super) w: Writer<'w, B>,
    pub(super) timestamp_ms: i64,
    /// Symbols written so far (the next one's reference).
    next: u32,
    /// `__name__` and `le`.
    name_ref: u32,
    le_ref: u32,
    /// External labels' (name, value) references.
    external_refs: [(u32, u32); MAX_LABELS],
    /// The current family's references.
    suffix_refs: [u32; SUFFIXES.len()],
    label_refs: [u32; MAX_LABELS],
    help_ref: u32,
    unit_ref: u32,
    kind: Kind,
    /// The current series' label value references.
    value_refs: [u32; MAX_LABELS],
}

impl<'w, B: Bytes + ?Sized> V2<'w, B> {
    pub(super) fn new(
        w: Writer<'w, B>,
        timestamp_ms: i64,
        external: &[(&str, &str)],
    ) -> Result<Self, Error> {
        if external.len() > MAX_LABELS {
            return Err(Error::TooManyLabels { limit: MAX_LABELS });
        }
        let mut v = V2 {
            w,
            timestamp_ms,
            next: 0,
            name_ref: 0,
            le_ref: 0,
            external_refs: [(0, 0); MAX_LABELS],
            suffix_refs: [0; SUFFIXES.len()],
            label_refs: [0; MAX_LABELS],
            help_ref: 0,
            unit_ref: 0,
            kind: Kind::Gauge,
            value_refs: [0; MAX_LABELS],
        };
        v.symbol(Val::Str(""))?;
        v.name_ref = v.symbol(Val::Str("__name__"))?;
        v.le_ref = v.symbol(Val::Str("le"))?;
        for (i, (n, val)) in external.iter().enumerate() {
            v.external_refs[i] = (v.symbol(Val::Str(n))?, v.symbol(Val::Str(val))?);
        }
        Ok(v)
    }

    /// Appends a symbol; returns its reference.
    fn symbol(&mut self, s: Val<'_>) -> Result<u32, Error> {
        self.w.len_key(4, s.len())?;
        match s {
            Val::Str(s) => self.w.bytes(s.as_bytes())?,
            Val::Name(b, s) => {
                self.w.bytes(b.as_bytes())?;
                self.w.bytes(s.as_bytes())?;
            }
        }
        let r = self.next;
        self.next += 1;
        Ok(r)
    }

    /// A string's reference: the empty string is always 0.
    fn optional(&mut self, s: &str) -> Result<u32, Error> {
        if s.is_empty() {
            Ok(0)
        } else {
            self.symbol(Val::Str(s))
        }
    }
}

impl<B: Bytes + ?Sized> Emit for V2<'_, B> {
    fn family(&mut self, f: &FamilyRef<'_>, base: &str) -> Result<(), Error> {
        self.kind = f.kind;
        let used: &[usize] = match f.kind {
            Kind::Counter => &[1],
            Kind::Gauge => &[0],
            Kind::Histogram => &[2, 3, 4],
        };
        for &i in used {
            self.suffix_refs[i] = self.symbol(Val::Name(base, SUFFIXES[i]))?;
        }
        let names = f.desc.label_names();
        for i in 0..names.len().min(MAX_LABELS) {
            self.label_refs[i] = self.symbol(Val::Str(names.get(i)))?;
        }
        self.help_ref = self.optional(f.desc.help())?;
        self.unit_ref = self.optional(f.desc.unit_str().unwrap_or(""))?;
        Ok(())
    }

    fn series(&mut self, _: &FamilyRef<'_>, values: StrList<'_>) -> Result<(), Error> {
        for i in 0..values.len().min(MAX_LABELS) {
            self.value_refs[i] = self.optional(values.get(i))?;
        }
        Ok(())
    }

    fn line(&mut self, line: &Line<'_, '_>) -> Result<(), Error> {
        let le_value = match line.le {
            Some(le) => self.symbol(Val::Str(le))?,
            None => 0,
        };
        let suffix = SUFFIXES.iter().position(|s| *s == line.suffix).unwrap_or(0);
        // The references, in label order.
        let mut refs = [0u32; 2 * MAX_LABELS];
        let mut n = 0;
        for (_, source, _) in line.labels() {
            let (name, value) = match source {
                Source::MetricName => (self.name_ref, self.suffix_refs[suffix]),
                Source::Family(i) => (self.label_refs[i], self.value_refs[i]),
                Source::Le => (self.le_ref, le_value),
                Source::External(i) => self.external_refs[i],
            };
            refs[n] = name;
            refs[n + 1] = value;
            n += 2;
        }
        let refs = &refs[..n];
        let packed: usize = refs.iter().map(|r| varint_len(u64::from(*r))).sum();
        let ts = self.timestamp_ms as u64;
        let sample = 9 + varint_field(ts);
        let ty = metric_type(self.kind);
        let metadata = varint_field(ty)
            + varint_field(u64::from(self.help_ref))
            + varint_field(u64::from(self.unit_ref));
        let created = match line.created {
            Some(t) if t > 0.0 && line.family.kind != Kind::Gauge => (t * 1000.0) as u64,
            _ => 0,
        };
        let size =
            len_field(packed) + len_field(sample) + len_field(metadata) + varint_field(created);
        self.w.len_key(5, size)?;
        self.w.len_key(1, packed)?;
        for r in refs {
            self.w.varint(u64::from(*r))?;
        }
        self.w.len_key(2, sample)?;
        self.w.double(1, line.value)?;
        self.w.varint_field(2, ts)?;
        self.w.len_key(5, metadata)?;
        self.w.varint_field(1, ty)?;
        self.w.varint_field(3, u64::from(self.help_ref))?;
        self.w.varint_field(4, u64::from(self.unit_ref))?;
        self.w.varint_field(6, created)
    }
}
