//! Owned metric families (what a device sent, or the gateway's own metrics) and the
//! [`Families`] view the core's encoders read them through.

use metrics_core::{
    Collect, Desc, Error, Families, FamilyRef, Format, HistogramValue, Kind, StrList, Value,
    Visitor,
};

/// One metric family with owned names and values.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedFamily {
    /// The family name (a counter's without `_total`).
    pub name: String,
    /// The help text, unescaped.
    pub help: String,
    /// The OpenMetrics unit, if any.
    pub unit: Option<String>,
    /// The type.
    pub kind: Kind,
    /// The label names every series carries values for (`le` is not one of them).
    pub label_names: Vec<Box<str>>,
    /// The series, in the order they were read.
    pub series: Vec<Series>,
}

/// One series: label values (in the order of the family's label names) and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Unescaped label values; an empty value is an absent label.
    pub labels: Vec<Box<str>>,
    /// The value.
    pub value: SeriesValue,
}

/// A series' value.
#[derive(Clone, Debug, PartialEq)]
pub enum SeriesValue {
    /// A counter total or a gauge value.
    Number(f64),
    /// A histogram.
    Histogram(Hist),
}

/// A histogram read back from its `_bucket` and `_sum` samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Hist {
    /// The finite upper bounds, strictly increasing.
    pub bounds: Vec<f64>,
    /// Observations per bucket (not cumulative); one more than `bounds` (the `+Inf` bucket).
    pub buckets: Vec<u64>,
    /// The sum of the observations.
    pub sum: f64,
}

impl HistogramValue for Hist {
    fn bounds(&self) -> &[f64] {
        &self.bounds
    }
    fn bucket(&self, i: usize) -> u64 {
        self.buckets.get(i).copied().unwrap_or(0)
    }
    fn sum(&self) -> f64 {
        self.sum
    }
}

impl OwnedFamily {
    /// A family with no series yet.
    pub fn new(name: impl Into<String>, help: impl Into<String>, kind: Kind) -> Self {
        OwnedFamily {
            name: name.into(),
            help: help.into(),
            unit: None,
            kind,
            label_names: Vec::new(),
            series: Vec::new(),
        }
    }

    /// Sets the label names (builder style).
    #[must_use]
    pub fn labels(mut self, names: &[&str]) -> Self {
        self.label_names = names.iter().map(|n| Box::from(*n)).collect();
        self
    }

    /// Appends a series with a number value.
    pub fn push(&mut self, labels: &[&str], value: f64) {
        self.series.push(Series {
            labels: labels.iter().map(|v| Box::from(*v)).collect(),
            value: SeriesValue::Number(value),
        });
    }

    /// The description the encoders write, or why the names are not valid.
    pub fn desc<'a>(&'a self, label_names: &'a [&'a str]) -> Result<Desc<'a>, Error> {
        let desc = Desc::try_new(&self.name, &self.help)?.try_labels(label_names)?;
        match &self.unit {
            Some(unit) => desc.try_unit(unit),
            None => Ok(desc),
        }
    }

    fn label_refs(&self) -> Vec<&str> {
        self.label_names.iter().map(|n| &**n).collect()
    }

    /// True when the encoders accept this family's names.
    pub fn is_valid(&self) -> bool {
        self.desc(&self.label_refs()).is_ok()
    }
}

impl Collect for OwnedFamily {
    fn series_count(&self) -> usize {
        self.series.len()
    }

    fn collect(&self, index: usize, visit: &mut Visitor<'_>) -> Result<(), Error> {
        let Some(s) = self.series.get(index) else {
            return Ok(());
        };
        let value = match (&s.value, self.kind) {
            (SeriesValue::Histogram(h), _) => Value::Histogram(h),
            (SeriesValue::Number(v), Kind::Counter) => counter_value(*v),
            (SeriesValue::Number(v), _) => Value::Gauge(*v),
        };
        visit(StrList::Owned(&s.labels), value)
    }

    fn label_count(&self) -> usize {
        self.label_names.len()
    }
}

/// Integral totals are written as integers, others as floats.
fn counter_value(v: f64) -> Value<'static> {
    if v >= 0.0 && v.fract() == 0.0 && v < 9_007_199_254_740_992.0 {
        Value::Counter(v as u64)
    } else {
        Value::CounterF64(v)
    }
}

/// Encodes `families` (whose names must be valid: see [`OwnedFamily::is_valid`]) in `format`,
/// appending to `out`.
pub fn encode(families: &[OwnedFamily], format: Format, out: &mut Vec<u8>) -> Result<(), Error> {
    encode_with(
        families,
        format,
        metrics_core::encoding::Options::new(),
        out,
    )
}

/// [`encode`] with encoder options (the negotiated name escaping).
pub fn encode_with(
    families: &[OwnedFamily],
    format: Format,
    options: metrics_core::encoding::Options,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let names: Vec<Vec<&str>> = families.iter().map(OwnedFamily::label_refs).collect();
    let descs = families
        .iter()
        .zip(&names)
        .map(|(f, n)| f.desc(n))
        .collect::<Result<Vec<_>, _>>()?;
    let view = View { families, descs };
    metrics_core::encode_bytes_with(&view, format, options, out)
}

/// Writes `families` (whose names must be valid) as one Remote-Write request of `version`
/// (uncompressed) into `out`; returns the number of series (one sample each).
pub fn remote_write(
    families: &[OwnedFamily],
    version: metrics_core::remote_write::Version,
    opts: &metrics_core::remote_write::WriteOptions<'_>,
    out: &mut Vec<u8>,
) -> Result<usize, Error> {
    let names: Vec<Vec<&str>> = families.iter().map(OwnedFamily::label_refs).collect();
    let descs = families
        .iter()
        .zip(&names)
        .map(|(f, n)| f.desc(n))
        .collect::<Result<Vec<_>, _>>()?;
    let view = View { families, descs };
    metrics_core::remote_write::encode(&view, version, opts, out)
}

/// Families borrowed with their descriptions built once.
struct View<'a> {
    families: &'a [OwnedFamily],
    descs: Vec<Desc<'a>>,
}

impl Families for View<'_> {
    fn family_count(&self) -> usize {
        self.families.len()
    }

    fn family(&self, index: usize) -> Option<FamilyRef<'_>> {
        let f = self.families.get(index)?;
        Some(FamilyRef {
            desc: self.descs[index],
            kind: f.kind,
            metric: f,
        })
    }
}
