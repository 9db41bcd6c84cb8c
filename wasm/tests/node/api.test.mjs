// The built npm package under `node --test`: the API, the errors and the exact rendered text,
// and both formats read back by Python prometheus_client's parsers (the strict OpenMetrics one
// included) through scripts/check_exposition.py. Run by wasm/test.sh after wasm/build.sh.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// The package by its own name: package.json "exports" resolves it to pkg/node.
import { Registry, negotiate, contentType } from "metrics-wasm";
import { Registry as RwRegistry } from "metrics-wasm/remote-write";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const python = process.env.METRICS_PYTHON ?? join(root, ".venv/bin/python");

const TEXT = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_ACCEPT =
  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75," +
  "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

function sample(RegistryClass = Registry) {
  const registry = new RegistryClass();
  const requests = registry.counter("http_requests", "Requests served.", ["method", "code"]);
  requests.inc(["GET", "200"]);
  requests.incBy(2, ["GET", "200"]);
  requests.labels(["POST", "500"]).inc();
  const temperature = registry.gauge("room_temperature_celsius", "Temperature, \"quoted\".");
  temperature.set(21.5);
  temperature.dec();
  const latency = registry.histogram("request_latency_seconds", "Latency.", ["route"], [0.1, 0.5, 1]);
  latency.observe(0.05, ["/"]);
  latency.observe(0.7, ["/"]);
  latency.labels(["/a\\b\"c\nd"]).observe(3);
  const up = registry.gauge("up_flag", "");
  up.set(Infinity);
  return { registry, requests, temperature, latency };
}

const EXPECTED_TEXT = `# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{method="GET",code="200"} 3
http_requests_total{method="POST",code="500"} 1
# HELP room_temperature_celsius Temperature, "quoted".
# TYPE room_temperature_celsius gauge
room_temperature_celsius 20.5
# HELP request_latency_seconds Latency.
# TYPE request_latency_seconds histogram
request_latency_seconds_bucket{route="/",le="0.1"} 1
request_latency_seconds_bucket{route="/",le="0.5"} 1
request_latency_seconds_bucket{route="/",le="1.0"} 2
request_latency_seconds_bucket{route="/",le="+Inf"} 2
request_latency_seconds_sum{route="/"} 0.75
request_latency_seconds_count{route="/"} 2
request_latency_seconds_bucket{route="/a\\\\b\\"c\\nd",le="0.1"} 0
request_latency_seconds_bucket{route="/a\\\\b\\"c\\nd",le="0.5"} 0
request_latency_seconds_bucket{route="/a\\\\b\\"c\\nd",le="1.0"} 0
request_latency_seconds_bucket{route="/a\\\\b\\"c\\nd",le="+Inf"} 1
request_latency_seconds_sum{route="/a\\\\b\\"c\\nd"} 3
request_latency_seconds_count{route="/a\\\\b\\"c\\nd"} 1
# TYPE up_flag gauge
up_flag +Inf
`;

test("renders the text format exactly", () => {
  const { registry } = sample();
  assert.equal(registry.render(), EXPECTED_TEXT);
  assert.equal(registry.render("text"), EXPECTED_TEXT);
});

// OpenMetrics differs from the text format in exactly these places: counter families are
// declared without `_total`, quotes in HELP are escaped, and the exposition ends with `# EOF`.
const EXPECTED_OPENMETRICS =
  EXPECTED_TEXT.replace("# HELP http_requests_total", "# HELP http_requests")
    .replace("# TYPE http_requests_total", "# TYPE http_requests")
    .replace('Temperature, "quoted".', 'Temperature, \\"quoted\\".') + "# EOF\n";

test("renders OpenMetrics exactly", () => {
  const { registry } = sample();
  assert.equal(registry.render("openmetrics"), EXPECTED_OPENMETRICS);
  assert.ok(EXPECTED_OPENMETRICS.includes('# HELP room_temperature_celsius Temperature, \\"quoted\\".\n'));
});

test("negotiates the format and Content-Type from Accept", () => {
  const { registry } = sample();
  assert.equal(negotiate(PROMETHEUS_ACCEPT), "openmetrics");
  assert.equal(negotiate("text/plain"), "text");
  assert.equal(negotiate(), "text");
  assert.equal(negotiate(null), "text");
  assert.equal(contentType("text"), TEXT);
  assert.equal(contentType("openmetrics"), OPENMETRICS);
  const om = registry.scrape(PROMETHEUS_ACCEPT);
  assert.equal(om.format, "openmetrics");
  assert.equal(om.contentType, OPENMETRICS);
  assert.equal(om.body, EXPECTED_OPENMETRICS);
  const text = registry.scrape("*/*");
  assert.equal(text.contentType, TEXT);
  assert.equal(text.body, EXPECTED_TEXT);
  assert.equal(registry.scrape(undefined).format, "text");
});

