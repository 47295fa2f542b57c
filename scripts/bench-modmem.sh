#!/usr/bin/env bash
# Cost of the mod.mem_stats collector (off by default) against the real
# Kamailio: N scrapes of an exporter with --collector.mod.mem_stats and N of
# one without it, interleaved one by one; the median and p90 of each page's
# time (curl's time_total), and the median of the collector's own duration
# (kamailio_scrape_collector_duration_seconds{collector="mod.mem_stats"}),
# during which Kamailio walks its allocation tables. Also the size of the
# reply (allocation sites listed), and kamcmd's time for the RPC alone
# against core.uptime (each kamcmd run: process start, connect, one RPC).
# Usage: scripts/bench-modmem.sh [N=100] [RUNDIR]
#        without RUNDIR it starts the test Kamailio (scripts/kamailio.sh) with
#        10 sipp calls and stops it at the end.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/lib.sh
n=${1:-100}
rundir=${2:-}
own=""
work=$(mktemp -d /tmp/kamailio_exporter-bench-modmem.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$own" ] && scripts/kamailio.sh stop "$rundir" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
if [ -z "$rundir" ]; then
  rundir=$work/kamailio own=1
  RTPENGINE=0 KAMAILIO_PEER=0 scripts/kamailio.sh start "$rundir" >/dev/null
  scripts/kamailio.sh traffic "$rundir" 10 >/dev/null
fi
go build -o "$work/kamailio_exporter" .
urls=()
for flag in --collector.mod.mem_stats --no-collector.mod.mem_stats; do
  port=$(free_port)
  "$work/kamailio_exporter" --web.listen-address="127.0.0.1:$port" --kamailio.binrpc-uri="unix://$rundir/kamailio_ctl" \
    "$flag" > "$work/exporter$port.log" 2>&1 &
  pids+=($!)
  urls+=("http://127.0.0.1:$port/metrics")
  wait_http "http://127.0.0.1:$port/metrics"
done
for i in $(seq 1 "$n"); do
  curl -s -o "$work/page" -w '%{time_total}\n' "${urls[0]}" >> "$work/on"
  grep 'kamailio_scrape_collector_duration_seconds{collector="mod.mem_stats"}' "$work/page" | awk '{print $2}' >> "$work/collector"
  curl -s -o /dev/null -w '%{time_total}\n' "${urls[1]}" >> "$work/off"
done
kam="kamcmd -s unix:$rundir/kamailio_ctl"
for i in $(seq 1 20); do
  for rpc in "mod.mem_stats all all" core.uptime; do
    s=$(date +%s%N); $kam $rpc > /dev/null; e=$(date +%s%N)
    echo $(( (e - s) / 1000 )) >> "$work/kamcmd-${rpc%% *}"
  done
done
grep -q 'kamailio_scrape_collector_success{collector="mod.mem_stats"} 1' "$work/page" || { echo "mod.mem_stats failed" >&2; exit 1; }
series=$(grep -c '^kamailio_module_memory_bytes{' "$work/page")
sites=$($kam mod.mem_stats all all | grep -c '([0-9]*):')
python3 - "$work" "$n" "$series" "$sites" "$($kam core.version)" <<'PY'
import statistics, sys
work, n, series, sites, version = sys.argv[1:]
def q(name, scale=1000):
    v = sorted(float(x) * scale for x in open(f"{work}/{name}") if x.strip())
    return statistics.median(v), v[int(len(v) * 0.9) - 1]
on, off, coll = q("on"), q("off"), q("collector")
km, ku = q("kamcmd-mod.mem_stats", 0.001), q("kamcmd-core.uptime", 0.001)
print(f"{version.strip()}: {n} scrapes each; {series} kamailio_module_memory_bytes series; {sites} allocation sites listed")
print(f"scrape with mod.mem_stats:    median {on[0]:.2f} ms, p90 {on[1]:.2f} ms")
print(f"scrape without mod.mem_stats: median {off[0]:.2f} ms, p90 {off[1]:.2f} ms")
print(f"mod.mem_stats collector:      median {coll[0]:.2f} ms, p90 {coll[1]:.2f} ms")
print(f"kamcmd mod.mem_stats all all: median {km[0]:.2f} ms; kamcmd core.uptime: median {ku[0]:.2f} ms (20 runs each)")
PY
