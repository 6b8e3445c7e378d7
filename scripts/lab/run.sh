#!/usr/bin/env bash
# Boots the lab (a Debian kernel under QEMU TCG whose root is this machine's own root file
# system, read-only over 9p under a tmpfs overlay), runs one test script inside it and reports.
# Usage: scripts/lab/run.sh [--timeout SECONDS] SCRIPT
# Exit 0 when the guest finished and every LAB-RESULT line says PASS; otherwise prints the
# guest's console log and exits 1.
set -euo pipefail
timeout_s=300
if [ "${1:-}" = --timeout ]; then timeout_s=$2; shift 2; fi
script=$(realpath "${1:?usage: run.sh [--timeout SECONDS] SCRIPT}")
repo=$(cd "$(dirname "$0")/../.." && pwd)
here=$repo/scripts/lab

for p in linux-image-amd64 busybox-static; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    echo "lab: installing $p"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" >/dev/null
  fi
done
kernel=$(ls -1 /boot/vmlinuz-*-amd64 | sort -V | tail -1)
kver=${kernel#/boot/vmlinuz-}
[ -x "$repo/artifacts/bin/luksvirt" ] || { echo "lab: $repo/artifacts/bin/luksvirt missing; run dotnet publish src/LuksVirt -c Release -r linux-x64 -o artifacts/bin" >&2; exit 2; }

state=/var/tmp/luksvirt-lab
mkdir -p "$state"
initrd=$state/initramfs-$kver.cpio.gz
if ! [ -s "$initrd" ] || [ "$here/initramfs-init.sh" -nt "$initrd" ] || [ "$here/build-initramfs.sh" -nt "$initrd" ]; then
  "$here/build-initramfs.sh" "$kver" "$initrd"
fi

run=$(mktemp -d "$state/run.XXXXXX")
log=$run/console.log
mkdir -p "$run/share"
: >"$log"
# Requests from the guest on its console, served through QEMU's monitor:
#   LAB-REQUEST plug ID FILE [OPTS]  attach FILE (in the shared directory) as a USB stick on
#                                    xhci; OPTS are extra -drive options (e.g. a read throttle)
#   LAB-REQUEST unplug ID            pull it
monitor() { python3 -c '
import re, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(0.2); s.recv(65536)
s.sendall((sys.argv[2] + "\n").encode()); time.sleep(0.5)
# The monitor echoes with line editing; keep only the last redraw of each line.
text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "\r", s.recv(65536).decode(errors="replace"))
print("\n".join(l.split("\r")[-1] for l in text.split("\n") if l.split("\r")[-1].strip()))
' "$run/monitor.sock" "$1"; }
(
  # No filter between tail and the loop: a pipe would buffer the request lines.
  tail -n +1 -F "$log" 2>/dev/null | while IFS= read -r line; do
    read -r tag verb id file opts _ <<<"${line%$'\r'}"
    [ "$tag" = LAB-REQUEST ] || continue
    case $verb in
      plug) monitor "drive_add 0 if=none,id=$id,format=raw,file=$run/share/$file${opts:+,$opts}"
            monitor "device_add usb-storage,bus=xhci.0,drive=$id,id=$id,removable=on" ;;
      unplug) monitor "device_del $id" ;;
    esac >>"$run/monitor.log" 2>&1
  done
) &
watcher=$!
start=$(date +%s.%N)
set +e
timeout -k 5 "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -m 2G -smp 2 -nographic -no-reboot \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 loglevel=4 panic=-1 lab.init=$here/guest-init.sh lab.script=$script lab.repo=$repo" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs local,path=$run/share,mount_tag=labshare,security_model=none \
  -device qemu-xhci,id=xhci -monitor "unix:$run/monitor.sock,server=on,wait=off" \
  ${LAB_QEMU_EXTRA:-} </dev/null >"$log" 2>&1
qemu_rc=$?
set -e
# The watcher's own children (tail, tr, the loop), then the watcher itself.
pkill -P "$watcher" 2>/dev/null || true
{ kill "$watcher"; wait "$watcher"; } 2>/dev/null || true
wall=$(echo "$(date +%s.%N) - $start" | bc)
tr -d '\r' <"$log" >"$log.clean"

grep -o 'LAB-[A-Z]*.*' "$log.clean" | grep -E '^LAB-(BOOTED|READY|DONE|TIME|BENCH)' || true
grep -o 'LAB-RESULT .*' "$log.clean" || true
pass=$(grep -c 'LAB-RESULT [^ ]* PASS' "$log.clean" || true)
fail=$(grep -c 'LAB-RESULT [^ ]* FAIL' "$log.clean" || true)
printf 'lab: %s: %d passed, %d failed, wall %.1f s (qemu exit %d)\n' "$(basename "$script")" "$pass" "$fail" "$wall" "$qemu_rc"
if [ "$qemu_rc" = 124 ]; then echo "lab: time limit of ${timeout_s}s reached"; fi
if [ "$fail" -gt 0 ] || [ "$pass" -eq 0 ] || ! grep -q 'LAB-DONE rc=0' "$log.clean"; then
  echo "lab: FAILED; guest console log ($log):"
  cat "$log.clean"
  [ -s "$run/monitor.log" ] && { echo "lab: monitor log:"; cat "$run/monitor.log"; }
  exit 1
fi
# LAB_KEEP=1 keeps the console log of a passing run too.
if [ -n "${LAB_KEEP:-}" ]; then echo "lab: console log kept in $log.clean"; else rm -rf "$run"; fi
