# Lab test: a guest with two dmcrypt disks and a key for only one of them is not started, and
# the mapping that did open is closed again (no half-unlocked guest left behind).
. "$LAB_REPO/scripts/lab/lib.sh"
crypted=/var/lib/libvirt/images-crypted images=/var/lib/libvirt/images keys=/dev/shm/lab-keys
mkdir -p "$crypted" "$images" "$keys" /tmp/other
chmod 0700 "$keys"
head -c 64 /dev/urandom >"$keys/luks-admin.0.key"
head -c 64 /dev/urandom >/tmp/other/luks-other.0.key
make_container "$crypted/db-d0.raw.crypted" "$keys/luks-admin.0.key"
make_container "$crypted/db-d1.raw.crypted" /tmp/other/luks-other.0.key
define_domain db "$images/db-d0.raw.decrypted" "$images/db-d1.raw.decrypted"
classic_config /tmp/decrypt-run-vms.xml db "$crypted/db-d0.raw.crypted=$images/db-d0.raw.decrypted" "$crypted/db-d1.raw.crypted=$images/db-d1.raw.decrypted"

"$LUKSVIRT" unlock --config /tmp/decrypt-run-vms.xml --keys "$keys" >/tmp/unlock.out 2>&1
rc=$?
cat /tmp/unlock.out
check_eq unlock-reports-failure "unlock exits 1 (a guest could not be started)" 1 "$rc"
check d0-key-found "d0's key was found (so its mapping was really opened and had to be closed)" \
  grep -q "db-d0.raw.crypted: slot 0 opened by key of holder 'admin'" /tmp/unlock.out
check_eq guest-not-started "guest db stays shut off" "shut off" "$(virsh -q domstate db 2>&1)"
check_eq no-mapping-d0 "the opened mapping of d0 is closed again" "" "$(dmsetup ls --target crypt 2>&1 | grep luks-db || true)"
check no-link-d0 "no link left for d0" sh -c "! test -L $images/db-d0.raw.decrypted"
check no-link-d1 "no link for d1" sh -c "! test -L $images/db-d1.raw.decrypted"
