#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this script):
#   1. installs what it needs (Go modules, Kamailio, sipp, Prometheus)
#   2. gofmt, go vet, unit tests with -race (recorded Kamailio replies)
#   3. fuzzing of the BINRPC decoder for a bounded time
#   4. a real Kamailio on loopback, SIP traffic from sipp, end-to-end tests;
#      then the README's first command, scripts/demo.sh, against its demo Kamailio,
#      and the README's examples against it (scripts/check-readme.sh)
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

# inputs DIR counts the files in DIR (0 when it does not exist).
inputs() { { find "$1" -type f 2>/dev/null || true; } | wc -l; }

# fuzz PKG TARGET fuzzes TARGET for $fuzztime. Go 1.26's fuzz coordinator
# can fail a run at the -fuzztime deadline with a bare "context deadline
# exceeded" and no failing input (golang/go#75804, fixed in Go 1.27): such a
# run is repeated once. A run that writes a failing input (to
# PKG/testdata/fuzz/TARGET) or fails otherwise fails the suite at once.
fuzz() {
  local pkg=$1 target=$2 log before attempt
  log=$(mktemp)
  before=$(inputs "$pkg/testdata/fuzz/$target")
  for attempt in 1 2; do
    if go test -run='^$' -fuzz="^$target\$" -fuzztime="$fuzztime" -fuzzminimizetime=5s "./$pkg" 2>&1 | tee "$log"; then
      rm -f "$log"
      return 0
    fi
    if [ "$attempt" = 2 ] || ! grep -q '^    context deadline exceeded$' "$log" ||
      [ "$(inputs "$pkg/testdata/fuzz/$target")" != "$before" ]; then
      rm -f "$log"
      return 1
    fi
    echo "$target: stopped by the fuzz coordinator's deadline race (golang/go#75804), no failing input: once more"
  done
}

step "fuzzing ($fuzztime per target)"
fuzz binrpc FuzzDecodePayload
fuzz binrpc FuzzParseHeader
fuzz collector FuzzCollectors

step "end-to-end against a real Kamailio: Debian's, then the releases of ../shared/kamailio and its lts/"
rundir=$(mktemp -d /tmp/kamailio_exporter-test.XXXXXX)
export KAMAILIO_RUNDIR="$rundir"
cleanup() {
  local status=$?
  if [ "${KEEP_KAMAILIO:-0}" != 1 ]; then
    scripts/kamailio.sh stop "$rundir" || true
    # Kamailio's logs (about 12 MB a run) are kept when something failed.
    if [ "$status" = 0 ]; then rm -rf "$rundir"; else echo "Kamailio's logs: $rundir" >&2; fi
  fi
  if [ -n "${demo_pid:-}" ]; then kill "$demo_pid" 2>/dev/null || true; fi
  if [ -n "${demo_rundir:-}" ] && [ -d "$demo_rundir" ]; then
    scripts/kamailio.sh stop "$demo_rundir" || true
  fi
}
trap cleanup EXIT
# e2e [PREFIX]: start the test Kamailio (Debian's, or the build at PREFIX),
# send it traffic, run the end-to-end tests, stop it; prints the times.
e2e() {
  local prefix=${1:-} label=${1:+$(basename "$1")} t0=$SECONDS log
  label=${label:-debian}
  export KAMAILIO_PREFIX=$prefix
  scripts/kamailio.sh start "$rundir"
  scripts/kamailio.sh traffic "$rundir" 20
  log="$rundir/e2e-$label.log"
  go test -race -count=1 -tags e2e -v ./e2e 2>&1 | tee "$log" | grep -E '^(=== RUN|--- |PASS|FAIL|ok|\s+\S+_test.go)' || true
  grep -q '^ok' "$log" || { cat "$log"; exit 1; }
  scripts/kamailio.sh stop "$rundir"
  matrix+=("$label: e2e $((SECONDS - t0)) s")
}
matrix=()
# The demo's Kamailio (scripts/demo.sh, on 127.0.0.2) may run beside the
# test one: the first round runs with one started, to show that it does.
if ss -ltn 2>/dev/null | grep -q '127\.0\.0\.2:2046 '; then
  echo "a demo Kamailio already listens on 127.0.0.2: the tests run beside it"
  e2e
