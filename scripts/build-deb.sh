#!/usr/bin/env bash
# Builds the Debian package with dpkg-deb (make deb calls it):
#   scripts/build-deb.sh BINARY OUTDIR     writes OUTDIR/kamailio-exporter_<version>_<arch>.deb
#   scripts/build-deb.sh --version-of V    prints the Debian version made of V
# BINARY is a static linux build of the exporter. Environment:
#   VERSION         the exporter's version, `git describe --tags --always --dirty` as make
#                   build stamps it; made Debian-valid (v1.2.3-4-gabc1234 -> 1.2.3+4.gabc1234,
#                   v1.0.0-rc1 -> 1.0.0~rc1, an untagged hash -> 0~git<commits>.g<hash>)
#   DEB_VERSION     the package version as is, instead
#   GOARCH          the binary's architecture (default: go env GOARCH)
#   DEB_MAINTAINER  the Maintainer field
# Contents: /usr/bin/kamailio_exporter, the units of deploy/systemd in
# /usr/lib/systemd/system (binary in /usr/bin, user kamailio-exporter),
# /etc/default/kamailio_exporter (conffile), the licence as
# /usr/share/doc/kamailio-exporter/copyright, and deploy/debian's maintainer scripts.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
umask 022

# deb_version V prints V as a Debian version (upstream part only: no "-").
deb_version() {
  local v=${1#v} extra="" dirty=""
  case $v in *-dirty) v=${v%-dirty}; dirty=1 ;; esac
  if [[ $v =~ ^(.+)-([0-9]+)-g([0-9a-f]+)$ ]]; then
    # a tag, commits since it, the commit: after the tag, before the next one
    v=${BASH_REMATCH[1]}; v=${v#v}; extra="+${BASH_REMATCH[2]}.g${BASH_REMATCH[3]}"
  elif [[ $v =~ ^[0-9a-f]{7,40}$ ]]; then
    # no tag at all (git describe --always): order by the number of commits
    extra="$(git rev-list --count HEAD 2>/dev/null || echo 0).g$v"; v="0~git"
  fi
  v=${v//-/\~} # v1.0.0-rc1: a pre-release sorts before 1.0.0
  if [ -n "$dirty" ]; then
    case $extra in *+*) extra="$extra.dirty" ;; *) extra="$extra+dirty" ;; esac
  fi
  v="$v$extra"
  if ! [[ $v =~ ^[0-9][A-Za-z0-9.+~]*$ ]]; then
    echo "build-deb: cannot make a Debian version of '$1'; set DEB_VERSION" >&2
    return 1
  fi
  echo "$v"
}

# deb_arch GOARCH prints the Debian architecture.
deb_arch() {
  case $1 in
  amd64 | arm64 | s390x | riscv64 | loong64) echo "$1" ;;
  386) echo i386 ;;
  arm) echo armhf ;;
  ppc64le) echo ppc64el ;;
  mips64le) echo mips64el ;;
  *) echo "build-deb: no Debian architecture for GOARCH=$1" >&2; return 1 ;;
  esac
}

if [ "${1:-}" = --version-of ]; then
  deb_version "$2"
  exit
fi
[ $# -eq 2 ] || { echo "usage: $0 BINARY OUTDIR | --version-of VERSION" >&2; exit 2; }
bin=$1 out=$2
version=${DEB_VERSION:-$(deb_version "${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}")}
arch=$(deb_arch "${GOARCH:-$(go env GOARCH)}")
maintainer=${DEB_MAINTAINER:-kamailio_exporter developers <kamailio-exporter@users.noreply.github.com>}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg=$stage/pkg
doc=$pkg/usr/share/doc/kamailio-exporter
units=$pkg/usr/lib/systemd/system
install -d -m 0755 "$pkg/DEBIAN" "$pkg/usr/bin" "$units" "$pkg/etc/default" "$doc"

install -m 0755 "$bin" "$pkg/usr/bin/kamailio_exporter"
# The package's own user, and its binary in /usr/bin.
sed -e 's|/usr/local/bin/kamailio_exporter|/usr/bin/kamailio_exporter|' \
    -e 's|^User=kamailio$|User=kamailio-exporter|' \
    -e 's|^Group=kamailio$|Group=kamailio-exporter|' \
    -e '/^# The kamailio user/,/^# parameters/c\
# kamailio-exporter is a member of the kamailio group (the package makes it\
# one when the group exists): ctl'"'"'s unix socket must be writable by the group\
# (modparam("ctl", "mode", 0660)).' \
    deploy/systemd/kamailio_exporter.service > "$units/kamailio_exporter.service"
install -m 0644 deploy/systemd/kamailio_exporter.socket "$units/kamailio_exporter.socket"
chmod 0644 "$units/kamailio_exporter.service"
for want in 'ExecStart=/usr/bin/kamailio_exporter ' 'User=kamailio-exporter' 'Group=kamailio-exporter'; do
  grep -q "^$want" "$units/kamailio_exporter.service" \
    || { echo "build-deb: deploy/systemd/kamailio_exporter.service: could not set $want" >&2; exit 1; }
done
install -m 0644 deploy/systemd/kamailio_exporter.default "$pkg/etc/default/kamailio_exporter"

# copyright in Debian's machine-readable form, with the whole licence text.
{
  printf '%s\n' \
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' \
    'Upstream-Name: kamailio_exporter' \
    'Source: https://github.com/kamailio-exporter/kamailio_exporter' \
    '' \
    'Files: *' \
    'Copyright: kamailio_exporter developers' \
    'License: Apache-2.0' \
    '' \
    'License: Apache-2.0'
  sed -e 's/[[:space:]]*$//' LICENSE | sed -e '/./,$!d' -e 's/^$/./' -e 's/^/ /'
} > "$doc/copyright"
chmod 0644 "$doc/copyright"

size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@SIZE@|$size|" -e "s|@MAINTAINER@|$maintainer|" \
  deploy/debian/control > "$pkg/DEBIAN/control"
install -m 0644 deploy/debian/conffiles "$pkg/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "deploy/debian/$s" "$pkg/DEBIAN/$s"; done
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/md5sums"

mkdir -p "$out"
deb=$out/kamailio-exporter_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
