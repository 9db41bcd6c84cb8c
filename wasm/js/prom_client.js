// prom-client's API (version 15) over metrics-wasm, for code that switches: `build.sh` puts this
// after a line binding `core` to this package's own API (metrics_wasm.js) and, for Node, `nodeRequire`
// to `require`; it is `metrics-wasm/prom-client` (types: prom_client.d.ts).
//
// Each metric owns a one-family `core.Registry`: the registries below are lists of metrics (as
// in prom-client, a metric may be in several, or in none) that concatenate what each metric's
// registry renders. The values, their validation (names, label names, counter increments)
// and the exposition are the core's; what is here is prom-client's argument shapes: label
// objects (looked up in a tree of Maps keyed by the values as given, so a label object with
// values seen before costs no call into the module), `registers`, `collect()`, timers.

const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

function checkContentType(type) {
  if (type !== PROMETHEUS_CONTENT_TYPE && type !== OPENMETRICS_CONTENT_TYPE) {
    throw new TypeError(`Content type ${type} is unsupported`);
  }
}

// Seconds since an arbitrary origin, for timers (Node, browsers and workers all have it).
const now = () => performance.now() / 1000;

function isObject(v) {
  return v !== null && typeof v === "object";
}

function invalidValue(value) {
  return new TypeError(`Value is not a valid number: ${String(value)}`);
}

// Runs every metric's `collect()` (prom-client: invoked when the registry collects); a
// Promise when one of them returns one.
function collectAll(metrics) {
  let pending;
  for (const m of metrics) {
    if (typeof m.collect !== "function") continue;
    const r = m.collect();
    if (r !== null && typeof r === "object" && typeof r.then === "function") (pending ??= []).push(r);
  }
  return pending === undefined ? undefined : Promise.all(pending);
}

// A label value as the exposition writes it (`\\`, `\"`, `\n`).
function escapeLabelValue(v) {
  return String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

// Adds a registry's default labels to every sample line of `text` that does not have a label
// of that name already ("default labels will be overridden if there is a name conflict").
// Inside a rendered label value a `"` is always escaped, so `{name="` and `,name="` only match
// a label name.
function withDefaultLabels(text, labels) {
  const names = Object.keys(labels);
  if (names.length === 0) return text;
  const pairs = names.map((n) => [n, `${n}="${escapeLabelValue(labels[n])}"`]);
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === "" || line.startsWith("#")) continue;
    const brace = line.indexOf("{");
    const space = line.indexOf(" ");
    if (brace !== -1 && brace < space) {
      const add = pairs.filter(([n]) => !line.includes(`{${n}="`) && !line.includes(`,${n}="`)).map(([, p]) => p + ",");
      lines[i] = line.slice(0, brace + 1) + add.join("") + line.slice(brace + 1);
    } else {
      lines[i] = `${line.slice(0, space)}{${pairs.map(([, p]) => p).join(",")}}${line.slice(space)}`;
    }
  }
  return lines.join("\n");
}

// The samples of one metric's text rendering, as prom-client's `get()` lists them.
function parseSamples(text, type) {
  const values = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const brace = line.indexOf("{");
    const space = line.lastIndexOf(" ");
    const labels = {};
    let metricName = line.slice(0, space);
    if (brace !== -1 && brace < space) {
      metricName = line.slice(0, brace);
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      const body = line.slice(brace + 1, line.lastIndexOf("}"));
      for (let m; (m = re.exec(body)) !== null; ) {
        labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
      }
    }
    const raw = line.slice(space + 1);
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    if (type === "histogram") {
      if ("le" in labels) labels.le = labels.le === "+Inf" ? "+Inf" : Number(labels.le);
      values.push({ value, labels, metricName });
    } else {
      values.push({ value, labels });
    }
  }
  return values;
}

