#!/bin/sh
# PID 1 of the lab guest after switch_root into the overlay over the host's root. Prepares a
# clean runtime (fresh /run, /tmp, no host libvirt domains), loads the modules the tests need,
# starts virtlogd + libvirtd, runs the test script named by lab.script= on the kernel command
# line, prints LAB-DONE and powers off. Test scripts print `LAB-RESULT name PASS|FAIL detail`.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
poweroff_now() { sync; echo o > /proc/sysrq-trigger; sleep 30; }
trap poweroff_now EXIT

echo "LAB-BOOTED uptime=$(cut -d' ' -f1 /proc/uptime)"
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /dev/pts /dev/shm /dev/mapper
mount -t devpts -o gid=5,mode=0620 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
hostname lab

for m in loop dm-mod dm-crypt xts ecb cbc aes_generic sha256_generic algif_skcipher \
         vfat nls_cp437 nls_iso8859-1 usb-storage xhci_pci xhci_hcd sd_mod; do
  modprobe "$m" 2>/dev/null || echo "LAB-WARN modprobe $m failed"
done
[ -c /dev/mapper/control ] || mknod /dev/mapper/control c 10 236

# The host's own domains, secrets and runtime state are not the lab's: hide them.
rm -rf /etc/libvirt/qemu/*.xml /etc/libvirt/qemu/autostart /etc/libvirt/secrets/* \
       /var/lib/libvirt/qemu/* /var/log/libvirt/qemu/* /etc/luksvirt /var/lib/luksvirt 2>/dev/null
mkdir -p /var/log/libvirt /run/libvirt
virtlogd --daemon
libvirtd --daemon
i=0
until virsh -q -c qemu:///system uri >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -gt 600 ] && { echo "LAB-FATAL libvirtd did not come up"; exit 1; }
  sleep 0.2
done
echo "LAB-READY uptime=$(cut -d' ' -f1 /proc/uptime)"

script=$(arg lab.script)
cd "$(arg lab.repo)" || exit 1
LAB_REPO=$(pwd) sh "$script"
echo "LAB-DONE rc=$? uptime=$(cut -d' ' -f1 /proc/uptime)"
