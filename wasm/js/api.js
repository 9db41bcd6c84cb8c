// The JS API over the module's few exports (src/abi.rs): build.sh puts this between a line that
// binds `raw` to wasm-bindgen's generated module and the target's exports (ES module or
// CommonJS). Types: metrics_wasm.d.ts. Arguments other than label lists go to the module as
// given, so wasm-bindgen converts and checks them exactly as when every method was its own
// export.

// The method numbers of src/series.rs `op`.
const INC = 0, ADD = 1, GET = 2, SET = 3, DEC = 4, SUB = 5, OBSERVE = 6, COUNT = 7, SUM = 8, ADDR = 9;

// Counters and gauges are updated in place: a counter or gauge series is eight bytes in the
// module's linear memory holding an f64 (src/series.rs `value_address`), and the methods below
// add to it or set it through this Float64Array view of that memory instead of calling into
// the module: a JS-to-wasm call costs more than the update. Plain `+=` is correct here: a JS
// host runs a wasm instance on one thread (the memory is not a SharedArrayBuffer), so no other
// code runs between the read and the write, and the module's own code (render included) never
// runs during one. The core still owns the values' encoding and validation: a counter only
// takes non-negative numbers here (anything else goes through the module, which throws its
// error), and render reads the same eight bytes. Histograms are observed by the module
// (bucket search and the consistency of count, buckets and sum stay in the core).
//
// `memory.grow` (the module allocating, e.g. for a new series) detaches the old buffer; a view
// of a detached buffer has length 0, so every update checks that first and makes a new view.
let F64 = new Float64Array(0);
function view() {
  F64 = new Float64Array(raw.linear_memory().buffer);
  return F64;
}

// Label names or values as the module takes them (src/abi.rs `split_labels`): one string, each
// value as its length (UTF-16 code units), ":", the value; `undefined` for no list. Anything
// but a string in the list throws the error wasm-bindgen's `string[]` conversion threw.
function joinLabels(values) {
  if (values === undefined || values === null) return undefined;
  let joined = "";
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "string") throw new Error("array contains a value of the wrong type");
    joined += v.length + ":" + v;
  }
  return joined;
}

// What every class shares: the module object behind it, released by `free()` (or by garbage
// collection, through wasm-bindgen's finalizer on that object).
class Handle {
  constructor(inner) {
    this.__inner = inner;
  }
  free() {
    const inner = this.__inner;
    this.__inner = undefined;
    // The next update binds again, which throws now: nothing is written to the freed series.
    this.__gen = -1;
    if (inner !== undefined) inner.free();
  }
}
if (Symbol.dispose) Handle.prototype[Symbol.dispose] = Handle.prototype.free;

// One counter or gauge series updated in place: a child, or a metric without labels. `__i` is
// the index of its value in `F64`, valid while `__gen` is the registry's generation (`reset()`
// replaces the series: the module frees the old one, so the index is asked again; the handle
// `__inner` keeps the series it points to alive until then).
class InPlace extends Handle {
  constructor(inner, state) {
    super(inner);
    this.__state = state;
    this.__gen = -1;
    this.__i = 0;
  }
  // Binds to the series (throws, as the module does, for a metric with labels called without
  // label values, or after `free()`).
  __bind() {
    this.__i = this.__inner.op0(ADDR, 0) / 8;
    this.__gen = this.__state.gen;
  }
}

// A metric: its name, label count and the children for the label values used so far (a tree
// of Maps, one level per label: lookups with values seen before cross into the module no more).
// The name is kept here, as registered: one export fewer.
function metricFields(m, name, labelCount) {
  m.__name = name;
  m.__labelCount = labelCount;
  m.__cache = new Map();
}

