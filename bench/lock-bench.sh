#!/usr/bin/env bash
# Benchmark of `luksvirt lock` (issue 10, item 11): N running guests that ignore the ACPI
# power-off request (no OS: they sit in their firmware), locked with `--timeout T`. Each guest
# is destroyed once its own timeout passes; guests of one start group are shut down side by
# side, so the whole lock should take about one timeout, not N. Prints, for 3 and for 10
# guests, the lock's wall time (process start to exit), the time its report states, the time
# beyond the timeout, and the ratio of the wall time to the timeout. Side by side, the wall time
# is one timeout plus one destroy (virDomainDestroy waits for QEMU to exit: 1.5-2 s on a
# loaded 2-core host), whatever N; one guest after another it is N x (timeout + destroy).
#
# Independent of the test suite. Needs root, a running libvirtd (qemu:///system), cryptsetup
# and the binary (LUKSVIRT_BIN, else artifacts/bin/luksvirt, else the framework build):
#   bench/lock-bench.sh [TIMEOUT_SECONDS] [GUEST_COUNTS...]      (default: 2  3 10)
# KEEP_LOG=FILE keeps a copy of the runs' log (timestamps of every request and destroy).
# Keys exist only in this shell's variables and in a 0700 tmpfs key directory that
# `luksvirt unlock` empties (it reads and deletes the files); never on a persistent disk.
set -euo pipefail

cd "$(dirname "$0")/.."
timeout_s=${1:-2}
shift || true
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(3 10)
uri=qemu:///system
if [ -n "${LUKSVIRT_BIN:-}" ]; then
  bin=("$LUKSVIRT_BIN")
elif [ -x artifacts/bin/luksvirt ]; then
  bin=("$PWD/artifacts/bin/luksvirt")
elif [ -f src/LuksVirt/bin/Release/net10.0/luksvirt.dll ]; then
  bin=(dotnet "$PWD/src/LuksVirt/bin/Release/net10.0/luksvirt.dll")
else
  echo "no luksvirt binary: dotnet build src/LuksVirt -c Release (or set LUKSVIRT_BIN)" >&2
  exit 2
fi
[ "$(id -u)" = 0 ] || { echo "run as root (libvirt system connection)" >&2; exit 2; }

work=$(mktemp -d /var/tmp/luksvirt-lock-bench.XXXXXX)
chmod 0755 "$work"   # QEMU's user must reach the containers
keys=$(mktemp -d /dev/shm/luksvirt-lock-bench-keys.XXXXXX)
chmod 0700 "$keys"
names=() uuids=()
declare -A key_of

cleanup() {
  set +e
  for name in "${names[@]}"; do
    virsh -q -c "$uri" destroy "$name" >/dev/null 2>&1
    virsh -q -c "$uri" undefine "$name" >/dev/null 2>&1
  done
  for uuid in "${uuids[@]}"; do
    virsh -q -c "$uri" secret-undefine "$uuid" >/dev/null 2>&1
  done
  [ -n "${KEEP_LOG:-}" ] && cp "$work/luksvirt.log" "$KEEP_LOG"
  rm -rf "$work" "$keys"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

# Defines one guest with a LUKS1 disk and drops its key into the key directory.
add_guest() {
  local name uuid key disk
  name=lvb-lock-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
  uuid=$(cat /proc/sys/kernel/random/uuid)
  key=$(head -c 48 /dev/urandom | base64 | tr '+/' '-_')   # 64 printable characters
  disk=$work/$name.luks
  truncate -s 8M "$disk"
  printf '%s' "$key" | cryptsetup luksFormat --batch-mode --type luks1 --pbkdf pbkdf2 \
    --pbkdf-force-iterations 1000 --hash sha256 --key-slot 1 --key-file=- "$disk"
  key_of[$name]=$key
  key=""
  virsh -q -c "$uri" define /dev/stdin >/dev/null <<XML
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$disk'/>
      <target dev='vda' bus='virtio'/>
      <encryption format='luks'><secret type='passphrase' uuid='$uuid'/></encryption>
    </disk>
  </devices>
</domain>
XML
  names+=("$name") uuids+=("$uuid")
}

echo '<vms/>' > "$work/luksvirt.xml"
max=0
for n in "${counts[@]}"; do [ "$n" -gt "$max" ] && max=$n; done
echo "setting up $max guests and their LUKS1 containers in $work"
for _ in $(seq 1 "$max"); do add_guest; done

printf '\n%-7s %10s %14s %16s %18s %8s\n' guests timeout "lock wall" "lock (report)" "beyond timeout" ratio
for n in "${counts[@]}"; do
  vm_args=()
  for name in "${names[@]:0:$n}"; do vm_args+=(--vm "$name"); done
  # Keys of the guests of this round; the unlock reads and deletes them.
  for name in "${names[@]:0:$n}"; do (umask 077 && printf '%s' "${key_of[$name]}" > "$keys/luks-$name.1.key"); done
  "${bin[@]}" unlock --keys "$keys" --config "$work/luksvirt.xml" --state "$work/state.json" \
    --log "$work/luksvirt.log" "${vm_args[@]}" >/dev/null 2>&1 \
    || { echo "unlock of $n guests failed; log:" >&2; cat "$work/luksvirt.log" >&2; exit 1; }
  t0=$(now_ms)
  report=$("${bin[@]}" lock --timeout "$timeout_s" --json --config "$work/luksvirt.xml" \
    --log "$work/luksvirt.log" "${vm_args[@]}" 2>/dev/null) \
    || { echo "lock of $n guests failed: $report" >&2; exit 1; }
  wall=$(($(now_ms) - t0))
  stated=$(printf '%s' "$report" | grep -o '"wallMilliseconds": *[0-9]*' | grep -o '[0-9]*$')
  destroyed=$(printf '%s' "$report" | grep -o '"outcome": *"Destroyed"' | wc -l)
  [ "$destroyed" = "$n" ] || { echo "expected $n guests destroyed, report: $report" >&2; exit 1; }
  printf '%-7s %8s s %11s ms %13s ms %15s ms %8s\n' "$n" "$timeout_s" "$wall" "$stated" $((wall - timeout_s * 1000)) \
    "$(awk -v w="$wall" -v t="$timeout_s" 'BEGIN { printf "%.2f", w / (t * 1000) }')"
done
