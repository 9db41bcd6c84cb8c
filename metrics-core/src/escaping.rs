//! UTF-8 metric and label names, and the escaping schemes a scraper negotiates for them
//! (`escaping=` in its `Accept` header; Prometheus' "UTF-8 escaping schemes" document, and
//! what `model.EscapeMetricFamily` in prometheus/common does).
//!
//! A name in the legacy character set (`[a-zA-Z_:][a-zA-Z0-9_:]*`) is written as it is under
//! every scheme. Any other name (a registry built with [`Registry::utf8`](crate::Registry::utf8)
//! holds them, e.g. OpenTelemetry's `cicd.pipeline.run.duration`) is written:
//!
//! | scheme | `cicd.pipeline.run.duration` (histogram bucket) |
//! |---|---|
//! | [`Escaping::AllowUtf8`] | `{"cicd.pipeline.run.duration_bucket",le="1.0"}`: quoted inside the braces (text 1.0.0, OpenMetrics 2.0 draft) |
//! | [`Escaping::Underscores`] (the default) | `cicd_pipeline_run_duration_bucket{le="1.0"}`: every other character `_` |
//! | [`Escaping::Dots`] | `cicd_dot_pipeline_dot_run_dot_duration_bucket`: `.` as `_dot_`, `_` as `__`, others `__` |
//! | [`Escaping::Values`] | `U__cicd_2e_pipeline_2e_run_2e_duration_bucket`: `U__`, `_` as `__`, others `_<hex code point>_` |
//!
//! The family's name is escaped and the sample's suffix (`_total`, `_bucket`, ...) appended
//! after, as prometheus/common escapes a `MetricFamily` before its encoder adds the suffixes.
//!
//! UTF-8 names need the `alloc` feature ([`Desc::try_new_utf8`](crate::Desc::try_new_utf8)
//! and [`Registry::utf8`](crate::Registry::utf8) come with it). Without it every name is
//! legacy by construction (the `Desc` constructors left check it), so the encoders write
//! names as they are and the escaping code is not compiled into a firmware (about 2.3 KB of
//! flash on a Cortex-M0); the negotiated scheme changes nothing for legacy names anyway.

use core::fmt::{self, Write};

/// How names outside the legacy character set are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Escaping {
    /// As they are (quoted where the syntax needs it): for scrapers that read UTF-8 names
    /// (Prometheus 3 asks with `escaping=allow-utf-8`).
    AllowUtf8,
    /// Every character outside the legacy set becomes `_` (the default, and what a scraper
    /// that names no scheme gets).
    #[default]
    Underscores,
    /// `.` becomes `_dot_`, `_` becomes `__`, any other character outside the set `__`.
    Dots,
    /// `U__` then the name with `_` as `__` and every other character outside the set as
    /// `_<hex code point>_`: reversible.
    Values,
}

impl Escaping {
    /// The value of the `escaping` media-type parameter.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Escaping::AllowUtf8 => "allow-utf-8",
            Escaping::Underscores => "underscores",
            Escaping::Dots => "dots",
            Escaping::Values => "values",
        }
    }

    /// The scheme an `escaping` parameter value names (case-sensitive, as Go compares it);
    /// `None` for anything else.
    #[must_use]
    pub fn from_param(value: &str) -> Option<Escaping> {
        match value {
            "allow-utf-8" => Some(Escaping::AllowUtf8),
            "underscores" => Some(Escaping::Underscores),
            "dots" => Some(Escaping::Dots),
            "values" => Some(Escaping::Values),
            _ => None,
        }
    }
}

/// True when `c` at byte position `i` is in the legacy character set.
#[inline]
const fn legacy_char(c: char, i: usize) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
}

/// True when `name` is in the legacy character set (`[a-zA-Z_:][a-zA-Z0-9_:]*`), so every
/// scheme writes it as it is.
#[inline]
pub(crate) fn is_legacy(name: &str) -> bool {
    // Byte by byte: the legacy set is ASCII, and a byte of a multi-byte character (0x80 and
    // up, read as U+0080..U+00FF) is outside it as the character is; no UTF-8 decoding.
    !name.is_empty()
        && name
            .bytes()
            .enumerate()
            .all(|(i, b)| legacy_char(char::from(b), i))
}

/// Writes `name` (not legacy) under `escaping`, which is not [`Escaping::AllowUtf8`] (that one
/// quotes: see [`write_quoted`]).
pub(crate) fn write_escaped<W: Write + ?Sized>(
    w: &mut W,
    name: &str,
    escaping: Escaping,
) -> fmt::Result {
    if escaping == Escaping::Values {
        w.write_str("U__")?;
    }
    let mut buf = [0u8; 4];
    for (i, c) in name.char_indices() {
        match escaping {
            Escaping::AllowUtf8 => w.write_str(c.encode_utf8(&mut buf))?,
            Escaping::Underscores => {
                w.write_str(if legacy_char(c, i) {
                    c.encode_utf8(&mut buf)
                } else {
                    "_"
                })?;
            }
            Escaping::Dots => match c {
                '_' => w.write_str("__")?,
                '.' => w.write_str("_dot_")?,
                c if legacy_char(c, i) => w.write_str(c.encode_utf8(&mut buf))?,
                _ => w.write_str("__")?,
            },
            Escaping::Values => match c {
                '_' => w.write_str("__")?,
                c if legacy_char(c, i) => w.write_str(c.encode_utf8(&mut buf))?,
                c => {
                    w.write_str("_")?;
                    write_hex(w, u32::from(c))?;
                    w.write_str("_")?;
                }
            },
        }
    }
    Ok(())
}