// The child for `labelValues` (an array), from the cache or made and cached; `Child` makes one.
function childFor(m, labelValues, Child) {
  const n = m.__labelCount;
  // A metric without labels given no values (`inc([])`) is its own series.
  if (n === 0 && labelValues.length === 0) return m;
  if (labelValues.length === n && n > 0) {
    let map = m.__cache;
    for (let k = 0; k < n - 1 && map !== undefined; k++) map = map.get(labelValues[k]);
    if (map !== undefined) {
      const c = map.get(labelValues[n - 1]);
      if (c !== undefined) return c;
    }
  }
  // A miss: the module checks the values (types, count, cardinality limit) and binds a child.
  const child = new Child(m.__inner.labels(joinLabels(labelValues)), m.__state);
  if (labelValues.length === n && n > 0) {
    let map = m.__cache;
    for (let k = 0; k < n - 1; k++) {
      let next = map.get(labelValues[k]);
      if (next === undefined) map.set(labelValues[k], (next = new Map()));
      map = next;
    }
    map.set(labelValues[n - 1], child);
  }
  return child;
}

class Counter extends InPlace {
  constructor(inner, state, name, labelCount) {
    super(inner, state);
    metricFields(this, name, labelCount);
  }
  get name() {
    return this.__name;
  }
  inc(labelValues) {
    if (labelValues !== undefined && labelValues !== null) return childFor(this, labelValues, CounterChild).inc();
    if (this.__gen !== this.__state.gen) this.__bind();
    let v = F64;
    if (v.length === 0) v = view();
    v[this.__i] += 1;
  }
  incBy(value, labelValues) {
    if (labelValues !== undefined && labelValues !== null) return childFor(this, labelValues, CounterChild).incBy(value);
    if (this.__gen !== this.__state.gen) this.__bind();
    if (typeof value !== "number" || !(value >= 0)) return void this.__inner.op0(ADD, value);
    let v = F64;
    if (v.length === 0) v = view();
    v[this.__i] += value;
  }
  get(labelValues) {
    if (labelValues !== undefined && labelValues !== null) return childFor(this, labelValues, CounterChild).get();
    if (this.__gen !== this.__state.gen) this.__bind();
    let v = F64;
    if (v.length === 0) v = view();
    return v[this.__i];
  }
  labels(labelValues) {
    return new CounterChild(this.__inner.labels(joinLabels(labelValues)), this.__state);
  }
}

class CounterChild extends InPlace {
  inc() {
    if (this.__gen !== this.__state.gen) this.__bind();
    let v = F64;
    if (v.length === 0) v = view();
    v[this.__i] += 1;
  }
  incBy(value) {
    if (this.__gen !== this.__state.gen) this.__bind();
    // Negative, NaN and non-numbers: the module converts, checks and throws its error.
    if (typeof value !== "number" || !(value >= 0)) return void this.__inner.op0(ADD, value);
    let v = F64;
    if (v.length === 0) v = view();
    v[this.__i] += value;
  }
  get() {
    if (this.__gen !== this.__state.gen) this.__bind();
    let v = F64;
    if (v.length === 0) v = view();
    return v[this.__i];
  }
}

// A gauge's value in place: `f(values, index)` after binding; a value that is not a number
// goes through the module (method `op`), which converts it as before.
class GaugeChild extends InPlace {
  set(value) {
    if (this.__gen !== this.__state.gen) this.__bind();
    if (typeof value !== "number") return void this.__inner.op0(SET, value);
    let v = F64;
    if (v.length === 0) v = view();
    v[this.__i] = value;
  }
  inc() {
    if (this.__gen !== this.__state.gen) this.__bind();
    let v = F64;
    if (v.length === 0) v = view();
    v[this.__i] += 1;
  }
  dec() {
    if (this.__gen !== this.__state.gen) this.__bind();
    let v = F64;
    if (v.length === 0) v = view();
    v[this.__i] -= 1;
  }
  add(value) {
    if (this.__gen !== this.__state.gen) this.__bind();
    if (typeof value !== "number") return void this.__inner.op0(ADD, value);
    let v = F64;
    if (v.length === 0) v = view();
    v[this.__i] += value;
  }
  sub(value) {
    if (this.__gen !== this.__state.gen) this.__bind();
    if (typeof value !== "number") return void this.__inner.op0(SUB, value);
    let v = F64;
    if (v.length === 0) v = view();
    v[this.__i] -= value;
  }
  get() {
    if (this.__gen !== this.__state.gen) this.__bind();
    let v = F64;
    if (v.length === 0) v = view();
    return v[this.__i];
  }
}

