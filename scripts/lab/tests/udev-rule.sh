# Lab test: the udev entry point. With systemd-udevd running and packaging/99-luksvirt-usb.rules
# installed, a stick really hot-plugged on xhci gets SYSTEMD_WANTS=luksvirt-usb@sdX.service from
# the rule (read back with udevadm info: the rule matched the real event). There is no systemd
# as PID 1 in the lab, so the unit's ExecStart line, taken from packaging/luksvirt-usb@.service
# with %I = sdX, is run by hand: the dmcrypt guest runs, nothing written to the stick.
. "$LAB_REPO/scripts/lab/lib.sh"
# The unit runs `luksvirt usb` without --config: the default file.
web_guest /etc/luksvirt/luksvirt.xml /tmp/stick/luks-admin.0.key
stick=/lab-share/stick.img
key_stick "$stick" /tmp/stick/luks-admin.0.key
rm -f /tmp/stick/luks-admin.0.key
stick_sum=$(sha256sum <"$stick")

cp "$LAB_REPO/packaging/99-luksvirt-usb.rules" /etc/udev/rules.d/
/lib/systemd/systemd-udevd --daemon
udevadm settle --timeout=30

udevadm monitor --kernel --udev --property --subsystem-match=block >/tmp/udev-monitor.out 2>&1 &
monitor_pid=$!
echo "LAB-REQUEST plug stick stick.img"
wait_for 30 sh -c 'ls /sys/block | grep -q "^sd"'
udevadm settle --timeout=30
dev=$(ls /sys/block | grep '^sd' | head -1)
check_eq stick-disk "the stick is a whole disk sdX" sd "$(echo "$dev" | cut -c1-2)"
kill "$monitor_pid"
# udev's "add" event for the disk is where systemd picks up SYSTEMD_WANTS (the device unit's
# first appearance). The media "change" event right after it does not match the rule (ACTION
# add only), so the udev database no longer holds the property afterwards: read the event.
wants=$(awk -v dev="/block/$dev " 'BEGIN { RS = "" } index($0, "UDEV") == 1 && $0 ~ /ACTION=add/ && index($0, dev) { print }' /tmp/udev-monitor.out |
  sed -n 's/^SYSTEMD_WANTS=//p')
check_eq rule-matched "udev's add event of $dev asks for luksvirt-usb@$dev.service" "luksvirt-usb@$dev.service" "$wants"
udevadm test --action=add "/sys/block/$dev" 2>&1 | grep -E "SYSTEMD_WANTS" | head -3

exec_start=$(sed -n 's/^ExecStart=//p' "$LAB_REPO/packaging/luksvirt-usb@.service" | sed "s|/usr/local/bin/luksvirt|$LUKSVIRT|; s|%I|$dev|g")
echo "running the unit's ExecStart: $exec_start"
check unit-command "the unit's command exits 0" $exec_start
cat /tmp/check.out
check_eq guest-running "guest web runs" running "$(virsh -q domstate web 2>&1)"
check_eq stick-unchanged "nothing written to the stick" "$stick_sum" "$(sha256sum <"$stick")"
