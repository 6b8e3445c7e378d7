#!/usr/bin/env bash
# Benchmark of `luksvirt watch` (issue 4): time from plugging in a key stick (the `losetup`
# call that attaches a FAT image; the kernel raises the same kind of uevent a USB stick does) to
# all guests running, split into
#   detection    losetup called -> the watch logs "medium appeared"
#   key reading  -> "N key(s) read"       (open the device, FAT reader, key files into locked memory)
#   inventory    -> "unlock: N guest(s)"  (libvirt connection, config, domain XML)
#   trials       -> "trials done"         (which key opens which LUKS slot)
#   guest start  -> "unlock finished"     (secrets handed over, guests started and running)
# for 3 guests with one LUKS1 disk each (PBKDF2 at the minimal cost, as LuksVirt's own keys
# use), over 10 attach/detach cycles with --lock-on-removal, so every cycle is a full unlock
# and a lock. Also the watch's resident memory (VmRSS) after start-up and after the 10
# unlocks, and its CPU time while idle.
#
# Independent of the test suite. Needs root, a running libvirtd (qemu:///system), cryptsetup,
# dosfstools, mtools, util-linux and the binary:
#   dotnet publish src/LuksVirt -c Release -r linux-x64 -o artifacts/bin
#   bench/usb-watch.sh [CYCLES]
# Keys exist only in this shell's variables and reach cryptsetup and mcopy through stdin
# (printf is a shell builtin: no argv), never a file on the host.
set -euo pipefail

