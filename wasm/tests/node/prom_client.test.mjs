// prom-client's own README examples, run unchanged but for the import against
// `metrics-wasm/prom-client`, and against prom-client itself (the benchmark's devDependency):
// each example must throw exactly when prom-client's does, and what the registries then expose
// must parse with Python prometheus_client (text parser, and the strict OpenMetrics parser) and
// declare the same metric families, of the same types, as prom-client's OpenMetrics output.
// Run by wasm/test.sh after wasm/build.sh.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const python = process.env.METRICS_PYTHON ?? join(root, ".venv/bin/python");
const require = createRequire(import.meta.url);
const ours = require("metrics-wasm/prom-client");
const theirs = require("prom-client");

// The README of the installed prom-client (package-lock.json pins the version).
const readme = readFileSync(require.resolve("prom-client/README.md"), "utf8");
const blocks = [...readme.matchAll(/```(js|typescript)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], code: m[2] }));

// Examples not run, and why (each is matched by what it contains).
const SKIPPED = [
  [/client\.Summary|summary\./, "Summary: metrics-core has no summary type"],
  [/AggregatorRegistry|clusterMetrics/, "cluster aggregation: Node's cluster module is not supported"],
  [/Pushgateway/, "Pushgateway: the project pushes through exporters/push and the gateway"],
];

// What examples use without defining: stand-ins, made with the library under test.
const PRELUDE = [
  // Always (the stand-ins below use it too), unless the example binds `client` itself.
  [/(?:)/, /const client = /, "const client = require('prom-client');"],
  [/\bgauge\./, /const gauge = /, "const gauge = new client.Gauge({ name: 'metric_name', help: 'metric_help' });"],
  [/\bhistogram\./, /const histogram = /, "const histogram = new client.Histogram({ name: 'metric_name', help: 'metric_help' });"],
  [
    /(^|[^.\w])startTimer\(/,
    /const startTimer = /,
    "const timed = new client.Histogram({ name: 'xhr_request_duration_seconds', help: 'XHR time.', labelNames: ['method', 'statusCode'] });\n" +
      "const startTimer = (labels) => timed.startTimer(labels);",
  ],
];

// Host stand-ins: the examples' `xhrRequest`, `http.get` and `somethingAsync`.
const xhrRequest = (callback) => callback(null, {});
const http = { get: (url, callback) => callback({}) };
const somethingAsync = async () => 42;

const AsyncFunction = (async () => {}).constructor;

// Runs one example with `lib` as 'prom-client'; returns whether it threw and the registries it
// leaves (the default one, and `registry` / `register` / `mergedRegistries` if it made them).
async function run(code, lib) {
  const req = (name) => (name === "prom-client" ? lib : require(name));
  // A TypeScript example: its import becomes a require and `as const` (types only) goes.
  const js = code
    .replace(/import \* as (\w+) from '([^']+)';/g, "const $1 = require('$2');")
    .replace(/ as const/g, "");
  const prelude = PRELUDE.filter(([uses, defines]) => uses.test(js) && !defines.test(js))
    .map(([, , def]) => def)
    .join("\n");
  const body = `${prelude}\n${js}\nreturn [typeof registry === "undefined" ? undefined : registry,
    typeof register === "undefined" ? undefined : register,
    typeof mergedRegistries === "undefined" ? undefined : mergedRegistries];`;
  const fn = new AsyncFunction("require", "xhrRequest", "http", "somethingAsync", body);
  let registries = [];
  let error;
  try {
    registries = await fn(req, xhrRequest, http, somethingAsync);
  } catch (e) {
    error = e;
  }
  registries = [lib.register, ...registries.filter((r) => r !== undefined && r !== lib.register)];
  return { error, registries };
}

// The registries' expositions in both formats (OpenMetrics via `setContentType`, as the
// README's "Registry type" example does), then a clean default registry for the next example.
async function expose(registries, lib) {
  const out = [];
  for (const r of registries) {
    for (const [format, type] of [
      ["text", lib.Registry.PROMETHEUS_CONTENT_TYPE],
      ["openmetrics", lib.Registry.OPENMETRICS_CONTENT_TYPE],
    ]) {
      r.setContentType(type);
      try {
        out.push({ format, body: await r.metrics() });
      } catch (e) {
        // A `collect()` that throws (the README's `this.set(/* the current value */)`).
        out.push({ format, body: "", error: e });
      }
    }
    r.setContentType(lib.Registry.PROMETHEUS_CONTENT_TYPE);
  }
  lib.register.clear();
  return out;
}

function parse(expositions) {
  const r = spawnSync(python, [join(here, "parse_expositions.py")], {
    input: JSON.stringify(expositions),
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `parse_expositions.py failed (${python}):\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

test("prom-client's README examples run against metrics-wasm/prom-client", async () => {
  const cases = [];
  let ran = 0;
  for (const [i, { code }] of blocks.entries()) {
    const skip = SKIPPED.find(([re]) => re.test(code));
    if (skip) {
      console.log(`example ${i}: not run (${skip[1]})`);
      continue;
    }
    const a = await run(code, ours);
    const b = await run(code, theirs);
    assert.equal(
      a.error !== undefined,
      b.error !== undefined,
      `example ${i}: ours ${a.error ? `threw ${a.error.stack}` : "ran"}, prom-client ${b.error ? `threw ${b.error}` : "ran"}:\n${code}`,
    );
    const oursOut = await expose(a.registries, ours);
    const theirsOut = await expose(b.registries, theirs);
    cases.push({ i, code, error: a.error, oursOut, theirsOut });
    ran++;
  }
  assert.ok(ran >= 20, `only ${ran} examples ran`);
  const parsed = parse(cases.flatMap((c) => [...c.oursOut, ...c.theirsOut]).map(({ format, body }) => ({ format, body })));
  let k = 0;
  for (const c of cases) {
    const mine = parsed.slice(k, k + c.oursOut.length);
    k += c.oursOut.length;
    const ref = parsed.slice(k, k + c.theirsOut.length);
    k += c.theirsOut.length;
    assert.equal(mine.length, ref.length, `example ${c.i}: as many registries as prom-client`);
    mine.forEach((p, j) => {
      const e = c.oursOut[j];
      const threw = e.error !== undefined;
      assert.equal(threw, c.theirsOut[j].error !== undefined, `example ${c.i}: metrics() ${threw ? `threw ${e.error}` : "ran"}, prom-client's did not`);
      if (threw) return;
      assert.equal(p.error, undefined, `example ${c.i}: ${e.format} does not parse: ${p.error}\n${e.body}`);
      // The OpenMetrics expositions declare the same families (registry by registry).
      // (prom-client's own output of an empty registry, "\n# EOF\n", fails the strict parser.)
      if (e.format === "openmetrics" && ref[j].error === undefined) {
        assert.deepEqual(p.families, ref[j].families, `example ${c.i}, registry ${(j - 1) / 2}:\n${c.code}`);
      }
    });
    console.log(`example ${c.i}: ${c.error ? `threw as prom-client does (${c.error.message})` : "ran"}; ${mine.length / 2} registr${mine.length === 2 ? "y" : "ies"} parsed`);
  }
});

test("prom-client shapes: label objects, children, timers, registry methods, exact text", async () => {
  const { Registry, Counter, Gauge, Histogram, register, contentType } = ours;
  const r = new Registry();
  assert.equal(r.contentType, "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(contentType, r.contentType);
  const c = new Counter({ name: "req_total", help: "Requests.", labelNames: ["method"], registers: [r] });
  c.inc({ method: "GET" });
  c.inc({ method: "GET" }, 2);
  c.labels("POST").inc();
  c.labels({ method: "PUT" }).inc(0.5);
  const g = new Gauge({ name: "depth", help: "Depth.", registers: [r] });
  g.set(5);
  g.inc();
  g.dec(2);
  const h = new Histogram({ name: "t_seconds", help: "Time.", buckets: [1], labelNames: ["op"], registers: [r] });
  h.observe({ op: "a" }, 0.5);
  h.labels("a").observe(2);
  const seconds = h.startTimer({ op: "b" })();
  assert.ok(seconds >= 0 && seconds < 1);
  const pending = r.metrics();
  assert.ok(pending instanceof Promise, "metrics() is a Promise, as in prom-client");
  assert.equal(
    (await pending).replace(/t_seconds_sum\{op="b"\} \S+/, 't_seconds_sum{op="b"} S'),
    "# HELP req_total Requests.\n# TYPE req_total counter\n" +
      'req_total{method="GET"} 3\nreq_total{method="POST"} 1\nreq_total{method="PUT"} 0.5\n' +
      "# HELP depth Depth.\n# TYPE depth gauge\ndepth 4\n" +
      "# HELP t_seconds Time.\n# TYPE t_seconds histogram\n" +
      't_seconds_bucket{op="a",le="1.0"} 1\nt_seconds_bucket{op="a",le="+Inf"} 2\n' +
      't_seconds_sum{op="a"} 2.5\nt_seconds_count{op="a"} 2\n' +
      't_seconds_bucket{op="b",le="1.0"} 1\nt_seconds_bucket{op="b",le="+Inf"} 1\n' +
      't_seconds_sum{op="b"} S\nt_seconds_count{op="b"} 1\n',
  );
  assert.equal(r.getSingleMetric("req_total"), c);
  assert.deepEqual((await c.get()).values, [
    { value: 3, labels: { method: "GET" } },
    { value: 1, labels: { method: "POST" } },
    { value: 0.5, labels: { method: "PUT" } },
  ]);
  assert.throws(() => c.inc(-1), /It is not possible to decrease a counter/);
  assert.throws(() => c.inc({ nope: "x" }), /Added label "nope" is not included in initial labelset/);
  assert.throws(() => new Gauge({ name: "depth", help: "Again.", registers: [r] }), /already been registered/);
  assert.throws(() => g.set("3"), /Value is not a valid number/);
  r.setDefaultLabels({ app: "a\"b" });
  assert.match(await r.getSingleMetricAsString("depth"), /\ndepth\{app="a\\"b"\} 4\n/);
  r.resetMetrics();
  assert.equal(await r.getSingleMetricAsString("req_total"), "# HELP req_total Requests.\n# TYPE req_total counter\n");
  r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  assert.ok((await r.metrics()).endsWith("# EOF\n"));
  assert.equal(register.getSingleMetric("req_total"), undefined, "registers: [r] keeps it out of the default registry");
});
