// The edge-worker example behind the Node adapter, scraped by a real Prometheus (Debian's
// /usr/bin/prometheus, which negotiates OpenMetrics); the request counter is read back through
// Prometheus' HTTP API. Run by wasm/test.sh.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { serve } from "../../examples/node-adapter.mjs";

const PROMETHEUS = process.env.PROMETHEUS ?? "/usr/bin/prometheus";

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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function query(base, promql) {
  // Until Prometheus listens, the connection is refused: no result yet (the caller retries
  // until its deadline and then asserts on what it got).
  const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`).catch(() => null);
  if (!r?.ok) return [];
  const body = await r.json();
  return body.status === "success" ? body.data.result : [];
}

test("Prometheus scrapes the edge worker and sees the request counter", { timeout: 90_000 }, async () => {
  assert.ok(existsSync(PROMETHEUS), `Prometheus not found at ${PROMETHEUS}: apt-get install prometheus`);
  const server = await serve({ port: 0, worker: "./edge-worker.mjs" });
  const target = `127.0.0.1:${server.address().port}`;
  const promPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "metrics-wasm-prom-"));
  writeFileSync(
    join(dir, "prometheus.yml"),
    `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: edge\n    static_configs:\n      - targets: ["${target}"]\n`,
  );
  const prom = spawn(PROMETHEUS, [
    `--config.file=${join(dir, "prometheus.yml")}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
  ], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  prom.stderr.on("data", (d) => { log += d; });
  after(() => {
    prom.kill("SIGTERM");
    server.close();
    server.closeAllConnections?.();
    rmSync(dir, { recursive: true, force: true });
  });

  for (let i = 0; i < 5; i++) assert.equal((await fetch(`http://${target}/hello?name=${i}`)).status, 200);
  for (let i = 0; i < 2; i++) assert.equal((await fetch(`http://${target}/missing`)).status, 404);

  const base = `http://127.0.0.1:${promPort}`;
  // Wait until a scrape taken after every request above is stored (an earlier scrape may have
  // caught only some of them), then check every value from the same evaluation.
  const deadline = Date.now() + 60_000;
  const read = async () => ({
    up: (await query(base, 'up{job="edge"}'))[0]?.value[1],
    hello: await query(base, 'edge_requests_total{job="edge",method="GET",path="/hello",status="200"}'),
    missing: (await query(base, 'edge_requests_total{job="edge",path="other",status="404"}'))[0]?.value[1],
    count: (await query(base, 'sum(edge_request_duration_seconds_count{job="edge"})'))[0]?.value[1],
    inf: (await query(base, 'sum(edge_request_duration_seconds_bucket{job="edge",le="+Inf"})'))[0]?.value[1],
  });
  let seen = await read();
  while (Date.now() < deadline && !(seen.up === "1" && seen.hello[0]?.value[1] === "5" && seen.count === "7")) {
    await sleep(500);
    seen = await read();
  }
  assert.equal(seen.up, "1", `target up; Prometheus log:\n${log.slice(-2000)}`);
  assert.equal(seen.hello.length, 1, `one /hello series; Prometheus log:\n${log.slice(-2000)}`);
  assert.equal(seen.hello[0].value[1], "5");
  assert.equal(seen.missing, "2");
  // The histogram arrived whole: the +Inf bucket equals the count (7 requests, /metrics aside).
  assert.equal(seen.count, "7");
  assert.equal(seen.inf, "7");
  const targets = await fetch(`${base}/api/v1/targets`).then((r) => r.json());
  assert.equal(targets.data.activeTargets[0].health, "up");
  assert.equal(targets.data.activeTargets[0].lastError, "");
});
