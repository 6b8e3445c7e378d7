#!/usr/bin/env bash
# The README's main-job demo: three small guests whose disks sit in LUKS containers (native
# backend: QEMU decrypts), keys dropped into a RAM directory, then `luksvirt unlock`, `status`,
# `lock`, and a clean-up that leaves the host as it was. Real libvirtd and QEMU; the guests have
# no operating system and just sit in their firmware.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [ ! -x artifacts/bin/luksvirt ] || [ -n "$(find src -newer artifacts/bin/luksvirt -name '*.cs' -print -quit)" ]; then
  echo "demo: building the NativeAOT binary"
  dotnet publish src/LuksVirt -c Release -r linux-x64 -o artifacts/bin --nologo -v quiet
fi
luksvirt=$PWD/artifacts/bin/luksvirt

images=/var/lib/luksvirt-demo
keys=/run/luksvirt-demo/keys
state=/run/luksvirt-demo/state.json
config=/run/luksvirt-demo/luksvirt.xml
guests=(demo-web demo-db demo-mail)

cleanup() {
  for g in "${guests[@]}"; do
    virsh -q destroy "$g" >/dev/null 2>&1 || true
    virsh -q undefine "$g" >/dev/null 2>&1 || true
  done
  rm -rf "$images" /run/luksvirt-demo
}
trap cleanup EXIT
cleanup

install -d -m 0755 "$images"
install -d -m 0700 /run/luksvirt-demo "$keys"
echo '<vms/>' > "$config"   # no classic entries: the guests are found through libvirt itself

# One disk per guest, two for demo-db; one holder key each, written by the "administrator" into
# the RAM key directory. Keys are 64 printable random characters (384 bits).
make_disk() { # disk-name key-file target-dev
  local img=$images/$1.luks uuid
  truncate -s 32M "$img"
  cryptsetup luksFormat --batch-mode --type luks1 --pbkdf-force-iterations 1000 --key-file="$2" "$img"
  uuid=$(cat /proc/sys/kernel/random/uuid)
  echo "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$img'/>
    <target dev='$3' bus='virtio'/><encryption format='luks'><secret type='passphrase' uuid='$uuid'/></encryption></disk>"
}
holders=(alice bob carol)
for i in 0 1 2; do
  g=${guests[$i]} key=$keys/luks-${holders[$i]}.0.key
  (umask 077; head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n' > "$key")
  disks=$(make_disk "$g-d0" "$key" vda)
  [ "$g" = demo-db ] && disks+=$(make_disk "$g-d1" "$key" vdb)
  virsh -q define /dev/stdin >/dev/null <<XML
<domain type='qemu'><name>$g</name><title>$g [encrypted volume, started by luksvirt]</title>
  <memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os>
  <devices>$disks</devices></domain>
XML
done

run() { echo; echo "\$ luksvirt $*"; "$luksvirt" "$@"; }
run doctor || true
run unlock --keys "$keys" --config "$config" --state "$state" --log /run/luksvirt-demo/luksvirt.log --vm demo-web --vm demo-db --vm demo-mail
echo; echo "key directory after the run (the keys were wiped):"; ls -la "$keys"
run status --config "$config" --state "$state"
run lock --config "$config" --vm demo-web --vm demo-db --vm demo-mail --timeout 2
run status --config "$config" --state "$state"
echo; echo "demo: done; removing the demo guests and images"
