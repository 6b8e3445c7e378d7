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
# A domain of type qemu (no /dev/kvm in the lab) whose only disk is the block device at LINK.
define_domain() {
  cat >/tmp/dom-$1.xml <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>32</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='block' device='disk'>
      <driver name='qemu' type='raw'/>
      <source dev='$2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
XML
  virsh -q define /tmp/dom-$1.xml >/dev/null
}
