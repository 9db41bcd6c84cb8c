//! The JS `Gauge` and its bound child `GaugeChild`.

metric_wrapper! {
    /// A gauge: a value that goes up and down.
    ///
    /// `labelValues` works as for `Counter`.
    pub struct Gauge;
    /// A gauge series bound to label values (from `Gauge.labels`).
    pub struct GaugeChild;

    /// Sets the value.
    fn set(value) -> () = SET;
    child: " Sets the value.";

    /// Adds one.
    fn inc() -> () = INC;
    child: " Adds one.";

    /// Subtracts one.
    fn dec() -> () = DEC;
    child: " Subtracts one.";

    /// Adds `value` (may be negative).
    fn add(value) -> () = ADD;
    child: " Adds `value`.";

    /// Subtracts `value`.
    fn sub(value) -> () = SUB;
    child: " Subtracts `value`.";

    /// The current value.
    fn get() -> f64 = GET;
    child: " The current value.";
}
