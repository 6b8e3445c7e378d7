#!/usr/bin/env bash
# Builds the lab's initramfs: static busybox, the few modules needed to reach the host root
# over 9p (with their dependencies), and initramfs-init.sh as /init. Everything after
# switch_root (dm-crypt, crypto, vfat, usb-storage...) is loaded by the host's own modprobe from
# the host's /lib/modules/KVER, which the guest sees through 9p.
# Usage: build-initramfs.sh KVER OUTPUT
set -euo pipefail
kver=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d /var/tmp/luksvirt-lab-initramfs.XXXXXX)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,proc,sys,dev,lib/modules/"$kver"}
cp /bin/busybox "$root/bin/busybox"
ln -s ../bin/busybox "$root/sbin/modprobe"
ln -s busybox "$root/bin/sh"
for m in virtio_pci 9pnet_virtio 9p overlay; do
  modprobe -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
done | sort -u | while read -r ko; do
  rel=${ko#/lib/modules/$kver/}
  mkdir -p "$root/lib/modules/$kver/$(dirname "$rel")"
  cp "$ko" "$root/lib/modules/$kver/$rel"
done
cp /lib/modules/"$kver"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$kver/" 2>/dev/null || true
depmod -b "$root" "$kver"
install -m 0755 "$here/initramfs-init.sh" "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out.tmp"
mv "$out.tmp" "$out"
