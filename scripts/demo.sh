#!/usr/bin/env bash
# Runs the exporter. With no --kamailio.binrpc-uri and no Kamailio ctl socket
# at the default path, it installs and starts the demo Kamailio of
# scripts/kamailio.sh on loopback (Debian packages), sends it some SIP
# traffic, and points the exporter at it. Extra arguments go to the exporter.
#
#   scripts/demo.sh [exporter flags...]
#   curl -s localhost:9494/metrics | grep kamailio_up
#
# With the demo Kamailio, the exporter also merges its xhttp_prom page
# (127.0.0.2:8080) and serves rtpengine's metrics (127.0.0.2:9901) at
# /rtp_metrics, unless the flags given say otherwise. Ctrl-C stops the
# exporter; the demo Kamailio runs on until stopped with the command printed.
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
  # The demo listens on 127.0.0.2, the test suite's Kamailio on 127.0.0.1:
  # both can run at once.
  export KAMAILIO_ADDR=${KAMAILIO_ADDR:-127.0.0.2}
  echo "no Kamailio at unix:///var/run/kamailio/kamailio_ctl: starting the demo Kamailio in $rundir"
  scripts/kamailio.sh install
  scripts/kamailio.sh start "$rundir"
  scripts/kamailio.sh traffic "$rundir" 10 || echo "warning: demo traffic failed; the exporter still runs" >&2
  echo "the demo Kamailio runs on after the exporter (Ctrl-C) stops; stop it with: scripts/kamailio.sh stop $rundir"
  demo=(--kamailio.binrpc-uri="unix://$rundir/kamailio_ctl")
  given=" ${args[*]} "
  [[ "$given" == *" --kamailio.custom-metrics-url"* ]] ||
    demo+=(--kamailio.custom-metrics-url="http://$KAMAILIO_ADDR:8080/metrics")
  [[ "$given" == *" --rtpengine.metrics-url"* ]] || demo+=(--rtpengine.metrics-url="http://$KAMAILIO_ADDR:9901/metrics")
  [[ "$given" == *" --web.rtp-telemetry-path"* ]] || demo+=(--web.rtp-telemetry-path=/rtp_metrics)
  args=("${demo[@]}" "${args[@]}")
fi
command -v go >/dev/null || { echo "Go $(awk '/^go /{print $2}' go.mod) is needed to build the exporter (see README.md)" >&2; exit 1; }
# Built as `make build` builds it, version stamped from git, with or
# without make.
if command -v make >/dev/null; then
  make build
else
  v=github.com/prometheus/common/version
  CGO_ENABLED=0 go build -trimpath -o kamailio_exporter -ldflags "-s -w \
    -X $v.Version=$(git describe --tags --always --dirty 2>/dev/null || echo dev) \
    -X $v.Revision=$(git rev-parse HEAD 2>/dev/null || echo unknown) \
    -X $v.Branch=$(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown) \
    -X $v.BuildUser=$(id -un)@$(hostname) -X $v.BuildDate=$(date -u +%Y%m%d-%H:%M:%S)" .
fi
exec ./kamailio_exporter "${args[@]}"
