# Shared by tests/browser-js.sh and tests/browser-example.sh (sourced, not run): serve the
# wasm directory over HTTP on a free loopback port and dump a page's DOM from headless
# Chromium.

# serve_wasm_dir DIR PAGE: serves DIR with python3's http.server on a free 127.0.0.1 port
# (killed on exit), waits (up to 5 s) until PAGE answers and sets `port`.
serve_wasm_dir() {
  local dir="$1" page="$2"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  python3 -m http.server "$port" --bind 127.0.0.1 -d "$dir" >/dev/null 2>&1 &
  server=$!
  trap 'kill "$server" 2>/dev/null || true' EXIT
  for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$port/$page" >/dev/null && break
    sleep 0.1
  done
}

# chromium_dom URL BUDGET_MS: prints the DOM headless Chromium has for URL after BUDGET_MS of
# virtual time (the whole run limited to 60 s).
chromium_dom() {
  timeout 60 chromium --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --disable-background-networking --no-first-run --virtual-time-budget="$2" \
    --dump-dom "$1" 2>/dev/null
}
