#!/usr/bin/env bash
# The test command (README, .ci/run): prepares the host, publishes the NativeAOT binary that the
# end-to-end tests run, builds and lints the Debian package, runs every test against real cryptsetup, libvirtd and QEMU, then the lab
# stage: dm-crypt, udev and USB hot-plug on a real kernel booted under QEMU (docs/lab.md).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet publish src/LuksVirt -c Release -r linux-x64 -o artifacts/bin --nologo -v quiet
export LUKSVIRT_BIN="$PWD/artifacts/bin/luksvirt"
# The Debian package of that binary, checked by lintian (docs/packaging.md); the lab installs it.
bash scripts/package.sh --no-publish

# Tests that need a service fail (never skip) when it is missing on CI.
dotnet test tests/LuksVirt.Tests -c Release --nologo \
  --logger "console;verbosity=normal" --results-directory artifacts/test-results "$@"

# What this kernel lacks (device-mapper, vfat, udevd), proven in the lab VM (about 4 minutes).
bash scripts/lab.sh --no-publish
