// Delivery from hosts that cannot be scraped, against real servers: the metrics-gateway binary
// with --accept-pushes (built by wasm/test.sh: `cargo build -p metrics-gateway`, path in
// $METRICS_GATEWAY) and Prometheus 3.5.3 ($PROMETHEUS3, scripts/forky.sh) with its
// Remote-Write receiver, scraping the gateway with `honor_labels: true`. In each case three
// deliveries with a failed one between them, and what Prometheus reads equals what the JS code
// counted:
//   - `registry.push` from Node, the gateway killed (SIGKILL) for the middle push, then a push
//     whose answer is lost (a proxy forwards it and answers 502) retried under the same
//     Idempotency-Key, then one refused (400) whose increments go into the next push;
//   - `registry.remoteWrite` from Node, 1.0 and 2.0, the middle write to a port nobody listens on;
//   - the edge-worker example behind the Node adapter, pushing through `ctx.waitUntil`, the
//     gateway killed for the middle batch of requests;
//   - headless Chromium (tests/browser/push.html): push and remoteWrite (1.0 and 2.0), the page
//     served by a small same-origin server of this test that also forwards /gateway/ and
//     /prometheus/ (the gateway and Prometheus' receiver send no CORS headers), the middle
//     delivery to a port nobody listens on.
// Run by wasm/test.sh; a missing binary fails the test.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname, resolve, sep, extname } from "node:path";
import { fileURLToPath } from "node:url";

import { Registry } from "metrics-wasm";
import { Registry as RwRegistry } from "metrics-wasm/remote-write";
import { serve } from "../../examples/node-adapter.mjs";

const wasmDir = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const GATEWAY = process.env.METRICS_GATEWAY ?? resolve(wasmDir, "../target/debug/metrics-gateway");
const PROMETHEUS3 = process.env.PROMETHEUS3 ?? "";
const CHROMIUM = process.env.CHROMIUM ?? "chromium";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

// A process with its stderr kept, and a wait for an HTTP URL to answer.
function start(bin, args) {
  const proc = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  proc.log = "";
  proc.stderr.on("data", (d) => {
    proc.log = (proc.log + d).slice(-20_000);
  });
  proc.exited = new Promise((r) => proc.once("exit", r));
  return proc;
}

async function waitHttp(url, proc, what) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited (${proc.exitCode}):\n${proc.log}`);
    const r = await fetch(url).catch(() => null);
    if (r?.ok) {
      await r.arrayBuffer();
      return;
    }
    await sleep(100);
  }
  throw new Error(`${what} did not answer ${url} within 30 s:\n${proc.log}`);
}

// The gateway on a fixed port and state file, so it can be killed and started again.
class Gateway {
  constructor(port, dir) {
    this.port = port;
    this.dir = dir;
    this.url = `http://127.0.0.1:${port}`;
  }
  async start() {
    this.proc = start(GATEWAY, [
      "--listen", `127.0.0.1:${this.port}`,
      "--accept-pushes",
      "--push-state-file", join(this.dir, "pushes.json"),
    ]);
    await waitHttp(`${this.url}/metrics`, this.proc, "metrics-gateway");
  }
  async kill() {
    this.proc.kill("SIGKILL");
    await this.proc.exited;
  }
  async metric(sample) {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(sample + " "));
    return line === undefined ? undefined : Number(line.slice(sample.length + 1));
  }
}

let gateway, prom, promUrl, dir;

