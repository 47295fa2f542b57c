#!/usr/bin/env bash
# End-to-end scrape cost against the real Kamailio, next to Kamailio's own
# answer time (issue 7):
#  - scrape: N sequential GETs of /metrics in BLOCKS blocks; each block is one
#    curl process on one keep-alive connection, as Prometheus scrapes (its
#    start-up shared by the block). Median and p99 of curl's time_total.
#  - floor: the RPCs of one scrape (as the exporter sends them once its method
#    list is cached), sent ROUNDS times in a row by ONE kamcmd process over one
#    connection (its start-up shared by the rounds), per round. One floor run
#    follows every scrape block, so both see the machine in the same state;
#    the floor reported is the median of those runs.
#  - cold: COLD scrapes each from a new curl process (new TCP connection).
# Usage: scripts/bench-scrape.sh [N=200] [ROUNDS=40] [BLOCKS=5] [COLD=20]
#        (needs scripts/kamailio.sh install)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/lib.sh
n=${1:-200}
rounds=${2:-40}
blocks=${3:-5}
cold=${4:-20}
rundir=$(mktemp -d /tmp/kamailio_exporter-bench.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; scripts/kamailio.sh stop "$rundir" >/dev/null || true; }
trap cleanup EXIT
RTPENGINE=0 scripts/kamailio.sh start "$rundir" >/dev/null
scripts/kamailio.sh traffic "$rundir" 10 >/dev/null
go build -o "$rundir/kamailio_exporter" .
port=$(free_port)
"$rundir/kamailio_exporter" --web.listen-address="127.0.0.1:$port" --kamailio.binrpc-uri="unix://$rundir/kamailio_ctl" \
  --collector.dialog.profiles=inbound > "$rundir/exporter.log" 2>&1 &
pid=$!
url="http://127.0.0.1:$port/metrics"
wait_http "$url"

# The RPCs of one (cached) scrape, in the exporter's order.
rpcs="core.uptime
core.info
core.psa
core.runinfo
core.tcp_info
dlg.stats_active
dlg.profile_get_size inbound
dispatcher.list
htable.listTables
htable.stats
pkg.stats
sl.stats
stats.fetch all
core.shmmem
tls.info
tm.stats"
# kamcmd reads commands from stdin when it has no command argument.
for _ in $(seq 1 "$rounds"); do echo "$rpcs"; done > "$rundir/floor.in"

# curl arguments for k scrapes on one connection.
urls() { for _ in $(seq 1 "$1"); do printf -- '-o\n/dev/null\n%s\n' "$url"; done; }
per_block=$(( (n + blocks - 1) / blocks ))
mapfile -t warm < <(urls 20)
curl -sf "${warm[@]}" # warm up
: > "$rundir/scrape.txt"; : > "$rundir/floor.txt"
for _ in $(seq 1 "$blocks"); do
  mapfile -t args < <(urls "$per_block")
  curl -sf -w '%{time_total}\n' "${args[@]}" >> "$rundir/scrape.txt"
  start=$(date +%s.%N)
  kamcmd -s "unix:$rundir/kamailio_ctl" < "$rundir/floor.in" > "$rundir/floor.out" 2>&1
  end=$(date +%s.%N)
  echo "$start $end" >> "$rundir/floor.txt"
  if grep -qi "error" "$rundir/floor.out"; then echo "warning: kamcmd reported errors:"; grep -i -m3 error "$rundir/floor.out"; fi
done
for _ in $(seq 1 "$cold"); do curl -sf -o /dev/null -w '%{time_total}\n' "$url"; done > "$rundir/cold.txt"
grep -c '^kamailio_' < <(curl -sf "$url") > "$rundir/series.txt" || true

python3 - "$rundir" "$rounds" <<'PY'
import statistics, sys
d, rounds = sys.argv[1], int(sys.argv[2])
def pct(t, q):
    return t[min(len(t) - 1, max(0, int(round(q * len(t))) - 1))]
t = sorted(float(x) for x in open(d + "/scrape.txt") if x.strip())
floors = sorted((float(b) - float(a)) / rounds for a, b in (l.split() for l in open(d + "/floor.txt")))
cold = sorted(float(x) for x in open(d + "/cold.txt") if x.strip())
med, floor = statistics.median(t), statistics.median(floors)
print(f"series: {open(d + '/series.txt').read().strip()} kamailio_* samples per page")
print(f"scrapes: {len(t)} (keep-alive)  median {med*1000:.2f} ms  p99 {pct(t, 0.99)*1000:.2f} ms")
print(f"floor: {len(floors)} kamcmd runs of {rounds} rounds: median {floor*1000:.2f} ms per round "
      f"(min {floors[0]*1000:.2f}, max {floors[-1]*1000:.2f})")
print(f"ratio median/floor: {med/floor:.2f}")
if cold:
    print(f"cold scrapes (new curl and connection each): {len(cold)}  median {statistics.median(cold)*1000:.2f} ms")
PY
