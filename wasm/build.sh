#!/usr/bin/env bash
# Builds the npm package into wasm/pkg/{web,node,bundler}: release wasm with the size profile,
# wasm-bindgen (pinned to the crate's version in Cargo.lock), wasm-opt -Oz (npm's binaryen),
# and prints the .wasm size raw and gzipped. Idempotent: installs only what is missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

# The wasm-bindgen version in Cargo.lock; the CLI must match it exactly.
version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)"
if [ -z "$version" ]; then
  echo "build.sh: wasm-bindgen not found in Cargo.lock" >&2
  exit 1
fi
installed="$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)"
if [ "$installed" != "$version" ]; then
  echo "build.sh: installing wasm-bindgen-cli $version (found: ${installed:-none})" >&2
  cargo install wasm-bindgen-cli --version "$version" --force
fi
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

# devDependencies (binaryen for wasm-opt, prom-client for the benchmark), as locked.
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

# `cargo rustc --crate-type cdylib`: with the manifest's two crate types (cdylib + rlib) cargo
# silently drops `-C lto`, which costs about 30 KB. No std (see src/standalone.rs): about a
# quarter smaller again.
build=(rustc -p metrics-wasm --lib --crate-type cdylib --target wasm32-unknown-unknown
  --profile wasm-release --no-default-features)
# Twice: without and with `Registry.remoteWrite` (feature `remote-write`, the core's
# Remote-Write encoders and Snappy: about 17 KB more than the 48 KB budget leaves room for), so
# the default entry points load the small module and `metrics-wasm/remote-write` the larger one.
# Each build is copied out of the target directory before the next overwrites it.
mkdir -p "$root/target/metrics-wasm"
for variant in plain rw; do
  features=standalone
  [ "$variant" = rw ] && features=standalone,remote-write
  if [ "${METRICS_WASM_NIGHTLY:-0}" = 1 ]; then
    # Opt-in: core and alloc rebuilt for size. Needs the nightly toolchain with rust-src.
    CARGO_TARGET_DIR="$root/target/wasm-nightly" cargo +nightly "${build[@]}" --features "$features" \
      -Z build-std=core,alloc -Z build-std-features=optimize_for_size
    out_raw="$root/target/wasm-nightly/wasm32-unknown-unknown/wasm-release/metrics_wasm.wasm"
  else
    cargo "${build[@]}" --features "$features"
    out_raw="$root/target/wasm32-unknown-unknown/wasm-release/metrics_wasm.wasm"
  fi
  cp "$out_raw" "$root/target/metrics-wasm/$variant.wasm"
done

# The features rustc enables by default for wasm32-unknown-unknown; wasm-opt must accept them.
features=(--enable-bulk-memory --enable-mutable-globals --enable-sign-ext
  --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue)

# What js/api.js defines and metrics_wasm.js exports.
exports="Registry, Counter, CounterChild, Gauge, GaugeChild, Histogram, HistogramChild, Exposition, negotiate, contentType"

# What js/prom_client.js defines and prom_client.js exports (prom-client's names).
compat_exports="Registry, register, contentType, prometheusContentType, openMetricsContentType, Counter, Gauge, Histogram, linearBuckets, exponentialBuckets, collectDefaultMetrics"

for target in web nodejs bundler; do
  case "$target" in
    nodejs) dir=node ;;
    *) dir="$target" ;;
  esac
  out="$here/pkg/$dir"
  rm -rf "$out"
  # metrics_wasm.js over metrics_wasm_bg.wasm (no Remote-Write), metrics_wasm_rw.js over
  # metrics_wasm_rw_bg.wasm (with it): the same JS API (js/api.js) over either module.
  for variant in plain rw; do
    name=metrics_wasm
    [ "$variant" = rw ] && name=metrics_wasm_rw
    wasm-bindgen --target "$target" --out-dir "$out" --out-name "$name" "$root/target/metrics-wasm/$variant.wasm"
    "$here/node_modules/.bin/wasm-opt" -Oz "${features[@]}" --strip-debug --strip-producers --strip-target-features \
      -o "$out/${name}_bg.wasm" "$out/${name}_bg.wasm"
    rm -f "$out/.gitignore" "$out/package.json"
    # wasm-bindgen's module becomes <name>_raw.js; <name>.js is the JS API over it (js/api.js,
    # see src/abi.rs), as an ES module or, for Node, CommonJS.
    mv "$out/$name.js" "$out/${name}_raw.js"
    mv "$out/$name.d.ts" "$out/$name.d.ts.raw"
    api="$out/$name.js"
    if [ "$target" = nodejs ]; then
      { echo '"use strict";'; echo "const raw = require(\"./${name}_raw.js\");"; echo
        cat "$here/js/api.js"; echo; echo "module.exports = { $exports };"; } > "$api"
    else
      { echo "import * as raw from \"./${name}_raw.js\";"; echo
        cat "$here/js/api.js"; echo; echo "export { $exports };"
        if [ "$target" = web ]; then echo "export { default, initSync } from \"./${name}_raw.js\";"; fi
      } > "$api"
    fi
    # The public types; the web target adds wasm-bindgen's declarations of its `init`.
    cp "$here/js/metrics_wasm.d.ts" "$out/$name.d.ts"
    if [ "$target" = web ]; then
      sed -n '/^export type InitInput/,$p' "$out/$name.d.ts.raw" >> "$out/$name.d.ts"
    fi
    rm -f "$out/$name.d.ts.raw"
  done
  # prom-client's API over metrics_wasm.js (js/prom_client.js, js/default_metrics.js): Node
  # gets `require` for the default metrics' built-in modules; the ES module builds get none
  # (collectDefaultMetrics registers nothing there).
  compat="$out/prom_client.js"
  if [ "$target" = nodejs ]; then
    { echo '"use strict";'; echo 'const core = require("./metrics_wasm.js");'; echo 'const nodeRequire = require;'; echo
      cat "$here/js/prom_client.js" "$here/js/default_metrics.js"; echo
      echo "module.exports = { $compat_exports };"; } > "$compat"
  else
    { echo 'import * as core from "./metrics_wasm.js";'; echo 'const nodeRequire = undefined;'; echo
      cat "$here/js/prom_client.js" "$here/js/default_metrics.js"; echo
      echo "export { $compat_exports };"; } > "$compat"
  fi
  cp "$here/js/prom_client.d.ts" "$out/prom_client.d.ts"
done
# The nodejs target is CommonJS; the package is "type": "module".
echo '{ "type": "commonjs" }' > "$here/pkg/node/package.json"

for name in metrics_wasm metrics_wasm_rw; do
  wasm="$here/pkg/web/${name}_bg.wasm"
  raw_size=$(wc -c < "$wasm")
  gz_size=$(gzip -9 -c "$wasm" | wc -c)
  echo "${name}_bg.wasm: ${raw_size} bytes raw, ${gz_size} bytes gzip -9"
done
# The budget of the module every default entry point loads: 48 KB (49 152 B). It was 52 KB
# while exemplars and UTF-8 name escaping took the module to 49 447 B (c11df1a); 48 555 B
# since the core's escaping stopped validating UTF-8 it writes itself (README).
size=$(wc -c < "$here/pkg/web/metrics_wasm_bg.wasm")
if [ "$size" -gt 49152 ]; then
  echo "build.sh: metrics_wasm_bg.wasm is $size bytes, over the 48 KB (49152 B) budget" >&2
  exit 1
fi
