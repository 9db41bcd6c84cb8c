#!/usr/bin/env bash
# Installs, idempotently, everything the test tiers need on a fresh Debian machine:
# rustup targets and components, nightly (miri, cargo-fuzz), Debian packages
# (promtool/prometheus), and a Python venv with prometheus_client. Safe to run again: it
# skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

# --- Rust targets (no_std and wasm builds of metrics-core; thumbv7m/thumbv6m: the QEMU firmware) --
TARGETS=(thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabihf riscv32imc-unknown-none-elf wasm32-unknown-unknown)
installed_targets=$(rustup target list --installed)
for t in "${TARGETS[@]}"; do
  if ! grep -qx "$t" <<<"$installed_targets"; then
    log "rustup target add $t"
    rustup target add "$t"
  fi
done

# llvm-size / llvm-nm for the firmware footprint report (exporters/embedded/README.md).
if ! rustup component list --installed | grep -q '^llvm-tools'; then
  log "rustup component add llvm-tools"
  rustup component add llvm-tools
fi

# --- nightly miri (tier 4: the core's unit tests under miri) ------------------------
if ! rustup toolchain list | grep -q '^nightly'; then
  log "rustup toolchain install nightly"
  rustup toolchain install nightly --profile minimal --component miri,rust-src
fi
if ! rustup component list --toolchain nightly --installed | grep -q '^miri'; then
  log "rustup component add miri rust-src (nightly)"
  rustup component add miri rust-src --toolchain nightly
fi

# --- cargo-fuzz (tier 4: the fuzz smoke run of fuzz/; it builds with the nightly above) ----
CARGO_FUZZ_VERSION=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  log "cargo install cargo-fuzz --version $CARGO_FUZZ_VERSION --locked"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# --- cargo-audit (gate: no crate of Cargo.lock with a RustSec advisory; reads tools/advisory-db) --
CARGO_AUDIT_VERSION=0.22.2
# (0.22 prints its version as "cargo-audit-audit 0.22.2".)
if ! cargo audit --version 2>/dev/null | grep -q " $CARGO_AUDIT_VERSION\$"; then
  log "cargo install cargo-audit --version $CARGO_AUDIT_VERSION --locked"
  cargo install cargo-audit --version "$CARGO_AUDIT_VERSION" --locked
fi

# --- Debian packages -------------------------------------------------------------
DEBS=(prometheus prometheus-pushgateway prometheus-node-exporter docker-compose chromium chromium-driver curl qemu-system-arm openssl wrk)
missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian package starts a prometheus service where systemd runs; the tests start
# their own servers on free ports, so nothing here depends on it.

# --- Prometheus 3.5.3 (with its promtool) and VictoriaMetrics from Debian's forky suite ---------
# Unpacked into .cache/forky/ (scripts/forky.sh says how), beside the stable suite's 2.42:
# the conformance tests run against both Prometheus versions.
bash scripts/forky.sh >/dev/null

# --- Python venv with the reference parsers -----------------------------------------
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
  log "python3 -m venv $VENV"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import prometheus_client, cramjam, google.protobuf' 2>/dev/null; then
  log "pip install -r scripts/requirements-test.txt"
  "$VENV/bin/pip" install -q -r scripts/requirements-test.txt
fi
log "ready"
