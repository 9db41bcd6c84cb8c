// The Node HTTP server example (examples/node-server.cjs) run as a user would, answering
// requests and serving /metrics in the negotiated format. Run by wasm/test.sh.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("../../examples/node-server.cjs", import.meta.url));

test("node-server example counts requests and serves /metrics", { timeout: 30_000 }, async (t) => {
  const child = spawn(process.execPath, [script, "0"], { stdio: ["ignore", "pipe", "inherit"] });
  t.after(() => child.kill());
  const base = await new Promise((ok, fail) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (m) ok(m[0]);
    });
    child.once("exit", (code) => fail(new Error(`example exited with ${code}`)));
  });
  assert.equal(await (await fetch(`${base}/`)).text(), "hello\n");
  assert.equal((await fetch(`${base}/nope`)).status, 404);
  const text = await fetch(`${base}/metrics`);
  assert.equal(text.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const body = await text.text();
  assert.match(body, /^http_requests_total\{method="GET",route="\/",code="200"\} 1$/m);
  assert.match(body, /^http_requests_total\{method="GET",route="other",code="404"\} 1$/m);
  assert.match(body, /^http_request_duration_seconds_count\{route="\/"\} 1$/m);
  const om = await fetch(`${base}/metrics`, { headers: { accept: "application/openmetrics-text; version=1.0.0" } });
  assert.equal(om.headers.get("content-type"), "application/openmetrics-text; version=1.0.0; charset=utf-8");
  assert.ok((await om.text()).endsWith("# EOF\n"));
});
