#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this script):
#   1. installs what it needs (Go modules, Kamailio, sipp, Prometheus)
#   2. gofmt, go vet, unit tests with -race (recorded Kamailio replies)
#   3. fuzzing of the BINRPC decoder for a bounded time
#   4. a real Kamailio on loopback, SIP traffic from sipp, end-to-end tests
#   5. the monitoring mixin: promtool check rules, promtool test rules, dashboard
#   6. the benchmarks, briefly, so they cannot rot
# Environment: FUZZTIME (default 30s per target), KEEP_KAMAILIO=1 to leave
# the test Kamailio running.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
fuzztime=${FUZZTIME:-30s}

step() { printf '\n=== %s\n' "$*"; }

step "install Kamailio, sipp and Prometheus (Debian packages)"
scripts/kamailio.sh install

step "go mod download, gofmt, go vet"
go mod download
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
go vet -tags e2e ./e2e

step "unit tests (-race)"
go test -race -count=1 ./...

step "fuzzing ($fuzztime per target)"
go test -run='^$' -fuzz='^FuzzDecodePayload$' -fuzztime="$fuzztime" -fuzzminimizetime=5s ./binrpc
go test -run='^$' -fuzz='^FuzzParseHeader$' -fuzztime="$fuzztime" -fuzzminimizetime=5s ./binrpc
go test -run='^$' -fuzz='^FuzzCollectors$' -fuzztime="$fuzztime" -fuzzminimizetime=5s ./collector

step "end-to-end against a real Kamailio"
rundir=$(mktemp -d /tmp/kamailio_exporter-test.XXXXXX)
export KAMAILIO_RUNDIR="$rundir"
cleanup() {
  if [ "${KEEP_KAMAILIO:-0}" != 1 ]; then
    scripts/kamailio.sh stop "$rundir" || true
  fi
}
trap cleanup EXIT
scripts/kamailio.sh start "$rundir"
scripts/kamailio.sh traffic "$rundir" 20
go test -race -count=1 -tags e2e -v ./e2e 2>&1 | tee "$rundir/e2e.log" | grep -E '^(=== RUN|--- |PASS|FAIL|ok|\s+\S+_test.go)' || true
grep -q '^ok' "$rundir/e2e.log" || { cat "$rundir/e2e.log"; exit 1; }

step "monitoring mixin: promtool check/test rules, dashboard"
mixin/check.sh

step "packaging: static build, Dockerfile, systemd units, socket activation"
scripts/check-packaging.sh

step "benchmarks (brief)"
go test -run='^$' -bench='Decode|Collectors|ScrapeHTTP' -benchtime=200x -benchmem ./binrpc ./collector
go test -run='^$' -bench='Scale|HeapSteadyState' -benchtime=1x -benchmem ./collector
bash scripts/bench-scale.sh 1x 1
bash scripts/bench-rss.sh 100 2

step "all tests passed"
