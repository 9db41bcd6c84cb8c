#!/usr/bin/env bash
# Pinned servers from Debian's `forky` suite, extracted (not installed) into .cache/forky/:
# Prometheus 3 and its promtool (the version users run, beside the stable suite's 2.42 that setup.sh installs)
# and VictoriaMetrics. Their Go binaries are static or need only libc, so they run here.
#
# How: apt reads the forky suite's package lists into a private directory (its own lists and
# cache under a temporary directory, an empty dpkg status), so the machine's apt sources and
# state are never touched; `apt-get download` fetches the pinned .deb (apt checks it against
# the suite's signed Release file) and `dpkg-deb -x` unpacks it into
# .cache/forky/<package>-<version>/. Idempotent: a package already unpacked is skipped.
#
#   bash scripts/forky.sh            # prints the binaries' paths when done
#
# To move to a newer version, change the pin below; the old directory stays until removed.
set -euo pipefail
cd "$(dirname "$0")/.."

# package=version (the Debian version string, as `apt-cache policy` shows it).
PINS=(
  "prometheus=3.5.3+ds1-6"
  "promtool=3.5.3+ds1-6"
  "victoria-metrics=1.145.0+ds1-2"
)
CACHE=.cache/forky

log() { printf '[forky] %s\n' "$*" >&2; }

missing=()
for pin in "${PINS[@]}"; do
  pkg=${pin%%=*}
  ver=${pin#*=}
  [ -f "$CACHE/$pkg-$ver/.complete" ] || missing+=("$pin")
done

if ((${#missing[@]})); then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/debs"
  cat >"$tmp/forky.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: forky
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  apt_opts=(
    -o "Dir::State::Lists=$tmp/lists"
    -o "Dir::Cache=$tmp/cache"
    -o "Dir::Etc::sourcelist=$tmp/forky.sources"
    -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::status=/dev/null"
    -o "APT::Sandbox::User=root"
  )
  log "reading the forky suite's package lists (private to this run)"
  apt-get "${apt_opts[@]}" update -qq
  for pin in "${missing[@]}"; do
    pkg=${pin%%=*}
    ver=${pin#*=}
    log "apt-get download $pin"
    (cd "$tmp/debs" && apt-get "${apt_opts[@]}" download "$pin" >/dev/null)
    dest="$CACHE/$pkg-$ver"
    rm -rf "$dest"
    mkdir -p "$dest"
    dpkg-deb -x "$tmp/debs/${pkg}_${ver//:/%3a}_"*.deb "$dest"
    touch "$dest/.complete"
  done
fi

for pin in "${PINS[@]}"; do
  pkg=${pin%%=*}
  ver=${pin#*=}
  echo "$PWD/$CACHE/$pkg-$ver/usr/bin"
done
