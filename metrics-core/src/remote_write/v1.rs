//! Remote-Write 1.0: `prometheus.WriteRequest` (prompb `remote.proto`, `types.proto`).
//!
//! ```text
//! WriteRequest   { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
//! TimeSeries     { repeated Label labels = 1; repeated Sample samples = 2; }
//! Label          { string name = 1; string value = 2; }
//! Sample         { double value = 1; int64 timestamp = 2; }
//! MetricMetadata { MetricType type = 1; string metric_family_name = 2; string help = 4;
//!                  string unit = 5; }
//! ```

use super::pb::{len_field, varint_field, Writer};
use super::series::{Emit, Line, Val};
use super::{metric_type, Bytes};
use crate::collect::{FamilyRef, StrList};
use crate::Error;

pub(super) struct V1<'w, B: Bytes + ?Sized> {
    pub(super) w: Writer<'w, B>,
    pub(super) timestamp_ms: i64,
    pub(super) metadata: bool,
}

/// Bytes of a `Label` message.
fn label_len(name: &str, value: usize) -> usize {
    len_field(name.len()) + len_field(value)
}

impl<B: Bytes + ?Sized> V1<'_, B> {
    fn string(&mut self, field: u8, v: Val<'_>) -> Result<(), Error> {
        self.w.len_key(field, v.len())?;
        match v {
            Val::Str(s) => self.w.bytes(s.as_bytes()),
            Val::Name(b, s) => {
                self.w.bytes(b.as_bytes())?;
                self.w.bytes(s.as_bytes())
            }
        }
    }
}

impl<B: Bytes + ?Sized> Emit for V1<'_, B> {
    fn family(&mut self, f: &FamilyRef<'_>, base: &str) -> Result<(), Error> {
        if !self.metadata {
            return Ok(());
        }
        let help = f.desc.help();
        let unit = f.desc.unit_str().unwrap_or("");
        let ty = metric_type(f.kind);
        let optional = |s: &str| if s.is_empty() { 0 } else { len_field(s.len()) };
        let n = varint_field(ty) + len_field(base.len()) + optional(help) + optional(unit);
        self.w.len_key(3, n)?;
        self.w.varint_field(1, ty)?;
        self.string(2, Val::Str(base))?;
        if !help.is_empty() {
            self.string(4, Val::Str(help))?;
        }
        if !unit.is_empty() {
            self.string(5, Val::Str(unit))?;
        }
        Ok(())
    }

    fn series(&mut self, _: &FamilyRef<'_>, _: StrList<'_>) -> Result<(), Error> {
        Ok(())
    }

    fn line(&mut self, line: &Line<'_, '_>) -> Result<(), Error> {
        let ts = self.timestamp_ms as u64;
        let sample = 9 + varint_field(ts);
        let labels: usize = line
            .labels()
            .map(|(name, _, v)| len_field(label_len(name, v.len())))
            .sum();
        self.w.len_key(1, labels + len_field(sample))?;
        for (name, _, v) in line.labels() {
            self.w.len_key(1, label_len(name, v.len()))?;
            self.string(1, Val::Str(name))?;
            self.string(2, v)?;
        }
        self.w.len_key(2, sample)?;
        self.w.double(1, line.value)?;
        self.w.varint_field(2, ts)
    }
}
