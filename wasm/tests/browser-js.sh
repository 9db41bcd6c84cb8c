#!/usr/bin/env bash
# Runs tests/browser/js-layer.html in headless Chromium over HTTP: the JS layer's in-place
# counters and gauges, label cache and prom-client-shaped API in a browser. Run by wasm/test.sh
# after build.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=browser-lib.sh
. "$here/tests/browser-lib.sh"
serve_wasm_dir "$here" tests/browser/js-layer.html
dom="$(chromium_dom "http://127.0.0.1:$port/tests/browser/js-layer.html" 10000)"
if ! grep -q '<pre id="result">PASS</pre>' <<<"$dom"; then
  echo "browser JS layer test failed: $(sed -n '/<pre id="result">/,/<\/pre>/p' <<<"$dom")" >&2
  exit 1
fi
echo "browser JS layer: in-place updates, label cache and prom-client API pass in headless Chromium"
