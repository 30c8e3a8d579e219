#!/bin/sh
# Builds the tributary-edge Debian package with dpkg-deb (part of dpkg, so
# on every Debian, Raspberry Pi OS and Ubuntu; nothing else is needed).
#
#   deploy/deb/build.sh ARCH BINARY VERSION OUTDIR
#
# ARCH is the Debian architecture (arm64, armhf, amd64), BINARY the static
# edge binary built for it (armhf: GOARM=6, so that it runs on every Pi),
# VERSION the project's version (git describe: v1.2.0, v1.2.0-3-gabc123,
# abc123-dirty), turned into a Debian version. Writes
# OUTDIR/tributary-edge_<debian version>_<ARCH>.deb and prints its path.
# $SOURCE_DATE_EPOCH, if set, is every file's time.
set -eu

if [ $# -ne 4 ]; then
	echo "usage: $0 ARCH BINARY VERSION OUTDIR" >&2
	exit 2
fi
arch=$1 binary=$2 version=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
[ -x "$binary" ] || { echo "$0: $binary: no such executable" >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "$0: dpkg-deb not found (Debian: apt install dpkg)" >&2; exit 1; }

# A Debian version must begin with a digit and has no '-' (no Debian
# revision: this is a native package). v1.2.0 -> 1.2.0;
# v1.2.0-3-gabc123 -> 1.2.0+3.gabc123; abc123 -> 0~gabc123 (sorts before
# any release).
case $version in
v[0-9]*) debver=$(printf '%s' "${version#v}" | sed 's/-g/.g/; s/-/+/g') ;;
[0-9]*.[0-9]*) debver=$(printf '%s' "$version" | tr -- - +) ;;
*) debver=0~g$(printf '%s' "$version" | tr -- - +) ;;
esac
debver=$(printf '%s' "$debver" | tr -c 'A-Za-z0-9.+~' '.')

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
doc=$root/usr/share/doc/tributary-edge
install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/systemd/system" \
	"$root/etc/tributary" "$doc/examples"

install -m 0755 "$binary" "$root/usr/bin/tributary-edge"
# The unit of deploy/systemd, with the package's path of the binary.
{
	echo "# Installed by the tributary-edge package. Change it with"
	echo "# \`sudo systemctl edit tributary-edge\`, not here."
	sed 's#/usr/local/bin/tributary-edge#/usr/bin/tributary-edge#g' "$top/deploy/systemd/tributary-edge.service"
} >"$root/usr/lib/systemd/system/tributary-edge.service"
chmod 0644 "$root/usr/lib/systemd/system/tributary-edge.service"
# The config: the complete commented reference (every key, its default).
install -m 0644 "$top/cmd/edge/edge.example.yaml" "$root/etc/tributary/edge.yaml"
install -m 0644 "$top/deploy/edge/pi-greenhouse.yaml" "$doc/examples/pi-greenhouse.yaml"
install -m 0644 "$here/copyright" "$doc/copyright"
install -d -m 0755 "$root/usr/share/lintian/overrides"
install -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/tributary-edge"
date=$(date -u -R ${SOURCE_DATE_EPOCH:+-d "@$SOURCE_DATE_EPOCH"})
printf 'tributary-edge (%s) unstable; urgency=medium\n\n  * Built from %s.\n\n -- %s  %s\n' \
	"$debver" "$version" "${DEB_MAINTAINER:-Tributary developers <tributary@tributary-iot.github.io>}" "$date" |
	gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$root/DEBIAN/"
echo /etc/tributary/edge.yaml >"$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: tributary-edge
Version: $debver
Architecture: $arch
Maintainer: ${DEB_MAINTAINER:-Tributary developers <tributary@tributary-iot.github.io>}
Installed-Size: $size
Depends: passwd
Recommends: systemd
Section: net
Priority: optional
Homepage: https://github.com/tributary-iot/tributary
Description: Tributary edge agent: sensors to the cloud through an on-disk spool
 The agent of Tributary, the edge-to-dashboard telemetry gateway. It reads
 I2C, GPIO and 1-wire sensors on a Raspberry Pi (BME280, SHT3x, SHT4x,
 BH1750, ADS1115, DS18B20, contacts, rain gauges), stamps and spools every
 reading on disk, and sends it to Redis or an MQTT broker, losing nothing
 across outages and reboots.
 .
 The package installs the static binary as /usr/bin/tributary-edge, the
 hardened systemd unit tributary-edge.service (not enabled: configure
 first), the config /etc/tributary/edge.yaml, the system user tributary and
 the state directory /var/lib/tributary-edge. Installing runs
 tributary-edge check on the config and fails if the config has mistakes.
CONTROL
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles"

if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
	find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
fi
mkdir -p "$out"
deb=$out/tributary-edge_${debver}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
