#!/usr/bin/env bash
# The README's main-job demo: `luksvirt create` makes three small guests whose disks sit in LUKS
# containers (native backend: QEMU decrypts), their holders' keys are dropped into a RAM
# directory, then `luksvirt unlock`, `status`, `lock`, and a clean-up that leaves the host as it
# was. Real libvirtd and QEMU; the guests have no operating system and sit in their firmware.
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

run() { echo; echo "\$ luksvirt $*"; "$luksvirt" "$@"; }

# The administrator's part: `luksvirt create` makes each LUKS container (the native backend:
# QEMU decrypts), one printable key per holder plus a recovery key, defines the guest, turns its
# autostart off and records who holds which slot. Each holder's key is then "presented" by
# dropping it into the RAM key directory; the recovery keys would go offline.
for spec in "demo-web web-d0 alice" "demo-db db-d0 bob" "demo-db db-d1 dave" "demo-mail mail-d0 carol"; do
  read -r guest disk holder <<<"$spec"
  out=/run/luksvirt-demo/out-$disk
  run create --vm "$guest" --disk "$images/$disk.luks" --size 32M --backend native --holder "$holder" \
    --keys-out "$out" --define-domain --domain-type qemu --config "$config" --log /run/luksvirt-demo/luksvirt.log >/dev/null
  mv "$out/luks-$holder".*.key "$keys/"
done
echo; echo "key directory before the unlock:"; ls -la "$keys"

run doctor || true
run unlock --keys "$keys" --config "$config" --state "$state" --log /run/luksvirt-demo/luksvirt.log --vm demo-web --vm demo-db --vm demo-mail
echo; echo "key directory after the run (the keys were wiped):"; ls -la "$keys"
run status --config "$config" --state "$state"
run lock --config "$config" --vm demo-web --vm demo-db --vm demo-mail --timeout 2
run status --config "$config" --state "$state"
echo; echo "demo: done; removing the demo guests and images"
