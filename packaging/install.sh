#!/usr/bin/env bash
# Installs LuksVirt on a systemd host: the NativeAOT binary, the watch service
# (luksvirt.service), the udev entry point (luksvirt-usb@.service, and with --udev its rule),
# a sample configuration and the service documentation. Run as root from a checkout after
#   dotnet publish src/LuksVirt -c Release -r linux-x64 -o artifacts/bin
#
#   packaging/install.sh [--udev] [--binary PATH] [--prefix DIR]
#
#   --udev         install 99-luksvirt-usb.rules as well: udev then starts luksvirt-usb@sdX for
#                  every removable USB disk. Use it instead of luksvirt.service, not with it.
#   --binary PATH  the luksvirt binary to install (default: artifacts/bin/luksvirt)
#   --prefix DIR   where the binary and documentation go (default: /usr/local)
#
# DESTDIR=/some/dir installs below that directory (packaging, tests): nothing outside it is
# touched, and systemd and udev are not reloaded. Never overwrites /etc/luksvirt/luksvirt.xml.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
binary=$repo/artifacts/bin/luksvirt
prefix=/usr/local
udev=no
destdir=${DESTDIR:-}

while (($#)); do
  case $1 in
    --udev) udev=yes ;;
    --binary) binary=${2:?--binary needs a path}; shift ;;
    --prefix) prefix=${2:?--prefix needs a directory}; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

case $prefix in
  /*) ;;
  *) echo "install.sh: --prefix must be an absolute directory" >&2; exit 2 ;;
esac

if [ ! -x "$binary" ]; then
  echo "install.sh: no executable at $binary; build it first:" >&2
  echo "  dotnet publish src/LuksVirt -c Release -r linux-x64 -o artifacts/bin" >&2
  exit 2
fi

if [ -z "$destdir" ] && [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (or set DESTDIR to install into a staging directory)" >&2
  exit 2
fi

bindir=$prefix/bin
docdir=$prefix/share/doc/luksvirt
unitdir=/etc/systemd/system
ruledir=/etc/udev/rules.d
confdir=/etc/luksvirt

# The units name the binary and the documentation by absolute path: follow --prefix.
unit() {
  sed -e "s|/usr/local/bin/luksvirt|$bindir/luksvirt|g" \
      -e "s|/usr/local/share/doc/luksvirt|$docdir|g" "$here/$1" > "$2"
  chmod 0644 "$2"
}

install -d -m 0755 "$destdir$bindir" "$destdir$docdir" "$destdir$unitdir"
install -m 0755 "$binary" "$destdir$bindir/luksvirt"
install -m 0644 "$repo/docs/usb-and-service.md" "$destdir$docdir/usb-and-service.md"
unit luksvirt.service "$destdir$unitdir/luksvirt.service"
unit luksvirt-usb@.service "$destdir$unitdir/luksvirt-usb@.service"

if [ "$udev" = yes ]; then
  install -d -m 0755 "$destdir$ruledir"
  install -m 0644 "$here/99-luksvirt-usb.rules" "$destdir$ruledir/99-luksvirt-usb.rules"
fi

# The configuration directory is root's alone; the sample never replaces a real file.
install -d -m 0700 "$destdir$confdir"
install -m 0600 "$here/luksvirt.xml.sample" "$destdir$confdir/luksvirt.xml.sample"

# State without secrets, and the log file (created 0600 so that it never starts out readable).
install -d -m 0700 "$destdir/var/lib/luksvirt"
install -d -m 0755 "$destdir/var/log"
if [ ! -e "$destdir/var/log/luksvirt.log" ]; then
  install -m 0600 /dev/null "$destdir/var/log/luksvirt.log"
fi

echo "installed luksvirt to $destdir$bindir/luksvirt"
if [ -n "$destdir" ]; then
  exit 0
fi

if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
  systemctl daemon-reload
fi
if [ "$udev" = yes ] && command -v udevadm >/dev/null; then
  udevadm control --reload-rules
fi

echo "next:"
if [ "$udev" = yes ]; then
  echo "  plugging in a removable USB stick now starts luksvirt-usb@<device>.service (journalctl -u 'luksvirt-usb@*')"
else
  echo "  systemctl enable --now luksvirt.service    # the watch service (journalctl -u luksvirt)"
fi
echo "  luksvirt doctor                             # host checks"
