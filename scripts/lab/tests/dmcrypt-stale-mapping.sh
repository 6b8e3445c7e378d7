# Lab test (hostile review item 22 and 12): an active mapping of a disk's name is taken as
# "already open" only when it is that disk's container; a missing link is re-created; a mapping
# of another container, or of a copy of it, is refused and left alone; a running guest whose
# link went missing gets it back. Needs device-mapper: the unit tests cover the decision.
. "$LAB_REPO/scripts/lab/lib.sh"
keys=/dev/shm/lab-keys
mkdir -p "$keys" /tmp/keep && chmod 0700 "$keys" /tmp/keep
web_guest /tmp/decrypt-run-vms.xml /tmp/keep/luks-admin.0.key
config=/tmp/decrypt-run-vms.xml
container=$crypted/web-d0.raw.crypted
present() { cp /tmp/keep/luks-admin.0.key "$keys/" && chmod 0600 "$keys/luks-admin.0.key"; }
# unlock_json N: one unlock with the key presented; JSON in /tmp/uN.json, exit code in $rc.
unlock_json() {
  present
  "$LUKSVIRT" unlock --config "$config" --keys "$keys" --json >"/tmp/u$1.json" 2>"/tmp/u$1.err"
  rc=$?
  cat "/tmp/u$1.json" "/tmp/u$1.err"
}
has() { grep -Eq "$2" "$1"; }
lock_all() { "$LUKSVIRT" lock --config "$config" --timeout 1 >/dev/null 2>&1; }

# 1. Running guest, link removed behind its back: the next unlock re-creates it (exit 0).
unlock_json 1
check_eq first-unlock "first unlock exits 0" 0 "$rc"
rm -f "$link"
unlock_json 2
check_eq relink-exit "unlock with the running guest's link missing exits 0" 0 "$rc"
check_eq relink-target "the link points at the mapping again" "/dev/mapper/$mapping" "$(readlink "$link" 2>&1)"
check relink-reported "the report says the link was re-created" has /tmp/u2.json 're-created'
check_eq relink-guest "guest web still running" running "$(virsh -q domstate web 2>&1)"

# 2. Guest off, the mapping of this container left open by hand, link gone: taken as already
#    open (no key derivation), link re-created, guest started.
lock_all
cryptsetup open --key-file /tmp/keep/luks-admin.0.key "$container" "$mapping"
rm -f "$link"
unlock_json 3
check_eq reopen-exit "unlock over a mapping of its own container exits 0" 0 "$rc"
check reopen-already-open "the disk is reported AlreadyOpen" has /tmp/u3.json '"outcome": "AlreadyOpen"'
check_eq reopen-link "the link was re-created" "/dev/mapper/$mapping" "$(readlink "$link" 2>&1)"
check_eq reopen-guest "guest web running" running "$(virsh -q domstate web 2>&1)"
check_eq reopen-owner "mapping owned by libvirt-qemu:kvm" libvirt-qemu:kvm "$(stat -L -c %U:%G "/dev/mapper/$mapping" 2>&1)"

# 3. Guest off, a mapping of the same name open on ANOTHER container: refused, left alone.
lock_all
head -c 64 /dev/urandom >/tmp/keep/other.key
make_container /tmp/other.crypted /tmp/keep/other.key
cryptsetup open --key-file /tmp/keep/other.key /tmp/other.crypted "$mapping"
unlock_json 4
check_eq other-exit "unlock refuses a mapping of another container (exit 1)" 1 "$rc"
check other-reason "the disk names the other container" has /tmp/u4.json 'open on another LUKS container'
check_eq other-guest "guest web stays off" "shut off" "$(virsh -q domstate web 2>&1)"
check other-untouched "the other container's mapping stays open" cryptsetup status "$mapping"
check other-no-link "no link to the foreign mapping" sh -c "! test -L $link"
cryptsetup close "$mapping"

# 4. A copy of the container (same LUKS UUID) open under the name: refused as a copy.
cp "$container" /tmp/copy.crypted
cryptsetup open --key-file /tmp/keep/luks-admin.0.key /tmp/copy.crypted "$mapping"
unlock_json 5
check_eq copy-exit "unlock refuses a mapping of a copy (exit 1)" 1 "$rc"
check copy-reason "the disk says it is a copy" has /tmp/u5.json 'a copy\?'
check_eq copy-guest "guest web stays off" "shut off" "$(virsh -q domstate web 2>&1)"
cryptsetup close "$mapping"

# 5. Nothing left open: a normal unlock and lock still work.
unlock_json 6
check_eq clean-exit "a normal unlock afterwards exits 0" 0 "$rc"
lock_all
check clean-closed "lock closes the mapping" sh -c "! cryptsetup status $mapping >/dev/null 2>&1"
check clean-unlinked "lock removes the link" sh -c "! test -L $link"