before(async () => {
  assert.ok(existsSync(GATEWAY), `metrics-gateway not found at ${GATEWAY}: cargo build -p metrics-gateway (wasm/test.sh does), or set METRICS_GATEWAY`);
  assert.ok(PROMETHEUS3 && existsSync(PROMETHEUS3), `Prometheus 3.5.3 not found at "${PROMETHEUS3}": set PROMETHEUS3 (scripts/test.sh sets it from scripts/forky.sh)`);
  dir = mkdtempSync(join(tmpdir(), "metrics-wasm-push-"));
  gateway = new Gateway(await freePort(), dir);
  await gateway.start();
  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  writeFileSync(
    join(dir, "prometheus.yml"),
    `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: metrics-gateway\n    honor_labels: true\n    static_configs:\n      - targets: ["127.0.0.1:${gateway.port}"]\n`,
  );
  prom = start(PROMETHEUS3, [
    `--config.file=${join(dir, "prometheus.yml")}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
    "--web.enable-remote-write-receiver",
    "--web.remote-write-receiver.accepted-protobuf-messages=prometheus.WriteRequest",
    "--web.remote-write-receiver.accepted-protobuf-messages=io.prometheus.write.v2.Request",
  ]);
  await waitHttp(`${promUrl}/-/ready`, prom, "Prometheus 3.5.3");
});

after(async () => {
  gateway?.proc?.kill("SIGKILL");
  prom?.kill("SIGTERM");
  await Promise.all([gateway?.proc?.exited, prom?.exited]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function query(promql) {
  const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`).catch(() => null);
  if (!r?.ok) return undefined;
  const body = await r.json();
  const result = body.status === "success" ? body.data.result : [];
  return result.length === 1 ? Number(result[0].value[1]) : result.length === 0 ? undefined : `${result.length} series`;
}

// Polls Prometheus until every query gives its expected number (sums of floats within 1e-9),
// then asserts on the last answers (so a failure shows every query's value).
async function expectTotals(want) {
  const deadline = Date.now() + 60_000;
  const close = (a, b) => typeof a === "number" && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
  let seen;
  for (;;) {
    seen = {};
    for (const [promql] of Object.entries(want)) seen[promql] = await query(promql);
    if (Object.entries(want).every(([q, v]) => close(seen[q], v)) || Date.now() > deadline) break;
    await sleep(500);
  }
  for (const [q, v] of Object.entries(want)) {
    assert.ok(close(seen[q], v), `${q}: Prometheus has ${seen[q]}, the JS code counted ${v}\nall: ${JSON.stringify(seen, null, 1)}\nPrometheus log:\n${prom.log.slice(-2000)}`);
  }
}

test("push from Node: three pushes, the gateway killed for the middle one, then a lost answer and a refusal", { timeout: 120_000 }, async () => {
  const r = new Registry();
  const jobs = r.counter("wasm_push_jobs", "Jobs done.", ["kind"]);
  const took = r.histogram("wasm_push_job_seconds", "Job time.", [], [0.1, 1]);
  const level = r.gauge("wasm_push_level", "A level.");
  // Grouping values with `/`, empty, and `..` (which URL parsers would drop as a dot segment):
  // the gateway's `@base64` path forms.
  const options = { job: "node-push", labels: { instance: "host/1", zone: "", shard: ".." } };
  const sel = 'job="node-push",instance="host/1",shard=".."';

  jobs.inc(["build"]);
  jobs.incBy(2, ["test/unit"]);
  took.observe(0.05);
  level.set(3);
  await r.push(gateway.url, options);

  await gateway.kill();
  jobs.inc(["build"]);
  took.observe(0.5);
  took.observe(7);
  level.set(4);
  await assert.rejects(r.push(gateway.url, options), /push to http:\/\/127\.0\.0\.1:\d+\/push\/job\/node-push\/instance@base64\/aG9zdC8x\/zone@base64\/=\/shard@base64\/Li4 failed/);
  await gateway.start();

  jobs.incBy(3, ["build"]);
  took.observe(0.25);
  level.set(5);
  await r.push(gateway.url, options);

  // A push the gateway applies but whose answer is lost: a proxy forwards it and answers 502.
  // The next push sends the same body under the same Idempotency-Key first (the gateway says
  // "already counted"), then what was counted since.
  const lossy = createHttpServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const headers = { ...req.headers };
    delete headers.host;
    delete headers.connection;
    delete headers["content-length"];
    const answer = await fetch(gateway.url + req.url, { method: req.method, headers, body: Buffer.concat(chunks) });
    assert.equal(answer.status, 200, await answer.text());
    res.writeHead(502).end("bad gateway\n");
  });
  await new Promise((ok) => lossy.listen(0, "127.0.0.1", ok));
  const duplicates = await gateway.metric('gateway_push_requests_total{result="duplicate"}');
  jobs.inc(["build"]);
  took.observe(0.01);
  await assert.rejects(r.push(`http://127.0.0.1:${lossy.address().port}`, options), /failed: 502 bad gateway/);
  lossy.close();
  jobs.inc(["build"]);
  await r.push(gateway.url, options);
  assert.equal(await gateway.metric('gateway_push_requests_total{result="duplicate"}'), duplicates + 1);

  // A refusal (4xx) stored nothing: the attempt is dropped, its increments stay unacknowledged
  // and go into the next push, one request under a new key.
  const refusing = createHttpServer((req, res) => {
    req.resume();
    res.writeHead(400).end("malformed: refused by the test\n");
  });
  await new Promise((ok) => refusing.listen(0, "127.0.0.1", ok));
  jobs.inc(["build"]);
  const refused = await r.push(`http://127.0.0.1:${refusing.address().port}`, options).catch((e) => e);
  refusing.close();
  assert.equal(refused.status, 400);
  assert.match(refused.message, /failed: 400 malformed: refused by the test/);
  const oks = await gateway.metric('gateway_push_requests_total{result="ok"}');
  jobs.inc(["build"]);
  await r.push(gateway.url, options);
  assert.equal(await gateway.metric('gateway_push_requests_total{result="ok"}'), oks + 1);

  assert.equal(jobs.get(["build"]), 9);
  assert.equal(took.count(), 5);
  await expectTotals({
    [`wasm_push_jobs_total{${sel},kind="build"}`]: jobs.get(["build"]),
    [`wasm_push_jobs_total{${sel},kind="test/unit"}`]: jobs.get(["test/unit"]),
    [`wasm_push_job_seconds_count{${sel}}`]: took.count(),
    [`wasm_push_job_seconds_bucket{${sel},le="+Inf"}`]: took.count(),
    [`wasm_push_job_seconds_bucket{${sel},le="0.1"}`]: 2,
    [`wasm_push_job_seconds_bucket{${sel},le="1.0"}`]: 4,
    [`wasm_push_job_seconds_sum{${sel}}`]: took.sum(),
    [`wasm_push_level{${sel}}`]: level.get(),
  });
});

