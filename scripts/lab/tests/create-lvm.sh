# Lab test: `luksvirt create` on LVM (issue 6). A volume group on a loop device; create makes
# the LV with lvcreate (no udevd here: LuksVirt then runs the lvm2 tools with DM_DISABLE_UDEV=1,
# else lvcreate cannot find the new LV to wipe), formats it LUKS2 for the dmcrypt backend,
# writes the holder's and the recovery key files (0600), adds the config entry and defines a
# minimal domain (type qemu) around it. A second create on the existing LV, and one on its
# device node without --force, are refused and change nothing. unlock with only the holder's
# key opens the mapping on the LV, links it and starts the guest; lock closes it.
. "$LAB_REPO/scripts/lab/lib.sh"
work=/tmp/lab-lvm images=/var/lib/libvirt/images keys=/dev/shm/lab-keys
vg=labvg lv=lvguest-d0 vm=lvguest
mkdir -p "$work" "$images"
config=$work/luksvirt.xml
printf '<vms>\n</vms>\n' >"$config"
chmod 0600 "$config"

truncate -s 96M /var/tmp/lab-pv.img
loop=$(losetup -f --show /var/tmp/lab-pv.img)
check pvcreate "pvcreate $loop" pvcreate -y "$loop"
check vgcreate "vgcreate $vg $loop" vgcreate "$vg" "$loop"

t0=$(date +%s.%N)
check create-exit "luksvirt create --disk $vg/$lv --size 32M --backend dmcrypt exits 0" \
  "$LUKSVIRT" create --vm "$vm" --disk "$vg/$lv" --size 32M --backend dmcrypt --holder admin \
  --keys-out "$work/keys" --config "$config" --define-domain --domain-type qemu
echo "LAB-TIME create $(echo "$(date +%s.%N) - $t0" | bc)"
cp /tmp/check.out /tmp/create.out
cat /tmp/create.out
check create-warns-old-extents "create warns that a new LV's extents may hold old data" grep -q 'may reuse extents of deleted volumes' /tmp/create.out
dev=/dev/$vg/$lv link=$images/$lv.decrypted mapping=luks-$lv.decrypted
check_eq lv-created "lvs: $vg/$lv exists with 32 MiB" 33554432 \
  "$(lvs --noheadings --nosuffix --units b -o lv_size "$vg/$lv" 2>&1 | tr -d ' ')"
check is-luks "cryptsetup isLuks $dev" cryptsetup isLuks "$dev"
check_eq luks2 "luksDump: LUKS version 2" 2 "$(cryptsetup luksDump "$dev" 2>&1 | sed -n 's/^Version:[[:space:]]*//p')"
check_eq key-files "key files luks-admin.0.key and luks-recovery.31.key, nothing else" \
  "luks-admin.0.key luks-recovery.31.key" "$(ls "$work/keys" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
check_eq key-modes "key files 0600, directory 0700" "700 600 600" \
  "$(stat -c %a "$work/keys" "$work/keys/luks-admin.0.key" "$work/keys/luks-recovery.31.key" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
check admin-key-slot0 "the admin key opens slot 0" \
  cryptsetup open --test-passphrase --key-slot 0 --key-file "$work/keys/luks-admin.0.key" "$dev"
check recovery-key-slot31 "the recovery key opens slot 31" \
  cryptsetup open --test-passphrase --key-slot 31 --key-file "$work/keys/luks-recovery.31.key" "$dev"
cat "$config"
tr -d '\n' <"$config" >/tmp/config.flat
check config-entry "config names $dev -> $link for $vm" \
  grep -q "<vm name=.$vm.>.*<disk source=.$dev. target=.$link." /tmp/config.flat
virsh -q dumpxml --inactive "$vm" >/tmp/dom.xml 2>&1
tr -d '\n' </tmp/dom.xml >/tmp/dom.flat
check domain-disk "domain $vm: block disk vda at $link" \
  grep -q "<disk type=.block. device=.disk.>.*<source dev=.$link.*<target dev=.vda. bus=.virtio." /tmp/dom.flat
