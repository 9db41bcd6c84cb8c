#!/usr/bin/env bash
# The whole test suite, every tier, on a fresh Debian machine: installs what the tests need
# (scripts/setup.sh, idempotent), then runs
#   0. gates: cargo audit of Cargo.lock against tools/advisory-db, rustfmt, clippy -D warnings,
#      rustdoc -D warnings
#   1. cargo test --workspace (unit, golden, stress, allocation, doc tests; benches in test mode)
#   2. conformance: the ignored tests that need promtool, Python prometheus_client and a real
#      Prometheus (among them `promtool check web-config` on monitoring/web-config.yml with a
#      throwaway certificate, and Prometheus scraping builder_cli over TLS with basic auth:
#      builder-cli/tests/web_config.rs); a wrk load test of the HTTP exporter (release build);
#      the monitoring stack's compose file, config, rules and rule unit tests
#   3. targets: metrics-core for thumbv6m, riscv32imc, thumbv7em and wasm32 (no_std); the wasm
#      npm package built and tested under Node and headless Chromium (wasm/test.sh); the
#      embedded exporter for thumbv6m/thumbv7em and the QEMU firmware examples (built here, run
#      under qemu-system-arm by exporters/embedded/tests/qemu.rs in tier 1+2), with their sizes
#   4. concurrency and robustness: loom models, miri on the core's unit tests, a bounded
#      smoke run of each fuzz target (fuzz/, cargo-fuzz on nightly)
#   5. benchmarks (metrics-core's and the side-by-side peers of benchmarks/) run once each in
#      criterion's test mode, so they keep compiling and running; `scripts/bench.sh` measures
# A missing tool is a failure, never a skip. Set SKIP_SETUP=1 to skip the install step.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }
started=$SECONDS

if [ "${SKIP_SETUP:-0}" != 1 ]; then
  step "setup (scripts/setup.sh)"
  bash scripts/setup.sh
fi
export PYTHON="$PWD/.venv/bin/python"
# Prometheus 3.5.3, its promtool and VictoriaMetrics, unpacked by setup.sh (scripts/forky.sh).
forky_bin=($(bash scripts/forky.sh))
export PROMETHEUS3="${forky_bin[0]}/prometheus" PROMTOOL3="${forky_bin[1]}/promtool" \
  VICTORIA_METRICS="${forky_bin[2]}/victoria-metrics"

step "gates: dependency audit: no crate of Cargo.lock (nor fuzz/Cargo.lock) with a RustSec advisory"
# The database is the committed copy tools/advisory-db (scripts/advisory-db.sh refreshes it),
# and also the workplace's ../shared/advisory-db when there (it may be newer). Warnings
# (unmaintained, unsound) fail too.
for db in tools/advisory-db ../shared/advisory-db; do
  [ -d "$db/crates" ] || continue
  for lock in Cargo.lock fuzz/Cargo.lock; do
    cargo audit --db "$db" --no-fetch --stale --deny warnings --file "$lock"
  done
done

step "gates: fmt, clippy, rustdoc"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --quiet
# The firmware examples are their own workspace (bare-metal targets).
(cd exporters/embedded/firmware &&
  cargo fmt --all --check &&
  cargo clippy --release -p fw-common -p fw-lm3s6965evb --target thumbv7m-none-eabi -- -D warnings &&
  cargo clippy --release -p fw-microbit --target thumbv6m-none-eabi -- -D warnings &&
  cargo clippy --release -p fw-common -p fw-lm3s6965evb --features stress --target thumbv7m-none-eabi -- -D warnings &&
  cargo clippy --release -p fw-microbit --features stress --target thumbv6m-none-eabi -- -D warnings)

step "tier 1+2: cargo test --workspace (ignored tests included: they need the tools set up above)"
# --all-targets includes the criterion benches (metrics-core, benchmarks/): run once each, in
# criterion's test mode.
# The HTTP exporter's load test runs below, on a release build: skipped here in that crate
# only (criterion's bench harnesses of the other crates take no --skip).
cargo test --workspace --all-targets --exclude metrics-exporter-http -- --include-ignored
cargo test -p metrics-exporter-http --all-targets -- --include-ignored --skip under_wrk_for_30_seconds
cargo test --workspace --doc

