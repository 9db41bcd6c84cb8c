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
    /**
     * Pushes to a metrics-gateway run with `--accept-pushes` (`url` is its base, e.g.
     * `"https://gateway:9110"`): POST `<url>/push/job/<job>{/<label>/<value>}` with the
     * increments since the last push the gateway acknowledged for this grouping key, in the
     * text format: counters and histograms as deltas, gauges as values. `fetch` only, so it runs
     * in Node, browsers and workers.
     *
     * Each body goes with an `Idempotency-Key`: a push that failed without an answer (or with a
     * 5xx) is sent again, the same body under the same key, before the next push's new
     * increments, so the gateway counts it once even if it had applied it. A push the gateway
     * refused (4xx) stored nothing: its increments go into the next push. Either way nothing is
     * lost, and memory does not grow with failures (see the README). Pushes of one registry to
     * one grouping key run one after the other.
     *
     * Rejects with an `Error` (`status` set when the gateway answered) if this push failed.
     */
    push(url: string | URL, options: PushOptions): Promise<void>;
    /**
     * `push` for an edge worker: hands the push to `ctx.waitUntil` (so the platform keeps the
     * worker alive until it is done, after the response went out) and never rejects: a failure
     * goes to `options.onError` (`console.warn` by default) and resolves `false`.
     */
    pushInBackground(ctx: { waitUntil(promise: Promise<unknown>): void }, url: string | URL, options: PushOptions): Promise<boolean>;
    /**
     * POSTs the whole registry to a Remote-Write receiver (`url`, e.g.
     * `"http://prometheus:9090/api/v1/write"`): every series at one timestamp, Remote-Write 1.0
     * (or 2.0 with `version: 2`), encoded and snappy-compressed by the core, with the version's
     * headers. Totals, not increments: a failed write loses nothing, the next one carries it.
     *
     * Only in the module of `metrics-wasm/remote-write` (and `metrics-wasm/remote-write/web`);
     * the default module rejects, saying so (the encoders cost about 17 KB of wasm).
     */
    remoteWrite(url: string | URL, options?: RemoteWriteOptions): Promise<void>;
    /**
     * Every family as the protobuf exposition (length-delimited
     * `io.prometheus.client.MetricFamily`, Content-Type
     * `application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited`),
     * what Prometheus 3 asks for first with native histograms on.
     * Only in the module of `metrics-wasm/remote-write` (and `metrics-wasm/remote-write/web`);
     * the default module throws, saying so.
     */
    renderProtobuf(): Uint8Array;
}

/** Request headers, as `fetch` takes them. */
export type PushHeaders = Headers | Record<string, string> | [string, string][];

/**
 * Where a push goes: the gateway's grouping key, and request headers.
 */
export interface PushOptions {
    /** The `job` label of the group (non-empty). */
    job: string;
    /**
     * More grouping labels, in path order (`{ instance: "edge-1" }`); added by the gateway to
     * every pushed series. Values with `/`, empty, `.` or `..` are sent in the `@base64` form.
     */
    labels?: Record<string, string>;
    /** Extra request headers, e.g. `{ authorization: "Basic " + btoa("user:password") }`. */
    headers?: PushHeaders;
    /** `pushInBackground` only: called with the error of a failed push. */
    onError?: (error: Error & { status?: number }) => void;
}

/**
 * How `remoteWrite` writes.
 */
export interface RemoteWriteOptions {
    /** `1` (Remote-Write 1.0, the default) or `2` (2.0). */
    version?: 1 | 2;
    /** Labels added to every series that does not carry them (`{ instance: "edge-1" }`). */
    externalLabels?: Record<string, string>;
    /** Extra request headers (authorization). */
    headers?: PushHeaders;
    /** Every sample's timestamp, ms since the epoch (default `Date.now()`). */
    timestampMs?: number;
}

/**
 * The exact `Content-Type` header value for a format (`"text"`, `"openmetrics"`, or `"protobuf"` for what `renderProtobuf` writes).
 *
 * Throws an `Error` for any other format name.
 */
export function contentType(format: "text" | "openmetrics" | "protobuf"): string;

/**
 * The format a scraper asks for in its `Accept` header: `"openmetrics"` when it names
 * `application/openmetrics-text` with the highest q-value, else `"text"` (also when there is
 * no header).
 */
export function negotiate(accept?: string | null): "text" | "openmetrics";
