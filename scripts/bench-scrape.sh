#!/usr/bin/env bash
# End-to-end scrape cost against the real Kamailio, next to Kamailio's own
# answer time (BENCHMARKS.md, "Scrape against Kamailio's own answer time"):
#  - scrape: N GETs of /metrics in BLOCKS blocks, as Prometheus scrapes:
#    its Accept header, Accept-Encoding: gzip, one kept connection per block
#    (one curl process, its start-up shared by the block). Median and p99 of
#    curl's time_total.
#  - floor: the RPCs of one scrape, sent ROUNDS times in a row over one
#    connection, each reply read whole before the next request, nothing
#    decoded (internal/floor; kamcmd cannot take the large instance's
#    replies). One floor run follows every scrape block, so both see the
#    machine in the same state; the floor reported is the median of those
#    runs.
#  - pipelined floor: the same RPCs written at once, then their replies
#    read, as the exporter sends them (Kamailio's time without the round
#    trips), run after each floor run; reported beside it.
#  - kamcmd floor: the issue's definition, one kamcmd over one connection
#    sending the RPCs ROUNDS times; per round, (its time - one round's) /
#    (ROUNDS-1), so that kamcmd's start-up does not count. On the test
#    instance; on the large one only with BENCH_KAMCMD=PATH, a kamcmd whose
#    reply buffer (MAX_REPLY_SIZE, 128 KiB) takes dispatcher.list's reply.
# Usage: scripts/bench-scrape.sh [test|large] [N=200] [ROUNDS=40] [BLOCKS=5]
# BENCH_EXPORTER=PATH measures that exporter binary instead of this tree's;
# BENCH_ARGS="FLAG…" gives it more flags; BENCH_TLS=1 serves it over HTTPS
# (--web.config.file).
# Comparing two: BENCH_B_EXPORTER=PATH and/or BENCH_B_ARGS="FLAG…" start a
# second exporter (that binary, else the first one's, with those flags
# instead of BENCH_ARGS) on the same Kamailio; each block then scrapes both,
# which goes first alternating, and both are reported against the same
# floors. Runs made one after the other differ by more than most changes.
#   test:  the test Kamailio (scripts/kamailio.sh, without rtpengine)
#   large: the large instance (KAMAILIO_LARGE=1: about 40 processes, 1 000
#          dispatcher destinations in 50 sets, 100 htables, 300 scripted
#          statistics, ctl's limits raised)
# Kamailio listens on 127.0.0.6, so that the test suite may run meanwhile.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/lib.sh
instance=${1:-test}
n=${2:-200}
rounds=${3:-40}
blocks=${4:-5}
case "$instance" in
  test) export KAMAILIO_LARGE=0 ;;
  large) export KAMAILIO_LARGE=1 ;;
  *) echo "usage: $0 [test|large] [N] [ROUNDS] [BLOCKS]" >&2; exit 2 ;;
esac
export KAMAILIO_ADDR=127.0.0.6
rundir=$(mktemp -d /tmp/kamailio_exporter-bench.XXXXXX)
declare -A pids=() urls=() # by exporter: a, and b when comparing
# The binaries and Kamailio's logs (about 47 MB) are kept when something failed.
trap 'end_run $? "$rundir" "${pids[@]}"' EXIT
RTPENGINE=0 scripts/kamailio.sh start "$rundir" >/dev/null
scripts/kamailio.sh traffic "$rundir" 10 >/dev/null
if [ -n "${BENCH_EXPORTER:-}" ]; then
  cp "$BENCH_EXPORTER" "$rundir/kamailio_exporter" # a build to compare with
else
  go build -o "$rundir/kamailio_exporter" .
fi
go build -o "$rundir/floor" ./internal/floor
web=() scheme=http
if [ "${BENCH_TLS:-0}" = 1 ]; then
  # HTTPS, with the test Kamailio's self-signed certificate.
  printf 'tls_server_config:\n  cert_file: %s\n  key_file: %s\n' "$rundir/tls.crt" "$rundir/tls.key" > "$rundir/web.yml"
  web=(--web.config.file="$rundir/web.yml") scheme=https
  curl() { command curl -k "$@"; }
fi
# start_exporter NAME BINARY FLAGS: starts exporter NAME on the Kamailio
# with FLAGS (one string, split at spaces) and waits for its page.
start_exporter() {
  local name=$1 bin=$2 port extra
  read -ra extra <<< "$3"
  port=$(free_port)
  "$bin" --web.listen-address="127.0.0.1:$port" --kamailio.binrpc-uri="unix://$rundir/kamailio_ctl" \
    --collector.dialog.profiles=inbound "${web[@]}" "${extra[@]}" > "$rundir/exporter_$name.log" 2>&1 &
  pids[$name]=$!
  urls[$name]="$scheme://127.0.0.1:$port/metrics"
  wait_http "${urls[$name]}"
}
start_exporter a "$rundir/kamailio_exporter" "${BENCH_ARGS:-}"
url=${urls[a]}
targets=(a)
if [ -n "${BENCH_B_EXPORTER:-}${BENCH_B_ARGS:-}" ]; then
  cp "${BENCH_B_EXPORTER:-$rundir/kamailio_exporter}" "$rundir/exporter_b"
  start_exporter b "$rundir/exporter_b" "${BENCH_B_ARGS:-}"
  targets=(a b)
fi