test("values read back, children and reset", () => {
  const { registry, requests, temperature, latency } = sample();
  assert.equal(registry.size, 4);
  assert.equal(requests.name, "http_requests");
  assert.equal(requests.get(["GET", "200"]), 3);
  assert.equal(temperature.get(), 20.5);
  assert.equal(latency.count(["/"]), 2);
  assert.equal(latency.sum(["/"]), 0.75);
  const child = requests.labels(["GET", "200"]);
  child.incBy(0.5);
  assert.equal(child.get(), 3.5);
  registry.reset();
  assert.equal(child.get(), 0, "children follow the reset");
  assert.equal(temperature.get(), 0);
  child.inc();
  assert.equal(
    registry.render().split("\n").slice(0, 4).join("\n"),
    '# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\nhttp_requests_total{method="GET",code="200"} 1\n# HELP room_temperature_celsius Temperature, "quoted".',
  );
  const g = new Registry().gauge("g", "");
  for (const op of ["inc", "inc", "dec"]) g[op]();
  g.add(10);
  g.sub(0.5);
  assert.equal(g.get(), 10.5);
});

function throwsMessage(fn, re) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof Error, `an Error, got ${e}`);
    assert.match(e.message, re);
    return true;
  });
}

test("bad input throws Errors with clear messages, never breaks the module", () => {
  const registry = new Registry(2);
  throwsMessage(() => registry.counter("9lives", ""), /invalid metric name "9lives": use letters, digits/);
  throwsMessage(() => registry.counter("__x", ""), /invalid metric name "__x"/);
  throwsMessage(() => registry.gauge("g", "", ["le"]), /label name "le" is reserved/);
  throwsMessage(() => registry.gauge("g", "", ["a-b"]), /invalid label name "a-b"/);
  throwsMessage(() => registry.gauge("g", "", ["a", "a"]), /declared twice/);
  throwsMessage(() => registry.histogram("h", "", [], [1, 1]), /invalid histogram buckets/);
  const jobs = registry.counter("jobs", "", ["kind"]);
  throwsMessage(() => registry.gauge("jobs_total", ""), /metric "jobs_total": .*already exposed/);
  throwsMessage(() => jobs.inc(), /metric "jobs": wrong number of label values: the family declares 1 label name\(s\), the call gave 0/);
  throwsMessage(() => jobs.inc(["a", "b"]), /the call gave 2/);
  throwsMessage(() => jobs.labels([]), /the call gave 0/);
  throwsMessage(() => jobs.incBy(-1, ["a"]), /a counter only goes up/);
  throwsMessage(() => jobs.incBy(NaN, ["a"]), /a counter only goes up/);
  jobs.inc(["a"]);
  jobs.inc(["b"]);
  throwsMessage(() => jobs.inc(["c"]), /metric "jobs": at its cardinality limit of 2 series: these label values are new and were not recorded/);
  throwsMessage(() => jobs.labels(["c"]), /cardinality limit of 2 series/);
  throwsMessage(() => registry.render("xml"), /unknown format "xml"/);
  throwsMessage(() => contentType("json"), /unknown format "json"/);
  const up = registry.gauge("up", "");
  throwsMessage(() => up.set(1, ["extra"]), /declares 0 label name\(s\), the call gave 1/);
  // Still working after every error, and nothing half-registered.
  jobs.inc(["a"]);
  assert.equal(jobs.get(["a"]), 2);
  assert.equal(registry.size, 2);
  assert.equal(
    registry.render(),
    '# TYPE jobs_total counter\njobs_total{kind="a"} 2\njobs_total{kind="b"} 1\n# TYPE up gauge\nup 0\n',
  );
});

test("label values of any text, and only strings", () => {
  // Label lists cross into the module as one string (js/api.js joinLabels): values with
  // digits, colons, astral characters and lone surrogates come back as they went in.
  const registry = new Registry();
  const c = registry.counter("odd_labels", "", ["a", "b"]);
  const odd = [["1:2", "3"], ["", ":"], ["é😀", "x"], ["12", "\ud800"], ["日本", "a\nb"]];
  for (const values of odd) c.inc(values);
  c.labels(["1:2", "3"]).inc();
  assert.equal(c.get(["1:2", "3"]), 2);
  assert.equal(c.get(["é😀", "x"]), 1);
  assert.equal(
    registry.render(),
    '# TYPE odd_labels_total counter\n' +
      'odd_labels_total{a="1:2",b="3"} 2\n' +
      'odd_labels_total{a="",b=":"} 1\n' +
      'odd_labels_total{a="é😀",b="x"} 1\n' +
      'odd_labels_total{a="12",b="\ufffd"} 1\n' +
      'odd_labels_total{a="日本",b="a\\nb"} 1\n',
  );
  const wrongType = /array contains a value of the wrong type/;
  throwsMessage(() => c.inc(["GET", 200]), wrongType);
  throwsMessage(() => c.labels([null, "x"]), wrongType);
  throwsMessage(() => registry.gauge("g", "", ["a", 1]), wrongType);
  assert.equal(registry.size, 1);
});

