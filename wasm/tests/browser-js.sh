#!/usr/bin/env bash
# Runs tests/browser/js-layer.html in headless Chromium over HTTP: the JS layer's in-place
# counters and gauges, label cache and prom-client-shaped API in a browser. Run by wasm/test.sh
# after build.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
python3 -m http.server "$port" --bind 127.0.0.1 -d "$here" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/tests/browser/js-layer.html" >/dev/null && break
  sleep 0.1
done
dom="$(timeout 60 chromium --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
  --disable-background-networking --no-first-run --virtual-time-budget=10000 \
  --dump-dom "http://127.0.0.1:$port/tests/browser/js-layer.html" 2>/dev/null)"
if ! grep -q '<pre id="result">PASS</pre>' <<<"$dom"; then
  echo "browser JS layer test failed: $(sed -n '/<pre id="result">/,/<\/pre>/p' <<<"$dom")" >&2
  exit 1
fi
echo "browser JS layer: in-place updates, label cache and prom-client API pass in headless Chromium"
