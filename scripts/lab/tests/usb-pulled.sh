# Lab test: a stick pulled while it is being read. The host attaches the stick with a read
# throttle (QEMU's -drive throttling), so luksvirt is still reading its FAT when the test pulls it
# (device_del). Expected: the read fails as a whole, no key is used (no unlock run, no mapping,
# guest off), `luksvirt watch` survives, and the same stick plugged in again at full speed unlocks.
. "$LAB_REPO/scripts/lab/lib.sh"
web_guest /tmp/decrypt-run-vms.xml /tmp/stick/luks-admin.0.key
stick=/lab-share/stick.img
key_stick "$stick" /tmp/stick/luks-admin.0.key
rm -f /tmp/stick/luks-admin.0.key
stick_sum=$(sha256sum <"$stick")

"$LUKSVIRT" watch --config /tmp/decrypt-run-vms.xml >/tmp/watch.out 2>&1 &
watch_pid=$!
sleep 3

# 8 KiB/s: the kernel's probe and luksvirt's reads of boot sector, FAT and directories take
# tens of seconds, so the pull lands while luksvirt reads.
echo "LAB-REQUEST plug slow stick.img throttling.bps-read=8192"
wait_for 60 grep -q 'medium appeared' /tmp/watch.out
check stick-appeared "luksvirt watch saw the throttled stick appear" grep -q 'medium appeared' /tmp/watch.out
sleep 2
check_eq still-reading "luksvirt has not finished reading the stick 2 s later" "" "$(grep -E 'key\(s\) read|cannot be read|no usable FAT' /tmp/watch.out)"
echo "LAB-REQUEST unplug slow"
wait_for 60 grep -qE 'cannot be read|no usable FAT|Error' /tmp/watch.out
failure=$(grep -E 'cannot be read, no key used|no usable FAT file system' /tmp/watch.out | head -1 | cut -d' ' -f3-)
if [ -n "$failure" ]; then result read-failed PASS "the interrupted read is reported: $failure"
else result read-failed FAIL "no read failure in the watch log: $(tail -5 /tmp/watch.out | tr '\n' ' ')"; fi
check_eq no-keys-read "no key was read from the pulled stick" "" "$(grep 'key(s) read' /tmp/watch.out)"
check_eq no-unlock-run "no unlock run happened" "" "$(grep -i 'unlock finished\|key derivation' /tmp/watch.out)"
check_eq guest-off "guest web not started" "shut off" "$(virsh -q domstate web 2>&1)"
check mapping-absent "no mapping was opened" sh -c "! test -e /dev/mapper/$mapping"
check watch-alive "luksvirt watch survived the pull" kill -0 "$watch_pid"

echo "LAB-REQUEST plug fast stick.img"
wait_for 120 sh -c 'test "$(virsh -q domstate web)" = running'
check_eq replug-unlocks "the same stick plugged in again unlocks: guest web runs" running "$(virsh -q domstate web 2>&1)"
check_eq stick-unchanged "nothing written to the stick" "$stick_sum" "$(sha256sum <"$stick")"
kill "$watch_pid"
cat /tmp/watch.out
