//! The JS `Counter` and its bound child `CounterChild`.

metric_wrapper! {
    /// A counter: a total that only goes up (exposed as `<name>_total`).
    ///
    /// `labelValues` must give one value per label name declared at creation (omit it for a
    /// counter without labels); a wrong number of values, or new values past the family's
    /// cardinality limit, throws an `Error`.
    pub struct Counter;
    /// A counter series bound to label values (from `Counter.labels`).
    pub struct CounterChild;

    /// Adds one.
    fn inc() -> () = INC;
    child: " Adds one.";

    /// Adds `value` (non-negative; a negative or NaN value throws).
    fn inc_by(value) -> () = ADD;
    child: " Adds `value` (non-negative; a negative or NaN value throws).";

    /// The current total.
    fn get() -> f64 = GET;
    child: " The current total.";
}
