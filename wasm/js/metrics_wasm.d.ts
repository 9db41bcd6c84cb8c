/* tslint:disable */
/* eslint-disable */

/**
 * A counter: a total that only goes up (exposed as `<name>_total`).
 *
 * `labelValues` must give one value per label name declared at creation (omit it for a
 * counter without labels); a wrong number of values, or new values past the family's
 * cardinality limit, throws an `Error`.
 */
export class Counter {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The current total.
     */
    get(labelValues?: string[] | null): number;
    /**
     * Adds `value` (non-negative; a negative or NaN value throws).
     */
    incBy(value: number, labelValues?: string[] | null): void;
    /**
     * Adds one.
     */
    inc(labelValues?: string[] | null): void;
    /**
     * A child bound to `labelValues`, for hot paths (checked now).
     */
    labels(labelValues: string[]): CounterChild;
    /**
     * The metric name.
     */
    readonly name: string;
}

/**
 * A counter series bound to label values (from `Counter.labels`).
 */
export class CounterChild {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The current total.
     */
    get(): number;
    /**
     * Adds `value` (non-negative; a negative or NaN value throws).
     */
    incBy(value: number): void;
    /**
     * Adds one.
     */
    inc(): void;
}

/**
 * A rendered scrape: what to send back to the scraper.
 */
export class Exposition {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The exposition text.
     */
    readonly body: string;
    /**
     * The exact `Content-Type` header value for `body`.
     */
    readonly contentType: string;
    /**
     * `"text"` or `"openmetrics"`.
     */
    readonly format: "text" | "openmetrics";
}

/**
 * A gauge: a value that goes up and down.
 *
 * `labelValues` works as for `Counter`.
 */
export class Gauge {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Adds `value` (may be negative).
     */
    add(value: number, labelValues?: string[] | null): void;
    /**
     * Subtracts one.
     */
    dec(labelValues?: string[] | null): void;
    /**
     * The current value.
     */
    get(labelValues?: string[] | null): number;
    /**
     * Adds one.
     */
    inc(labelValues?: string[] | null): void;
    /**
     * A child bound to `labelValues`, for hot paths (checked now).
     */
    labels(labelValues: string[]): GaugeChild;
    /**
     * Sets the value.
     */
    set(value: number, labelValues?: string[] | null): void;
    /**
     * Subtracts `value`.
     */
    sub(value: number, labelValues?: string[] | null): void;
    /**
     * The metric name.
     */
    readonly name: string;
}

/**
 * A gauge series bound to label values (from `Gauge.labels`).
 */
export class GaugeChild {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Adds `value`.
     */
    add(value: number): void;
    /**
     * Subtracts one.
     */
    dec(): void;
    /**
     * The current value.
     */
    get(): number;
    /**
     * Adds one.
     */
    inc(): void;
    /**
     * Sets the value.
     */
    set(value: number): void;
    /**
     * Subtracts `value`.
     */
    sub(value: number): void;
}

/**
 * A histogram: observations counted into fixed buckets, with their sum and count.
 *
 * `labelValues` works as for `Counter`.
 */
export class Histogram {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The number of observations.
     */
    count(labelValues?: string[] | null): number;
    /**
     * A child bound to `labelValues`, for hot paths (checked now).
     */
    labels(labelValues: string[]): HistogramChild;
    /**
     * Records one observation.
     */
    observe(value: number, labelValues?: string[] | null): void;
    /**
     * The sum of observations.
     */
    sum(labelValues?: string[] | null): number;
    /**
     * The metric name.
     */
    readonly name: string;
}

/**
 * A histogram series bound to label values (from `Histogram.labels`).
 */
export class HistogramChild {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The number of observations.
     */
    count(): number;
    /**
     * Records one observation.
     */
    observe(value: number): void;
    /**
     * The sum of observations.
     */
    sum(): number;
}

/**
 * A set of metric families, rendered together.
 *
 * Names are checked when a metric is created: a bad metric or label name, a reserved label
 * (`le`, `quantile`, `__*`) or a name that clashes with one already registered (including the
 * generated `_total`, `_bucket`, `_sum`, `_count` samples) throws an `Error` that says what
 * to change.
 */
export class Registry {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Creates a counter. `labelNames` are declared now; every call then gives as many label
     * values (or use `labels(values)` for a bound child). Exposed as `<name>_total`.
     */
    counter(name: string, help: string, labelNames?: string[] | null): Counter;
    /**
     * Creates a gauge (see `counter` for labels).
     */
    gauge(name: string, help: string, labelNames?: string[] | null): Gauge;
    /**
     * Creates a histogram over `buckets` (finite upper bounds, strictly increasing; `+Inf`
     * is added; Prometheus' default buckets `0.005 ... 10` when omitted).
     */
    histogram(name: string, help: string, labelNames?: string[] | null, buckets?: Float64Array | number[] | null): Histogram;
    /**
     * An empty registry. `cardinalityLimit` is the most series each labelled family of this
     * registry holds (10 000 when omitted); past it, new label values throw an `Error`.
     */
    constructor(cardinalityLimit?: number | null);
    /**
     * Every family in `format`: `"text"` (Prometheus text 0.0.4, the default) or
     * `"openmetrics"` (OpenMetrics 1.0.0, ends with `# EOF`).
     */
    render(format?: "text" | "openmetrics"): string;
    /**
     * Sets every metric back to zero and forgets every labelled series (for tests). Metric
     * objects and children created earlier stay valid and record into the fresh series.
     */
    reset(): void;
    /**
     * Renders in the format the `Accept` header asks for (Prometheus sends one): the body,
     * the exact `Content-Type` to send with it, and the format's name.
     */
    scrape(accept?: string | null): Exposition;
    /**
     * Number of registered metrics.
     */
    readonly size: number;
}

/**
 * The exact `Content-Type` header value for a format (`"text"` or `"openmetrics"`).
 *
 * Throws an `Error` for any other format name.
 */
export function contentType(format: "text" | "openmetrics"): string;

/**
 * The format a scraper asks for in its `Accept` header: `"openmetrics"` when it names
 * `application/openmetrics-text` with the highest q-value, else `"text"` (also when there is
 * no header).
 */
export function negotiate(accept?: string | null): "text" | "openmetrics";
