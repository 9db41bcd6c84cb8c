#!/usr/bin/env bash
# Instructions per native (and classic) observe, counted by callgrind: the `profile` binary's
# `native_observe` workload at two iteration counts, the difference divided by the extra
# iterations (so the setup drops out). Writes target/criterion/native_observe/callgrind.json,
# which `scripts/benchmarks_md.py --native` reads.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --profile bench -p metrics-benchmarks --bin profile
bin=target/release/profile
count() {
  local out
  out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" native_observe "$1" "$2" >/dev/null 2>&1
  callgrind_annotate "$out" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'
  rm -f "$out"
}
mkdir -p target/criterion/native_observe
{
  echo "{"
  sep=""
  for c in ours ours_sharded prometheus_client ours_classic; do
    small=$(count "$c" 100000)
    large=$(count "$c" 1100000)
    printf '%s  "%s": %s\n' "$sep" "$c" "$(( (large - small) / 1000000 ))"
    sep=","
  done
  echo "}"
} > target/criterion/native_observe/callgrind.json
cat target/criterion/native_observe/callgrind.json
