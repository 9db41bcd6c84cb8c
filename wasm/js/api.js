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
}

function negotiate(accept) {
  return raw.format(0, accept);
}

function contentType(format) {
  return raw.format(1, format);
}
