# lab-init: systemd
# lab-timeout: 600
# Lab test: the udev entry point end to end, with systemd as PID 1. LuksVirt is installed as an
# administrator would (packaging/install.sh --udev: binary, units, udev rule, reloads); the host
# hot-plugs a stick on xhci; systemd-udevd applies 99-luksvirt-usb.rules, systemd starts
# luksvirt-usb@sdX.service with all its hardening, and the dmcrypt guest runs. Nothing is run by
# hand between the plug-in and the running guest. Then the same with the watch service,
# luksvirt.service, instead of the udev rule.
. "$LAB_REPO/scripts/lab/lib.sh"
check_eq pid1-systemd "PID 1 is systemd" systemd "$(cat /proc/1/comm)"
# The unit runs `luksvirt usb` without --config: the default file.
web_guest /etc/luksvirt/luksvirt.xml /tmp/stick/luks-admin.0.key
stick=/lab-share/stick.img
key_stick "$stick" /tmp/stick/luks-admin.0.key
rm -f /tmp/stick/luks-admin.0.key
stick_sum=$(sha256sum <"$stick")

check install "packaging/install.sh --udev installs binary, units and rule" \
  bash "$LAB_REPO/packaging/install.sh" --udev --binary "$LUKSVIRT"
cat /tmp/check.out
check unit-known "systemd knows luksvirt-usb@.service" systemctl cat luksvirt-usb@.service

t0=$(date +%s.%N)
echo "LAB-REQUEST plug stick stick.img"
wait_for 30 sh -c 'ls /sys/block | grep -q "^sd"'
dev=$(ls /sys/block | grep '^sd' | head -1)
unit=luksvirt-usb@$dev.service
wait_for 120 sh -c 'test "$(virsh -q domstate web)" = running'
echo "LAB-TIME plug-to-running $(echo "$(date +%s.%N) - $t0" | bc)"
wait_for 30 sh -c "test \"\$(systemctl show -P ActiveState $unit)\" != activating"
journalctl --no-pager -o cat -u "$unit" | grep -v "│\\|┌\\|└\\|├" | tail -20
check_eq unit-result "systemd ran $unit to success" success "$(systemctl show -P Result "$unit" 2>&1)"
# Started by systemd because of the rule (this test never starts it; without the rule, below,
# no such unit runs), exactly once. A later "change" event (`udevadm trigger`, as package
# upgrades run it) must not start it again: a locked host would unlock with the stick still in.
unit_runs() { journalctl -o cat | grep -c '^Starting luksvirt-usb@'; }
check_eq unit-ran-once "luksvirt-usb@ started once" 1 "$(unit_runs)"
udevadm trigger --action=change --settle "/sys/block/$dev"
sleep 3
check_eq change-no-rerun "a change event on the stick does not start it again" 1 "$(unit_runs)"
check_eq guest-running "guest web runs" running "$(virsh -q domstate web 2>&1)"
check_eq mapping-owner "mapping owned by libvirt-qemu:kvm" libvirt-qemu:kvm "$(stat -L -c %U:%G /dev/mapper/$mapping 2>&1)"
check_eq link-target "link points to the mapping" "/dev/mapper/$mapping" "$(readlink $link 2>&1)"
check_eq stick-unchanged "nothing written to the stick" "$stick_sum" "$(sha256sum <"$stick")"
check log-written "the unit's run is in /var/log/luksvirt.log" grep -q "unlock done: 1/1" /var/log/luksvirt.log

# The other entry point, the watch service, under the same systemd: lock, pull the stick, take
# the udev rule out (one entry point at a time), start luksvirt.service (Type=notify: active only
# once luksvirt says READY=1), plug the stick in again: the guest runs again.
check lock-exit "luksvirt lock exits 0" "$LUKSVIRT" lock --timeout 1
echo "LAB-REQUEST unplug stick"
wait_for 30 sh -c '! ls /sys/block | grep -q "^sd"'
rm /etc/udev/rules.d/99-luksvirt-usb.rules && udevadm control --reload-rules
check watch-started "systemctl start luksvirt.service returns once the watch is ready" systemctl start luksvirt.service
check_eq watch-active "luksvirt.service is active" active "$(systemctl is-active luksvirt.service)"
echo "LAB-REQUEST plug stick2 stick.img"
wait_for 120 sh -c 'test "$(virsh -q domstate web)" = running'
journalctl --no-pager -o cat -u luksvirt.service | grep -v "│\\|┌\\|└\\|├" | tail -12
check_eq watch-guest-running "with luksvirt.service, plugging the stick in runs guest web again" running "$(virsh -q domstate web 2>&1)"
check_eq watch-still-active "luksvirt.service still active after the unlock" active "$(systemctl is-active luksvirt.service)"
check_eq watch-stick-unchanged "nothing written to the stick" "$stick_sum" "$(sha256sum <"$stick")"
check_eq no-usb-unit-without-rule "without the rule, plugging in started no luksvirt-usb@ unit" 1 "$(unit_runs)"
