#!/usr/bin/env bash
# Runs metrics-core and the peer crates on the same workloads in one run and rewrites
# BENCHMARKS.md from the raw results (criterion's JSON and the allocation counts).
#
#   bash scripts/bench.sh            # full run (about 15 minutes on 2 cores), rewrites BENCHMARKS.md
#   bash scripts/bench.sh --test     # each benchmark once (smoke test); BENCHMARKS.md untouched
#
# Run it on a quiet machine: other work on the cores skews the figures.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--test" ]; then
  cargo bench -p metrics-benchmarks --bench peers -- --test
  cargo run --release -q -p metrics-benchmarks --bin alloc_count
  cargo bench -p metrics-gateway --bench push_throughput -- --test
  exit 0
fi

out=target/criterion
groups=(counter_inc counter_inc_2threads labelled_inc histogram_observe histogram_observe_2threads
  encode_10k encode_100k http_scrape_10k http_scrape_10k_gzip remote_write_10k native_observe
  native_observe_2threads encode_protobuf_10k)
# Results of an earlier run must not leak into this one's table.
for g in "${groups[@]}"; do rm -rf "${out:?}/$g"; done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "[bench] criterion: cargo bench -p metrics-benchmarks --bench peers" >&2
cargo bench -p metrics-benchmarks --bench peers -- "$@"
echo "[bench] allocation counts" >&2
cargo run --release -q -p metrics-benchmarks --bin alloc_count >target/alloc_count.jsonl
echo "[bench] callgrind instruction counts of the protobuf encode" >&2
bash scripts/callgrind_protobuf.sh >target/callgrind_protobuf.json
LOADAVG="before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)" \
  python3 scripts/benchmarks_md.py "$out" target/alloc_count.jsonl >BENCHMARKS.md.tmp
python3 scripts/benchmarks_md.py --remote-write "$out" >>BENCHMARKS.md.tmp
echo "[bench] instructions per native observe: scripts/native_callgrind.sh" >&2
bash scripts/native_callgrind.sh >&2
python3 scripts/benchmarks_md.py --native "$out" >>BENCHMARKS.md.tmp
echo "[bench] push throughput: cargo bench -p metrics-gateway --bench push_throughput" >&2
cargo bench -p metrics-gateway --bench push_throughput >target/push_throughput.md
{ echo; cat target/push_throughput.md; } >>BENCHMARKS.md.tmp
# The exemplar baseline comparison (scripts/bench_baseline.sh, a run of its own against an
# earlier commit): kept as measured.
{ echo; cat benchmarks/baseline/RESULTS.md; } >>BENCHMARKS.md.tmp
mv BENCHMARKS.md.tmp BENCHMARKS.md
echo "[bench] wrote BENCHMARKS.md" >&2
