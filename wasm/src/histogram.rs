//! The JS `Histogram` and its bound child `HistogramChild`.

metric_wrapper! {
    /// A histogram: observations counted into fixed buckets, with their sum and count.
    ///
    /// `labelValues` works as for `Counter`.
    pub struct Histogram;
    /// A histogram series bound to label values (from `Histogram.labels`).
    pub struct HistogramChild;

    /// Records one observation.
    fn observe(value) -> () = OBSERVE;
    child: " Records one observation.";

    /// The number of observations.
    fn count() -> f64 = COUNT;
    child: " The number of observations.";

    /// The sum of observations.
    fn sum() -> f64 = SUM;
    child: " The sum of observations.";
}
