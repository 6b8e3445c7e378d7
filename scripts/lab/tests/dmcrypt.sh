# Lab test: the dmcrypt backend on a real kernel, classic recipe layout and config format.
# unlock opens the mapping, hands it to libvirt-qemu:kvm, links it, starts the guest and wipes
# the keys; lock shuts the guest down, removes the link and closes the mapping.
. "$LAB_REPO/scripts/lab/lib.sh"
keys=/dev/shm/lab-keys
mkdir -p "$keys" && chmod 0700 "$keys"
web_guest /tmp/decrypt-run-vms.xml "$keys/luks-admin.0.key"

timed_unlock /tmp/decrypt-run-vms.xml "$keys"
if [ -L "/dev/mapper/$mapping" ]; then echo "mapper/$mapping is a link"; else echo "mapper/$mapping is a node"; fi | tee /tmp/dm-kind
check mapping-open "cryptsetup sees /dev/mapper/$mapping active" cryptsetup status "$mapping"
check_eq mapping-owner "mapping owned by libvirt-qemu:kvm" libvirt-qemu:kvm "$(stat -L -c %U:%G /dev/mapper/$mapping 2>&1)"
check_eq link-target "link points to the mapping" "/dev/mapper/$mapping" "$(readlink $link 2>&1)"
check_eq guest-running "guest web is running" running "$(virsh -q domstate web 2>&1)"
check_eq keys-wiped "key directory is empty" "" "$(ls -A $keys 2>&1)"

t0=$(date +%s.%N)
check lock-exit "luksvirt lock exits 0" "$LUKSVIRT" lock --config /tmp/decrypt-run-vms.xml --timeout 1
echo "LAB-TIME lock $(echo "$(date +%s.%N) - $t0" | bc)"
cat /tmp/check.out
check mapping-closed "mapping closed" sh -c "! cryptsetup status $mapping >/dev/null 2>&1 && ! test -e /dev/mapper/$mapping"
check link-removed "link removed" sh -c "! test -L $link && ! test -e $link"
check_eq guest-shut-off "guest web shut off" "shut off" "$(virsh -q domstate web 2>&1)"
