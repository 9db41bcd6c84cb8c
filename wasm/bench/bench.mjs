// metrics-wasm (the Node build in ../pkg/node) against prom-client on the same work:
//
//   node bench/bench.mjs            (after `bash build.sh`; `npm run bench` does the same)
//
// Each case runs a warm-up, then ROUNDS timed rounds; the median round is reported as ns per
// operation. The ratio is prom-client's time divided by metrics-wasm's: above 1, metrics-wasm
// is faster. Set BENCH_SCALE=0.1 for a quick run.
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";

const require = createRequire(import.meta.url);
const wasm = require("../pkg/node/metrics_wasm.js");
// The prom-client-shaped API of this package (js/prom_client.js), for the cases written the
// way prom-client users write them.
const compat = require("../pkg/node/prom_client.js");
const prom = require("prom-client");

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const ROUNDS = 7;
const OPS = Math.max(1000, Math.round(1_000_000 * SCALE));
const SERIES = 10_000;

async function time(fn, ops) {
  await fn(Math.min(ops, 10_000)); // warm-up (JIT, lazy series creation)
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    await fn(ops);
    rounds.push((performance.now() - t0) / ops);
  }
  rounds.sort((a, b) => a - b);
  return rounds[Math.floor(ROUNDS / 2)] * 1e6; // ns per op
}

function setupWasm() {
  const r = new wasm.Registry(SERIES + 10);
  return {
    r,
    plain: r.counter("bench_plain", "Unlabelled counter."),
    labelled: r.counter("bench_labelled", "Labelled counter.", ["method", "code"]),
    hist: r.histogram("bench_seconds", "Histogram."),
    wide: r.counter("bench_wide", "10k series.", ["id"]),
  };
}

function setupProm() {
  const r = new prom.Registry();
  return {
    r,
    plain: new prom.Counter({ name: "bench_plain", help: "Unlabelled counter.", registers: [r] }),
    labelled: new prom.Counter({ name: "bench_labelled", help: "Labelled counter.", labelNames: ["method", "code"], registers: [r] }),
    hist: new prom.Histogram({ name: "bench_seconds", help: "Histogram.", registers: [r] }),
    wide: new prom.Counter({ name: "bench_wide", help: "10k series.", labelNames: ["id"], registers: [r] }),
  };
}

const w = setupWasm();
const p = setupProm();
const values = Array.from({ length: 1024 }, (_, i) => (i % 97) / 1000);
const wChild = w.labelled.labels(["GET", "200"]);
const pChild = p.labelled.labels("GET", "200");

const cases = [
  ["counter inc, unlabelled", (n) => { for (let i = 0; i < n; i++) w.plain.inc(); },
    (n) => { for (let i = 0; i < n; i++) p.plain.inc(); }, OPS],
  ["counter inc, 2 labels per call", (n) => { for (let i = 0; i < n; i++) w.labelled.inc(["GET", "200"]); },
    (n) => { for (let i = 0; i < n; i++) p.labelled.inc({ method: "GET", code: "200" }); }, OPS],
  ["counter inc, bound child", (n) => { for (let i = 0; i < n; i++) wChild.inc(); },
    (n) => { for (let i = 0; i < n; i++) pChild.inc(); }, OPS],
  ["histogram observe (default buckets)", (n) => { for (let i = 0; i < n; i++) w.hist.observe(values[i & 1023]); },
    (n) => { for (let i = 0; i < n; i++) p.hist.observe(values[i & 1023]); }, OPS],
];

