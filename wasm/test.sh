#!/usr/bin/env bash
# Builds the npm package (build.sh) and runs every wasm test:
#   0. metrics-core's float tests with its `compact-float` feature (on in wasm32 builds);
#   1. wasm-bindgen-test (tests/web.rs) under Node and in headless Chromium;
#   2. `node --test` on the built package: API, errors, exact text, in-place updates across
#      memory growth and reset, Python prometheus_client's text and strict OpenMetrics parsers;
#      the prom-client-shaped API running prom-client's README examples (beside prom-client);
#      the edge-worker example scraped by a real Prometheus; delivery (tests/node/push.test.mjs):
#      `push` to the metrics-gateway binary (built here) and `remoteWrite` to Prometheus 3.5.3
#      ($PROMETHEUS3), from Node, from the edge-worker example and from headless Chromium;
#   3. the browser example page, and the JS layer's test page, in headless Chromium.
# Needs the Debian packages chromium, chromium-driver, prometheus, curl, the project's Python
# venv (.venv with prometheus_client, made by scripts/setup.sh) and Prometheus 3.5.3 (forky's
# package unpacked by scripts/forky.sh; $PROMETHEUS3, set by scripts/test.sh, else its path in
# .cache/forky/). Missing tools fail the
# run with a message saying what to install; nothing is skipped silently.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

missing=()
command -v node >/dev/null || missing+=("node (Node.js >= 18)")
command -v npm >/dev/null || missing+=("npm")
command -v chromium >/dev/null || missing+=("chromium (apt-get install chromium)")
command -v "${CHROMEDRIVER:-chromedriver}" >/dev/null || missing+=("chromedriver (apt-get install chromium-driver)")
[ -x "${PROMETHEUS:-/usr/bin/prometheus}" ] || missing+=("prometheus (apt-get install prometheus)")
command -v curl >/dev/null || missing+=("curl (apt-get install curl)")
command -v python3 >/dev/null || missing+=("python3 (apt-get install python3)")
export PROMETHEUS3="${PROMETHEUS3:-$root/.cache/forky/prometheus-3.5.3+ds1-6/usr/bin/prometheus}"
[ -x "$PROMETHEUS3" ] ||
  missing+=("Prometheus 3.5.3 at $PROMETHEUS3 (bash scripts/forky.sh unpacks it; or set PROMETHEUS3)")
python="${METRICS_PYTHON:-$root/.venv/bin/python}"
"$python" -c 'import prometheus_client' 2>/dev/null ||
  missing+=("$python with prometheus_client (scripts/setup.sh makes the venv)")
if [ "${#missing[@]}" -gt 0 ]; then
  echo "wasm/test.sh: missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi

bash "$here/build.sh"

echo "== the gateway the push tests deliver to (cargo build -p metrics-gateway)"
(cd "$root" && cargo build -p metrics-gateway)
export METRICS_GATEWAY="${CARGO_TARGET_DIR:-$root/target}/debug/metrics-gateway"

cd "$here"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT=120

echo "== metrics-core's float tests with compact-float (the formatter this package uses)"
cargo test -p metrics-core --features compact-float --lib encoding::float

echo "== wasm-bindgen-test under Node"
cargo test -p metrics-wasm --target wasm32-unknown-unknown

echo "== wasm-bindgen-test in headless Chromium (webdriver.json holds the flags)"
CHROMEDRIVER="$(command -v "${CHROMEDRIVER:-chromedriver}")" WASM_BINDGEN_USE_BROWSER=1 \
  cargo test -p metrics-wasm --target wasm32-unknown-unknown --test web

echo "== node --test (API, errors, exact text, Python parsers, prom-client README examples, Prometheus scrape, push and Remote-Write)"
METRICS_PYTHON="$python" node --test --test-concurrency=1 tests/node/

echo "== browser example in headless Chromium"
bash tests/browser-example.sh

echo "== the JS layer (in-place updates, label cache, prom-client API) in headless Chromium"
bash tests/browser-js.sh

echo "wasm/test.sh: all wasm tests passed"