# The RPCs of one scrape, as the exporter sends them once its method list
# is cached.
cat > "$rundir/rpcs" <<'EOF'
core.uptime
core.psa
core.runinfo
core.tcp_info
core.info
dlg.stats_active
dlg.profile_get_size inbound
dispatcher.list
htable.listTables
htable.stats
pkg.stats
sl.stats
tm.stats
stats.fetch all
core.shmmem
tls.info
uac.reg_dump
dmq.list_nodes
keepalive.list
core.runinfo
EOF
if [ "$instance" = test ]; then
  # ctl's default limits: stats.fetch all is too large, and once it has
  # learned so the exporter asks stats.get_statistics all instead.
  sed -i 's/^stats.fetch all$/stats.get_statistics all/' "$rundir/rpcs"
fi

# Prometheus's request: its Accept header, gzip (curl --compressed sends
# Accept-Encoding and inflates, as Prometheus does).
accept='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
# gets N TARGET: curl arguments for N GETs of the target's page.
gets() { for _ in $(seq 1 "$1"); do printf -- '-o\n/dev/null\n%s\n' "${urls[$2]}"; done; }
per_block=$(( (n + blocks - 1) / blocks ))
for target in "${targets[@]}"; do
  mapfile -t warm < <(gets 20 "$target")
  curl -sf --compressed -H "Accept: $accept" "${warm[@]}" # warm up
  : > "$rundir/scrape-$target.txt"
done
: > "$rundir/floor.txt"; : > "$rundir/pipelined.txt"; : > "$rundir/kamcmd.txt"
for _ in $(seq 1 "$rounds"); do cat "$rundir/rpcs"; done > "$rundir/rpcs-rounds"
kamcmd=${BENCH_KAMCMD:-kamcmd}
# kamcmd_floor prints kamcmd's time per round of the RPCs, in seconds.
kamcmd_floor() {
  local t0 t1 t2
  t0=$(date +%s.%N)
  "$kamcmd" -s "unix:$rundir/kamailio_ctl" < "$rundir/rpcs" > /dev/null
  t1=$(date +%s.%N)
  "$kamcmd" -s "unix:$rundir/kamailio_ctl" < "$rundir/rpcs-rounds" > /dev/null
  t2=$(date +%s.%N)
  python3 -c "print(max(0.0, (($t2 - $t1) - ($t1 - $t0)) / ($rounds - 1)))"
}
for block in $(seq 1 "$blocks"); do
  order=("${targets[@]}")
  [ $((block % 2)) = 0 ] && [ "${#targets[@]}" = 2 ] && order=(b a)
  for target in "${order[@]}"; do
    mapfile -t args < <(gets "$per_block" "$target")
    curl -sf --compressed -H "Accept: $accept" -w '%{time_total}\n' "${args[@]}" >> "$rundir/scrape-$target.txt"
  done
  "$rundir/floor" -uri "unix://$rundir/kamailio_ctl" -rounds "$rounds" < "$rundir/rpcs" >> "$rundir/floor.txt"
  "$rundir/floor" -uri "unix://$rundir/kamailio_ctl" -rounds "$rounds" -pipelined < "$rundir/rpcs" >> "$rundir/pipelined.txt"
  if { [ "$instance" = test ] || [ -n "${BENCH_KAMCMD:-}" ]; } && [ "$rounds" -gt 1 ]; then kamcmd_floor >> "$rundir/kamcmd.txt"; fi
done
grep -c '^kamailio_' < <(curl -sf "$url") > "$rundir/series.txt" || true
ctype=$(curl -sf --compressed -H "Accept: $accept" -o /dev/null -w '%{content_type}' "$url")

python3 - "$rundir" "$instance" "$ctype" "$scheme" "${targets[@]}" <<'PY'
import statistics, sys
d, instance, ctype, scheme, targets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
def pct(t, q):
    return t[min(len(t) - 1, max(0, int(round(q * len(t))) - 1))]
floors = sorted(float(x) for x in open(d + "/floor.txt") if x.strip())
piped = sorted(float(x) for x in open(d + "/pipelined.txt") if x.strip())
kam = sorted(float(x) for x in open(d + "/kamcmd.txt") if x.strip())
floor, pfloor = statistics.median(floors), statistics.median(piped)
print(f"instance: {instance}; {open(d + '/series.txt').read().strip()} kamailio_* samples per page; content type {ctype}")
print(f"floor: {len(floors)} runs: median {floor*1000:.2f} ms per round (min {floors[0]*1000:.2f}, max {floors[-1]*1000:.2f})")
print(f"pipelined floor: median {pfloor*1000:.2f} ms per round (min {piped[0]*1000:.2f}, max {piped[-1]*1000:.2f})")
if kam:
    kfloor = statistics.median(kam)
    print(f"kamcmd floor (one kamcmd over one connection): median {kfloor*1000:.2f} ms per round (min {kam[0]*1000:.2f}, max {kam[-1]*1000:.2f})")
for target in targets:
    t = sorted(float(x) for x in open(f"{d}/scrape-{target}.txt") if x.strip())
    med = statistics.median(t)
    who = "" if len(targets) == 1 else f"exporter {target.upper()}: "
    print(f"{who}scrapes: {len(t)} ({scheme}, Prometheus's Accept, gzip, kept connection)  median {med*1000:.2f} ms  p99 {pct(t, 0.99)*1000:.2f} ms")
    print(f"{who}ratio median/floor: {med/floor:.2f}; median/pipelined floor: {med/pfloor:.2f}" + (f"; median/kamcmd floor: {med/kfloor:.2f}" if kam else ""))
PY
