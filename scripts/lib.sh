# Shell helpers shared by the scripts (source it; it sets no options).

# free_port prints a TCP port on 127.0.0.1 that is free right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL: waits up to 5 s for URL to answer with success.
wait_http() {
  for _ in $(seq 1 50); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  return 0 # the caller's next request reports the failure
}

# end_run STATUS RUNDIR [PID...]: stops the PIDs (empty ones skipped) and
# RUNDIR's Kamailio; removes RUNDIR when STATUS is 0, else keeps it (its
# binaries and Kamailio's logs) and says so.
end_run() {
  local status=$1 rundir=$2 p
  shift 2
  for p in "$@"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null || true
  scripts/kamailio.sh stop "$rundir" >/dev/null || true
  if [ "$status" = 0 ]; then rm -rf "$rundir"; else echo "kept: $rundir" >&2; fi
}
