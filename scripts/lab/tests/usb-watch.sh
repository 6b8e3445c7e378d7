# Lab test: a USB stick really plugged in. `luksvirt watch --lock-on-removal` runs; the host
# attaches a FAT image holding the key as usb-storage on qemu-xhci (a real hot-plug uevent):
# the dmcrypt disk is mapped, owned by libvirt-qemu:kvm, linked, the guest runs, nothing was
# written to the stick. Pulling the stick (device_del) locks: guest off, link gone, mapping closed.
. "$LAB_REPO/scripts/lab/lib.sh"
web_guest /tmp/decrypt-run-vms.xml /tmp/stick/luks-admin.0.key
stick=/lab-share/stick.img
key_stick "$stick" /tmp/stick/luks-admin.0.key
rm -f /tmp/stick/luks-admin.0.key
stick_sum=$(sha256sum <"$stick") container_sum=$(sha256sum <"$crypted/web-d0.raw.crypted")

"$LUKSVIRT" watch --config /tmp/decrypt-run-vms.xml --lock-on-removal --lock-timeout 1 >/tmp/watch.out 2>&1 &
watch_pid=$!
sleep 3

t0=$(date +%s.%N)
echo "LAB-REQUEST plug stick stick.img"
wait_for 30 sh -c 'ls /sys/bus/usb/drivers/usb-storage/ | grep -q :'
check stick-seen "the kernel sees a usb-storage device" sh -c 'ls /sys/bus/usb/drivers/usb-storage/ | grep -q :'
ls /sys/bus/usb/drivers/usb-storage/ | grep -q : || { kill "$watch_pid"; cat /tmp/watch.out; exit 1; }
wait_for 120 sh -c 'test "$(virsh -q domstate web)" = running'
echo "LAB-TIME plug-to-running $(echo "$(date +%s.%N) - $t0" | bc)"
check_eq guest-running "guest web runs after plug-in" running "$(virsh -q domstate web 2>&1)"
check mapping-open "mapping active" cryptsetup status "$mapping"
check_eq mapping-owner "mapping owned by libvirt-qemu:kvm" libvirt-qemu:kvm "$(stat -L -c %U:%G /dev/mapper/$mapping 2>&1)"
check_eq link-target "link points to the mapping" "/dev/mapper/$mapping" "$(readlink $link 2>&1)"

t0=$(date +%s.%N)
echo "LAB-REQUEST unplug stick"
wait_for 90 sh -c "test \"\$(virsh -q domstate web)\" = 'shut off' && ! test -e /dev/mapper/$mapping"
echo "LAB-TIME unplug-to-locked $(echo "$(date +%s.%N) - $t0" | bc)"
check_eq removal-locks-guest "pulling the stick shuts the guest off" "shut off" "$(virsh -q domstate web 2>&1)"
check mapping-closed "mapping closed after removal" sh -c "! cryptsetup status $mapping >/dev/null 2>&1"
check link-removed "link removed after removal" sh -c "! test -L $link"
check_eq stick-unchanged "nothing written to the stick" "$stick_sum" "$(sha256sum <"$stick")"
check_eq container-unchanged "nothing written to the container" "$container_sum" "$(sha256sum <"$crypted/web-d0.raw.crypted")"
kill "$watch_pid"
cat /tmp/watch.out
