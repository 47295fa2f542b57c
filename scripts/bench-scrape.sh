#!/usr/bin/env bash
# End-to-end scrape cost against the real Kamailio, next to Kamailio's own
# answer time (issue 7):
#  - scrape: N sequential GETs of /metrics (curl's time_total), median and p99;
#  - floor: the RPCs of one scrape (as the exporter sends them after its
#    method list is cached), sent ROUNDS times in a row by ONE kamcmd process
#    over one connection, per round.
# Usage: scripts/bench-scrape.sh [N=200] [ROUNDS=40]   (needs scripts/kamailio.sh install)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
n=${1:-200}
rounds=${2:-40}
rundir=$(mktemp -d /tmp/kamailio_exporter-bench.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; scripts/kamailio.sh stop "$rundir" >/dev/null || true; }
trap cleanup EXIT
RTPENGINE=0 scripts/kamailio.sh start "$rundir" >/dev/null
scripts/kamailio.sh traffic "$rundir" 10 >/dev/null
go build -o "$rundir/kamailio_exporter" .
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$rundir/kamailio_exporter" --web.listen-address="127.0.0.1:$port" --kamailio.binrpc-uri="unix://$rundir/kamailio_ctl" \
  --collector.dialog.profiles=inbound > "$rundir/exporter.log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.1; done

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

for _ in $(seq 1 10); do curl -sf -o /dev/null "http://127.0.0.1:$port/metrics"; done # warm up
for _ in $(seq 1 "$n"); do
  curl -sf -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/metrics"
done > "$rundir/scrape.txt"

# kamcmd reads commands from stdin when it has no command argument.
for _ in $(seq 1 "$rounds"); do echo "$rpcs"; done > "$rundir/floor.in"
start=$(date +%s.%N)
kamcmd -s "unix:$rundir/kamailio_ctl" < "$rundir/floor.in" > "$rundir/floor.out" 2>&1
end=$(date +%s.%N)

python3 - "$rundir/scrape.txt" "$start" "$end" "$rounds" "$rundir/floor.out" <<'PY'
import statistics, sys
t = sorted(float(x) for x in open(sys.argv[1]) if x.strip())
med = statistics.median(t)
p99 = t[min(len(t) - 1, int(round(0.99 * len(t))) - 1)]
floor = (float(sys.argv[3]) - float(sys.argv[2])) / int(sys.argv[4])
out = open(sys.argv[5]).read()
if "error" in out.lower() and "not found" in out.lower():
    print("warning: kamcmd reported errors:", out[:300])
print(f"scrapes: {len(t)}  median {med*1000:.2f} ms  p99 {p99*1000:.2f} ms")
print(f"floor (one kamcmd, {sys.argv[4]} rounds of the same RPCs): {floor*1000:.2f} ms per round")
print(f"ratio median/floor: {med/floor:.2f}")
PY
