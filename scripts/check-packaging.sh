#!/usr/bin/env bash
# Checks the packaging without a Docker engine or systemd running:
#  - make build gives a static binary that reports its version
#  - make release puts the LICENSE in the archives
#  - scripts/demo.sh stamps its binary's version as make build does
#  - the Dockerfile builds the same way, runs as non-root and exposes 9494
#  - systemd-analyze verifies the service and socket units
#  - socket activation works: systemd-socket-activate hands a loopback
#    socket to the exporter (--web.systemd-socket), which serves /metrics
#  - make deb: the package's name, version, fields, contents and licence;
#    installed with dpkg -i (root only): its user in the kamailio group, the
#    installed units verify, the installed binary run as that user reaches a
#    fake Kamailio's socket that only the kamailio group may open (and a user
#    outside the group does not); dpkg --purge leaves no file, user or unit
#  - the Dockerfile's Go matches go.mod's; its runtime stage has the CA
#    bundle and the licence
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/lib.sh

# What the checks use (CI machines are fresh; apt-get needs root).
missing=()
for cmd in curl:curl file:file python3:python3 dpkg-deb:dpkg systemd-analyze:systemd \
  systemd-socket-activate:systemd adduser:adduser setpriv:util-linux; do
  command -v "${cmd%%:*}" >/dev/null || missing+=("${cmd#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "check-packaging: install ${missing[*]} (needs root)" >&2; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi

tmp=$(mktemp -d)
pid="" fakepid="" installed="" made_group=""
cleanup() {
  for p in $pid $fakepid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  # A failed check leaves nothing installed either.
  [ -n "$installed" ] && { dpkg --purge kamailio-exporter >/dev/null 2>&1 || true; }
  [ -n "$made_group" ] && { delgroup --quiet --system kamailio >/dev/null 2>&1 || true; }
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "check-packaging: $*" >&2; exit 1; }

make -n build release docker >/dev/null
make build >/dev/null
mv kamailio_exporter "$tmp/kamailio_exporter"
"$tmp/kamailio_exporter" --version 2>&1 | grep -q 'kamailio_exporter, version' || { echo "no version" >&2; exit 1; }
file "$tmp/kamailio_exporter" | grep -q 'statically linked' || { echo "binary is not static" >&2; exit 1; }
grep -q '^USER 65534:65534' Dockerfile && grep -q '^EXPOSE 9494' Dockerfile && grep -q 'CGO_ENABLED=0' Dockerfile \
  || { echo "Dockerfile: want non-root USER, EXPOSE 9494, static build" >&2; exit 1; }
echo "build: static binary, version ok; Dockerfile: non-root, port 9494"

# The demo's binary is stamped as make build's is, with make and without.
# (Given a URI, the demo starts no Kamailio; --version ends the exporter.)
stamp='kamailio_exporter, version [^ ]+ \(branch: [^,]+, revision: [0-9a-f]{40}\)'
scripts/demo.sh --kamailio.binrpc-uri=unix:///nonexistent --version > "$tmp/demo-version" 2>&1
grep -qE "$stamp" "$tmp/demo-version" || { echo "scripts/demo.sh: binary not stamped:" >&2; cat "$tmp/demo-version" >&2; exit 1; }
mkdir -p "$tmp/nomake" && ln -sf "$(command -v go)" "$(command -v git)" "$tmp/nomake/"
for t in awk bash date dirname hostname id; do ln -sf "$(command -v "$t")" "$tmp/nomake/"; done
PATH="$tmp/nomake" "$BASH" scripts/demo.sh --kamailio.binrpc-uri=unix:///nonexistent --version > "$tmp/demo-version" 2>&1
grep -qE "$stamp" "$tmp/demo-version" || { echo "scripts/demo.sh without make: binary not stamped:" >&2; cat "$tmp/demo-version" >&2; exit 1; }
rm -f kamailio_exporter
echo "demo binary: version stamped"

# A release archive (one platform, to keep it short) carries the licence.
make release PLATFORMS=linux/amd64 VERSION=check BUILD_DIR="$tmp/build" >/dev/null
archive=$tmp/build/release/kamailio_exporter-check.linux-amd64.tar.gz
tar -tzf "$archive" > "$tmp/archive.list"
grep -qx 'kamailio_exporter-check.linux-amd64/LICENSE' "$tmp/archive.list" \
  || { echo "$archive lacks LICENSE" >&2; cat "$tmp/archive.list" >&2; exit 1; }
tar -xzOf "$archive" kamailio_exporter-check.linux-amd64/LICENSE | cmp -s - LICENSE || { echo "$archive: LICENSE differs" >&2; exit 1; }
echo "release archive: LICENSE included"

if command -v systemd-analyze >/dev/null; then
  mkdir -p "$tmp/units"
  sed "s|/usr/local/bin/kamailio_exporter|$tmp/kamailio_exporter|" deploy/systemd/kamailio_exporter.service > "$tmp/units/kamailio_exporter.service"
  cp deploy/systemd/kamailio_exporter.socket "$tmp/units/"
  out=$(systemd-analyze verify "$tmp/units/kamailio_exporter.socket" "$tmp/units/kamailio_exporter.service" 2>&1 || true)
  # Only the absence of a "kamailio" user on machines without Kamailio is tolerated.
  if echo "$out" | grep -v -i 'user\|group' | grep -q .; then
    echo "systemd-analyze verify:" >&2; echo "$out" >&2; exit 1
  fi
  echo "systemd units verify"
fi

if command -v systemd-socket-activate >/dev/null; then
  port=$(free_port)
  systemd-socket-activate -l "127.0.0.1:$port" "$tmp/kamailio_exporter" --web.systemd-socket \
    --kamailio.binrpc-uri="unix://$tmp/absent_ctl" > "$tmp/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do
    if curl -sf --max-time 2 "http://127.0.0.1:$port/metrics" -o "$tmp/page"; then break; fi
    sleep 0.2
  done
  grep -q '^kamailio_up 0' "$tmp/page" || { echo "socket activation: no metrics" >&2; cat "$tmp/log" >&2; exit 1; }
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  echo "socket activation: /metrics served on the inherited socket"
fi

# --- Debian package (make deb) ---
# The Debian version made of git describe's forms, and their order.
for pair in v1.2.3=1.2.3 v1.2.3-4-gabc1234=1.2.3+4.gabc1234 v1.0.0-rc1=1.0.0~rc1 \
  v1.2.3-4-gabc1234-dirty=1.2.3+4.gabc1234.dirty v1.2.3-dirty=1.2.3+dirty; do
  got=$(scripts/build-deb.sh --version-of "${pair%%=*}")
  [ "$got" = "${pair#*=}" ] || fail "Debian version of ${pair%%=*}: got $got, want ${pair#*=}"
done
[[ $(scripts/build-deb.sh --version-of 0123abc) =~ ^0~git[0-9]+\.g0123abc$ ]] || fail "Debian version of an untagged commit"
prev=""
for v in 0~git76.g0123abc 1.0.0~rc1 1.0.0~rc1+2.g1234567 1.0.0 1.0.0+3.gabc1234 1.0.1; do
  [ -z "$prev" ] || dpkg --compare-versions "$prev" lt "$v" || fail "Debian versions: $prev sorts after $v"
  prev=$v
done
if scripts/build-deb.sh --version-of dev >/dev/null 2>&1; then fail "'dev' made a Debian version"; fi

deb=$(make -s deb BUILD_DIR="$tmp/deb" | tail -n 1)
version=$(scripts/build-deb.sh --version-of "$(git describe --tags --always --dirty)")
arch=$(dpkg --print-architecture)
want=kamailio-exporter_${version}_${arch}.deb
[ "$(basename "$deb")" = "$want" ] && [ -f "$deb" ] || fail "make deb made '$deb', want $want"
dpkg-deb --info "$deb" > "$tmp/deb.info"
for f in Package=kamailio-exporter "Version=$version" "Architecture=$arch" Depends=adduser; do
  [ "$(dpkg-deb --field "$deb" "${f%%=*}")" = "${f#*=}" ] || fail "$deb: ${f%%=*} is not ${f#*=}"
done
for s in postinst prerm postrm conffiles md5sums; do grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines .* $s " "$tmp/deb.info" || fail "$deb lacks $s"; done
mkdir "$tmp/ctrl" && dpkg-deb --control "$deb" "$tmp/ctrl"
[ "$(cat "$tmp/ctrl/conffiles")" = /etc/default/kamailio_exporter ] || fail "$deb: conffiles"
for s in postinst prerm postrm; do sh -n "$tmp/ctrl/$s" || fail "$deb: $s: syntax"; done
# Every file, with its mode and owner; nothing else.
dpkg-deb --contents "$deb" | awk '$1 !~ /^d/ {print $1, $2, $6}' | sort > "$tmp/deb.files"
sort > "$tmp/deb.want" <<'LIST'
-rw-r--r-- root/root ./etc/default/kamailio_exporter
-rw-r--r-- root/root ./usr/lib/systemd/system/kamailio_exporter.service
-rw-r--r-- root/root ./usr/lib/systemd/system/kamailio_exporter.socket
-rw-r--r-- root/root ./usr/share/doc/kamailio-exporter/copyright
-rwxr-xr-x root/root ./usr/bin/kamailio_exporter
LIST
diff -u "$tmp/deb.want" "$tmp/deb.files" >&2 || fail "$deb: contents differ (- want, + got)"
dpkg-deb --contents "$deb" | awk '$1 ~ /^d/ && ($1 != "drwxr-xr-x" || $2 != "root/root") {bad=1} END {exit bad}' \
  || fail "$deb: a directory is not root/root 0755"
# The licence, whole, in Debian's copyright format.
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/share/doc/kamailio-exporter/copyright > "$tmp/copyright"
grep -qx 'License: Apache-2.0' "$tmp/copyright" || fail "copyright: no License: Apache-2.0"
awk 'n == 2 {sub(/^ /, ""); if ($0 == ".") $0 = ""; print} /^License: Apache-2.0$/ {n++}' "$tmp/copyright" \
  | cmp -s - <(sed 's/[[:space:]]*$//' LICENSE | sed '/./,$!d') || fail "copyright: the licence text differs from LICENSE"
if command -v lintian >/dev/null; then
  lintian --fail-on error "$deb" >&2 || fail "lintian: errors in $deb"
fi
echo "deb: $(basename "$deb"): fields, conffile, maintainer scripts, contents, licence"

if [ "$(id -u)" -ne 0 ]; then
  echo "deb: not root, so not installed (dpkg -i needs root; CI runs as root)"
else
  user=kamailio-exporter
  if dpkg-query -W -f='${db:Status-Status}' kamailio-exporter 2>/dev/null | grep -qv '^not-installed$'; then
    fail "kamailio-exporter is installed already on this machine: dpkg --purge it first"
  fi
  getent passwd "$user" >/dev/null && fail "a user $user exists already on this machine"
  if ! getent group kamailio >/dev/null; then
    # No Kamailio here: the package says how to join the group later, and
    # configuring it again once the group exists joins it.
    installed=1
    dpkg -i "$deb" > "$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -i $deb"; }
    grep -q "there is no group kamailio" "$tmp/dpkg.log" || { cat "$tmp/dpkg.log" >&2; fail "postinst: no word about the missing kamailio group"; }
    made_group=1
    addgroup --quiet --system kamailio
  fi
  installed=1
  dpkg -i "$deb" > "$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -i $deb"; }
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' kamailio-exporter)" = "ii " ] || fail "kamailio-exporter is not installed"
  dpkg --verify kamailio-exporter || fail "dpkg --verify kamailio-exporter"
  IFS=: read -r _ _ uid _ _ home shell < <(getent passwd "$user") || fail "no user $user"
  [ "$uid" -lt 1000 ] && [ "$home" = /nonexistent ] && [ "$shell" = /usr/sbin/nologin ] \
    || fail "$user: want a system user (uid $uid), home /nonexistent ($home), shell nologin ($shell)"
  id -nG "$user" | tr ' ' '\n' | grep -qx kamailio || fail "$user is not in the kamailio group: $(id -nG "$user")"
  /usr/bin/kamailio_exporter --version 2>&1 | grep -q 'kamailio_exporter, version' || fail "/usr/bin/kamailio_exporter --version"
  units=(/usr/lib/systemd/system/kamailio_exporter.socket /usr/lib/systemd/system/kamailio_exporter.service)
  grep -q '^ExecStart=/usr/bin/kamailio_exporter --web.systemd-socket ' "${units[1]}" && grep -q "^User=$user\$" "${units[1]}" \
    || fail "${units[1]}: want ExecStart=/usr/bin/kamailio_exporter and User=$user"
  out=$(systemd-analyze verify "${units[@]}" 2>&1) || { echo "$out" >&2; fail "systemd-analyze verify (installed units)"; }
  [ -z "$out" ] || { echo "$out" >&2; fail "systemd-analyze verify (installed units) warns"; }
  if [ -d /run/systemd/system ]; then
    # systemd runs: postinst enabled and started the socket.
    systemctl is-enabled --quiet kamailio_exporter.socket || fail "postinst did not enable kamailio_exporter.socket"
    systemctl is-active --quiet kamailio_exporter.socket || fail "postinst did not start kamailio_exporter.socket"
  else
    # No systemd: postinst enabled nothing. Enable the socket offline as an
    # administrator might, for the purge to remove.
    [ -z "$(find /etc/systemd -name 'kamailio_exporter*' 2>/dev/null)" ] || fail "postinst enabled units without systemd"
    systemctl --quiet enable kamailio_exporter.socket
    [ -n "$(find /etc/systemd -name 'kamailio_exporter*')" ] || fail "systemctl enable (offline) made no link"
  fi
  echo "deb: installed; $user (uid $uid) in group kamailio; units verify"

  # A fake Kamailio on a unix socket in a directory of group kamailio, mode
  # 0770: only the group's members can open it.
  go build -o "$tmp/fakekamailio" ./internal/synthetic/fakekamailio
  mkdir "$tmp/ctl"
  TMPDIR=$tmp/ctl "$tmp/fakekamailio" -scale 1 -duration 60s > "$tmp/fake.out" 2>&1 &
  fakepid=$!
  for _ in $(seq 1 50); do [ -s "$tmp/fake.out" ] && break; sleep 0.1; done
  uri=$(awk 'NR == 1 {print $1}' "$tmp/fake.out")
  sock=${uri#unix://}
  [ -S "$sock" ] || { cat "$tmp/fake.out" >&2; fail "fake Kamailio: no socket"; }
  chmod 0711 "$tmp" "$tmp/ctl"
  chgrp kamailio "$(dirname "$sock")" "$sock"
  chmod 0770 "$(dirname "$sock")" && chmod 0660 "$sock"
  # scrape_as NAME SETPRIV-ARGS…: sets up to kamailio_up as seen by the
  # installed binary run as user NAME with those setpriv arguments.
  scrape_as() {
    local name=$1 port; shift
    port=$(free_port)
    setpriv "$@" /usr/bin/kamailio_exporter --kamailio.binrpc-uri="$uri" \
      --web.listen-address="127.0.0.1:$port" > "$tmp/$name.log" 2>&1 &
    pid=$!
    wait_http "http://127.0.0.1:$port/metrics"
    curl -sf --max-time 5 "http://127.0.0.1:$port/metrics" -o "$tmp/$name.prom" || true
    [ "$(ps -o euid= -p "$pid" | tr -d ' ')" = "$(id -u "$name")" ] || fail "the exporter does not run as $name"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    up=$(awk '$1 == "kamailio_up" {print $2}' "$tmp/$name.prom")
  }
  scrape_as "$user" --reuid="$user" --regid="$user" --init-groups
  [ "$up" = 1 ] || { cat "$tmp/$user.log" >&2; fail "the installed binary as $user: kamailio_up '$up', want 1"; }
  scrape_as nobody --reuid=nobody --regid=nogroup --clear-groups
  [ "$up" = 0 ] || fail "as nobody (not in group kamailio): kamailio_up '$up', want 0 (is the socket open to all?)"
  kill "$fakepid"; wait "$fakepid" 2>/dev/null || true; fakepid=""
  echo "deb: the installed binary as $user reaches ctl's socket through group kamailio (kamailio_up 1; nobody gets 0)"

  dpkg-query -L kamailio-exporter > "$tmp/deb.installed"
  dpkg --purge kamailio-exporter > "$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg --purge kamailio-exporter"; }
  installed=""
  [ "$(dpkg-query -W -f='${db:Status-Status}' kamailio-exporter 2>/dev/null || echo not-installed)" = not-installed ] \
    || fail "kamailio-exporter is still known to dpkg after the purge"
  while read -r f; do
    # directories shared with other packages (/usr/bin, …) stay
    if [ -e "$f" ] && { [ ! -d "$f" ] || [ "$f" = /usr/share/doc/kamailio-exporter ]; }; then fail "left after purge: $f"; fi
  done < "$tmp/deb.installed"
  left=$(find /etc/systemd /var/lib/systemd /var/lib/dpkg/info -name '*kamailio_exporter*' -o -name 'kamailio-exporter*' 2>/dev/null)
  [ -z "$left" ] || fail "left after purge: $left"
  ! getent passwd "$user" >/dev/null && ! getent group "$user" >/dev/null || fail "user or group $user left after purge"
  ! grep -qw "$user" /etc/passwd /etc/group /etc/shadow /etc/gshadow || fail "$user left in /etc/passwd, group, shadow or gshadow"
  if [ -n "$made_group" ]; then delgroup --quiet --system kamailio; made_group=""; fi
  echo "deb: purged; no file, user, group or unit left"
fi

# --- Dockerfile (static checks; docker build needs an engine) ---
gomod=$(awk '$1 == "go" {print $2; exit}' go.mod)
tag=$(sed -n 's/^FROM golang:\([^ ]*\) AS build$/\1/p' Dockerfile)
[ "$tag" = "$gomod" ] || fail "Dockerfile builds with golang:$tag, go.mod says go $gomod"
runtime=$(awk '/^FROM /{s=""} {s = s $0 "\n"} END {printf "%s", s}' Dockerfile)
grep -qx 'COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt' <<<"$runtime" \
  || fail "Dockerfile: the runtime stage does not copy the CA bundle (https URLs)"
grep -qE '^COPY (--from=build )?(/src/)?LICENSE ' <<<"$runtime" || fail "Dockerfile: the runtime stage does not copy LICENSE"
echo "Dockerfile: golang:$tag as go.mod; CA bundle and LICENSE in the runtime image"

echo "packaging OK (docker build itself needs a Docker engine and is not run here)"