step "tier 2: load: wrk scrapes a 10k-series registry for 30 s while two threads update it (release)"
cargo test --release -p metrics-exporter-http --test load -- --include-ignored

step "tier 2: monitoring stack: compose file, Prometheus config, rules and their unit tests"
docker-compose -f monitoring/docker-compose.yml config -q
promtool check config monitoring/prometheus/prometheus.yml
promtool check rules monitoring/prometheus/rules/*.yml
(cd monitoring/prometheus/tests && promtool test rules ./*.yml)
(cd monitoring/prometheus/tests-native && "$PROMTOOL3" test rules ./*.yml)
# The example web config of builder_cli, with a throwaway certificate (no key is committed).
webdir=$(mktemp -d)
cp monitoring/web-config.yml "$webdir/" && mkdir "$webdir/web-config"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=localhost -keyout "$webdir/web-config/server.key" \
  -out "$webdir/web-config/server.crt" 2>/dev/null
promtool check web-config "$webdir/web-config.yml"
rm -rf "$webdir"

step "tier 3: no_std builds of metrics-core"
build() { echo "+ cargo build -p metrics-core $*"; cargo build --quiet -p metrics-core "$@"; }
build --no-default-features --target thumbv6m-none-eabi --features portable-atomic,critical-section
build --no-default-features --target thumbv6m-none-eabi --features portable-atomic,critical-section,heapless
build --no-default-features --target riscv32imc-unknown-none-elf --features portable-atomic,critical-section
build --no-default-features --target thumbv7em-none-eabihf --features portable-atomic
build --no-default-features --target thumbv7em-none-eabihf --features portable-atomic,heapless
build --no-default-features --target thumbv7em-none-eabihf --features portable-atomic,alloc
build --no-default-features --target wasm32-unknown-unknown
build --no-default-features --target wasm32-unknown-unknown --features alloc

step "tier 3: no_std builds of the embedded exporter, firmware examples (release, opt-level z) and their sizes"
cargo build --quiet -p metrics-exporter-embedded --no-default-features --features nb,critical-section --target thumbv6m-none-eabi
cargo build --quiet -p metrics-exporter-embedded --no-default-features --features nb,portable-atomic --target thumbv7em-none-eabihf
(cd exporters/embedded/firmware &&
  cargo build --quiet --release -p fw-lm3s6965evb --target thumbv7m-none-eabi &&
  cargo build --quiet --release -p fw-microbit --target thumbv6m-none-eabi)
bash exporters/embedded/footprint.sh

step "tier 3: wasm package (wasm-bindgen-test in Node and headless Chromium, node --test, Prometheus scrape)"
bash wasm/test.sh

step "tier 4: loom models"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
  cargo test --release -p metrics-core --test loom

step "tier 4: miri (core unit tests)"
MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance}" cargo +nightly miri test -p metrics-core --lib

step "tier 4: fuzz smoke run: each cargo-fuzz target ${FUZZ_SECONDS:-30} s from its committed corpus (fuzz/README.md)"
# New inputs go to a scratch directory, so the committed corpus stays as it is; a crash fails
# the run and leaves its input in fuzz/artifacts/<target>/.
fuzz_started=$SECONDS
cargo +nightly fuzz build --fuzz-dir fuzz
for t in $(cargo +nightly fuzz list --fuzz-dir fuzz); do
  scratch=$(mktemp -d)
  if ! cargo +nightly fuzz run --fuzz-dir fuzz "$t" "$scratch" "fuzz/corpus/$t" -- \
    -max_total_time="${FUZZ_SECONDS:-30}" -print_final_stats=1 >"$scratch.log" 2>&1; then
    tail -n 40 "$scratch.log"
    echo "fuzz target $t failed (input in fuzz/artifacts/$t/)" >&2
    exit 1
  fi
  echo "$t: $(grep -o 'number_of_executed_units: [0-9]*' "$scratch.log" | cut -d' ' -f2) executions, no crash"
  rm -rf "$scratch" "$scratch.log"
done
echo "fuzz smoke run: $((SECONDS - fuzz_started)) s"

step "tier 5: benchmarks in criterion's quick test mode (each once, optimized), allocation counts"
cargo bench -p metrics-core --bench core -- --test
bash scripts/bench.sh --test

step "all tiers passed in $((SECONDS - started)) s"