cd "$(dirname "$0")/.."
bin=${LUKSVIRT_BIN:-$PWD/artifacts/bin/luksvirt}
cycles=${1:-10}
guests=3
uri=qemu:///system
[ -x "$bin" ] || { echo "no $bin: dotnet publish src/LuksVirt -c Release -r linux-x64 -o artifacts/bin" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root (loop devices, libvirt system connection)" >&2; exit 2; }

work=$(mktemp -d /var/tmp/luksvirt-bench.XXXXXX)
chmod 0755 "$work"   # QEMU's user must reach the containers
log=$work/luksvirt.log
names=() uuids=() loop="" watch_pid=""

cleanup() {
  set +e
  [ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null && wait "$watch_pid" 2>/dev/null
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null
  for name in "${names[@]}"; do
    virsh -q -c "$uri" destroy "$name" >/dev/null 2>&1
    virsh -q -c "$uri" undefine "$name" >/dev/null 2>&1
  done
  for uuid in "${uuids[@]}"; do
    virsh -q -c "$uri" secret-undefine "$uuid" >/dev/null 2>&1
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Milliseconds since the epoch of a log line's UTC timestamp ("2026-01-01T10:00:00.123Z ...").
stamp_ms() { date -u -d "${1%% *}" +%s%3N; }
now_ms() { date +%s%3N; }

# Index of the first log line at or after line $1 that contains $2, waiting up to 60 s. The
# harness polls the log file (every 10 ms); the figures come from the log's own timestamps.
wait_line() {
  local from=$1 pattern=$2 deadline=$(($(now_ms) + 60000)) n
  while :; do
    n=$(tail -n +"$from" "$log" 2>/dev/null | grep -n -m1 -F -- "$pattern" | cut -d: -f1 || true)
    if [ -n "$n" ]; then echo $((from + n - 1)); return; fi
    if [ "$(now_ms)" -gt "$deadline" ]; then echo "timed out waiting for '$pattern'; log:" >&2; cat "$log" >&2; exit 1; fi
    if ! kill -0 "$watch_pid" 2>/dev/null; then echo "luksvirt watch exited; log:" >&2; cat "$log" >&2; exit 1; fi
    sleep 0.01
  done
}
line() { sed -n "$1p" "$log"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$watch_pid/status"; }
# Anonymous memory is the process's own; file-backed pages are mostly shared library code.
rss_split() { awk '/^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 } END { printf "anonymous %s KiB, file-backed %s KiB", a, f }' "/proc/$watch_pid/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$watch_pid/stat"; }

echo "setting up $guests guests, their LUKS1 containers and a FAT key stick in $work"
mkfs.vfat -C "$work/stick.img" 1024 >/dev/null
export MTOOLS_SKIP_CHECK=1
printf 'this stick opens the benchmark guests\n' | mcopy -i "$work/stick.img" - ::/readme.txt
mmd -i "$work/stick.img" ::/keys
vm_args=()
for i in $(seq 1 "$guests"); do
  name=lvb-g$i-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
  uuid=$(cat /proc/sys/kernel/random/uuid)
  key=$(head -c 48 /dev/urandom | base64 | tr '+/' '-_')   # 64 printable characters, 384 bits
  disk=$work/$name.luks
  truncate -s 8M "$disk"
  printf '%s' "$key" | cryptsetup luksFormat --batch-mode --type luks1 --pbkdf pbkdf2 \
    --pbkdf-force-iterations 1000 --hash sha256 --key-slot 1 --key-file=- "$disk"
  printf '%s' "$key" | mcopy -i "$work/stick.img" - "::/keys/luks-holder$i.1.key"
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
  names+=("$name") uuids+=("$uuid") vm_args+=(--vm "$name")
done
echo '<vms/>' > "$work/luksvirt.xml"

"$bin" watch --device-filter loop --lock-on-removal --lock-timeout 0 --config "$work/luksvirt.xml" \
  --state "$work/state.json" --log "$log" "${vm_args[@]}" 2>/dev/null &
watch_pid=$!
wait_line 1 "watching for key sticks" >/dev/null
# Sticks already attached elsewhere on this host are read once at start; let that settle.
sleep 1
rss_start=$(rss_kib)
split_start=$(rss_split)
ticks_before=$(cpu_ticks)
sleep 5
idle_ticks=$(($(cpu_ticks) - ticks_before))

declare -a detection keys inventory trials start total
printf '\n%-6s %10s %10s %10s %10s %12s %10s %12s\n' cycle detection keys inventory trials "guest start" total "RSS after"
for c in $(seq 1 "$cycles"); do
  from=$(($(wc -l < "$log") + 1))
  t0=$(now_ms)
  loop=$(losetup -f --show "$work/stick.img")
  dev=${loop#/dev/}
  a=$(stamp_ms "$(line "$(wait_line "$from" "$dev: medium appeared")")")
  k=$(stamp_ms "$(line "$(wait_line "$from" "$dev: $guests key(s) read")")")
  i=$(stamp_ms "$(line "$(wait_line "$from" "unlock: $guests guest(s) in scope")")")
  t=$(stamp_ms "$(line "$(wait_line "$from" "trials done")")")
  done_line=$(line "$(wait_line "$from" "$dev: unlock finished")")
  f=$(stamp_ms "$done_line")
  case $done_line in *"$guests/$guests guest(s) running ($guests started"*) ;; *) echo "cycle $c: not all guests started: $done_line" >&2; exit 1 ;; esac
  detection+=($((a - t0))) keys+=($((k - a))) inventory+=($((i - k))) trials+=($((t - i))) start+=($((f - t))) total+=($((f - t0)))
  from=$(($(wc -l < "$log") + 1))
  losetup -d "$loop"
  loop=""
  wait_line "$from" "$dev: lock finished" >/dev/null
  printf '%-6s %8s ms %7s ms %7s ms %7s ms %9s ms %7s ms %8s KiB\n' "$c" $((a - t0)) $((k - a)) $((i - k)) $((t - i)) $((f - t)) $((f - t0)) "$(rss_kib)"
done
sleep 1
rss_after=$(rss_kib)
split_after=$(rss_split)
ticks_before=$(cpu_ticks)
sleep 5
idle_ticks_after=$(($(cpu_ticks) - ticks_before))

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
echo
printf 'median over %d cycles: detection %s ms, key reading %s ms, inventory %s ms, trials %s ms, guest start %s ms, total %s ms\n' \
  "$cycles" "$(median "${detection[@]}")" "$(median "${keys[@]}")" "$(median "${inventory[@]}")" \
  "$(median "${trials[@]}")" "$(median "${start[@]}")" "$(median "${total[@]}")"
printf 'detection + key reading: first cycle %s ms, median %s ms (target < 100 ms)\n' \
  $((detection[0] + keys[0])) "$(median "$(for j in "${!detection[@]}"; do echo $((detection[j] + keys[j])); done)")"
printf 'watch VmRSS after start-up: %s KiB (%s)\n' "$rss_start" "$split_start"
printf 'watch VmRSS after %d unlocks and locks: %s KiB (%s)\n' "$cycles" "$rss_after" "$split_after"
printf 'watch CPU while idle: %s clock ticks in 5 s after start-up, %s after the cycles (%s ticks/s)\n' \
  "$idle_ticks" "$idle_ticks_after" "$(getconf CLK_TCK)"