function pythonCheck(format, body, expected) {
  assert.ok(existsSync(python), `Python with prometheus_client not found at ${python} (set METRICS_PYTHON)`);
  const dir = mkdtempSync(join(tmpdir(), "metrics-wasm-"));
  writeFileSync(join(dir, "exposition"), body);
  writeFileSync(join(dir, "expected.json"), JSON.stringify(expected));
  const r = spawnSync(python, [
    join(root, "scripts/check_exposition.py"),
    format,
    join(dir, "exposition"),
    join(dir, "expected.json"),
  ], { encoding: "utf8" });
  assert.equal(r.status, 0, `check_exposition.py ${format} failed:\n${r.stdout}\n${r.stderr}\n${body}`);
}

const EXPECTED_SAMPLES = () => {
  const route = "/a\\b\"c\nd";
  const h = (labels, buckets, sum, count) => [
    ...buckets.map(([le, v]) => ({ name: "request_latency_seconds_bucket", labels: { ...labels, le }, value: v })),
    { name: "request_latency_seconds_count", labels, value: count },
    { name: "request_latency_seconds_sum", labels, value: sum },
  ];
  return [
    { name: "http_requests_total", labels: { method: "GET", code: "200" }, value: 3 },
    { name: "http_requests_total", labels: { method: "POST", code: "500" }, value: 1 },
    { name: "room_temperature_celsius", labels: {}, value: 20.5 },
    ...h({ route: "/" }, [["0.1", 1], ["0.5", 1], ["1.0", 2], ["+Inf", 2]], 0.75, 2),
    ...h({ route }, [["0.1", 0], ["0.5", 0], ["1.0", 0], ["+Inf", 1]], 3, 1),
    { name: "up_flag", labels: {}, value: "+Inf" },
  ];
};

test("Python prometheus_client parses both formats (strict OpenMetrics parser)", () => {
  const { registry } = sample();
  pythonCheck("text", registry.render("text"), EXPECTED_SAMPLES());
  pythonCheck("openmetrics", registry.render("openmetrics"), EXPECTED_SAMPLES());
});

test("renderProtobuf: Python protobuf reads back every value; the default module refuses", () => {
  const { registry } = sample(RwRegistry);
  const bytes = registry.renderProtobuf();
  assert.ok(bytes instanceof Uint8Array);
  pythonCheck("protobuf", bytes, EXPECTED_SAMPLES());
  assert.equal(
    contentType("protobuf"),
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
  );
  throwsMessage(() => sample().registry.renderProtobuf(), /import Registry from "metrics-wasm\/remote-write"/);
});

test("counters and gauges updated in place survive memory growth, reset and free", () => {
  // js/api.js writes counter and gauge values through a Float64Array over the module's memory;
  // the module allocating (here: many series with long label values) grows the memory, which
  // detaches the old view. Every value must still land where render reads it.
  const registry = new Registry(50_000);
  const plain = registry.counter("plain", "");
  const gauge = registry.gauge("level", "");
  const wide = registry.counter("wide", "", ["id"]);
  const child = wide.labels(["first"]);
  plain.inc();
  gauge.set(2);
  child.incBy(2.5);
  const pad = "x".repeat(200);
  for (let i = 0; i < 20_000; i++) {
    wide.inc([`${pad}${i}`]);
    if (i % 1000 === 0) {
      plain.inc();
      gauge.add(1);
      child.inc();
    }
  }
  plain.incBy(0.5);
  assert.equal(plain.get(), 21.5);
  assert.equal(gauge.get(), 22);
  assert.equal(child.get(), 22.5);
  assert.equal(wide.get(["first"]), 22.5, "the cached child and the bound one are the same series");
  const text = registry.render();
  assert.match(text, /\nplain_total 21\.5\n/);
  assert.match(text, /\nlevel 22\n/);
  assert.match(text, /\nwide_total\{id="first"\} 22\.5\n/);
  assert.equal(text.split("\n").filter((l) => l.startsWith("wide_total{")).length, 20_001);

  // After reset the old series are gone: handles bind to the fresh ones.
  registry.reset();
  plain.inc();
  child.inc();
  wide.inc(["again"]);
  gauge.dec();
  assert.equal(
    registry.render(),
    '# TYPE plain_total counter\nplain_total 1\n# TYPE level gauge\nlevel -1\n' +
      '# TYPE wide_total counter\nwide_total{id="first"} 1\nwide_total{id="again"} 1\n',
  );

  // A freed handle throws instead of writing to a freed series.
  child.free();
  assert.throws(() => child.inc(), TypeError);
  assert.equal(wide.get(["first"]), 1);
  // Non-numbers still go through the module and are converted there, as before.
  gauge.set("4");
  plain.incBy("2");
  assert.equal(gauge.get(), 4);
  assert.equal(plain.get(), 3);
  throwsMessage(() => plain.incBy(-1), /a counter only goes up/);
  throwsMessage(() => plain.incBy(NaN), /a counter only goes up/);
  assert.equal(plain.get(), 3);
  // An empty label list on a metric without labels is the metric's own series.
  plain.inc([]);
  gauge.set(7, []);
  assert.equal(plain.get([]), 4);
  assert.equal(gauge.get(), 7);
});
