#!/usr/bin/env bash
# Compares this tree's metrics-core hot paths with an earlier commit's in ONE criterion run,
# plus callgrind instruction counts per operation:
#
#   bash scripts/bench_baseline.sh [COMMIT]     # default 8daf7ce (before exemplars)
#
# Checks COMMIT out into target/baseline-src (a detached git worktree), builds
# benchmarks/baseline (its own workspace, both builds as dependencies `base` and `new`) and
# prints criterion's results and `ops: instructions per operation` lines.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=${1:-8daf7ce}
src=target/baseline-src
if [ ! -d "$src" ] || [ "$(git -C "$src" rev-parse HEAD)" != "$(git rev-parse "$commit^{commit}")" ]; then
  git worktree remove --force "$src" 2>/dev/null || rm -rf "$src"
  git worktree add --detach "$src" "$commit" >/dev/null
fi
# Two packages may not share a name in one lockfile: the baseline is `metrics-core-base`.
sed -i '0,/^name = "metrics-core"$/s//name = "metrics-core-base"/' "$src/metrics-core/Cargo.toml"
export CARGO_TARGET_DIR="$PWD/target/baseline-bench"
manifest=benchmarks/baseline/Cargo.toml
cargo bench --manifest-path "$manifest" --bench baseline -- "$@"
cargo build --release --quiet --manifest-path "$manifest" --bin metrics-baseline-bench
bin=$CARGO_TARGET_DIR/release/metrics-baseline-bench
n=1000000
# Instructions inside the operation's own function (callgrind's --toggle-collect: the loop
# around it is not counted), per call.
for mode in base_inc new_inc base_observe new_observe new_inc_with_exemplar new_observe_with_exemplar; do
  out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="*::$mode" \
    "$bin" "$mode" "$n" >/dev/null 2>&1
  total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  rm -f "$out"
  echo "callgrind: $mode: $(awk -v t="$total" -v n="$n" 'BEGIN {printf "%.2f", t / n}') instructions per call (of $n)"
done