// A gauge without label values is its own series (GaugeChild's methods); with them, the
// cached child's.
class Gauge extends GaugeChild {
  constructor(inner, state, name, labelCount) {
    super(inner, state);
    metricFields(this, name, labelCount);
  }
  get name() {
    return this.__name;
  }
  set(value, labelValues) {
    if (labelValues !== undefined && labelValues !== null) return childFor(this, labelValues, GaugeChild).set(value);
    super.set(value);
  }
  inc(labelValues) {
    if (labelValues !== undefined && labelValues !== null) return childFor(this, labelValues, GaugeChild).inc();
    super.inc();
  }
  dec(labelValues) {
    if (labelValues !== undefined && labelValues !== null) return childFor(this, labelValues, GaugeChild).dec();
    super.dec();
  }
  add(value, labelValues) {
    if (labelValues !== undefined && labelValues !== null) return childFor(this, labelValues, GaugeChild).add(value);
    super.add(value);
  }
  sub(value, labelValues) {
    if (labelValues !== undefined && labelValues !== null) return childFor(this, labelValues, GaugeChild).sub(value);
    super.sub(value);
  }
  get(labelValues) {
    if (labelValues !== undefined && labelValues !== null) return childFor(this, labelValues, GaugeChild).get();
    return super.get();
  }
  labels(labelValues) {
    return new GaugeChild(this.__inner.labels(joinLabels(labelValues)), this.__state);
  }
}

// Histograms cross into the module for every observation (see `F64` above).
class HistogramChild extends Handle {
  // `state` unused: the same constructor shape as the other children (`childFor`).
  constructor(inner, state) {
    super(inner);
    this.__state = state;
  }
  observe(value) {
    this.__inner.op0(OBSERVE, value);
  }
  count() {
    return this.__inner.op0(COUNT, 0);
  }
  sum() {
    return this.__inner.op0(SUM, 0);
  }
}

class Histogram extends Handle {
  constructor(inner, state, name, labelCount) {
    super(inner);
    this.__state = state;
    metricFields(this, name, labelCount);
  }
  get name() {
    return this.__name;
  }
  observe(value, labelValues) {
    if (labelValues === undefined || labelValues === null) return void this.__inner.op0(OBSERVE, value);
    childFor(this, labelValues, HistogramChild).observe(value);
  }
  count(labelValues) {
    if (labelValues === undefined || labelValues === null) return this.__inner.op0(COUNT, 0);
    return childFor(this, labelValues, HistogramChild).count();
  }
  sum(labelValues) {
    if (labelValues === undefined || labelValues === null) return this.__inner.op0(SUM, 0);
    return childFor(this, labelValues, HistogramChild).sum();
  }
  labels(labelValues) {
    return new HistogramChild(this.__inner.labels(joinLabels(labelValues)), this.__state);
  }
}

class Exposition extends Handle {
  constructor(body, format) {
    super(undefined);
    this.__body = body;
    this.__format = format;
  }
  get body() {
    return this.__body;
  }
  get contentType() {
    return raw.format(1, this.__format);
  }
  get format() {
    return this.__format;
  }
}

