#!/usr/bin/env bash
# Builds the man pages from their scdoc sources (docs/man/*.scd) into OUTDIR:
# luksvirt.8 and luksvirt.xml.5. The version comes from VERSION and the date from the top entry
# of packaging/debian/changelog, so that a build is reproducible.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/build-man.sh OUTDIR}
command -v scdoc >/dev/null || { echo "build-man: scdoc is missing (apt-get install scdoc, or bash scripts/setup.sh)" >&2; exit 1; }
version=$(tr -d '[:space:]' < VERSION)
date=$(date -u -d "$(sed -n 's/^ -- .*>  \(.*\)$/\1/p' packaging/debian/changelog | head -1)" +%Y-%m-%d)
mkdir -p "$out"
for source in docs/man/luksvirt.8.scd docs/man/luksvirt.xml.5.scd; do
  page=$(basename "$source" .scd)
  section=${page##*.}
  name=${page%.*}
  # scdoc writes its own .TH line; the version and date go into it.
  scdoc < "$source" | sed "s|^\.TH .*|.TH \"${name^^}\" \"$section\" \"$date\" \"luksvirt $version\" \"LuksVirt\"|" > "$out/$page"
done