class Registry {
  static get PROMETHEUS_CONTENT_TYPE() {
    return PROMETHEUS_CONTENT_TYPE;
  }
  static get OPENMETRICS_CONTENT_TYPE() {
    return OPENMETRICS_CONTENT_TYPE;
  }
  constructor(regContentType = PROMETHEUS_CONTENT_TYPE) {
    checkContentType(regContentType);
    this._metrics = new Map();
    this._defaultLabels = {};
    this._contentType = regContentType;
  }
  get contentType() {
    return this._contentType;
  }
  setContentType(type) {
    checkContentType(type);
    this._contentType = type;
  }
  registerMetric(metric) {
    const existing = this._metrics.get(metric.name);
    if (existing !== undefined && existing !== metric) {
      throw new Error(`A metric with the name ${metric.name} has already been registered.`);
    }
    this._metrics.set(metric.name, metric);
  }
  getMetricsAsArray() {
    return [...this._metrics.values()];
  }
  getSingleMetric(name) {
    return this._metrics.get(name);
  }
  removeSingleMetric(name) {
    this._metrics.delete(name);
  }
  clear() {
    this._metrics = new Map();
    this._defaultLabels = {};
  }
  resetMetrics() {
    for (const m of this._metrics.values()) m.reset();
  }
  setDefaultLabels(labels) {
    this._defaultLabels = labels;
  }
  // The metrics' registries rendered one after the other (in this registry's format), with
  // the default labels; OpenMetrics ends with one `# EOF`.
  _render(metrics) {
    const om = this._contentType === OPENMETRICS_CONTENT_TYPE;
    const format = om ? "openmetrics" : "text";
    let out = "";
    for (const m of metrics) {
      const text = m._registry.render(format);
      out += om ? text.slice(0, text.length - "# EOF\n".length) : text;
    }
    out = withDefaultLabels(out, this._defaultLabels);
    return om ? out + "# EOF\n" : out;
  }
  async metrics() {
    const metrics = [...this._metrics.values()];
    await collectAll(metrics);
    return this._render(metrics);
  }
  async getSingleMetricAsString(name) {
    const m = this._metrics.get(name);
    if (m === undefined) throw new Error(`No metric named ${name}`);
    await collectAll([m]);
    return this._render([m]);
  }
  async getMetricsAsJSON() {
    const out = [];
    for (const m of this._metrics.values()) {
      const item = await m.get();
      for (const v of item.values) Object.assign(v.labels, { ...this._defaultLabels, ...v.labels });
      out.push(item);
    }
    return out;
  }
  static merge(registers) {
    const merged = new Registry(registers.length > 0 ? registers[0]._contentType : undefined);
    for (const r of registers) for (const m of r._metrics.values()) merged.registerMetric(m);
    return merged;
  }
}

// The default registry (`register`) and the module-level content types.
const globalRegistry = new Registry();
const register = globalRegistry;
const contentType = PROMETHEUS_CONTENT_TYPE;
const prometheusContentType = PROMETHEUS_CONTENT_TYPE;
const openMetricsContentType = OPENMETRICS_CONTENT_TYPE;

// What prom-client's Counter, Gauge and Histogram share: configuration, registration, label
// objects to children of the core metric.
class Metric {
  constructor(config, type, register) {
    if (!isObject(config)) throw new TypeError("Missing mandatory config object");
    if (!config.name) throw new Error("Missing mandatory name parameter");
    if (!config.help) throw new Error("Missing mandatory help parameter");
    Object.assign(this, config);
    this.labelNames ??= [];
    this.registers ??= [globalRegistry];
    this.aggregator ??= "sum";
    this.type = type;
    this._labelSet = new Set(this.labelNames);
    this._cache = new Map();
    this._registry = new core.Registry();
    this._m = register(this._registry, this.labelNames.map(String));
    for (const r of this.registers) r.registerMetric(this);
  }
  // The core child (or, without labels, the core metric itself) for a prom-client label object.
  _series(labels) {
    for (const k in labels) {
      if (!this._labelSet.has(k)) {
        throw new Error(`Added label "${k}" is not included in initial labelset: ${JSON.stringify(this.labelNames)}`);
      }
    }
    const names = this.labelNames;
    const n = names.length;
    if (n === 0) return this._m;
    let map = this._cache;
    for (let i = 0; i < n - 1 && map !== undefined; i++) map = map.get(labels[names[i]]);
    if (map !== undefined) {
      const s = map.get(labels[names[n - 1]]);
      if (s !== undefined) return s;
    }
    // A label left out is an empty value: the same series to Prometheus as an absent label.
    const values = names.map((name) => (labels[name] === undefined ? "" : String(labels[name])));
    const s = this._m.labels(values);
    map = this._cache;
    for (let i = 0; i < n - 1; i++) {
      const key = labels[names[i]];
      let next = map.get(key);
      if (next === undefined) map.set(key, (next = new Map()));
      map = next;
    }
    map.set(labels[names[n - 1]], s);
    return s;
  }
  // `labels({ a: "x" })` or `labels("x", ...)` (values in `labelNames` order) as an object.
  _labelObject(args) {
    if (args.length === 1 && isObject(args[0])) return args[0];
    if (args.length !== this.labelNames.length) throw new Error("Invalid number of arguments");
    const labels = {};
    this.labelNames.forEach((name, i) => (labels[name] = args[i]));
    return labels;
  }
  reset() {
    this._registry.reset();
    this._cache = new Map();
  }
  remove() {
    throw new Error(
      `metric "${this.name}": remove() is not supported by metrics-wasm (a family's series stay until reset())`,
    );
  }
  async get() {
    await collectAll([this]);
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: parseSamples(this._registry.render("text"), this.type),
      aggregator: this.aggregator,
    };
  }
}

// Counter increments: prom-client's checks and messages.
function checkIncrement(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) throw invalidValue(value);
  if (value < 0) throw new Error("It is not possible to decrease a counter");
}

