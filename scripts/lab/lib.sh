# Sourced by lab test scripts (inside the lab guest). Results go to the serial console as
# `LAB-RESULT name PASS|FAIL detail`; run.sh on the host parses them.
LUKSVIRT=${LAB_REPO:?}/artifacts/bin/luksvirt
result() { echo "LAB-RESULT $1 $2 ${3:-}"; }
# check NAME DETAIL COMMAND...: PASS when COMMAND succeeds.
check() {
  name=$1 detail=$2; shift 2
  if "$@" >/tmp/check.out 2>&1; then result "$name" PASS "$detail"
  else result "$name" FAIL "$detail: $(tr '\n' ' ' </tmp/check.out | cut -c1-300)"; fi
}
# A fast LUKS2 container (pbkdf2 with few iterations: the lab is emulated) keyed by KEYFILE,
# the key given on standard input.
make_container() {
  truncate -s 24M "$1"
  cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
    --key-file=- "$1" <"$2"
}
# define_domain NAME LINK...: a domain of type qemu (no /dev/kvm in the lab) whose disks are
# the block devices at the LINKs (vda, vdb...).
define_domain() {
  name=$1; shift
  letters=abcdefgh i=1
  {
    echo "<domain type='qemu'><name>$name</name><memory unit='MiB'>32</memory>"
    echo "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
    for link in "$@"; do
      echo "<disk type='block' device='disk'><driver name='qemu' type='raw'/>"
      echo "<source dev='$link'/><target dev='vd$(echo $letters | cut -c$i)' bus='virtio'/></disk>"
      i=$((i + 1))
    done
    echo "</devices></domain>"
  } >/tmp/dom-$name.xml
  virsh -q define "/tmp/dom-$name.xml" >/dev/null
}
# classic_config FILE VM SOURCE=TARGET...: the classic recipe's decrypt-run-vms.xml, written
# exactly in its format (one <vm>, its disks), root-only.
classic_config() {
  file=$1 vm=$2; shift 2
  {
    echo "<vms>"
    echo "  <vm name='$vm'>"
    echo "    <luks>"
    for pair in "$@"; do
      echo "      <disk source='${pair%%=*}'"
      echo "            target='${pair#*=}' />"
    done
    echo "    </luks>"
    echo "  </vm>"
    echo "</vms>"
  } >"$file"
  chmod 0600 "$file"
}
# key_stick IMAGE KEYFILE...: an 8 MiB FAT stick image holding the key files at its root.
key_stick() {
  image=$1; shift
  truncate -s 8M "$image"
  mkfs.vfat -n KEYS "$image" >/dev/null
  mcopy -i "$image" "$@" ::/
}
# check_eq NAME DETAIL EXPECTED ACTUAL: PASS when the two strings are equal.
check_eq() {
  if [ "$3" = "$4" ]; then result "$1" PASS "$2"
  else result "$1" FAIL "$2: expected '$3', got '$4'"; fi
}
