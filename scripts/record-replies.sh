#!/usr/bin/env bash
# Records the replies of a real Kamailio as test data: every RPC the
# exporter sends (and a few faults), one packet per file, as ctl sent it, in
# binrpc/testdata/replies/<release>/<method>[_<args>].bin (the release as
# core.version reports it). Then refreshes the golden JSON renderings and
# the collector golden exposition.
#
#   scripts/record-replies.sh [RUNDIR [NAME...]]
#
# With NAMEs (e.g. tm.stats stats.fetch_all), records only those and keeps
# the other recordings. Uses the Kamailio of scripts/kamailio.sh in RUNDIR
# (started, with sipp traffic, if it is not running; KAMAILIO_PREFIX picks
# a release built by scripts/kamailio.sh build).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rundir=${1:-${KAMAILIO_RUNDIR:-/tmp/kamailio_exporter-demo}}
[ $# -gt 0 ] && shift
only=("$@")
cd "$root"
if ! scripts/kamailio.sh status "$rundir" >/dev/null 2>&1; then
  scripts/kamailio.sh start "$rundir"
  scripts/kamailio.sh traffic "$rundir" 20
  sleep 8 # let dispatcher probing mark the dead destination inactive
fi
bin=$(mktemp -d)/kamailio_exporter
go build -o "$bin" .
uri="unix://$rundir/kamailio_ctl"
release=$(kamcmd -s "unix:$rundir/kamailio_ctl" core.version | awk '{print $2; exit}')
[ -n "$release" ] || { echo "cannot read core.version" >&2; exit 1; }
out="$root/binrpc/testdata/replies/$release"
mkdir -p "$out" "$root/collector/testdata/$release"
[ ${#only[@]} -eq 0 ] && rm -f "$out"/*.bin
record() { # record NAME METHOD [ARGS...]; a fault is recorded too
  local name=$1; shift
  if [ ${#only[@]} -gt 0 ] && [[ " ${only[*]} " != *" $name "* ]]; then
    return 0
  fi
  rm -f "$out/$name.bin"
  "$bin" rpc --kamailio.binrpc-uri="$uri" --raw-output="$out/$name.bin" "$@" >/dev/null 2>&1 || true
  [ -s "$out/$name.bin" ] || { echo "no reply recorded for $*" >&2; exit 1; }
  echo "recorded $release/$name"
}
record system.listMethods system.listMethods
record core.psa core.psa
record core.runinfo core.runinfo
record core.tcp_info core.tcp_info
record core.version core.version
record core.uptime core.uptime
record core.info core.info
record core.shmmem core.shmmem
record core.shmmem_k core.shmmem k
record pkg.stats pkg.stats
record stats.fetch_all stats.fetch all
record stats.get_statistics_all stats.get_statistics all
record cnt.grps_list cnt.grps_list
# Each group alone, as the exporter asks when all of them are too large
# for one reply (the test config's 300 scripted statistics are).
for g in $(kamcmd -s "unix:$rundir/kamailio_ctl" stats.get_statistics all | cut -d: -f1 | sort -u); do
  record "stats.fetch_$g" stats.fetch "$g:"
  record "stats.get_statistics_$g" stats.get_statistics "$g:"
  record "cnt.var_list_$g" cnt.var_list "$g" # the group's names: is a get_statistics reply whole?
done
record dispatcher.list dispatcher.list
record dlg.stats_active dlg.stats_active
record dlg.profile_get_size_inbound dlg.profile_get_size inbound
record dlg.profile_get_size_caller dlg.profile_get_size caller
record dlg.profile_get_size_no_such_profile dlg.profile_get_size no_such_profile
record htable.listTables htable.listTables
record htable.stats htable.stats
record sl.stats sl.stats
record tm.stats tm.stats
record tls.info tls.info
record rtpengine.show_all rtpengine.show all
record uac.reg_dump uac.reg_dump
record dmq.list_nodes dmq.list_nodes
record keepalive.list keepalive.list
record mod.mem_stats_all_all mod.mem_stats all all
record no.such.method no.such.method
# The goldens rewritten from the new recordings: any error stops the
# script, and every change is shown, never accepted unseen.
go test -count=1 ./binrpc -run TestRecordedReplies -update
go test -count=1 ./collector -run TestScrapeRecordedReplies -update
echo "recordings in $out; the goldens they changed (git diff):"
git --no-pager diff --stat -- binrpc/testdata collector/testdata
git --no-pager diff -- '*.json' '*.prom'
git status --short --untracked-files=all -- binrpc/testdata collector/testdata | grep '^??' || true
