#!/usr/bin/env bash
# The lab stage: proves on a real kernel (dm-crypt, udev) what this machine's kernel cannot.
# Publishes luksvirt, then boots one lab VM per test script (scripts/lab/tests/*.sh, or the
# ones named) and reports each. Not part of `dotnet test` / scripts/test.sh.
# Usage: scripts/lab.sh [--no-publish] [TEST.sh...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
if [ "${1:-}" = --no-publish ]; then shift
else dotnet publish src/LuksVirt -c Release -r linux-x64 -o artifacts/bin -nologo -v quiet >/dev/null
  # systemd-usb.sh installs the package of this binary.
  scripts/package.sh --no-publish >/dev/null
fi
tests=("$@")
((${#tests[@]})) || tests=(scripts/lab/tests/*.sh)
failed=()
start=$(date +%s)
for t in "${tests[@]}"; do
  # A test may ask for more time with a "# lab-timeout: SECONDS" line; LAB_TIMEOUT raises all.
  limit=$(sed -n 's/^# lab-timeout: *\([0-9][0-9]*\).*/\1/p' "$t" | head -1)
  limit=$(( ${limit:-300} > ${LAB_TIMEOUT:-300} ? ${limit:-300} : ${LAB_TIMEOUT:-300} ))
  scripts/lab/run.sh --timeout "$limit" "$t" || failed+=("$t")
done
echo "lab: ${#tests[@]} run(s), ${#failed[@]} failed, $(($(date +%s) - start)) s in all${failed:+: ${failed[*]}}"
((${#failed[@]} == 0))