else
  demo_rundir=$(mktemp -d /tmp/kamailio_exporter-demo-beside.XXXXXX)
  KAMAILIO_ADDR=127.0.0.2 scripts/kamailio.sh start "$demo_rundir"
  e2e
  KAMAILIO_ADDR=127.0.0.2 scripts/kamailio.sh stop "$demo_rundir"
  rm -rf "$demo_rundir"
fi
if [ -d ../shared/kamailio ] || [ -n "${KAMAILIO_SOURCES:-}" ]; then
  # Upstream's releases and, in lts/, those of the Ubuntu LTS releases
  # (5.5.4 in 22.04, 5.7.4 in 24.04), oldest first.
  src=${KAMAILIO_SOURCES:-../shared/kamailio}
  for version in $(for a in "$src"/kamailio-*.tar.gz "$src"/lts/kamailio-*.tar.gz; do
    [ -f "$a" ] || continue
    basename "$a" .tar.gz | sed 's/^kamailio-//'
  done | sort -V); do
    t0=$SECONDS
    prefix=$(scripts/kamailio.sh build "$version")
    matrix+=("$version: build (or cache) $((SECONDS - t0)) s")
    e2e "$prefix"
  done
else
  echo "version matrix skipped: no ../shared/kamailio (release sources) beside the checkout; tested Debian's Kamailio only"
fi
unset KAMAILIO_PREFIX
printf '%s\n' "${matrix[@]}"

step "a Kamailio whose replies outgrow the socket: every scrape complete"
scripts/check-large-replies.sh 30

step "the README's first command: scripts/demo.sh serves a demo Kamailio's metrics; the README's examples work against it"
. scripts/lib.sh
demo_rundir=$(mktemp -d /tmp/kamailio_exporter-demo-check.XXXXXX)
demo_port=$(free_port)
KAMAILIO_RUNDIR="$demo_rundir" scripts/demo.sh --web.listen-address="127.0.0.1:$demo_port" > "$demo_rundir/demo.log" 2>&1 &
demo_pid=$!
demo_up=0
for _ in $(seq 1 600); do # 120 s: Kamailio, its traffic, the build
  if curl -sf "http://127.0.0.1:$demo_port/metrics" 2>/dev/null | grep -q '^kamailio_up 1$'; then demo_up=1; break; fi
  kill -0 "$demo_pid" 2>/dev/null || break
  sleep 0.2
done
readme_ok=1
if [ "$demo_up" = 1 ]; then
  echo "scripts/demo.sh served kamailio_up 1"
  # The README's examples, pasted after scripts/demo.sh.
  scripts/check-readme.sh "$demo_port" "$demo_rundir" || readme_ok=0
fi
kill "$demo_pid" 2>/dev/null || true
wait "$demo_pid" 2>/dev/null || true
if [ "$demo_up" != 1 ] || [ "$readme_ok" != 1 ]; then
  echo "scripts/demo.sh: no kamailio_up 1 on 127.0.0.1:$demo_port, or a README example failed; its output:" >&2
  cat "$demo_rundir/demo.log" >&2
  exit 1
fi
KAMAILIO_ADDR=127.0.0.2 scripts/kamailio.sh stop "$demo_rundir"
rm -rf "$demo_rundir"

step "monitoring mixin: promtool check/test rules, dashboard"
mixin/check.sh

step "packaging: static build, Debian package (install, run as its user, purge), Dockerfile, systemd units, socket activation"
scripts/check-packaging.sh

step "benchmarks (brief)"
go test -run='^$' -bench='Decode|Collectors|ScrapeHTTP|Compress|GzipWriterNew' -benchtime=200x -benchmem ./binrpc ./collector
go test -run='^$' -bench='Scale|HeapSteadyState' -benchtime=1x -benchmem ./collector
bash scripts/bench-scale.sh 1x 1
bash scripts/bench-rss.sh 100 2
bash scripts/bench-modmem.sh 5
bash scripts/bench-scrape.sh test 20 5 2
# A fleet through /probe, small: it fails when a target loses its
# connection or discovery, or a dead target's failures are not all counted.
bash scripts/bench-fleet.sh 200 10 10 2 3s 1

step "all tests passed"
