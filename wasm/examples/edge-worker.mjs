// An edge-worker style module (Cloudflare Workers, Deno Deploy, Bun, or Node behind
// node-adapter.mjs): counts every request by method, path and status, times it, and serves
// the metrics at /metrics in the format the scraper's Accept header asks for.
//
// An edge worker usually cannot be scraped (many short-lived isolates behind one address), so
// with `env.PUSH_URL` set (a metrics-gateway run with --accept-pushes) it also pushes after each
// request, in the background (`ctx.waitUntil`, so the response is not delayed): the increments
// since its last acknowledged push, grouped under job `env.PUSH_JOB` ("edge-worker") and, if
// set, instance `env.PUSH_INSTANCE`; `env.PUSH_AUTHORIZATION` is sent as the Authorization
// header (e.g. "Basic ..." for the gateway's basic auth). A failed push keeps its increments for
// the next one. Prometheus scrapes the gateway (with `honor_labels: true`).
//
// The wasm is initialised on the first request: from `env.METRICS_WASM` (a compiled
// `WebAssembly.Module`, as edge platforms bind wasm modules) when given, else fetched next to
// the glue code.
import init, { Registry } from "../pkg/web/metrics_wasm.js";

let metrics;

async function setup(env) {
  await init(env?.METRICS_WASM ? { module_or_path: env.METRICS_WASM } : undefined);
  const registry = new Registry(1000);
  return {
    registry,
    requests: registry.counter("edge_requests", "Requests handled by the worker.", [
      "method",
      "path",
      "status",
    ]),
    duration: registry.histogram(
      "edge_request_duration_seconds",
      "Time spent handling a request.",
      ["path"],
      [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    ),
    inFlight: registry.gauge("edge_requests_in_flight", "Requests being handled now."),
  };
}

function route(url) {
  if (url.pathname === "/") return new Response("hello from the edge\n");
  if (url.pathname === "/hello") return new Response(`hello ${url.searchParams.get("name") ?? "world"}\n`);
  return new Response("not found\n", { status: 404 });
}

function pushOptions(env) {
  return {
    job: env.PUSH_JOB ?? "edge-worker",
    labels: env.PUSH_INSTANCE ? { instance: env.PUSH_INSTANCE } : {},
    headers: env.PUSH_AUTHORIZATION ? { authorization: env.PUSH_AUTHORIZATION } : {},
    onError: (e) => console.warn(`metrics push failed, its increments are kept for the next push: ${e.message}`),
  };
}

export default {
  async fetch(request, env, ctx) {
    metrics ??= await setup(env);
    const url = new URL(request.url);
    if (url.pathname === "/metrics") {
      const scrape = metrics.registry.scrape(request.headers.get("accept"));
      return new Response(scrape.body, { headers: { "content-type": scrape.contentType } });
    }
    const start = performance.now();
    metrics.inFlight.inc();
    try {
      const response = route(url);
      // Known paths only as label values: unbounded values would grow the series count.
      const path = response.status === 404 ? "other" : url.pathname;
      metrics.requests.inc([request.method, path, String(response.status)]);
      metrics.duration.observe((performance.now() - start) / 1000, [path]);
      return response;
    } finally {
      metrics.inFlight.dec();
      if (env?.PUSH_URL && ctx?.waitUntil) metrics.registry.pushInBackground(ctx, env.PUSH_URL, pushOptions(env));
    }
  },
};
