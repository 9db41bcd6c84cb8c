#!/usr/bin/env bash
# Refreshes tools/advisory-db/, the project's copy of the RustSec advisory database that
# `cargo audit` reads in scripts/test.sh (the machines reach the package registries but not
# the database's git host, and no registry package ships the database).
#
#   bash scripts/advisory-db.sh [SOURCE]
#
# SOURCE: a directory holding the database's crates/ and rust/ folders. Default: the
# workplace's copy, ../shared/advisory-db, when there; else a shallow clone of the upstream
# repository (https://github.com/rustsec/advisory-db), where that host is reachable.
# Commit what it writes (about 1,200 small files, under 0.5 MB compressed).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=tools/advisory-db
src="${1:-}"
tmp=""
if [ -z "$src" ]; then
  if [ -d ../shared/advisory-db/crates ]; then
    src=../shared/advisory-db
  else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    git clone --quiet --depth 1 https://github.com/rustsec/advisory-db "$tmp/db"
    src="$tmp/db"
  fi
fi
[ -d "$src/crates" ] || { echo "advisory-db.sh: $src has no crates/ folder" >&2; exit 2; }
rm -rf "$dest/crates" "$dest/rust"
mkdir -p "$dest"
cp -R "$src/crates" "$src/rust" "$dest/"
cp "$src/LICENSE.txt" "$dest/" 2>/dev/null || true
# The source's own description (the upstream commit it was taken at), when it has one.
cp "$src/README.md" "$dest/SOURCE-README.md" 2>/dev/null || true
chmod -R u+w "$dest"
newest=$(grep -rhoE '^date = "[0-9-]+"' "$dest/crates" | sort | tail -1 | cut -d'"' -f2)
count=$(find "$dest/crates" -name 'RUSTSEC-*.md' | wc -l)
cat > "$dest/SNAPSHOT" <<INFO
source: $src
copied: $(date -u +%Y-%m-%d)
advisories: $count
newest advisory: $newest
INFO
echo "advisory-db.sh: $count advisories, the newest of $newest, in $dest" >&2
