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
# wait_for SECONDS COMMAND...: polls until COMMAND succeeds; 1 when time runs out. Every
# WAIT_INTERVAL seconds (default 0.5: a virsh call costs a few hundred ms of an emulated CPU,
# which polling must not take from the work it waits for).
wait_for() {
  deadline=$(($(date +%s) + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep "${WAIT_INTERVAL:-0.5}"
  done
}
# web_guest CONFIG KEYFILE: the lab's one-disk dmcrypt guest in the classic layout. A random
# 64-byte key written to KEYFILE opens $crypted/web-d0.raw.crypted; domain web uses the link
# $link (mapping $mapping); CONFIG is the classic config naming it.
web_guest() {
  crypted=/var/lib/libvirt/images-crypted images=/var/lib/libvirt/images
  link=$images/web-d0.raw.decrypted mapping=luks-web-d0.raw.decrypted
  mkdir -p "$crypted" "$images" "$(dirname "$1")" "$(dirname "$2")"
  head -c 64 /dev/urandom >"$2"
  make_container "$crypted/web-d0.raw.crypted" "$2"
  define_domain web "$link"
  classic_config "$1" web "$crypted/web-d0.raw.crypted=$link"
}
# timed_unlock CONFIG KEYDIR: checks that `luksvirt unlock` exits 0 (result unlock-exit), prints
# its time as LAB-TIME unlock and its output.
timed_unlock() {
  t0=$(date +%s.%N)
  check unlock-exit "luksvirt unlock exits 0" "$LUKSVIRT" unlock --config "$1" --keys "$2"
  echo "LAB-TIME unlock $(echo "$(date +%s.%N) - $t0" | bc)"
  cat /tmp/check.out
}
