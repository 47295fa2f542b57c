#!/usr/bin/env bash
# Runs the exporter. With no --kamailio.binrpc-uri and no Kamailio ctl socket
# at the default path, it installs and starts the demo Kamailio of
# scripts/kamailio.sh on loopback (Debian packages), sends it some SIP
# traffic, and points the exporter at it. Extra arguments go to the exporter.
#
#   scripts/demo.sh [exporter flags...]
#   curl -s localhost:9494/metrics | grep kamailio_up
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
args=("$@")
have_uri=0
for a in "${args[@]}"; do
  case "$a" in --kamailio.binrpc-uri*) have_uri=1 ;; esac
done
if [ "$have_uri" = 0 ] && [ ! -S /var/run/kamailio/kamailio_ctl ]; then
  rundir=${KAMAILIO_RUNDIR:-/tmp/kamailio_exporter-demo}
  echo "no Kamailio at unix:///var/run/kamailio/kamailio_ctl: starting the demo Kamailio in $rundir"
  scripts/kamailio.sh install
  scripts/kamailio.sh start "$rundir"
  scripts/kamailio.sh traffic "$rundir" 10 || echo "warning: demo traffic failed; the exporter still runs" >&2
  echo "stop it later with: scripts/kamailio.sh stop $rundir"
  args=(--kamailio.binrpc-uri="unix://$rundir/kamailio_ctl" "${args[@]}")
fi
command -v go >/dev/null || { echo "Go is needed to build the exporter" >&2; exit 1; }
go build -o kamailio_exporter .
exec ./kamailio_exporter "${args[@]}"
