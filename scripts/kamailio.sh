#!/usr/bin/env bash
# Install, start, stop and exercise the demo/test Kamailio (loopback only).
#
#   scripts/kamailio.sh install            Debian packages: kamailio, modules, sipp, prometheus
#   scripts/kamailio.sh build   VERSION    build a release from ../shared/kamailio (5.8.8, 6.0.7,
#                                          6.1.4) once, cached; prints its prefix
#   scripts/kamailio.sh start   [RUNDIR]   start Kamailio with deploy/kamailio/kamailio.cfg
#                                          (and rtpengine, unless RTPENGINE=0)
#                                          and its DMQ peer (unless KAMAILIO_PEER=0)
#   scripts/kamailio.sh stop    [RUNDIR]   stop them (by pid file)
#   scripts/kamailio.sh peer-start|peer-stop [RUNDIR]   start or stop the DMQ peer only
#   scripts/kamailio.sh status  [RUNDIR]
#   scripts/kamailio.sh traffic [RUNDIR] [CALLS]   SIP calls and REGISTERs with sipp
#
# start runs Debian's Kamailio, or the build under $KAMAILIO_PREFIX when set;
# with KAMAILIO_LARGE=1, the large instance of the benchmarks
# (KAMAILIO_DESTINATIONS dispatcher destinations, default 1 000, in sets of
# 20; KAMAILIO_EXTRA_STATISTICS more scripted statistics, default none);
# KAMAILIO_SHM_MB sets the shared memory pool (MB; default 64).
# RUNDIR defaults to $KAMAILIO_RUNDIR or /tmp/kamailio_exporter-demo. Every
# listener is on the loopback address $KAMAILIO_ADDR (default 127.0.0.1; the
# demo uses 127.0.0.2, so that it and the test suite can run side by side).
# Its ctl sockets: unix://RUNDIR/kamailio_ctl, unixd://RUNDIR/kamailio_ctl.dgram,
# tcp://ADDR:2046, udp://ADDR:2047. The DMQ peer, a second Kamailio with the
# same configuration, runs in RUNDIR/peer on $KAMAILIO_PEER_ADDR (default
# 127.0.1.N for an ADDR of 127.0.0.N).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cmd=${1:-}
shift || true
rundir=${1:-${KAMAILIO_RUNDIR:-/tmp/kamailio_exporter-demo}}
[ $# -gt 0 ] && shift

# build-essential: gcc for go test -race, make; python3: the dashboard generator.
packages=(kamailio kamailio-extra-modules kamailio-tls-modules kamailio-utils-modules sip-tester prometheus openssl curl file
  rtpengine-daemon build-essential python3 git iproute2)

# The release sources of the version matrix and the modules the tests load.
sources=${KAMAILIO_SOURCES:-$root/../shared/kamailio}
build_cache=${KAMAILIO_BUILD_CACHE:-/var/cache/kamailio_exporter}
modules="ctl kex corex tm tmx sl rr pv maxfwd textops siputils xlog usrloc registrar dispatcher dialog htable rtpengine tls xhttp xhttp_prom statistics cfgutils sanity jsonrpcs dmq uac keepalive counters pike db_text"
addr=${KAMAILIO_ADDR:-127.0.0.1}
# The DMQ peer's address: 127.0.1.N beside 127.0.0.N unless set.
peer_addr=${KAMAILIO_PEER_ADDR:-127.0.1.${addr##*.}}
build_packages=(build-essential bison flex cmake pkg-config libssl-dev zlib1g-dev)

# proc_stat PID: sets the caller's st to the fields of /proc/PID/stat after
# the command name (state, ppid, ...); fails when PID is gone.
proc_stat() { { read -r st < "/proc/$1/stat"; } 2>/dev/null && st=${st##*) }; }

# pid_alive PID: PID runs. A zombie (exited, not yet reaped by whoever
# adopted it) does not: it holds no socket.
pid_alive() {
  local st
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && proc_stat "$1" && [ "${st%% *}" != Z ]
}
main_pid() { cat "$rundir/kamailio.main.pid" 2>/dev/null || true; }

install() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "packages present: ${packages[*]}"
  else
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # The Debian package may start its own Kamailio service on 5060; ours needs
  # the loopback ports. Say so rather than touch a process we did not start.
  if command -v ss >/dev/null && ss -lun 2>/dev/null | grep -q "$addr:5060\\|0.0.0.0:5060\\|\\*:5060"; then
    if ! pid_alive "$(main_pid)"; then
      echo "warning: something already listens on port 5060 (the packaged kamailio service?)" >&2
    fi
  fi
}

# build VERSION builds kamailio-VERSION.tar.gz of $sources under
# $build_cache/kamailio-VERSION-<sha256 prefix> (a later call with the same
# archive reuses it) and prints that prefix on stdout; logs go to stderr.
build() {
  local version=${1:?usage: build VERSION} archive sum prefix work log
  archive="$sources/kamailio-$version.tar.gz"
  # The LTS distributions' releases (Ubuntu's 5.5.4 and 5.7.4) sit in lts/.
  [ -f "$archive" ] || archive="$sources/lts/kamailio-$version.tar.gz"
  [ -f "$archive" ] || { echo "no kamailio-$version.tar.gz in $sources or $sources/lts" >&2; exit 1; }
  sum=$(sha256sum "$archive" | cut -c1-16)
  prefix="$build_cache/kamailio-$version-$sum"
  if [ -x "$prefix/sbin/kamailio" ] && [ -f "$prefix/.built" ]; then
    echo "$prefix"
    return 0
  fi
  local missing=()
  for p in "${build_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  rm -rf "$prefix"
  work=$(mktemp -d "${TMPDIR:-/tmp}/kamailio-build.XXXXXX")
  log="$work/build.log"
  echo "building Kamailio $version into $prefix (log: $log)" >&2
  local start=$SECONDS
  tar -xzf "$archive" -C "$work"
  if [ -f "$work/kamailio-$version/CMakeLists.txt" ] && [ "${version%%.*}" -ge 6 ]; then
    cmake -S "$work/kamailio-$version" -B "$work/build" -DCMAKE_INSTALL_PREFIX="$prefix" \
      -DCMAKE_BUILD_TYPE=Release -DMODULE_GROUP_NAME="" -DINCLUDE_MODULES="$modules" -DBUILD_DOC=OFF >"$log" 2>&1 &&
      make -C "$work/build" -j3 >>"$log" 2>&1 && make -C "$work/build" install >>"$log" 2>&1 ||
      { tail -40 "$log" >&2; exit 1; }
  else
    (cd "$work/kamailio-$version" &&
      make PREFIX="$prefix" include_modules="$modules" skip_modules="%" cfg &&
      make -j3 all && make install) >"$log" 2>&1 || { tail -40 "$log" >&2; exit 1; }
  fi
  touch "$prefix/.built"
  rm -rf "$work"
  echo "built Kamailio $version in $((SECONDS - start)) s" >&2
  echo "$prefix"
}

# start_instance DIR ADDR PEER RTP: one Kamailio with its files in DIR, its
# listeners on ADDR, PEER as its DMQ notification address, and rtpengine
# when RTP is 1.
start_instance() {
  local dir=$1 iaddr=$2 ipeer=$3 rtp=$4
  if pid_alive "$(cat "$dir/kamailio.main.pid" 2>/dev/null || true)"; then
    echo "kamailio already running (pid $(cat "$dir/kamailio.main.pid")) in $dir"
    return 0
  fi
  # Kamailio refuses to start while the pid in its own pid file answers
  # kill -0, which a zombie of the last run does: none of ours runs here.
  rm -f "$dir/kamailio.pid"
  mkdir -p "$dir/dbtext"
  if [ ! -s "$dir/tls.key" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$iaddr" \
      -keyout "$dir/tls.key" -out "$dir/tls.crt" >/dev/null 2>&1
  fi
  for f in kamailio.cfg tls.cfg dispatcher.list dbtext/uacreg dbtext/version; do
    sed "s|@RUNDIR@|$dir|g; s|@ADDR@|$iaddr|g; s|@PEER@|$ipeer|g" "$root/deploy/kamailio/$f" > "$dir/$f"
  done
  for i in $(seq -w 1 300); do
    echo "modparam(\"statistics\", \"variable\", \"scripted_statistic_$i\")"
  done > "$dir/statistics.cfg"
  for i in $(seq 1 "${KAMAILIO_EXTRA_STATISTICS:-0}"); do
    echo "modparam(\"statistics\", \"variable\", \"extra_statistic_$i\")"
  done >> "$dir/statistics.cfg"
  # KAMAILIO_CTL_BODY_KB lowers ctl's reply limit (default 32 KB), so that
  # stats.get_statistics all does not fit (an e2e test).
  if [ -n "${KAMAILIO_CTL_BODY_KB:-}" ]; then
    echo "modparam(\"ctl\", \"binrpc_max_body_size\", $KAMAILIO_CTL_BODY_KB)" >> "$dir/statistics.cfg"
  fi
  local defines=() shm=64
  if [ "${KAMAILIO_LARGE:-0}" = 1 ]; then
    # The large instance: 1 000 unprobed destinations in sets 10-59, 100
    # htables, ctl's reply limits raised so that every reply fits.
    {
      echo 'modparam("ctl", "binrpc_max_body_size", 4096)'
      echo 'modparam("ctl", "binrpc_struct_max_body_size", 4096)'
      for i in $(seq 1 100); do echo "modparam(\"htable\", \"htable\", \"large$i=>size=4;\")"; done
    } > "$dir/large.cfg"
    for i in $(seq 0 $((${KAMAILIO_DESTINATIONS:-1000} - 1))); do
      echo "$((10 + i / 20)) sip:$iaddr:$((6000 + i)) 0 0 weight=$((i % 100))"
    done >> "$dir/dispatcher.list"
    defines+=(-A WITH_LARGE)
    shm=256
  fi
  if [ "$rtp" = 1 ] && [ "${RTPENGINE:-1}" != 0 ] && command -v rtpengine >/dev/null; then
    if ! pid_alive "$(cat "$dir/rtpengine.pid" 2>/dev/null || true)"; then
      # Userspace forwarding only (--table=-1), loopback only.
      rtpengine --foreground --log-stderr --table=-1 --interface="$iaddr" \
        --listen-ng="$iaddr:2223" --listen-cli="$iaddr:2224" --listen-http="$iaddr:9901" --port-min=30000 --port-max=30100 \
        >> "$dir/rtpengine.log" 2>&1 < /dev/null &
      echo $! > "$dir/rtpengine.pid"
    fi
    # Kamailio pings rtpengine at start-up and marks a node that does not
    # answer as disabled: wait until rtpengine serves (bounded).
    for _ in $(seq 1 50); do
      curl -sf -o /dev/null --max-time 1 "http://$iaddr:9901/metrics" && break
      sleep 0.2
    done
    defines+=(-A WITH_RTPENGINE)
  fi
  local kamailio=kamailio
  [ -n "${KAMAILIO_PREFIX:-}" ] && kamailio=$KAMAILIO_PREFIX/sbin/kamailio
  "$kamailio" -c "${defines[@]}" -f "$dir/kamailio.cfg" > "$dir/check.log" 2>&1 || { cat "$dir/check.log" >&2; exit 1; }
  # -DD: stay in the foreground (children are still forked); we keep the pid.
  "$kamailio" -DD -E "${defines[@]}" -f "$dir/kamailio.cfg" -P "$dir/kamailio.pid" -Y "$dir" -w "$dir" \
    -m "${KAMAILIO_SHM_MB:-$shm}" -M 8 >> "$dir/kamailio.log" 2>&1 < /dev/null &
  echo $! > "$dir/kamailio.main.pid"
  for _ in $(seq 1 100); do
    if kamcmd -s "unix:$dir/kamailio_ctl" core.uptime >/dev/null 2>&1; then
      echo "kamailio running (pid $(cat "$dir/kamailio.main.pid")); ctl: unix://$dir/kamailio_ctl unixd://$dir/kamailio_ctl.dgram tcp://$iaddr:2046 udp://$iaddr:2047"
      return 0
    fi
    if ! pid_alive "$(cat "$dir/kamailio.main.pid")"; then break; fi
    sleep 0.2
  done
  echo "kamailio did not start; log:" >&2
  tail -50 "$dir/kamailio.log" >&2
  exit 1
}

# children PID: the pids of PID's children (read from /proc, no tools).
children() {
  local p st
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    proc_stat "$p" || continue
    st=${st#* } # from the ppid on
    if [ "${st%% *}" = "$1" ]; then echo "$p"; fi
  done
}

# stop_pidfile FILE NAME: stops the process whose pid FILE holds, and its
# children, which hold its sockets too (bounded). Kamailio's children can
# outlive their main process: 6.0.7's have stayed blocked on a lock after
# it exited, keeping the SIP port, so that the next start failed to bind.
stop_pidfile() {
  local pid procs p alive
  pid=$(cat "$1" 2>/dev/null || true)
  if pid_alive "$pid"; then
    procs="$pid $(children "$pid")"
    kill "$pid"
    for _ in $(seq 1 50); do
      alive=""
      for p in $procs; do if pid_alive "$p"; then alive=1; fi; done
      [ -z "$alive" ] && break
      sleep 0.2
    done
    for p in $procs; do if pid_alive "$p"; then kill -9 "$p"; fi; done
    echo "$2 stopped"
  else
    echo "$2 not running"
  fi
  rm -f "$1"
}

start() {
  start_instance "$rundir" "$addr" "$peer_addr" 1
  [ "${KAMAILIO_PEER:-1}" = 0 ] || peer_start
}

# The DMQ peer: the same configuration in RUNDIR/peer, on $peer_addr, without
# rtpengine. Its DMQ peer is the main instance.
peer_start() {
  echo -n "DMQ peer: "
  start_instance "$rundir/peer" "$peer_addr" "$addr" 0
}

peer_stop() {
  stop_pidfile "$rundir/peer/kamailio.main.pid" "DMQ peer kamailio"
}

stop() {
  stop_pidfile "$rundir/kamailio.main.pid" kamailio
  stop_pidfile "$rundir/rtpengine.pid" rtpengine
  peer_stop
}

status() {
  if pid_alive "$(main_pid)"; then echo "running (pid $(main_pid))"; else echo "stopped"; return 1; fi
}

traffic() {
  local calls=${1:-20} uas
  pid_alive "$(main_pid)" || { echo "kamailio is not running" >&2; exit 1; }
  sipp -sn uas -i "$addr" -p 5080 -nostdin -timeout 120s -trace_err -error_file "$rundir/sipp-uas.err" \
    > "$rundir/sipp-uas.log" 2>&1 < /dev/null &
  uas=$!
  sleep 0.5
  local rc=0
  # Kamailio's several UDP workers may forward a 180 after the 200 OK; sipp
  # would abort that call on the "unexpected" late 180 (seen once in CI), so
  # unexpected messages are ignored rather than fatal.
  sipp -sn uac "$addr:5060" -i "$addr" -p 5070 -m "$calls" -r 10 -d 200 -timeout 60s -timeout_error \
    -default_behaviors all,-abortunexp -nostdin -trace_err -error_file "$rundir/sipp-uac.err" > "$rundir/sipp-uac.log" 2>&1 < /dev/null || rc=$?
  sipp -sf "$root/deploy/sipp/register.xml" "$addr:5060" -i "$addr" -p 5072 -m 5 -r 10 -timeout 30s \
    -timeout_error -nostdin > "$rundir/sipp-reg.log" 2>&1 < /dev/null || rc=$?
  kill "$uas" 2>/dev/null || true
  wait "$uas" 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then
    echo "sipp failed (exit $rc); see $rundir/sipp-*.log" >&2
    tail -20 "$rundir"/sipp-uac.err "$rundir"/sipp-uac.log >&2 2>/dev/null || true
    exit 1
  fi
  echo "sent $calls calls and 5 REGISTERs"
  # Dispatcher probing marks the dead destination (set 2) inactive within
  # a few ping intervals; wait for it so the state is deterministic. The
  # large instance's dispatcher.list is too large for kamcmd's reply
  # buffer: not waited for (the benchmarks do not depend on that state).
  if [ "${KAMAILIO_LARGE:-0}" = 1 ]; then
    echo "dispatcher: large instance, dead destination not waited for"
    return 0
  fi
  for _ in $(seq 1 60); do
    if kamcmd -s "unix:$rundir/kamailio_ctl" dispatcher.list 2>/dev/null | grep -A1 "sip:$addr:5099" | grep -q 'FLAGS: I'; then
      echo "dispatcher: probed dead destination is inactive"
      return 0
    fi
    sleep 0.5
  done
  echo "warning: dispatcher did not mark sip:$addr:5099 inactive within 30s" >&2
}

case "$cmd" in
  install) install ;;
  build) build "${rundir##*/}" ;; # the argument is the version
  start) start ;;
  stop) stop ;;
  peer-start) peer_start ;;
  peer-stop) peer_stop ;;
  status) status ;;
  traffic) traffic "$@" ;;
  *) sed -n '2,15p' "$0"; exit 2 ;;
esac
