#!/bin/sh
# The classic recipe's USB path (classic-recipe.md, sections 7-8), as the lab's baseline:
# usbmount's part (mount a vfat stick read-only with sync,noexec,nodev,noatime,umask=177) and
# the mount hook (copy every luks-*.key into /dev/shm/lukskeys, root-only, run the unlock
# script, delete the copies). usbmount reacts to udev; without udevd in the lab this waits for
# the stick's block device by polling every 0.1 s, then handles one stick and exits.
# Usage: usb-hook.sh CONFIG
config=$1 here=$(dirname "$0") media=/media/usb0 keys=/dev/shm/lukskeys
known=$(ls /sys/block | grep '^sd' || true)
while :; do
  dev=$(ls /sys/block | grep '^sd' | grep -vxF "${known:-none}" | head -1)
  [ -n "$dev" ] && mount -t vfat -o ro,sync,noexec,nodev,noatime,umask=177 "/dev/$dev" "$media" 2>/dev/null && break
  sleep 0.1
done
mkdir -p "$keys" && chmod 0700 "$keys"
cp "$media"/luks-*.key "$keys"/ 2>/dev/null
chmod 0600 "$keys"/luks-*.key 2>/dev/null
umount "$media"
sh "$here/decrypt-run-vms.sh" "$config" "$keys"
rm -f "$keys"/luks-*.key
