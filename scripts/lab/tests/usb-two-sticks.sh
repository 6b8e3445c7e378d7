# Lab test: two sticks with the same key plugged in at once while `luksvirt watch` runs: one
# unlock starts the guest, the other stick's run finds it already running (no second start,
# one mapping).
. "$LAB_REPO/scripts/lab/lib.sh"
web_guest /tmp/decrypt-run-vms.xml /tmp/stick/luks-admin.0.key
for s in a b; do
  key_stick "/lab-share/stick-$s.img" /tmp/stick/luks-admin.0.key
done
rm -f /tmp/stick/luks-admin.0.key

"$LUKSVIRT" watch --config /tmp/decrypt-run-vms.xml >/tmp/watch.out 2>&1 &
watch_pid=$!
sleep 3
echo "LAB-REQUEST plug sticka stick-a.img"
echo "LAB-REQUEST plug stickb stick-b.img"
wait_for 30 sh -c '[ "$(ls /sys/block | grep -c "^sd")" = 2 ]'
check_eq two-sticks-seen "the kernel sees two sticks" 2 "$(ls /sys/block | grep -c '^sd')"
wait_for 120 sh -c 'test "$(virsh -q domstate web)" = running'
# Let the second stick's run finish too.
wait_for 60 sh -c '[ "$(grep -c "unlock done" /tmp/watch.out)" -ge 2 ]'
sleep 2
kill "$watch_pid"
cat /tmp/watch.out | grep -v "│\\|┌\\|└\\|├"
check_eq guest-running "guest web runs" running "$(virsh -q domstate web 2>&1)"
check_eq one-start "the guest was started once" 1 "$(grep -c 'notice: web: running' /tmp/watch.out)"
check_eq one-mapping "one mapping" 1 "$(dmsetup ls --target crypt | grep -c luks-web)"
