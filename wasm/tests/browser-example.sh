#!/usr/bin/env bash
# Loads examples/browser/index.html in headless Chromium over HTTP and checks that the page
# rendered its metrics exposition. Run by wasm/test.sh after build.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=browser-lib.sh
. "$here/tests/browser-lib.sh"
serve_wasm_dir "$here" examples/browser/index.html
dom="$(chromium_dom "http://127.0.0.1:$port/examples/browser/index.html" 3000)"
for want in '# TYPE page_load_seconds gauge' '# TYPE page_paint_seconds gauge' '# TYPE page_clicks_total counter' 'page_visible '; do
  if ! grep -qF -- "$want" <<<"$dom"; then
    echo "browser example: missing '$want' in the rendered page:" >&2
    echo "$dom" | sed -n '/<pre/,/<\/pre>/p' >&2
    exit 1
  fi
done
echo "browser example: page rendered its exposition in headless Chromium"
