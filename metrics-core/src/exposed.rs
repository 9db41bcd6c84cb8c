//! The sample names a family exposes, for duplicate detection without allocation.

use crate::name::bytes_eq;
use crate::Kind;

/// The suffixes a family of `kind` puts after its base name.
pub(crate) const fn suffixes(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Counter => &["", "_total", "_created"],
        Kind::Gauge => &[""],
        Kind::Histogram => &["", "_bucket", "_sum", "_count", "_created"],
    }
}

/// The length of a family's base name: a counter's name without a trailing `_total` (unless
/// nothing would be left), any other name whole.
pub(crate) const fn base_len(name: &str, kind: Kind) -> usize {
    let b = name.as_bytes();
    if let Kind::Counter = kind {
        if b.len() > 6 {
            let (head, tail) = b.split_at(b.len() - 6);
            if bytes_eq(tail, b"_total") {
                return head.len();
            }
        }
    }
    b.len()
}

/// The base name of a family (see [`base_len`]).
#[inline]
pub(crate) fn base(name: &str, kind: Kind) -> &str {
    // `base_len` cuts an ASCII suffix, so this is a char boundary.
    name.get(..base_len(name, kind)).unwrap_or(name)
}

/// True when `a + sa == b + sb`, byte for byte.
const fn concat_eq(a: &[u8], sa: &[u8], b: &[u8], sb: &[u8]) -> bool {
    if a.len() + sa.len() != b.len() + sb.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() + sa.len() {
        let x = if i < a.len() { a[i] } else { sa[i - a.len()] };
        let y = if i < b.len() { b[i] } else { sb[i - b.len()] };
        if x != y {
            return false;
        }
        i += 1;
    }
    true
}

/// The first name both families would expose, as (length of `a_name`'s base, suffix), if any.
/// `const`, so the compile-time registry checks with it too.
pub(crate) const fn clash(
    a_name: &str,
    a_kind: Kind,
    b_name: &str,
    b_kind: Kind,
) -> Option<(usize, &'static str)> {
    let a_len = base_len(a_name, a_kind);
    let a = a_name.as_bytes().split_at(a_len).0;
    let b = b_name.as_bytes().split_at(base_len(b_name, b_kind)).0;
    let (sa, sb) = (suffixes(a_kind), suffixes(b_kind));
    let mut i = 0;
    while i < sa.len() {
        let mut j = 0;
        while j < sb.len() {
            if concat_eq(a, sa[i].as_bytes(), b, sb[j].as_bytes()) {
                return Some((a_len, sa[i]));
            }
            j += 1;
        }
        i += 1;
    }
    None
}

/// Builds the [`Error::Duplicate`](crate::Error::Duplicate) for a clash.
#[cfg(feature = "alloc")]
pub(crate) fn duplicate_error(name: &str, (base_len, suffix): (usize, &str)) -> crate::Error {
    // `base_len` cuts an ASCII suffix, so this is a char boundary.
    let base = name.get(..base_len).unwrap_or(name);
    let name = if base.len() + suffix.len() <= 64 {
        crate::error::Truncated::concat(&[base, suffix])
    } else {
        crate::error::Truncated::new(base)
    };
    crate::Error::Duplicate { name }
}

#[cfg(test)]
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
        assert_eq!(base("jobs_total", Kind::Counter), "jobs");
        assert_eq!(
            base("_total", Kind::Counter),
            "_total",
            "never an empty name"
        );
        assert_eq!(base("x_total", Kind::Gauge), "x_total");
        assert_eq!(
            duplicate_error("h", (1, "_count")),
            crate::Error::Duplicate {
                name: crate::error::Truncated::new("h_count")
            }
        );
    }
}
