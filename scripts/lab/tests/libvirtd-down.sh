# Lab test (reliability.md, faults 8): libvirtd down before an unlock, and killed while the
# unlock's key trials run. Each time: a clear error naming the fix, exit 1, the presented keys
# gone (read and wiped, never left behind), no mapping or link left, the guest not running.
# Then libvirtd is started again and a rerun with the key unlocks normally.
. "$LAB_REPO/scripts/lab/lib.sh"
crypted=/var/lib/libvirt/images-crypted images=/var/lib/libvirt/images keys=/dev/shm/lab-keys
mkdir -p "$crypted" "$images" "$keys" /tmp/keep
chmod 0700 "$keys" /tmp/keep
head -c 64 /dev/urandom >/tmp/keep/luks-admin.0.key
# A slow slot (PBKDF2 calibrated to 3 s here), so that libvirtd can be killed mid-trial.
truncate -s 24M "$crypted/web-d0.raw.crypted"
cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --iter-time 3000 \
  --key-file /tmp/keep/luks-admin.0.key "$crypted/web-d0.raw.crypted"
link=$images/web-d0.raw.decrypted mapping=luks-web-d0.raw.decrypted
define_domain web "$link"
classic_config /tmp/decrypt-run-vms.xml web "$crypted/web-d0.raw.crypted=$link"

present() { cp /tmp/keep/luks-admin.0.key "$keys/" && chmod 0600 "$keys/luks-admin.0.key"; }
stop_libvirtd() { pkill -x libvirtd; wait_for 30 sh -c '! pgrep -x libvirtd'; }
start_libvirtd() { libvirtd --daemon; wait_for 120 virsh -q -c qemu:///system uri; }
nothing_left() {
  ! test -e "/dev/mapper/$mapping" && ! test -L "$link" && [ -z "$(ls -A "$keys")" ]
}

# 1. libvirtd down before the run.
stop_libvirtd
present
"$LUKSVIRT" unlock --config /tmp/decrypt-run-vms.xml --keys "$keys" --log /tmp/run1.log >/tmp/run1.out 2>&1
rc=$?
cat /tmp/run1.out
check_eq down-exit "libvirtd down: unlock exits 1" 1 "$rc"
check down-names-fix "the error names libvirtd and how to start it" grep -qi 'libvirtd' /tmp/run1.out
check down-nothing-left "no key, mapping or link left behind" nothing_left

# 2. libvirtd killed while the trials run.
start_libvirtd
present
"$LUKSVIRT" unlock --config /tmp/decrypt-run-vms.xml --keys "$keys" --log /tmp/run2.log >/tmp/run2.out 2>&1 &
pid=$!
wait_for 60 grep -q 'guest(s) in scope' /tmp/run2.log
check_eq trial-running "the unlock reached its trials before libvirtd was killed" "" "$(grep 'opened by key' /tmp/run2.log)"
stop_libvirtd
wait "$pid"
rc=$?
cat /tmp/run2.out
check_eq killed-exit "libvirtd killed mid-run: unlock exits 1" 1 "$rc"
check killed-names-libvirt "the error names the lost libvirt connection" grep -qiE 'libvirt' /tmp/run2.out
check killed-nothing-left "no key, mapping or link left behind" nothing_left

# 3. libvirtd back: a rerun with the key unlocks.
start_libvirtd
check_eq guest-off "the guest did not run meanwhile" "shut off" "$(virsh -q domstate web 2>&1)"
present
check rerun-exit "after libvirtd is back, unlock exits 0" "$LUKSVIRT" unlock --config /tmp/decrypt-run-vms.xml --keys "$keys"
cat /tmp/check.out
check_eq rerun-running "guest web runs" running "$(virsh -q domstate web 2>&1)"
check_eq rerun-link "link points to the mapping" "/dev/mapper/$mapping" "$(readlink $link 2>&1)"
