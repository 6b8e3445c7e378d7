# Lab test: `luksvirt encrypt-vm --backend dmcrypt` (issue 6). A shut-off guest with a raw disk
# of random data (48 MiB + 1000 bytes: not even whole 512-byte sectors) and a qcow2 overlay
# (qemu-io writes) on a random qcow2 base. Each new LUKS2 container is then opened
# independently with `cryptsetup open --key-file` and its payload compared by SHA-256 with the
# source's plaintext (the qcow2 flattened by qemu-img), the padding up to the encryption sector
# being zeros: vda gets 512-byte sectors, vdb 4096-byte ones, where dm-crypt's plain64 IV still
# counts 512-byte units (LuksVirt's own read-back check cannot see that; this test can). The
# domain now has block disks at the links, its title is marked, the config names both, the
# plaintext files are untouched; unlock runs the guest, lock closes it; a rerun has nothing
# left to do.
. "$LAB_REPO/scripts/lab/lib.sh"
work=/tmp/lab-enc images=/var/lib/libvirt/images keys=/dev/shm/lab-keys vm=encvm
mkdir -p "$work" "$images"
config=$work/luksvirt.xml
printf '<vms>\n</vms>\n' >"$config"
chmod 0600 "$config"

d0=$images/$vm-d0.raw d0_size=$((48 * 1024 * 1024 + 1000))
head -c "$d0_size" /dev/urandom >"$d0"
base=$images/$vm-base.qcow2 d1=$images/$vm-d1.qcow2 d1_size=$((32 * 1024 * 1024))
head -c 24M /dev/urandom >"$work/base.raw"
qemu-img convert -f raw -O qcow2 "$work/base.raw" "$base"
rm "$work/base.raw"
qemu-img create -q -f qcow2 -b "$base" -F qcow2 "$d1" "$d1_size"
qemu-io -f qcow2 -c 'write -P 0x5a 1M 1M' -c 'write -P 0xa5 30M 512k' "$d1" >/dev/null
qemu-img convert -f qcow2 -O raw "$d1" "$work/d1.raw"
d0_sha=$(sha256sum <"$d0" | cut -d' ' -f1)
d1_sha=$(sha256sum <"$work/d1.raw" | cut -d' ' -f1)
rm "$work/d1.raw"
files_before=$(sha256sum "$d0" "$d1" "$base")
cat >"$work/dom.xml" <<XML
<domain type='qemu'><name>$vm</name><memory unit='MiB'>32</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/>
<source file='$d0'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
<source file='$d1'/><target dev='vdb' bus='virtio'/></disk>
</devices></domain>
XML
virsh -q define "$work/dom.xml" >/dev/null

t0=$(date +%s.%N)
check encrypt-exit "luksvirt encrypt-vm $vm --backend dmcrypt exits 0" \
  "$LUKSVIRT" encrypt-vm "$vm" --backend dmcrypt --holder admin --keys-out "$work/keys" --config "$config"
echo "LAB-TIME encrypt-vm $(echo "$(date +%s.%N) - $t0" | bc)"
cp /tmp/check.out /tmp/encrypt.out
cat /tmp/encrypt.out
c0=$images/$vm-d0.raw.luks c1=$images/$vm-d1.raw.luks
l0=$images/$vm-d0.raw.decrypted l1=$images/$vm-d1.raw.decrypted
check_eq key-files "key files luks-admin.0.key and luks-recovery.31.key, nothing else" \
  "luks-admin.0.key luks-recovery.31.key" "$(ls "$work/keys" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
check_eq key-modes "key files 0600" "600 600" \
  "$(stat -c %a "$work/keys/luks-admin.0.key" "$work/keys/luks-recovery.31.key" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
check_eq container-modes "containers 0600" "600 600" "$(stat -c %a "$c0" "$c1" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
check_eq no-incomplete "no *.incomplete file left" "" "$(ls "$images" | grep incomplete)"
check padding-warned "encrypt-vm warned that vda is not whole sectors" grep -q "vda: $d0_size bytes is not a whole number of" /tmp/encrypt.out
check report-sha256 "the report's SHA-256 of each disk is that of its plaintext" \
  sh -c "grep -q 'of the decrypted copy: $d0_sha' /tmp/encrypt.out && grep -q 'of the decrypted copy: $d1_sha' /tmp/encrypt.out"

