// The JS API over the module's few exports (src/abi.rs): build.sh puts this between a line that
// binds `raw` to wasm-bindgen's generated module and the target's exports (ES module or
// CommonJS). Types: metrics_wasm.d.ts. Arguments other than label lists go to the module as
// given, so wasm-bindgen converts and checks them exactly as when every method was its own
// export.

// The method numbers of src/series.rs `op`.
const INC = 0, ADD = 1, GET = 2, SET = 3, DEC = 4, SUB = 5, OBSERVE = 6, COUNT = 7, SUM = 8;

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
    if (inner !== undefined) inner.free();
  }
}
if (Symbol.dispose) Handle.prototype[Symbol.dispose] = Handle.prototype.free;

// The name is kept here, as registered: one export fewer.
class Metric extends Handle {
  constructor(inner, name) {
    super(inner);
    this.__name = name;
  }
  // Method `op` on the series for `labelValues`; without them, through `op0`, which has no
  // list to decode.
  __op(op, value, labelValues) {
    if (labelValues === undefined || labelValues === null) return this.__inner.op0(op, value);
    return this.__inner.op(op, value, joinLabels(labelValues));
  }
  get name() {
    return this.__name;
  }
}

class Counter extends Metric {
  inc(labelValues) {
    this.__op(INC, 0, labelValues);
  }
  incBy(value, labelValues) {
    this.__op(ADD, value, labelValues);
  }
  get(labelValues) {
    return this.__op(GET, 0, labelValues);
  }
  labels(labelValues) {
    return new CounterChild(this.__inner.labels(joinLabels(labelValues)));
  }
}

class CounterChild extends Handle {
  inc() {
    this.__inner.op0(INC, 0);
  }
  incBy(value) {
    this.__inner.op0(ADD, value);
  }
  get() {
    return this.__inner.op0(GET, 0);
  }
}

class Gauge extends Metric {
  set(value, labelValues) {
    this.__op(SET, value, labelValues);
  }
  inc(labelValues) {
    this.__op(INC, 0, labelValues);
  }
  dec(labelValues) {
    this.__op(DEC, 0, labelValues);
  }
  add(value, labelValues) {
    this.__op(ADD, value, labelValues);
  }
  sub(value, labelValues) {
    this.__op(SUB, value, labelValues);
  }
  get(labelValues) {
    return this.__op(GET, 0, labelValues);
  }
  labels(labelValues) {
    return new GaugeChild(this.__inner.labels(joinLabels(labelValues)));
  }
}

class GaugeChild extends Handle {
  set(value) {
    this.__inner.op0(SET, value);
  }
  inc() {
    this.__inner.op0(INC, 0);
  }
  dec() {
    this.__inner.op0(DEC, 0);
  }
  add(value) {
    this.__inner.op0(ADD, value);
  }
  sub(value) {
    this.__inner.op0(SUB, value);
  }
  get() {
    return this.__inner.op0(GET, 0);
  }
}

class Histogram extends Metric {
  observe(value, labelValues) {
    this.__op(OBSERVE, value, labelValues);
  }
  count(labelValues) {
    return this.__op(COUNT, 0, labelValues);
  }
  sum(labelValues) {
    return this.__op(SUM, 0, labelValues);
  }
  labels(labelValues) {
    return new HistogramChild(this.__inner.labels(joinLabels(labelValues)));
  }
}

class HistogramChild extends Handle {
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
    this.__size = 0;
  }
  // Registers a metric of `kind` (src/abi.rs `metric`), counted here for `size` (the module
  // registers it, or throws and registers nothing; `reset` keeps every metric).
  __metric(Class, kind, name, help, labelNames, buckets) {
    const inner = this.__inner.metric(kind, name, help, joinLabels(labelNames), buckets);
    this.__size++;
    return new Class(inner, String(name));
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
  render(format) {
    return this.__inner.render(format);
  }
  scrape(accept) {
    const format = raw.format(0, accept);
    return new Exposition(this.__inner.render(format), format);
  }
  reset() {
    this.__inner.reset();
  }
  get size() {
    return this.__size;
  }
}

function negotiate(accept) {
  return raw.format(0, accept);
}

function contentType(format) {
  return raw.format(1, format);
}
