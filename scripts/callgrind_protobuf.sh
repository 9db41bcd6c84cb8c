#!/usr/bin/env bash
# Instructions (valgrind's callgrind, `Ir`) of one steady-state protobuf encode of the 10k-series
# registry, ours and prometheus-client's: the `profile` binary run with 1 and with 3 encodes,
# the difference halved, so building the registry drops out. Prints one JSON object
# {"<crate>": instructions per encode, ...}; `scripts/bench.sh` puts it into BENCHMARKS.md.
#
#   bash scripts/callgrind_protobuf.sh > target/callgrind_protobuf.json
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind missing: apt-get install valgrind" >&2; exit 1; }
cargo build -q --profile bench -p metrics-benchmarks --bin profile
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ir() {
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" target/release/profile \
    encode_protobuf_10k "$1" "$2" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
sep="{"
for crate in ours prometheus_client; do
  one=$(ir "$crate" 1)
  three=$(ir "$crate" 3)
  printf '%s"%s": %d' "$sep" "$crate" $(((three - one) / 2))
  sep=", "
done
echo "}"