# sector_of CONTAINER: its encryption sector size as cryptsetup reports it.
sector_of() { cryptsetup luksDump "$1" 2>&1 | sed -n 's/^[[:space:]]*sector:[[:space:]]*\([0-9]*\).*/\1/p' | head -1; }
# verify NAME CONTAINER SIZE SHA: LUKS2, both keys on their slots, and the payload opened by
# cryptsetup itself holds exactly the plaintext, then zeros up to a whole encryption sector.
# (Own variable names: check and check_eq set $name and $detail.)
verify() {
  v=$1 container=$2 size=$3 sha=$4 mapped=/dev/mapper/labchk-$1
  check_eq "$v-luks2" "$container: LUKS version 2" 2 "$(cryptsetup luksDump "$container" 2>&1 | sed -n 's/^Version:[[:space:]]*//p')"
  check "$v-recovery-key" "the recovery key opens slot 31 of $container" \
    cryptsetup open --test-passphrase --key-slot 31 --key-file "$work/keys/luks-recovery.31.key" "$container"
  check "$v-open" "cryptsetup open --key-file luks-admin.0.key $container" \
    cryptsetup open --key-file "$work/keys/luks-admin.0.key" "$container" "labchk-$v"
  sector=$(sector_of "$container")
  check_eq "$v-payload-size" "payload = $size bytes rounded up to the $sector-byte sector" \
    $(((size + sector - 1) / sector * sector)) "$(blockdev --getsize64 "$mapped" 2>&1)"
  check_eq "$v-payload-sha256" "sha256 of the first $size payload bytes = the source's plaintext" \
    "$sha" "$(head -c "$size" "$mapped" | sha256sum | cut -d' ' -f1)"
  pad=$(((size + sector - 1) / sector * sector - size))
  check "$v-padding-zero" "the $pad payload bytes past the plaintext are zeros" \
    cmp -i "$size:0" -n "$pad" "$mapped" /dev/zero
  check "$v-close" "cryptsetup close labchk-$v" cryptsetup close "labchk-$v"
}
verify d0 "$c0" "$d0_size" "$d0_sha"
verify d1 "$c1" "$d1_size" "$d1_sha"
check_eq sectors "encryption sectors: vda 512 bytes (odd size), vdb 4096" "512 4096" "$(sector_of "$c0") $(sector_of "$c1")"

virsh -q domblklist --inactive --details "$vm" >/tmp/blk.txt 2>&1
check_eq domain-disks "domain: vda, vdb block disks at the links" \
  "block disk vda $l0|block disk vdb $l1" "$(tr -s ' ' </tmp/blk.txt | sed 's/^ //' | paste -sd'|')"
virsh -q dumpxml --inactive "$vm" >/tmp/dom.xml 2>&1
check_eq domain-raw "both disks raw, no qcow2 or backing store left" "2 0 0" \
  "$(grep -c "driver name='qemu' type='raw'" /tmp/dom.xml) $(grep -c qcow2 /tmp/dom.xml) $(grep -c '<backingStore>' /tmp/dom.xml)"
check_eq title-marked "title marked" "$vm [encrypted volume, started by luksvirt]" "$(virsh -q desc --title "$vm" 2>&1)"
cat "$config"
tr -d '\n' <"$config" >/tmp/config.flat
check config-entries "config names both containers and links for $vm" \
  grep -q "<vm name=.$vm.>.*<disk source=.$c0. target=.$l0.*<disk source=.$c1. target=.$l1." /tmp/config.flat
check_eq plaintext-kept "plaintext files (raw, qcow2 overlay, base) unchanged" "$files_before" "$(sha256sum "$d0" "$d1" "$base" 2>&1)"

mkdir -p "$keys" && chmod 0700 "$keys"
cp "$work/keys/luks-admin.0.key" "$keys/"
timed_unlock "$config" "$keys"
check_eq links "both links point to their mappings" \
  "/dev/mapper/luks-$vm-d0.raw.decrypted /dev/mapper/luks-$vm-d1.raw.decrypted" "$(readlink "$l0" "$l1" 2>&1 | paste -sd' ')"
check_eq guest-running "guest $vm is running" running "$(virsh -q domstate "$vm" 2>&1)"
check_eq keys-wiped "key directory is empty" "" "$(ls -A "$keys" 2>&1)"

check lock-exit "luksvirt lock exits 0" "$LUKSVIRT" lock --config "$config" --timeout 1
cat /tmp/check.out
check_eq guest-shut-off "guest $vm shut off" "shut off" "$(virsh -q domstate "$vm" 2>&1)"
check_eq mappings-closed "no luks-$vm mapping left" "" "$(dmsetup ls --target crypt 2>&1 | grep "luks-$vm" || true)"

# A rerun finds nothing plaintext left: exit 0, no key directory, nothing changed.
xml_before=$(virsh -q dumpxml --inactive "$vm" | sha256sum)
check rerun-exit "encrypt-vm again exits 0" \
  "$LUKSVIRT" encrypt-vm "$vm" --backend dmcrypt --holder admin --keys-out "$work/keys2" --config "$config"
cp /tmp/check.out /tmp/rerun.out
cat /tmp/rerun.out
check rerun-nothing "the rerun says nothing is left to encrypt" grep -q "no plaintext disk left" /tmp/rerun.out
check_eq rerun-unchanged "rerun: no key directory, domain unchanged" "no-keys $xml_before" \
  "$(test -e "$work/keys2" && echo keys2-exists || echo no-keys) $(virsh -q dumpxml --inactive "$vm" | sha256sum)"
