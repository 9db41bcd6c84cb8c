//! The sample names a family exposes, for duplicate detection without allocation.

use crate::desc::counter_base;
use crate::Kind;

/// The suffixes a family of `kind` puts after its base name.
pub(crate) const fn suffixes(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Counter => &["", "_total", "_created"],
        Kind::Gauge => &[""],
        Kind::Histogram => &["", "_bucket", "_sum", "_count", "_created"],
    }
}

/// The base name of a family: a counter's name without `_total`.
#[inline]
pub(crate) fn base(name: &str, kind: Kind) -> &str {
    match kind {
        Kind::Counter => counter_base(name),
        _ => name,
    }
}

/// True when `a_base + a_suffix == b_base + b_suffix`.
#[cfg(feature = "alloc")]
fn concat_eq(a: &str, a_suffix: &str, b: &str, b_suffix: &str) -> bool {
    if a.len() + a_suffix.len() != b.len() + b_suffix.len() {
        return false;
    }
    let left = a.bytes().chain(a_suffix.bytes());
    let right = b.bytes().chain(b_suffix.bytes());
    left.eq(right)
}

/// The first name both families would expose, if any.
#[cfg(feature = "alloc")]
pub(crate) fn clash<'a>(
    a_name: &'a str,
    a_kind: Kind,
    b_name: &str,
    b_kind: Kind,
) -> Option<(&'a str, &'static str)> {
    let (a, b) = (base(a_name, a_kind), base(b_name, b_kind));
    for sa in suffixes(a_kind) {
        for sb in suffixes(b_kind) {
            if concat_eq(a, sa, b, sb) {
                return Some((a, sa));
            }
        }
    }
    None
}

/// Builds the [`Error::Duplicate`](crate::Error::Duplicate) for a clash.
#[cfg(feature = "alloc")]
pub(crate) fn duplicate_error((base, suffix): (&str, &str)) -> crate::Error {
    let mut buf = [0u8; 64];
    let name = if base.len() + suffix.len() <= 64 {
        buf[..base.len()].copy_from_slice(base.as_bytes());
        buf[base.len()..base.len() + suffix.len()].copy_from_slice(suffix.as_bytes());
        core::str::from_utf8(&buf[..base.len() + suffix.len()]).unwrap_or(base)
    } else {
        base
    };
    crate::Error::Duplicate {
        name: crate::error::Truncated::new(name),
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    #[test]
    fn clashes() {
        assert!(clash("a", Kind::Counter, "a_total", Kind::Counter).is_some());
        assert!(clash("a_total", Kind::Counter, "a_total", Kind::Gauge).is_some());
        assert!(clash("h", Kind::Histogram, "h_count", Kind::Gauge).is_some());
        assert!(clash("h", Kind::Histogram, "h", Kind::Gauge).is_some());
        assert!(clash("h", Kind::Histogram, "h_seconds", Kind::Gauge).is_none());
        assert!(clash("a", Kind::Gauge, "b", Kind::Gauge).is_none());
        assert_eq!(
            duplicate_error(("h", "_count")),
            crate::Error::Duplicate {
                name: crate::error::Truncated::new("h_count")
            }
        );
    }
}