class Counter extends Metric {
  constructor(config) {
    // The core exposes `<name>_total`: a name that ends with `_total` is given without it.
    super(config, "counter", (r, labelNames) =>
      r.counter(String(config?.name).replace(/_total$/, ""), String(config?.help), labelNames));
  }
  inc(labels, value) {
    if (labels === undefined) return void this._m.inc();
    if (typeof labels !== "object" || labels === null) {
      checkIncrement(labels);
      return void this._m.incBy(labels);
    }
    const s = this._series(labels);
    if (value === undefined) return void s.inc();
    checkIncrement(value);
    s.incBy(value);
  }
  labels(...args) {
    const s = this._series(this._labelObject(args));
    return {
      inc(value) {
        if (value === undefined) return void s.inc();
        checkIncrement(value);
        s.incBy(value);
      },
    };
  }
}

// A gauge timer: the gauge is set to the seconds since `startTimer`.
function gaugeTimer(gauge, startLabels) {
  const start = now();
  return (endLabels) => {
    const seconds = now() - start;
    gauge.set({ ...startLabels, ...endLabels }, seconds);
    return seconds;
  };
}

class Gauge extends Metric {
  constructor(config) {
    super(config, "gauge", (r, labelNames) => r.gauge(String(config?.name), String(config?.help), labelNames));
  }
  _target(labels) {
    return labels === undefined || typeof labels !== "object" || labels === null ? this._m : this._series(labels);
  }
  set(labels, value) {
    const s = this._target(labels);
    if (s === this._m && value === undefined) value = labels;
    if (typeof value !== "number") throw invalidValue(value);
    s.set(value);
  }
  inc(labels, value) {
    const s = this._target(labels);
    if (s === this._m && typeof labels === "number") value = labels;
    if (value === undefined) return void s.inc();
    if (typeof value !== "number") throw invalidValue(value);
    s.add(value);
  }
  dec(labels, value) {
    const s = this._target(labels);
    if (s === this._m && typeof labels === "number") value = labels;
    if (value === undefined) return void s.dec();
    if (typeof value !== "number") throw invalidValue(value);
    s.sub(value);
  }
  setToCurrentTime(labels) {
    this._target(labels).set(Date.now() / 1000);
  }
  startTimer(labels) {
    return gaugeTimer(this, labels);
  }
  labels(...args) {
    const labels = this._labelObject(args);
    const gauge = this;
    const s = this._series(labels);
    return {
      set(value) {
        if (typeof value !== "number") throw invalidValue(value);
        s.set(value);
      },
      inc(value) {
        if (value === undefined) s.inc();
        else gauge.inc(labels, value);
      },
      dec(value) {
        if (value === undefined) s.dec();
        else gauge.dec(labels, value);
      },
      setToCurrentTime() {
        s.set(Date.now() / 1000);
      },
      startTimer() {
        return gaugeTimer(gauge, labels);
      },
    };
  }
}

class Histogram extends Metric {
  constructor(config) {
    super(config, "histogram", (r, labelNames) =>
      r.histogram(String(config?.name), String(config?.help), labelNames, config?.buckets));
  }
  observe(labels, value) {
    if (typeof labels === "number") return void this._m.observe(labels);
    if (typeof value !== "number") throw invalidValue(value);
    (labels === undefined || labels === null ? this._m : this._series(labels)).observe(value);
  }
  // `end(labels)` observes the seconds since `startTimer` (with the labels of both) and
  // returns them.
  startTimer(labels) {
    const start = now();
    return (endLabels) => {
      const seconds = now() - start;
      if (labels === undefined && endLabels === undefined) this._m.observe(seconds);
      else this._series({ ...labels, ...endLabels }).observe(seconds);
      return seconds;
    };
  }
  // Creates the series (at zero) for `labels`. prom-client does not check these labels (its
  // README's example passes one the histogram does not declare, and it exposes that label);
  // here labels not declared are left out: the family's label names are fixed.
  zero(labels) {
    const declared = {};
    for (const name of this.labelNames) if (labels[name] !== undefined) declared[name] = labels[name];
    this._series(declared);
  }
  labels(...args) {
    const labels = this._labelObject(args);
    const histogram = this;
    const s = this._series(labels);
    return {
      observe(value) {
        if (typeof value !== "number") throw invalidValue(value);
        s.observe(value);
      },
      startTimer() {
        return histogram.startTimer(labels);
      },
    };
  }
}

function linearBuckets(start, width, count) {
  if (count < 1) throw new Error("Linear buckets needs a positive count");
  return Array.from({ length: count }, (_, i) => start + i * width);
}

function exponentialBuckets(start, factor, count) {
  if (start <= 0) throw new Error("Exponential buckets needs a positive start");
  if (count < 1) throw new Error("Exponential buckets needs a positive count");
  if (factor <= 1) throw new Error("Exponential buckets needs a factor greater than 1");
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}