class Registry extends Handle {
  constructor(cardinalityLimit) {
    super(new raw.RawRegistry(cardinalityLimit));
    // The generation every in-place series of this registry checks (`InPlace`).
    this.__state = { gen: 0 };
    this.__metrics = [];
  }
  // Registers a metric of `kind` (src/abi.rs `metric`), kept here for `size` and `reset` (the
  // module registers it, or throws and registers nothing; `reset` keeps every metric).
  __metric(Class, kind, name, help, labelNames, buckets) {
    const inner = this.__inner.metric(kind, name, help, joinLabels(labelNames), buckets);
    const m = new Class(inner, this.__state, String(name), labelNames ? labelNames.length : 0);
    this.__metrics.push(m);
    return m;
  }
  counter(name, help, labelNames) {
    return this.__metric(Counter, 0, name, help, labelNames);
  }
  gauge(name, help, labelNames) {
    return this.__metric(Gauge, 1, name, help, labelNames);
  }
  histogram(name, help, labelNames, buckets) {
    return this.__metric(Histogram, 2, name, help, labelNames, buckets);
  }
  // Render reads in the module the values JS wrote in place. It runs on this thread, so no
  // update (in place, or an `observe` in the module) runs while it reads: it sees every update
  // made before the call and none after. Histograms are observed only by the module, so the
  // core's snapshot rules hold as in Rust: in what render writes, `_count` equals the `+Inf`
  // bucket and `_sum` is the sum of the same observations.
  render(format) {
    return this.__inner.render(format);
  }
  scrape(accept) {
    const format = raw.format(0, accept);
    return new Exposition(this.__inner.render(format), format);
  }
  reset() {
    this.__inner.reset();
    // Every in-place index of this registry is stale now (the old series are freed once no
    // handle holds them): a new generation makes each bind again before its next update.
    this.__state.gen++;
    for (const m of this.__metrics) m.__cache = new Map();
  }
  get size() {
    return this.__metrics.length;
  }
  // Pushes to the gateway, per group (`pushState`): one push at a time per group (queued), so
  // two pushes never compute their increments against the same acknowledged values.
  async push(url, options) {
    const path = groupingPath(options);
    const pushes = (this.__pushes ??= new Map());
    let s = pushes.get(path);
    if (s === undefined) pushes.set(path, (s = { acked: new Map(), gen: this.__state.gen, pending: null, queue: undefined }));
    const target = String(url).replace(/\/+$/, "") + path;
    const run = Promise.resolve(s.queue).then(() => pushOnce(this, s, target, options));
    s.queue = run.catch(() => {});
    return run;
  }
  pushInBackground(ctx, url, options) {
    const done = this.push(url, options).then(
      () => true,
      (e) => {
        (options?.onError ?? console.warn)(e);
        return false;
      },
    );
    ctx.waitUntil(done);
    return done;
  }
  // The protobuf exposition (what Prometheus 3 asks for first with native histograms on), as
  // bytes; in the larger module only (it shares Remote-Write's protobuf writer).
  renderProtobuf() {
    if (this.__inner.render_protobuf === undefined) {
      throw new Error("renderProtobuf: this build of the module has no protobuf encoder (it keeps the default module under 48 KB): import Registry from \"metrics-wasm/remote-write\" (or \"metrics-wasm/remote-write/web\")");
    }
    return this.__inner.render_protobuf();
  }
  // The whole registry, every time: a failed write loses nothing (the next one carries the
  // totals), so there is no state to keep.
  async remoteWrite(url, options = {}) {
    const v = options.version ?? 1;
    if (v !== 1 && v !== 2) throw new Error(`remoteWrite: version ${v}: use 1 (Remote-Write 1.0) or 2 (2.0)`);
    const external = [];
    for (const [name, value] of Object.entries(options.externalLabels ?? {})) {
      if (!LABEL_NAME.test(name)) throw new Error(`remoteWrite: external label name ${JSON.stringify(name)} is not a label name`);
      external.push(name, String(value));
    }
    if (this.__inner.remote_write === undefined) {
      throw new Error("remoteWrite: this build of the module has no Remote-Write encoder (it keeps the default module under 48 KB): import Registry from \"metrics-wasm/remote-write\" (or \"metrics-wasm/remote-write/web\")");
    }
    const body = this.__inner.remote_write(v === 2, options.timestampMs ?? Date.now(), joinLabels(external));
    const headers = new Headers(options.headers);
    const core = raw.format(2, String(v)).split("\n");
    for (let i = 0; i < core.length; i += 2) headers.set(core[i], core[i + 1]);
    await post(url, headers, body, "remoteWrite");
  }
}

// ---- Delivery: pushes to the gateway (its README, "Pushes"), Remote-Write ----

const TEXT = "text/plain; version=0.0.4; charset=utf-8";
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

