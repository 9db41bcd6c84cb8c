#!/usr/bin/env bash
# Flash and RAM of the firmware examples (built beforehand with `cargo build --release` in
# firmware/), and where the Cortex-M0 example's flash goes, from its symbols (llvm-nm, demangled).
# Fails if the metrics core + embedded exporter code of the Cortex-M0 example is 16 KiB or more,
# or if the Cortex-M0 example's flash (text + data) is 24 000 bytes or more (issue 18: under
# 24 KB whichever way one reads "KB").
set -euo pipefail
cd "$(dirname "$0")/firmware"
bin="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin"
[ -x "$bin/llvm-size" ] || { echo "llvm-size missing: rustup component add llvm-tools" >&2; exit 1; }

m3=target/thumbv7m-none-eabi/release/fw-lm3s6965evb
m0=target/thumbv6m-none-eabi/release/fw-microbit
base=target/thumbv6m-none-eabi/release/fw-microbit-baseline
echo "flash = text + data, RAM = data + bss (+ the stack, which takes the rest of RAM)"
"$bin/llvm-size" "$m3" "$m0" "$base"

flash() { "$bin/llvm-size" "$1" | awk 'NR == 2 { print $1 + $2 }'; }
echo
echo "Cortex-M0 example ($m0), flash by origin of its symbols:"
"$bin/llvm-nm" --size-sort -S -C --radix=d "$m0" | awk '
  $3 ~ /^[tTrR]$/ {
    size = $2 + 0; name = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", name)
    if (name ~ /metrics_exporter_embedded|^crc::|crc\.\.|embedded_io/) c = "embedded exporter (+ crc, embedded-io)"
    else if (name ~ /metrics_core::heapless_family|HeaplessFamily/) c = "metrics-core: labelled families (heapless)"
    else if (name ~ /metrics_core::histogram|Histogram</) c = "metrics-core: classic histogram"
    else if (name ~ /metrics_core/) c = "metrics-core: core (counters, gauges, registry, encoders, float digits)"
    else if (name ~ /fw_common::serve/) c = "serve loop (SerialServer inlined into it)"
    else if (name ~ /fw_common|fw_microbit|^SysTick$|^main$|^Reset$/) c = "firmware (ISR, UART driver, reset)"
    else if (name ~ /compiler_builtins|^__/) c = "compiler-builtins (soft-float f64, u64 division, mem*)"
    else if (name ~ /flt2dec|fmt::float|bignum/) c = "libcore f64 formatting ({:e}, used by the core)"
    else if (name ~ /portable_atomic/) c = "portable-atomic"
    else c = "libcore other (fmt, str)"
    total[c] += size; all += size
  }
  END {
    for (c in total) printf "%7d  %s\n", total[c], c | "sort -rn"
    close("sort -rn")
    core = total["metrics-core: core (counters, gauges, registry, encoders, float digits)"] + total["metrics-core: classic histogram"] + total["metrics-core: labelled families (heapless)"]
    own = core + total["embedded exporter (+ crc, embedded-io)"] + total["serve loop (SerialServer inlined into it)"]
    printf "%7d  total in symbols\n", all
    printf "%7d  metrics-core + embedded exporter code (incl. the inlined serve loop)\n", own
    if (own >= 16384) { print "FAIL: 16 KiB or more" > "/dev/stderr"; exit 1 }
  }'
echo "$(( $(flash "$m0") - $(flash "$base") )) bytes: flash of fw-microbit minus its no-metrics baseline (everything the metrics bring in, libcore and compiler-builtins included)"
echo "$(flash "$m0") bytes: flash of fw-microbit (text + data; the target is under 24 000)"
if [ "$(flash "$m0")" -ge 24000 ]; then
  echo "FAIL: fw-microbit takes 24 000 bytes of flash or more (the symbol table above shows where they go)" >&2
  exit 1
fi

# What each part costs, from builds of the Cortex-M0 example without it (fw-common's
# `fw_footprint` cfg; each variant in its own target directory): flash of the full example
# minus flash of the variant. LTO shares code between parts (float digits, soft-float), so a
# part's figure is what removing it alone saves.
variant() {
  RUSTFLAGS="--cfg fw_footprint=\"$1\"" CARGO_TARGET_DIR="target/footprint-$1" \
    cargo build --quiet --release -p fw-microbit --target thumbv6m-none-eabi
  flash "target/footprint-$1/thumbv6m-none-eabi/release/fw-microbit"
}
full=$(flash "$m0")
no_hist=$(variant no_histogram)
no_family=$(variant no_family)
http=$(variant http)
native=$(variant native)
CARGO_TARGET_DIR=target/footprint-protobuf \
  cargo build --quiet --release -p fw-microbit --target thumbv6m-none-eabi --features protobuf
protobuf=$(flash target/footprint-protobuf/thumbv6m-none-eabi/release/fw-microbit)
echo
echo "Cortex-M0 example, flash by part (bytes):"
printf '%7d  fw-microbit, all parts\n' "$full"
printf '%7d  classic histogram (Histogram<6> observed in the ISR, encoded): full - no_histogram (%d)\n' $((full - no_hist)) "$no_hist"
printf '%7d  labelled family (HeaplessFamily<Counter, 4, 1, 8> in the ISR, encoded): full - no_family (%d)\n' $((full - no_family)) "$no_family"
printf '%7d  a native histogram too (NativeHistogram<16>, schema 3, observed in the ISR, encoded): native variant (%d) - full\n' $((native - full)) "$native"
printf '%7d  HTTP instead of the framed protocol: http variant (%d) - full\n' $((http - full)) "$http"
printf '%7d  the protobuf exposition too (`protobuf` feature): protobuf variant (%d) - full\n' $((protobuf - full)) "$protobuf"
