// A plain Node HTTP server with metrics, using the package's Node build (CommonJS):
//
//   node examples/node-server.cjs [port]     then: curl localhost:3000/ ; curl localhost:3000/metrics
//
// In your project: `const { Registry } = require("metrics-wasm");`
const http = require("node:http");
const { Registry } = require("../pkg/node/metrics_wasm.js");

const registry = new Registry();
const requests = registry.counter("http_requests", "HTTP requests served.", ["method", "route", "code"]);
const duration = registry.histogram("http_request_duration_seconds", "Request latency.", ["route"]);
const heap = registry.gauge("nodejs_heap_used_bytes", "V8 heap in use.");

const server = http.createServer((req, res) => {
  const start = process.hrtime.bigint();
  if (req.url === "/metrics") {
    heap.set(process.memoryUsage().heapUsed);
    const scrape = registry.scrape(req.headers.accept);
    res.writeHead(200, { "content-type": scrape.contentType });
    res.end(scrape.body);
    return;
  }
  const route = req.url === "/" ? "/" : "other";
  const code = route === "/" ? 200 : 404;
  res.writeHead(code, { "content-type": "text/plain" });
  res.end(code === 200 ? "hello\n" : "not found\n");
  requests.inc([req.method, route, String(code)]);
  duration.observe(Number(process.hrtime.bigint() - start) / 1e9, [route]);
});

const port = Number(process.argv[2] ?? 3000);
server.listen(port, "127.0.0.1", () => {
  console.log(`http://127.0.0.1:${server.address().port}/ (metrics at /metrics)`);
});