check_eq domain-type "domain $vm is type qemu" qemu "$(sed -n "s/^<domain type='\([a-z]*\)'.*/\1/p" /tmp/dom.xml)"
check_eq title-marked "title marked" "$vm [encrypted volume, started by luksvirt]" "$(virsh -q desc --title "$vm" 2>&1)"
check_eq autostart-off "autostart off" disable "$(virsh -q dominfo "$vm" | sed -n 's/^Autostart:[[:space:]]*//p')"

# A second create on the LV that now exists: refused (exit 2), nothing changed.
sums() { { head -c 1M "$dev" | sha256sum; sha256sum "$config"; virsh -q dumpxml --inactive "$vm" | sha256sum; lvs --noheadings -o lv_name "$vg"; } 2>&1; }
before=$(sums)
"$LUKSVIRT" create --vm "$vm" --disk "$vg/$lv" --size 32M --backend dmcrypt --holder admin \
  --keys-out "$work/keys2" --config "$config" >/tmp/create2.out 2>&1
rc=$?
cat /tmp/create2.out
check_eq recreate-refused "second create on the existing LV exits 2" 2 "$rc"
check recreate-says-why "the refusal names the existing volume" grep -q "$dev already exists" /tmp/create2.out
check_eq recreate-unchanged "first MiB, config, domain and LV list unchanged" "$before" "$(sums)"
check recreate-no-keys "no key files written by the refused run" sh -c "! ls -A $work/keys2 2>/dev/null | grep -q ."
# Its device node without --force: refused as an existing LUKS container.
node=$(readlink -f "$dev")
"$LUKSVIRT" create --vm "$vm" --disk "$node" --backend dmcrypt --holder admin \
  --keys-out "$work/keys3" --config "$config" >/tmp/create3.out 2>&1
rc=$?
cat /tmp/create3.out
check_eq node-refused "create on $node without --force exits 2" 2 "$rc"
check node-says-luks "the refusal names the LUKS2 container" grep -qi "is a LUKS2 container" /tmp/create3.out
check_eq node-unchanged "first MiB, config, domain and LV list unchanged" "$before" "$(sums)"

mkdir -p "$keys" && chmod 0700 "$keys"
cp "$work/keys/luks-admin.0.key" "$keys/"
timed_unlock "$config" "$keys"
check mapping-open "cryptsetup status $mapping: active" cryptsetup status "$mapping"
lvdm=$(basename "$(lvs --noheadings -o lv_dm_path "$vg/$lv" | tr -d ' ')")
check_eq mapping-on-lv "the mapping sits on the LV ($lvdm)" "($lvdm)" "$(dmsetup deps -o devname "$mapping" 2>&1 | sed 's/.*: *//')"
check_eq link-target "link points to the mapping" "/dev/mapper/$mapping" "$(readlink "$link" 2>&1)"
check_eq guest-running "guest $vm is running" running "$(virsh -q domstate "$vm" 2>&1)"
check_eq keys-wiped "key directory is empty" "" "$(ls -A "$keys" 2>&1)"

t0=$(date +%s.%N)
check lock-exit "luksvirt lock exits 0" "$LUKSVIRT" lock --config "$config" --timeout 1
echo "LAB-TIME lock $(echo "$(date +%s.%N) - $t0" | bc)"
cat /tmp/check.out
check mapping-closed "mapping closed" sh -c "! cryptsetup status $mapping >/dev/null 2>&1 && ! test -e /dev/mapper/$mapping"
check link-removed "link removed" sh -c "! test -L $link && ! test -e $link"
check_eq guest-shut-off "guest $vm shut off" "shut off" "$(virsh -q domstate "$vm" 2>&1)"
check lv-still-luks "the LV is still a LUKS container after lock" cryptsetup isLuks "$dev"
vgchange -an "$vg" >/dev/null 2>&1
losetup -d "$loop"
