#!/usr/bin/env bash
# Resident memory of the exporter scraping a synthetic instance (BENCHMARKS.md, "Resident memory"):
# internal/synthetic/fakekamailio serves SCALE percent of the large instance
# (100 = 256 processes, 10 000 destinations in 100 sets, 500 htables, 5 000
# statistics, 1 000 dialog profiles) in its own process; the exporter, with
# every statistic and every profile, is scraped SCRAPES times. Prints the
# exporter's peak (VmHWM) and final (VmRSS) resident memory, with the
# anonymous and file-backed (the binary's pages) parts, the page size and
# series count, the median scrape time and the exporter's CPU per scrape.
# The exporter is built as `make build` builds it and scraped with
# Accept-Encoding: gzip, as Prometheus scrapes. The environment is passed on:
# GOGC=100 scripts/bench-rss.sh measures Go's default collector target;
# BENCH_EXPORTER=PATH measures that exporter binary instead of this checkout's.
# Usage: scripts/bench-rss.sh [SCALE=100] [SCRAPES=10]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh
scale=${1:-100}
scrapes=${2:-10}
dir=$(mktemp -d /tmp/kamailio_exporter-rss.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
if [ -n "${BENCH_EXPORTER:-}" ]; then cp "$BENCH_EXPORTER" "$dir/kamailio_exporter"; else CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir/kamailio_exporter" .; fi
go build -o "$dir/fakekamailio" ./internal/synthetic/fakekamailio
"$dir/fakekamailio" -scale "$scale" -duration 10m > "$dir/fake.out" &
pids+=($!)
for _ in $(seq 1 50); do [ -s "$dir/fake.out" ] && break; sleep 0.1; done
read -r uri items profiles < "$dir/fake.out"
n=${profiles#profiles=}
# --collector.dialog.profiles is repeatable: one flag per profile (a
# comma-joined list would be one profile with commas in its name).
profile_flags=()
for i in $(seq 0 $((n - 1))); do profile_flags+=("--collector.dialog.profiles=$(printf 'profile%04d' "$i")"); done
port=$(free_port)
"$dir/kamailio_exporter" --web.listen-address="127.0.0.1:$port" --kamailio.binrpc-uri="$uri" \
  --kamailio.timeout=30s --collector.stats.fetch.all "${profile_flags[@]}" > "$dir/exporter.log" 2>&1 &
epid=$!
pids+=("$epid")
wait_http "http://127.0.0.1:$port/"
curl -sf -o "$dir/page.txt" "http://127.0.0.1:$port/metrics" # one plain page, to count
ticks0=$(awk '{print $14 + $15}' "/proc/$epid/stat")
for _ in $(seq 1 "$scrapes"); do
  curl -sf -o /dev/null -H 'Accept-Encoding: gzip' -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$port/metrics"
done > "$dir/times.txt"
ticks1=$(awk '{print $14 + $15}' "/proc/$epid/stat")
grep -q 'kamailio_scrape_collector_success{collector="dispatcher.list"} 1' "$dir/page.txt" || { echo "scrape incomplete"; grep collector_success "$dir/page.txt"; exit 1; }
got=$(grep -c '^kamailio_dlg_profile_get_size_dialog{' "$dir/page.txt" || true)
[ "$got" = "$n" ] || { echo "the page has $got dialog profile sizes, want $n"; exit 1; }
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$epid/status")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$epid/status")
anon=$(awk '/RssAnon/ {print $2}' "/proc/$epid/status")
file=$(awk '/RssFile/ {print $2}' "/proc/$epid/status")
series=$(grep -c '^kamailio_' "$dir/page.txt")
bytes=$(wc -c < "$dir/page.txt")
med=$(sort -n "$dir/times.txt" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
gz=$(awk '{print $2}' "$dir/times.txt" | sort -n | tail -1)
cpu=$(python3 -c "import os; print(round(($ticks1 - $ticks0) * 1000 / os.sysconf('SC_CLK_TCK') / $scrapes))")
echo "instance: ${scale}% ($items), $series kamailio_* series, page $((bytes / 1024)) KiB"
echo "scrapes: $scrapes (gzip, $((gz / 1024)) KiB), median $(python3 -c "print(round($med*1000))") ms, exporter CPU $cpu ms per scrape, GOGC=${GOGC:-default}"
echo "exporter resident memory: peak (VmHWM) $((hwm / 1024)) MiB, after the scrapes (VmRSS) $((rss / 1024)) MiB = anonymous $((anon / 1024)) + file-backed $((file / 1024)) (target < 30 MiB)"
