#!/bin/busybox sh
# PID 1 of the lab's initramfs: mounts the build machine's root (9p, read-only) under an
# overlay with tmpfs on top and switches into it, so the guest runs the host's own binaries.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in virtio_pci 9pnet_virtio 9p overlay; do modprobe "$m" || echo "LAB-INIT modprobe $m failed"; done
mkdir -p /lower /rw /newroot
# cache=loose: the host root is read-only for the whole run, so caching is safe and much faster.
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower; then
  echo "LAB-FATAL cannot mount hostroot over 9p"; echo o > /proc/sysrq-trigger
fi
mount -t tmpfs -o size=1200m,mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
if ! mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot; then
  echo "LAB-FATAL cannot mount the overlay"; echo o > /proc/sysrq-trigger
fi
mount --move /dev /newroot/dev
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
exec switch_root /newroot /bin/sh "$(sed -n 's/.*lab\.init=\([^ ]*\).*/\1/p' /newroot/proc/cmdline)"
