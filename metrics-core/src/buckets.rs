//! Histogram bucket layouts, computed at compile time, and the check of run-time ones.

use crate::Error;

/// Go's (and every Prometheus client's) default buckets, in seconds: 5 ms to 10 s.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// `N` bounds `start, start + width, ...`. Panics (a compile error in a `const`) when
/// `width <= 0` or `N == 0`.
///
/// ```
/// const B: [f64; 4] = metrics_core::linear_buckets(1.0, 0.5);
/// assert_eq!(B, [1.0, 1.5, 2.0, 2.5]);
/// ```
pub const fn linear_buckets<const N: usize>(start: f64, width: f64) -> [f64; N] {
    assert!(N > 0, "a histogram needs at least one bucket");
    assert!(width > 0.0, "linear bucket width must be positive");
    let mut out = [0.0; N];
    let mut i = 0;
    while i < N {
        out[i] = start + width * i as f64;
        i += 1;
    }
    out
}

/// `N` bounds `start, start * factor, ...`. Panics (a compile error in a `const`) when
/// `start <= 0`, `factor <= 1` or `N == 0`.
///
/// ```
/// const B: [f64; 3] = metrics_core::exponential_buckets(1.0, 10.0);
/// assert_eq!(B, [1.0, 10.0, 100.0]);
/// ```
pub const fn exponential_buckets<const N: usize>(start: f64, factor: f64) -> [f64; N] {
    assert!(N > 0, "a histogram needs at least one bucket");
    assert!(start > 0.0, "exponential buckets need a positive start");
    assert!(factor > 1.0, "exponential buckets need a factor above 1");
    let mut out = [0.0; N];
    let mut v = start;
    let mut i = 0;
    while i < N {
        out[i] = v;
        v *= factor;
        i += 1;
    }
    out
}

/// True when `bounds` is non-empty, strictly increasing and free of NaN. A trailing `+Inf` is
/// allowed by [`finite_bounds`] (it is implied anyway).
pub(crate) const fn bounds_valid(bounds: &[f64]) -> bool {
    if bounds.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < bounds.len() {
        let b = bounds[i];
        if b.is_nan() || b == f64::INFINITY {
            return false;
        }
        if i > 0 && bounds[i - 1] >= b {
            return false;
        }
        i += 1;
    }
    true
}

/// `bounds` without a trailing `+Inf`.
fn finite_bounds(bounds: &[f64]) -> &[f64] {
    match bounds.split_last() {
        Some((last, rest)) if *last == f64::INFINITY => rest,
        _ => bounds,
    }
}

/// Checks histogram bucket bounds given at run time, as `DynHistogram::new` does: the finite
/// upper bounds (a trailing `+Inf` is accepted and dropped), non-empty, strictly increasing,
/// no NaN; else [`Error::InvalidBuckets`].
///
/// ```
/// use metrics_core::{validate_buckets, Error};
/// assert_eq!(validate_buckets(&[0.1, 1.0, f64::INFINITY]), Ok(&[0.1, 1.0][..]));
/// assert_eq!(validate_buckets(&[1.0, 0.5]), Err(Error::InvalidBuckets));
/// ```
pub fn validate_buckets(bounds: &[f64]) -> Result<&[f64], Error> {
    let finite = finite_bounds(bounds);
    if bounds_valid(finite) {
        Ok(finite)
    } else {
        Err(Error::InvalidBuckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        const L: [f64; 3] = linear_buckets(0.0, 2.0);
        assert_eq!(L, [0.0, 2.0, 4.0]);
        const E: [f64; 4] = exponential_buckets(0.001, 10.0);
        assert_eq!(E[0], 0.001);
        assert!((E[3] - 1.0).abs() < 1e-12);
        assert!(bounds_valid(&DEFAULT_BUCKETS));
        assert!(!bounds_valid(&[]));
        assert!(!bounds_valid(&[1.0, 1.0]));
        assert!(!bounds_valid(&[2.0, 1.0]));
        assert!(!bounds_valid(&[f64::NAN]));
        assert!(!bounds_valid(&[1.0, f64::INFINITY]));
        assert_eq!(finite_bounds(&[1.0, f64::INFINITY]), &[1.0]);
        assert_eq!(
            validate_buckets(&[f64::INFINITY]),
            Err(Error::InvalidBuckets)
        );
    }
}
