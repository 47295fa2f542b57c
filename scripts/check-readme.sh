#!/usr/bin/env bash
# Runs the README's examples as a user pastes them after scripts/demo.sh:
# every line of each ```sh block that follows a line
#   <!-- run after scripts/demo.sh by scripts/check-readme.sh (the test suite) -->
# must exit 0. The demo's exporter listens on 127.0.0.1:PORT (the README
# says localhost:9494) and its Kamailio's run directory is RUNDIR (the
# README says /tmp/kamailio_exporter-demo): the commands are run with those.
#
#   scripts/check-readme.sh PORT RUNDIR
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
port=${1:?usage: check-readme.sh PORT RUNDIR}
rundir=${2:?usage: check-readme.sh PORT RUNDIR}
marker='<!-- run after scripts/demo.sh by scripts/check-readme.sh (the test suite) -->'
mapfile -t cmds < <(awk -v m="$marker" '
  $0 == m { armed = 1; next }
  armed && /^```sh$/ { inblock = 1; armed = 0; next }
  inblock && /^```$/ { inblock = 0; next }
  inblock && !/^[[:space:]]*(#|$)/ { print }
' README.md)
[ ${#cmds[@]} -ge 5 ] || { echo "check-readme: only ${#cmds[@]} commands found in README.md" >&2; exit 1; }
failed=0
for cmd in "${cmds[@]}"; do
  run=${cmd//localhost:9494/127.0.0.1:$port}
  run=${run//\/tmp\/kamailio_exporter-demo/$rundir}
  if out=$(timeout 30 bash -o pipefail -c "$run" 2>&1 < /dev/null); then
    echo "ok: $cmd"
  else
    echo "FAILED: $cmd" >&2
    echo "  as run: $run" >&2
    printf '%s\n' "$out" | head -20 | sed 's/^/  | /' >&2
    failed=$((failed + 1))
  fi
done
echo "README examples: ${#cmds[@]} run, $failed failed"
[ "$failed" = 0 ]
