#!/usr/bin/env bash
# A Kamailio whose replies outgrow the socket: every scrape complete.
# ctl writes each reply with one non-blocking writev and drops what the
# socket cannot take (about 208 KB on a unix socket), so a reply written
# while the exporter does not read is cut. This starts the large instance
# with 5 000 dispatcher destinations and 6 000 more statistics
# (dispatcher.list about 1.3 MB, then stats.fetch all about 200 KB),
# scrapes it SCRAPES times with gzip, and fails unless kamailio_up is 1
# and every collector succeeded in every scrape (BENCHMARKS.md, "Replies
# read whole before any is converted"). An exporter that converts a reply
# while later ones arrive fails here in most scrapes.
# Usage: scripts/check-large-replies.sh [SCRAPES=30]
# CHECK_EXPORTER=PATH checks that binary instead of this tree's.
# Kamailio listens on 127.0.0.5, so that the test suite may run meanwhile.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/lib.sh
scrapes=${1:-30}
export KAMAILIO_ADDR=127.0.0.5 KAMAILIO_LARGE=1 KAMAILIO_DESTINATIONS=5000 KAMAILIO_EXTRA_STATISTICS=6000
export KAMAILIO_PEER=0 RTPENGINE=0
rundir=$(mktemp -d /tmp/kamailio_exporter-large.XXXXXX)
pid=""
trap 'end_run $? "$rundir" "$pid"' EXIT
scripts/kamailio.sh start "$rundir" >/dev/null
if [ -n "${CHECK_EXPORTER:-}" ]; then
  cp "$CHECK_EXPORTER" "$rundir/kamailio_exporter"
else
  go build -o "$rundir/kamailio_exporter" .
fi
port=$(free_port)
"$rundir/kamailio_exporter" --web.listen-address="127.0.0.1:$port" \
  --kamailio.binrpc-uri="unix://$rundir/kamailio_ctl" > "$rundir/exporter.log" 2>&1 &
pid=$!
url="http://127.0.0.1:$port/metrics"
wait_http "$url"
bad=0
for i in $(seq 1 "$scrapes"); do
  curl -sf --compressed --max-time 10 -o "$rundir/page.txt" "$url"
  failed=$(grep -E '^kamailio_scrape_collector_success\{.*\} 0$' "$rundir/page.txt" || true)
  if ! grep -qx 'kamailio_up 1' "$rundir/page.txt" || [ -n "$failed" ]; then
    bad=$((bad + 1))
    echo "scrape $i: kamailio_up $(grep '^kamailio_up ' "$rundir/page.txt" | cut -d' ' -f2); failed: ${failed:-none}" >&2
  fi
done
destinations=$(grep -c '^kamailio_dispatcher_list_target{' "$rundir/page.txt" || true)
statistics=$(grep -c '^kamailio_extra_statistic_' "$rundir/page.txt" || true)
echo "large replies: $scrapes scrapes, $bad incomplete; last page: $destinations destinations, $statistics extra statistics"
if [ "$bad" != 0 ] || [ "$destinations" -lt 5000 ] || [ "$statistics" != 6000 ]; then
  grep 'level=ERROR' "$rundir/exporter.log" | head -5 >&2 || true
  exit 1
fi
