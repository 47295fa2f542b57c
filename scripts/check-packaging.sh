#!/usr/bin/env bash
# Checks the packaging without a Docker engine or systemd running:
#  - make build gives a static binary that reports its version
#  - make release puts the LICENSE in the archives
#  - scripts/demo.sh stamps its binary's version as make build does
#  - the Dockerfile builds the same way, runs as non-root and exposes 9494
#  - systemd-analyze verifies the service and socket units
#  - socket activation works: systemd-socket-activate hands a loopback
#    socket to the exporter (--web.systemd-socket), which serves /metrics
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/lib.sh
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

make -n build release docker >/dev/null
make build >/dev/null
mv kamailio_exporter "$tmp/kamailio_exporter"
"$tmp/kamailio_exporter" --version 2>&1 | grep -q 'kamailio_exporter, version' || { echo "no version" >&2; exit 1; }
file "$tmp/kamailio_exporter" | grep -q 'statically linked' || { echo "binary is not static" >&2; exit 1; }
grep -q '^USER 65534:65534' Dockerfile && grep -q '^EXPOSE 9494' Dockerfile && grep -q 'CGO_ENABLED=0' Dockerfile \
  || { echo "Dockerfile: want non-root USER, EXPOSE 9494, static build" >&2; exit 1; }
echo "build: static binary, version ok; Dockerfile: non-root, port 9494"

# The demo's binary is stamped as make build's is, with make and without.
# (Given a URI, the demo starts no Kamailio; --version ends the exporter.)
stamp='kamailio_exporter, version [^ ]+ \(branch: [^,]+, revision: [0-9a-f]{40}\)'
scripts/demo.sh --kamailio.binrpc-uri=unix:///nonexistent --version > "$tmp/demo-version" 2>&1
grep -qE "$stamp" "$tmp/demo-version" || { echo "scripts/demo.sh: binary not stamped:" >&2; cat "$tmp/demo-version" >&2; exit 1; }
mkdir -p "$tmp/nomake" && ln -sf "$(command -v go)" "$(command -v git)" "$tmp/nomake/"
for t in awk bash date dirname hostname id; do ln -sf "$(command -v "$t")" "$tmp/nomake/"; done
PATH="$tmp/nomake" "$BASH" scripts/demo.sh --kamailio.binrpc-uri=unix:///nonexistent --version > "$tmp/demo-version" 2>&1
grep -qE "$stamp" "$tmp/demo-version" || { echo "scripts/demo.sh without make: binary not stamped:" >&2; cat "$tmp/demo-version" >&2; exit 1; }
rm -f kamailio_exporter
echo "demo binary: version stamped"

# A release archive (one platform, to keep it short) carries the licence.
make release PLATFORMS=linux/amd64 VERSION=check BUILD_DIR="$tmp/build" >/dev/null
archive=$tmp/build/release/kamailio_exporter-check.linux-amd64.tar.gz
tar -tzf "$archive" > "$tmp/archive.list"
grep -qx 'kamailio_exporter-check.linux-amd64/LICENSE' "$tmp/archive.list" \
  || { echo "$archive lacks LICENSE" >&2; cat "$tmp/archive.list" >&2; exit 1; }
tar -xzOf "$archive" kamailio_exporter-check.linux-amd64/LICENSE | cmp -s - LICENSE || { echo "$archive: LICENSE differs" >&2; exit 1; }
echo "release archive: LICENSE included"

if command -v systemd-analyze >/dev/null; then
  mkdir -p "$tmp/units"
  sed "s|/usr/local/bin/kamailio_exporter|$tmp/kamailio_exporter|" deploy/systemd/kamailio_exporter.service > "$tmp/units/kamailio_exporter.service"
  cp deploy/systemd/kamailio_exporter.socket "$tmp/units/"
  out=$(systemd-analyze verify "$tmp/units/kamailio_exporter.socket" "$tmp/units/kamailio_exporter.service" 2>&1 || true)
  # Only the absence of a "kamailio" user on machines without Kamailio is tolerated.
  if echo "$out" | grep -v -i 'user\|group' | grep -q .; then
    echo "systemd-analyze verify:" >&2; echo "$out" >&2; exit 1
  fi
  echo "systemd units verify"
fi

if command -v systemd-socket-activate >/dev/null; then
  port=$(free_port)
  systemd-socket-activate -l "127.0.0.1:$port" "$tmp/kamailio_exporter" --web.systemd-socket \
    --kamailio.binrpc-uri="unix://$tmp/absent_ctl" > "$tmp/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do
    if curl -sf --max-time 2 "http://127.0.0.1:$port/metrics" -o "$tmp/page"; then break; fi
    sleep 0.2
  done
  grep -q '^kamailio_up 0' "$tmp/page" || { echo "socket activation: no metrics" >&2; cat "$tmp/log" >&2; exit 1; }
  echo "socket activation: /metrics served on the inherited socket"
fi
echo "packaging OK (docker build itself needs a Docker engine and is not run here)"
