# Lab test: the two-person rule with real hot-plug. The dmcrypt disk's slot 1 is a 2-of-3
# quorum (`luksvirt keys add --quorum 2`, holders alice, bob, carol); each holder's share goes on
# a stick of its own. Under `luksvirt watch`, alice's stick alone opens nothing (the log says who
# is awaited), carol's, plugged in afterwards, opens the disk and starts the guest. Nothing is
# written to the sticks.
. "$LAB_REPO/scripts/lab/lib.sh"
web_guest /tmp/decrypt-run-vms.xml /tmp/admin.key
mkdir -m 0700 /tmp/shares
check keys-add-quorum "keys add --quorum 2 --holder alice --holder bob --holder carol" \
  "$LUKSVIRT" keys add --container "$crypted/web-d0.raw.crypted" --key-file /tmp/admin.key \
  --holder alice --holder bob --holder carol --quorum 2 --keys-out /tmp/shares
cat /tmp/check.out
shred -u /tmp/admin.key
for h in alice carol; do
  key_stick "/lab-share/stick-$h.img" /tmp/shares/luks-$h.*
done
alice_sum=$(sha256sum </lab-share/stick-alice.img)

"$LUKSVIRT" watch --config /tmp/decrypt-run-vms.xml >/tmp/watch.out 2>&1 &
watch_pid=$!
sleep 3
echo "LAB-REQUEST plug alice stick-alice.img"
wait_for 120 grep -q "quorum not met: " /tmp/watch.out
check waiting-logged "alice's stick alone: the log says who is awaited" \
  grep -q "1 of 2 holders present (alice), waiting for bob or carol, 15 min left" /tmp/watch.out
check_eq off-after-one "one share: guest web stays off" "shut off" "$(virsh -q domstate web 2>&1)"
check no-mapping-after-one "one share: no mapping" sh -c "! test -e /dev/mapper/$mapping"

t0=$(date +%s.%N)
echo "LAB-REQUEST plug carol stick-carol.img"
wait_for 120 sh -c 'test "$(virsh -q domstate web)" = running'
echo "LAB-TIME kth-share-plug-to-running $(echo "$(date +%s.%N) - $t0" | bc)"
kill "$watch_pid"
wait "$watch_pid"
grep -v "│\\|┌\\|└\\|├" /tmp/watch.out | tail -15
check_eq running-after-two "carol's stick completes the quorum: guest web runs" running "$(virsh -q domstate web 2>&1)"
check opened-by-quorum "the disk was opened by alice+carol" grep -q "alice+carol" /tmp/watch.out
check_eq stick-unchanged "nothing written to alice's stick" "$alice_sum" "$(sha256sum </lab-share/stick-alice.img)"