test("remoteWrite from Node, 1.0 and 2.0: three writes, the middle one to a dead port", { timeout: 120_000 }, async () => {
  // The default module has no Remote-Write encoder; the error says where it is.
  await assert.rejects(new Registry().remoteWrite(`${promUrl}/api/v1/write`), /import Registry from "metrics-wasm\/remote-write"/);
  const dead = `http://127.0.0.1:${await freePort()}/api/v1/write`;
  const want = {};
  for (const version of [1, 2]) {
    const r = new RwRegistry();
    const events = r.counter("wasm_rw_events", "Events.", ["kind"]);
    const took = r.histogram("wasm_rw_seconds", "Time.", [], [0.1, 1]);
    const options = { version, externalLabels: { source: `node-v${version}` } };
    events.inc(["a"]);
    took.observe(0.2);
    await r.remoteWrite(`${promUrl}/api/v1/write`, options);
    events.incBy(4, ["a"]);
    took.observe(0.05);
    await assert.rejects(r.remoteWrite(dead, options), /remoteWrite to http:\/\/127\.0\.0\.1:\d+\/api\/v1\/write failed/);
    events.inc(["a"]);
    took.observe(3);
    await r.remoteWrite(`${promUrl}/api/v1/write`, options);
    const sel = `source="node-v${version}"`;
    want[`wasm_rw_events_total{${sel},kind="a"}`] = events.get(["a"]);
    want[`wasm_rw_seconds_count{${sel}}`] = took.count();
    want[`wasm_rw_seconds_bucket{${sel},le="+Inf"}`] = took.count();
    want[`wasm_rw_seconds_bucket{${sel},le="0.1"}`] = 1;
    want[`wasm_rw_seconds_sum{${sel}}`] = took.sum();
  }
  assert.equal(want['wasm_rw_events_total{source="node-v2",kind="a"}'], 6);
  await expectTotals(want);
});

test("the edge-worker example pushes through ctx.waitUntil behind the Node adapter", { timeout: 120_000 }, async () => {
  const server = await serve({ port: 0, worker: "./edge-worker.mjs", env: { PUSH_URL: gateway.url, PUSH_JOB: "edge-push", PUSH_INSTANCE: "node-adapter" } });
  const base = `http://127.0.0.1:${server.address().port}`;
  const warn = console.warn;
  const warnings = [];
  console.warn = (...a) => warnings.push(a.join(" "));
  try {
    const get = async (path, status) => assert.equal((await fetch(base + path)).status, status);
    for (let i = 0; i < 3; i++) await get(`/hello?name=${i}`, 200);
    await get("/missing", 404);
    await server.settled();
    assert.deepEqual(warnings, []);

    await gateway.kill();
    for (let i = 0; i < 2; i++) await get("/hello", 200);
    await server.settled();
    assert.equal(warnings.length, 2, "each push while the gateway is down fails");
    assert.match(warnings[0], /metrics push failed, its increments are kept for the next push: push to .*\/push\/job\/edge-push\/instance\/node-adapter failed/);
    await gateway.start();

    for (let i = 0; i < 4; i++) await get("/", 200);
    await server.settled();
    assert.equal(warnings.length, 2);
  } finally {
    console.warn = warn;
    server.close();
    server.closeAllConnections?.();
  }
  const sel = 'job="edge-push",instance="node-adapter"';
  await expectTotals({
    [`edge_requests_total{${sel},method="GET",path="/hello",status="200"}`]: 5,
    [`edge_requests_total{${sel},method="GET",path="/",status="200"}`]: 4,
    [`edge_requests_total{${sel},path="other",status="404"}`]: 1,
    [`sum(edge_request_duration_seconds_count{${sel}})`]: 10,
    [`sum(edge_request_duration_seconds_bucket{${sel},le="+Inf"})`]: 10,
    [`edge_requests_in_flight{${sel}}`]: 0,
  });
});

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

