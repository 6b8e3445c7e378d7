#!/usr/bin/env bash
# Builds luksvirt (NativeAOT) and the unlock benchmark, then runs it (about a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dotnet publish src/LuksVirt -c Release -r linux-x64 -o artifacts/bin --nologo -v quiet
dotnet run --project bench/UnlockBench -c Release -- artifacts/bin/luksvirt
