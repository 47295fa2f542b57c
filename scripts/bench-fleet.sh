#!/usr/bin/env bash
# One exporter probing a fleet through /probe, as Prometheus scrapes it
# (BENCHMARKS.md, "A fleet through /probe"): LIVE synthetic Kamailio
# instances of SCALE percent of the large instance over TCP (the project's
# internal/synthetic), SILENT that accept and never answer, DEAD ports. A
# warm-up round, a round of the live targets alone, then ROUNDS rounds of
# every target, each spread over INTERVAL (internal/fleetbench prints the
# figures and checks that every answering target kept its connection and
# its discovery, and that dead targets' failures are all counted).
#
#   scripts/bench-fleet.sh [LIVE=2000] [SILENT=100] [DEAD=100] [ROUNDS=3] [INTERVAL=15s] [SCALE=1]
#
# BENCH_ARGS adds exporter flags (none by default: one CPU, the exporter's
# default, was cheaper and faster than two at 2 200 targets); BENCH_EXPORTER
# measures that exporter binary instead of this checkout's. Loopback only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh
live=${1:-2000} silent=${2:-100} dead=${3:-100} rounds=${4:-3} interval=${5:-15s} scale=${6:-1}
dir=$(mktemp -d /tmp/kamailio_exporter-fleet.XXXXXX)
fake_pid="" exporter_pid=""
finish() {
  local status=$?
  for p in "$exporter_pid" "$fake_pid"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null || true
  if [ "$status" = 0 ]; then rm -rf "$dir"; else echo "kept: $dir" >&2; fi
}
trap finish EXIT
if [ -n "${BENCH_EXPORTER:-}" ]; then cp "$BENCH_EXPORTER" "$dir/kamailio_exporter"; else go build -o "$dir/kamailio_exporter" .; fi
go build -o "$dir/fakekamailio" ./internal/synthetic/fakekamailio
go build -o "$dir/fleetbench" ./internal/fleetbench
# Serve long enough for every round (and the silent targets' timeouts).
"$dir/fakekamailio" -fleet "$live" -silent "$silent" -dead "$dead" -scale "$scale" -targets "$dir/targets" \
  -duration 30m > "$dir/fake.out" 2> "$dir/fake.err" &
fake_pid=$!
for _ in $(seq 1 300); do [ -s "$dir/fake.out" ] && break; sleep 0.1; done
[ -s "$dir/fake.out" ] || { cat "$dir/fake.err" >&2; exit 1; }
stats=$(awk '{print $1; exit}' "$dir/fake.out")
printf 'targets:\n  - match: "tcp://127.0.0.1:*"\n' > "$dir/probe.yml"
port=$(free_port)
# shellcheck disable=SC2086
"$dir/kamailio_exporter" --config.file="$dir/probe.yml" --web.listen-address="127.0.0.1:$port" \
  --kamailio.binrpc-uri=unix:///nonexistent/kamailio_ctl ${BENCH_ARGS:-} > "$dir/exporter.log" 2>&1 &
exporter_pid=$!
wait_http "http://127.0.0.1:$port/"
echo "exporter pid $exporter_pid, $(nproc) CPUs; fleet: $(cat "$dir/fake.out")"
"$dir/fleetbench" -exporter "http://127.0.0.1:$port" -pid "$exporter_pid" -targets "$dir/targets" -stats "$stats" \
  -rounds "$rounds" -interval "$interval"