test("headless Chromium pushes to the gateway and remote-writes to Prometheus (tests/browser/push.html)", { timeout: 180_000 }, async () => {
  // The page's origin: wasm/ as static files, /gateway/ and /prometheus/ forwarded.
  const routes = [["/gateway", gateway.url], ["/prometheus", promUrl]];
  const site = createHttpServer(async (req, res) => {
    try {
      const url = new URL(req.url, "http://page");
      const route = routes.find(([prefix]) => url.pathname.startsWith(prefix + "/"));
      if (route) {
        const chunks = [];
        for await (const c of req) chunks.push(c);
        const headers = { ...req.headers };
        for (const h of ["host", "connection", "content-length", "keep-alive", "transfer-encoding"]) delete headers[h];
        const body = chunks.length ? Buffer.concat(chunks) : undefined;
        const r = await fetch(route[1] + url.pathname.slice(route[0].length) + url.search, { method: req.method, headers, body });
        res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "text/plain" });
        res.end(Buffer.from(await r.arrayBuffer()));
        return;
      }
      const file = resolve(wasmDir, "." + decodeURIComponent(url.pathname));
      if (!file.startsWith(wasmDir + sep)) return void res.writeHead(403).end();
      const data = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(data);
    } catch (e) {
      res.writeHead(e.code === "ENOENT" ? 404 : 500).end(String(e));
    }
  });
  await new Promise((ok) => site.listen(0, "127.0.0.1", ok));
  const dead = `http://127.0.0.1:${await freePort()}`;
  const page = `http://127.0.0.1:${site.address().port}/tests/browser/push.html?dead=${encodeURIComponent(dead)}`;
  let dom = "";
  try {
    const chrome = spawn(CHROMIUM, [
      "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
      "--disable-background-networking", "--no-first-run", "--virtual-time-budget=60000",
      "--dump-dom", page,
    ], { stdio: ["ignore", "pipe", "pipe"] });
    chrome.stdout.on("data", (d) => { dom += d; });
    const timer = setTimeout(() => chrome.kill("SIGKILL"), 120_000);
    const code = await new Promise((r) => {
      chrome.once("error", (e) => r(e.message));
      chrome.once("exit", r);
    });
    clearTimeout(timer);
    assert.equal(code, 0, `chromium (${CHROMIUM}) failed: ${code}`);
  } finally {
    site.close();
    site.closeAllConnections?.();
  }
  const m = /<pre id="result">([^<]*)<\/pre>/.exec(dom);
  assert.ok(m && m[1].startsWith("PASS "), `the page did not pass: ${m ? m[1] : dom.slice(0, 2000)}`);
  const out = JSON.parse(m[1].slice(5).replace(/&quot;/g, '"').replace(/&amp;/g, "&"));
  // What the page counted (the middle delivery failed each time: the page checks it threw).
  assert.deepEqual(out.push, { ok: 3, saveAs: 2, count: 3, sum: 2.55 });
  assert.deepEqual(out.rw1, { events: 5, count: 2, sum: 0.25 });
  assert.deepEqual(out.rw2, { events: 5, count: 2, sum: 0.25 });
  const sel = 'job="browser-push",page="/tests/push"';
  await expectTotals({
    [`browser_clicks_total{${sel},button="ok"}`]: out.push.ok,
    [`browser_clicks_total{${sel},button="save/as"}`]: out.push.saveAs,
    [`browser_task_seconds_count{${sel}}`]: out.push.count,
    [`browser_task_seconds_bucket{${sel},le="+Inf"}`]: out.push.count,
    [`browser_task_seconds_sum{${sel}}`]: out.push.sum,
    'browser_rw_events_total{source="browser-v1"}': out.rw1.events,
    'browser_rw_seconds_count{source="browser-v1"}': out.rw1.count,
    'browser_rw_seconds_bucket{source="browser-v1",le="+Inf"}': out.rw1.count,
    'browser_rw_events_total{source="browser-v2"}': out.rw2.events,
    'browser_rw_seconds_count{source="browser-v2"}': out.rw2.count,
    'browser_rw_seconds_sum{source="browser-v2"}': out.rw2.sum,
  });
});