// `/push/job/<job>{/<label>/<value>}`: a value that is empty, `.`, `..` (URL parsers drop dot
// segments, %-encoded or not) or holds `/` in the gateway's `<label>@base64/<base64url>` form.
function groupingPath(options) {
  const job = options?.job;
  if (typeof job !== "string" || job === "") throw new Error("push: options.job must be a non-empty string (the gateway groups pushes by /push/job/<job>)");
  let path = "/push/" + segment("job", job);
  for (const [name, value] of Object.entries(options.labels ?? {})) path += "/" + segment(name, String(value));
  return path;
}

function segment(name, value) {
  name = encodeURIComponent(name);
  if (!/^\.{0,2}$|\//.test(value)) return name + "/" + encodeURIComponent(value);
  if (value === "") return name + "@base64/=";
  let bin = "";
  for (const b of new TextEncoder().encode(value)) bin += String.fromCharCode(b);
  return name + "@base64/" + btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// A fresh idempotency key: 128 random bits as hex (`getRandomValues` works in insecure
// contexts too, unlike `randomUUID`).
function newKey() {
  const b = new Uint8Array(16);
  if (globalThis.crypto?.getRandomValues) crypto.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.random() * 256;
  let key = "";
  for (const x of b) key += (x | 256).toString(16).slice(1);
  return key;
}

// The push body: the registry's text exposition with each counter and histogram sample
// replaced by its value minus `acked` (the values the gateway acknowledged, by series), gauges
// as they are; and the values it was computed from, which become `acked` once the gateway
// acknowledges this body. The text is the core's, so every histogram sample comes from one
// snapshot, where `_count` equals the `+Inf` bucket and buckets are cumulative; both snapshots
// being so, their differences are too (the same count, non-decreasing buckets).
function deltas(text, acked) {
  let body = "";
  let type = "";
  const values = new Map();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line[0] === "#") {
      if (line.startsWith("# TYPE ")) type = line.slice(line.lastIndexOf(" ") + 1);
    } else if (type !== "gauge") {
      // `name{labels} value`: no timestamps in a render, and label values escape newlines, so
      // the value follows the last space and the rest of the line names the series.
      const at = line.lastIndexOf(" ");
      const series = line.slice(0, at);
      const value = Number(line.slice(at + 1));
      values.set(series, value);
      body += series + " " + (value - (acked.get(series) ?? 0)) + "\n";
      continue;
    }
    body += line + "\n";
  }
  return { body, values };
}

// One push: first the attempt that failed last time, if it may have been applied (the same
// body under the same key: the gateway counts it once), then what was counted since.
async function pushOnce(registry, s, target, options) {
  if (s.pending !== null) await send(s, target, options);
  const gen = registry.__state.gen;
  // After `reset()` the values start again from zero: nothing of them was acknowledged.
  const { body, values } = deltas(registry.render(), s.gen === gen ? s.acked : new Map());
  s.pending = { key: newKey(), body, values, gen };
  await send(s, target, options);
}

async function send(s, target, options) {
  const p = s.pending;
  const headers = new Headers(options.headers);
  headers.set("content-type", TEXT);
  headers.set("idempotency-key", p.key);
  try {
    await post(target, headers, p.body, "push");
  } catch (e) {
    // A refusal (4xx but 408 and 429) stored nothing: the increments stay unacknowledged and go
    // into the next push under a new key. Anything else (no answer, 5xx) may have been
    // applied: the next push repeats this body under this key first.
    if (e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429) s.pending = null;
    throw e;
  }
  s.acked = p.values;
  s.gen = p.gen;
  s.pending = null;
}

// POSTs `body`; throws an Error (with `status` when there was an answer) unless it is 2xx.
async function post(url, headers, body, what) {
  let r;
  try {
    r = await fetch(url, { method: "POST", headers, body });
  } catch (e) {
    throw new Error(`${what} to ${url} failed: ${e?.message ?? e}${e?.cause?.message ? ` (${e.cause.message})` : ""}`, { cause: e });
  }
  if (r.ok) {
    await r.body?.cancel();
    return;
  }
  const text = await r.text().catch(() => "");
  const e = new Error(`${what} to ${url} failed: ${r.status} ${text.trim().slice(0, 500)}`);
  e.status = r.status;
  throw e;
}

function negotiate(accept) {
  return raw.format(0, accept);
}

function contentType(format) {
  return raw.format(1, format);
}
