// Runs an edge-worker style module (`export default { fetch(request, env, ctx) }`) in Node: each
// HTTP request becomes a WHATWG `Request`, the worker's `Response` is written back.
//
//   node examples/node-adapter.mjs [port] [worker module]   (default: 8787 ./edge-worker.mjs)
//
// The wasm is compiled once here and handed to the worker as `env.METRICS_WASM`, the way edge
// platforms bind wasm modules (Node's fetch cannot read file: URLs). The environment variables
// PUSH_URL, PUSH_JOB, PUSH_INSTANCE and PUSH_AUTHORIZATION are passed on in `env` (the edge
// worker pushes to a gateway when PUSH_URL is set). `ctx.waitUntil(promise)` works as on edge
// platforms: the promise runs on after the response; `server.settled()` waits for all of them.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

export async function serve({ port = 8787, host = "127.0.0.1", worker = "./edge-worker.mjs", env: vars = {} } = {}) {
  // A relative path is relative to this file; anything else to the working directory.
  const mod = await import(
    worker.startsWith(".") ? new URL(worker, import.meta.url).href : pathToFileURL(resolve(worker)).href
  );
  const handler = mod.default;
  const env = {
    ...vars,
    METRICS_WASM: await WebAssembly.compile(
      await readFile(new URL("../pkg/web/metrics_wasm_bg.wasm", import.meta.url)),
    ),
  };
  // What the workers handed to `ctx.waitUntil` and is still running.
  const background = new Set();
  const ctx = {
    waitUntil(promise) {
      const p = Promise.resolve(promise).catch((e) => console.warn("waitUntil:", e?.message ?? e));
      background.add(p);
      p.finally(() => background.delete(p));
    },
    passThroughOnException() {},
  };
  const server = createServer(async (req, res) => {
    try {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const body = chunks.length && req.method !== "GET" && req.method !== "HEAD" ? Buffer.concat(chunks) : undefined;
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (Array.isArray(v)) v.forEach((x) => headers.append(k, x));
        else if (v !== undefined) headers.set(k, v);
      }
      const request = new Request(`http://${req.headers.host ?? `${host}:${port}`}${req.url}`, {
        method: req.method,
        headers,
        body,
      });
      const response = await handler.fetch(request, env, ctx);
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (e) {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(`worker error: ${e?.message ?? e}\n`);
    }
  });
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, host, ok);
  });
  // Resolves once nothing handed to `ctx.waitUntil` runs any more.
  server.settled = async () => {
    while (background.size > 0) await Promise.allSettled([...background]);
  };
  return server;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.argv[2] ?? 8787);
  const env = {};
  for (const k of ["PUSH_URL", "PUSH_JOB", "PUSH_INSTANCE", "PUSH_AUTHORIZATION"]) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  const server = await serve({ port, worker: process.argv[3] ?? "./edge-worker.mjs", env });
  const { port: bound } = server.address();
  console.log(`edge worker on http://127.0.0.1:${bound}/ (metrics at /metrics)`);
}
