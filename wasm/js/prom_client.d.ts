/* prom-client's API (version 15) over metrics-wasm: `import { Counter, register } from "metrics-wasm/prom-client"`. */

export type LabelValues<T extends string> = Partial<Record<T, string | number>>;

export interface MetricValue<T extends string> {
  value: number;
  labels: LabelValues<T>;
  metricName?: string;
}

export interface MetricObject<T extends string> {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  values: MetricValue<T>[];
  aggregator: string;
}

interface MetricConfiguration<T extends string> {
  name: string;
  help: string;
  labelNames?: readonly T[];
  registers?: Registry[];
  aggregator?: string;
  collect?: (this: any) => void | Promise<void>;
}

declare abstract class Metric<T extends string = string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly T[];
  /** Every series back to zero, labelled series forgotten. */
  reset(): void;
  /** Not supported: throws (a family's series stay until `reset()`). */
  remove(...values: (string | number)[] | [LabelValues<T>]): never;
  get(): Promise<MetricObject<T>>;
}

export declare class Counter<T extends string = string> extends Metric<T> {
  constructor(configuration: MetricConfiguration<T>);
  inc(labels?: LabelValues<T>, value?: number): void;
  inc(value?: number): void;
  labels(...values: (string | number)[]): { inc(value?: number): void };
  labels(labels: LabelValues<T>): { inc(value?: number): void };
}

export interface GaugeChild {
  set(value: number): void;
  inc(value?: number): void;
  dec(value?: number): void;
  setToCurrentTime(): void;
  startTimer(): (labels?: Record<string, string | number>) => number;
}

export declare class Gauge<T extends string = string> extends Metric<T> {
  constructor(configuration: MetricConfiguration<T>);
  set(labels: LabelValues<T>, value: number): void;
  set(value: number): void;
  inc(labels?: LabelValues<T>, value?: number): void;
  inc(value?: number): void;
  dec(labels?: LabelValues<T>, value?: number): void;
  dec(value?: number): void;
  setToCurrentTime(labels?: LabelValues<T>): void;
  startTimer(labels?: LabelValues<T>): (labels?: LabelValues<T>) => number;
  labels(...values: (string | number)[]): GaugeChild;
  labels(labels: LabelValues<T>): GaugeChild;
}

export interface HistogramChild {
  observe(value: number): void;
  startTimer(): (labels?: Record<string, string | number>) => number;
}

export declare class Histogram<T extends string = string> extends Metric<T> {
  constructor(configuration: MetricConfiguration<T> & { buckets?: number[] });
  observe(labels: LabelValues<T>, value: number): void;
  observe(value: number): void;
  startTimer(labels?: LabelValues<T>): (labels?: LabelValues<T>) => number;
  zero(labels: LabelValues<T>): void;
  labels(...values: (string | number)[]): HistogramChild;
  labels(labels: LabelValues<T>): HistogramChild;
}

export declare class Registry {
  static readonly PROMETHEUS_CONTENT_TYPE: "text/plain; version=0.0.4; charset=utf-8";
  static readonly OPENMETRICS_CONTENT_TYPE: "application/openmetrics-text; version=1.0.0; charset=utf-8";
  static merge(registers: Registry[]): Registry;
  constructor(contentType?: string);
  readonly contentType: string;
  setContentType(contentType: string): void;
  metrics(): Promise<string>;
  registerMetric(metric: Metric): void;
  getMetricsAsArray(): Metric[];
  getMetricsAsJSON(): Promise<MetricObject<string>[]>;
  getSingleMetric(name: string): Metric | undefined;
  getSingleMetricAsString(name: string): Promise<string>;
  removeSingleMetric(name: string): void;
  clear(): void;
  resetMetrics(): void;
  setDefaultLabels(labels: Record<string, string | number>): void;
}

export declare const register: Registry;
export declare const contentType: string;
export declare const prometheusContentType: string;
export declare const openMetricsContentType: string;
export declare function linearBuckets(start: number, width: number, count: number): number[];
export declare function exponentialBuckets(start: number, factor: number, count: number): number[];

export interface DefaultMetricsCollectorConfiguration {
  register?: Registry;
  prefix?: string;
  labels?: Record<string, string | number | undefined>;
  gcDurationBuckets?: number[];
  eventLoopMonitoringPrecision?: number;
}
export declare const collectDefaultMetrics: {
  (config?: DefaultMetricsCollectorConfiguration): void;
  metricsList: string[];
};
