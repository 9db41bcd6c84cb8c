#!/usr/bin/env bash
# Loads examples/browser/index.html in headless Chromium over HTTP and checks that the page
# rendered its metrics exposition. Run by wasm/test.sh after build.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
python3 -m http.server "$port" --bind 127.0.0.1 -d "$here" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/examples/browser/index.html" >/dev/null && break
  sleep 0.1
done
dom="$(timeout 60 chromium --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
  --disable-background-networking --no-first-run --virtual-time-budget=3000 \
  --dump-dom "http://127.0.0.1:$port/examples/browser/index.html" 2>/dev/null)"
for want in '# TYPE page_load_seconds gauge' '# TYPE page_paint_seconds gauge' '# TYPE page_clicks_total counter' 'page_visible '; do
  if ! grep -qF -- "$want" <<<"$dom"; then
    echo "browser example: missing '$want' in the rendered page:" >&2
    echo "$dom" | sed -n '/<pre/,/<\/pre>/p' >&2
    exit 1
  fi
done
echo "browser example: page rendered its exposition in headless Chromium"
