# Lab test: the dmcrypt test again with systemd-udevd running, as on a real host. Then udev's
# dm rules make /dev/mapper/NAME a symbolic link to ../dm-N instead of a device node.
. "$LAB_REPO/scripts/lab/lib.sh"
/lib/systemd/systemd-udevd --daemon
udevadm trigger --action=add >/dev/null 2>&1
udevadm settle --timeout=30
check udevd-running "systemd-udevd runs" pidof systemd-udevd
. "$LAB_REPO/scripts/lab/tests/dmcrypt.sh"
check mapping-was-link "with udev, /dev/mapper entries are links" grep -q "mapper/luks-web-d0.raw.decrypted is a link" /tmp/dm-kind
