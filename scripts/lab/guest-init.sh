#!/bin/sh
# PID 1 of the lab guest after switch_root into the overlay over the host's root. Prepares a
# clean runtime (fresh /run, /tmp, no host libvirt domains), loads the modules the tests need,
# starts virtlogd + libvirtd, runs the test script named by lab.script= on the kernel command
# line, prints LAB-DONE and powers off. Test scripts print `LAB-RESULT name PASS|FAIL detail`.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
# After sysrq o the 9p root goes away: wait with shell builtins only, nothing from disk.
poweroff_now() { sync; echo o > /proc/sysrq-trigger; while :; do :; done; }
trap poweroff_now EXIT

echo "LAB-BOOTED uptime=$(cut -d' ' -f1 /proc/uptime)"
# The repository may live under a directory replaced below (CI clones into /tmp): keep it
# reachable at /lab-repo first. This script itself goes on through its open descriptor.
repo=$(arg lab.repo) script=$(arg lab.script)
mkdir -p /lab-repo && mount --bind "$repo" /lab-repo || { echo "LAB-FATAL cannot reach $repo"; exit 1; }
case $script in "$repo"/*) script=/lab-repo/${script#"$repo"/} ;; esac
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /dev/pts /dev/shm /dev/mapper
mount -t devpts -o gid=5,mode=0620 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
hostname lab
# A writable directory shared with the host (e.g. stick images the host attaches over USB).
mkdir -p /lab-share && mount -t 9p -o trans=virtio,version=9p2000.L labshare /lab-share

for m in loop dm-mod dm-crypt xts ecb cbc aes_generic sha256_generic algif_skcipher \
         vfat nls_cp437 nls_iso8859-1 usb-storage xhci_pci xhci_hcd sd_mod; do
  modprobe "$m" 2>/dev/null || echo "LAB-WARN modprobe $m failed"
done
[ -c /dev/mapper/control ] || mknod /dev/mapper/control c 10 236

# The host's own domains, secrets and runtime state are not the lab's. Hidden under empty
# tmpfs mounts, not deleted in the overlay: the host keeps defining domains while the lab runs,
# and new files would show through the read-only lower layer.
for d in /etc/libvirt/qemu /etc/libvirt/secrets /var/lib/libvirt/qemu /var/log/libvirt \
         /var/lib/libvirt/images /var/lib/libvirt/images-crypted /etc/luksvirt /var/lib/luksvirt; do
  mkdir -p "$d" && mount -t tmpfs -o mode=0755 tmpfs "$d"
done
chmod 0700 /etc/libvirt/secrets
# The host's own luksvirt log is not the lab's (removed in the overlay only).
rm -f /var/log/luksvirt.log
chown libvirt-qemu:libvirt-qemu /var/lib/libvirt/qemu && chmod 0751 /var/lib/libvirt/qemu
mkdir -p /var/log/libvirt /run/libvirt

# A test that starts with "# lab-init: systemd" gets systemd as PID 1: libvirtd, udevd and the
# test come from units (scripts/lab/systemd/), as on a real host.
if grep -q '^# lab-init: systemd' "$script"; then
  : >/etc/fstab   # the host's fstab is not the lab's; the overlay root is already mounted
  cp /lab-repo/scripts/lab/systemd/lab.target /lab-repo/scripts/lab/systemd/lab-test.service /etc/systemd/system/
  echo "LAB_SCRIPT=$script" >/run/lab-test.env
  echo "LAB-SYSTEMD exec /lib/systemd/systemd uptime=$(cut -d' ' -f1 /proc/uptime)"
  exec /lib/systemd/systemd --unit=lab.target
fi

virtlogd --daemon
libvirtd --daemon
i=0
until virsh -q -c qemu:///system uri >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -gt 600 ] && { echo "LAB-FATAL libvirtd did not come up"; exit 1; }
  sleep 0.2
done
echo "LAB-READY uptime=$(cut -d' ' -f1 /proc/uptime)"

cd /lab-repo || exit 1
LAB_REPO=/lab-repo sh "$script"
echo "LAB-DONE rc=$? uptime=$(cut -d' ' -f1 /proc/uptime)"