for (let i = 0; i < SERIES; i++) {
  w.wide.inc([`id${i}`]);
  p.wide.inc({ id: `id${i}` });
}
// Render only the 10k-series family: a registry holding just it.
const wOnly = new wasm.Registry(SERIES + 10);
const wWide = wOnly.counter("bench_wide", "10k series.", ["id"]);
const pOnly = new prom.Registry();
const pWide = new prom.Counter({ name: "bench_wide", help: "10k series.", labelNames: ["id"], registers: [pOnly] });
for (let i = 0; i < SERIES; i++) {
  wWide.inc([`id${i}`]);
  pWide.inc({ id: `id${i}` });
}
// The same calls through both prom-client APIs (ours and prom-client's own).
function setupShaped(lib) {
  const r = new lib.Registry();
  return {
    plain: new lib.Counter({ name: "shaped_plain_total", help: "Unlabelled.", registers: [r] }),
    byMethod: new lib.Counter({ name: "shaped_requests_total", help: "By method.", labelNames: ["method"], registers: [r] }),
    gauge: new lib.Gauge({ name: "shaped_gauge", help: "Gauge.", registers: [r] }),
    hist: new lib.Histogram({ name: "shaped_seconds", help: "Timer.", registers: [r] }),
  };
}
const ws = setupShaped(compat);
const ps = setupShaped(prom);
const labelsGet = { method: "GET" };
cases.push(
  ["prom-client API: counter inc(), unlabelled", (n) => { for (let i = 0; i < n; i++) ws.plain.inc(); },
    (n) => { for (let i = 0; i < n; i++) ps.plain.inc(); }, OPS],
  ["prom-client API: counter inc({ method: \"GET\" })", (n) => { for (let i = 0; i < n; i++) ws.byMethod.inc({ method: "GET" }); },
    (n) => { for (let i = 0; i < n; i++) ps.byMethod.inc({ method: "GET" }); }, OPS],
  ["prom-client API: counter inc(labels, 2), same labels object", (n) => { for (let i = 0; i < n; i++) ws.byMethod.inc(labelsGet, 2); },
    (n) => { for (let i = 0; i < n; i++) ps.byMethod.inc(labelsGet, 2); }, OPS],
  ["prom-client API: gauge set(v)", (n) => { for (let i = 0; i < n; i++) ws.gauge.set(values[i & 1023]); },
    (n) => { for (let i = 0; i < n; i++) ps.gauge.set(values[i & 1023]); }, OPS],
  ["prom-client API: histogram startTimer() + end()", (n) => { for (let i = 0; i < n; i++) ws.hist.startTimer()(); },
    (n) => { for (let i = 0; i < n; i++) ps.hist.startTimer()(); }, OPS],
);

// A registry with the default metrics (Node's: CPU, memory, event loop lag, heap spaces, GC,
// ...) and one counter, rendered by `await registry.metrics()`.
function setupDefault(lib) {
  const r = new lib.Registry();
  lib.collectDefaultMetrics({ register: r });
  new lib.Counter({ name: "app_requests_total", help: "Requests.", registers: [r] }).inc();
  return r;
}
const wDefault = setupDefault(compat);
const pDefault = setupDefault(prom);
const defaultOps = Math.max(20, Math.round(2000 * SCALE));
cases.push([
  "prom-client API: await metrics(), default metrics",
  async (n) => { for (let i = 0; i < n; i++) if ((await wDefault.metrics()).length === 0) throw new Error(); },
  async (n) => { for (let i = 0; i < n; i++) if ((await pDefault.metrics()).length === 0) throw new Error(); },
  defaultOps,
]);

const renderOps = Math.max(3, Math.round(50 * SCALE));
cases.push([
  `render ${SERIES} series (text format)`,
  (n) => { for (let i = 0; i < n; i++) if (wOnly.render("text").length === 0) throw new Error(); },
  async (n) => { for (let i = 0; i < n; i++) if ((await pOnly.metrics()).length === 0) throw new Error(); },
  renderOps,
]);

const rows = [];
for (const [name, fw, fp, ops] of cases) {
  const tw = await time(fw, ops);
  const tp = await time(fp, ops);
  rows.push({ name, wasm: tw, prom: tp, ratio: tp / tw });
}

const fmt = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(1)} ns`);
console.log(`node ${process.version}, prom-client ${require("prom-client/package.json").version}, ${ROUNDS} rounds, median per op`);
console.log("| case | metrics-wasm | prom-client | ratio (prom-client / metrics-wasm) |");
console.log("|---|---:|---:|---:|");
for (const r of rows) console.log(`| ${r.name} | ${fmt(r.wasm)} | ${fmt(r.prom)} | ${r.ratio.toFixed(2)}× |`);
// Same output sanity check: both expose the same sample values for the 10k family.
const wLines = wOnly.render("text").split("\n").filter((l) => l.startsWith("bench_wide_total{")).length;
const pLines = (await pOnly.metrics()).split("\n").filter((l) => l.startsWith("bench_wide{") || l.startsWith("bench_wide_total{")).length;
if (wLines !== SERIES || pLines !== SERIES) throw new Error(`series mismatch: ${wLines} vs ${pLines}`);