/// Lowercase hex digits without leading zeros (Go's `strconv.FormatInt(v, 16)`).
fn write_hex<W: Write + ?Sized>(w: &mut W, v: u32) -> fmt::Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 8];
    let mut n = 0;
    let mut v = v;
    loop {
        digits[7 - n] = HEX[(v & 15) as usize];
        n += 1;
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    // One `char` at a time: no UTF-8 validation of the digits (`str::from_utf8` is about
    // 700 bytes of a wasm module).
    for d in &digits[8 - n..] {
        w.write_char(char::from(*d))?;
    }
    Ok(())
}

/// Writes `name` between double quotes with `\`, `"` and newline escaped (a UTF-8 name in
/// text 1.0.0 / OpenMetrics with `escaping=allow-utf-8`).
pub(crate) fn write_quoted<W: Write + ?Sized>(w: &mut W, name: &str) -> fmt::Result {
    w.write_str("\"")?;
    crate::encoding::escape_label_value(w, name)?;
    w.write_str("\"")
}

/// True when names outside the legacy set can exist: only with `alloc` (see the module doc).
const UTF8_NAMES: bool = cfg!(feature = "alloc");

/// How one family's names are written: as they are (all legacy: the fast path), or with its
/// non-legacy names escaped or quoted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Names {
    pub(crate) escaping: Escaping,
    /// Every name of the family (metric and labels) is legacy: written as it is.
    plain: bool,
}

impl Names {
    /// Names that are all legacy.
    pub(crate) const PLAIN: Names = Names {
        escaping: Escaping::Underscores,
        plain: true,
    };

    /// The style of family `f` under `escaping`.
    pub(crate) fn of(f: &crate::FamilyRef<'_>, escaping: Escaping) -> Names {
        let plain =
            !UTF8_NAMES || (is_legacy(f.desc.name()) && f.desc.label_names().iter().all(is_legacy));
        Names { escaping, plain }
    }

    /// Every name of the family is legacy: written as it is. Always true without `alloc`, a
    /// constant the compiler folds, so the escaping paths of the encoders drop out.
    #[inline(always)]
    pub(crate) fn plain(&self) -> bool {
        !UTF8_NAMES || self.plain
    }

    /// True when the metric name `base` goes quoted inside the braces.
    #[inline]
    pub(crate) fn quoted(&self, base: &str) -> bool {
        !self.plain() && self.escaping == Escaping::AllowUtf8 && !is_legacy(base)
    }

    /// Writes a metric or label name (outside quotes: the caller quotes when
    /// [`quoted`](Self::quoted)).
    #[inline]
    pub(crate) fn write<W: Write + ?Sized>(&self, w: &mut W, name: &str) -> fmt::Result {
        if self.plain() || is_legacy(name) {
            return w.write_str(name);
        }
        match self.escaping {
            Escaping::AllowUtf8 => write_quoted(w, name),
            e => write_escaped(w, name, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    fn esc(name: &str, e: Escaping) -> String {
        let mut s = String::new();
        if is_legacy(name) {
            s.push_str(name);
        } else {
            write_escaped(&mut s, name, e).unwrap();
        }
        s
    }

    /// prometheus/common's `EscapeName` cases (model/metric_test.go), and legacy names
    /// unchanged under every scheme (`EscapeMetricFamily` leaves them alone).
    #[test]
    fn schemes_match_prometheus_common() {
        use Escaping::*;
        for e in [AllowUtf8, Underscores, Dots, Values] {
            assert_eq!(esc("no:escaping_required", e), "no:escaping_required");
            assert_eq!(esc("http_requests_total", e), "http_requests_total");
        }
        assert_eq!(
            esc("mysystem.prod.west.cpu.load", Underscores),
            "mysystem_prod_west_cpu_load"
        );
        assert_eq!(
            esc("mysystem.prod.west.cpu.load_total", Dots),
            "mysystem_dot_prod_dot_west_dot_cpu_dot_load__total"
        );
        assert_eq!(
            esc("mysystem.prod.west.cpu.load_total", Values),
            "U__mysystem_2e_prod_2e_west_2e_cpu_2e_load__total"
        );
        assert_eq!(esc("http.status:sum", Values), "U__http_2e_status:sum");
        assert_eq!(esc("label with 😱", Underscores), "label_with__");
        assert_eq!(esc("label with 😱", Dots), "label__with____");
        assert_eq!(esc("label with 😱", Values), "U__label_20_with_20__1f631_");
        assert_eq!(esc("1leading", Underscores), "_leading");
        assert_eq!(esc("1leading", Values), "U___31_leading");
        assert_eq!(
            esc("cicd.pipeline.run.duration", Dots),
            "cicd_dot_pipeline_dot_run_dot_duration"
        );
        let mut q = String::new();
        write_quoted(&mut q, "a.\"b\"\\").unwrap();
        assert_eq!(q, "\"a.\\\"b\\\"\\\\\"");
    }

    #[test]
    fn params() {
        for e in [
            Escaping::AllowUtf8,
            Escaping::Underscores,
            Escaping::Dots,
            Escaping::Values,
        ] {
            assert_eq!(Escaping::from_param(e.as_str()), Some(e));
        }
        assert_eq!(Escaping::from_param("UNDERSCORES"), None);
        assert_eq!(Escaping::default(), Escaping::Underscores);
    }
}
