#!/usr/bin/env bash
# Prepares a Debian 12 host (or the build machine) for building and testing LuksVirt:
# installs the Debian packages the project needs, then starts virtlogd and libvirtd where no
# init system manages them, and waits for libvirt's socket. Idempotent; fast when all is there.
set -euo pipefail

packages=(
  cryptsetup-bin libcryptsetup12 libcryptsetup-dev dmsetup lvm2
  libvirt-daemon-system libvirt-clients libvirt-dev
  qemu-system-x86 qemu-utils ovmf seabios
  dosfstools mtools fdisk util-linux
  libssl3 procps systemd strace
  dpkg-dev fakeroot lintian scdoc bash-completion man-db prometheus-node-exporter prometheus
  tang clevis clevis-luks jose luksmeta socat python3 jq iptables
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
fi

# Without udevd nothing applies Debian's rule for /dev/kvm (root:kvm 0660). Left root-only,
# libvirt finds KVM "no longer usable" at every call and re-probes QEMU's capabilities for
# seconds each time (seen: 30-60 s per `virsh define`).
if [ -c /dev/kvm ] && getent group kvm >/dev/null && [ "$(stat -c %G:%a /dev/kvm)" != kvm:660 ]; then
  chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
fi

socket=/run/libvirt/libvirt-sock
# With systemd as PID 1 the units own the daemons; only start them by hand where nothing does.
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
  systemctl start virtlogd.socket libvirtd.socket libvirtd.service >/dev/null 2>&1 || true
else
  pgrep -x virtlogd >/dev/null || virtlogd --daemon
  if ! pgrep -x libvirtd >/dev/null; then
    mkdir -p /var/log/libvirt
    libvirtd --daemon
  fi
fi

for _ in $(seq 1 100); do
  [ -S "$socket" ] && virsh -q -c qemu:///system uri >/dev/null 2>&1 && break
  sleep 0.1
done
if ! [ -S "$socket" ]; then
  echo "setup: libvirtd did not come up (no $socket); see /var/log/libvirt/" >&2
  exit 1
fi
echo "setup: ready (libvirtd at $socket)"
