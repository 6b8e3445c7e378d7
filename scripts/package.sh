#!/usr/bin/env bash
# Builds the Debian package artifacts/deb/luksvirt_<version>_amd64.deb from a checkout with
# dpkg-deb, then checks it with lintian (errors and unjustified warnings fail the build).
# docs/packaging.md describes the contents, the dependencies and the lintian overrides.
#
#   scripts/package.sh [--no-publish]
#
#   --no-publish  use artifacts/bin/luksvirt as it is (scripts/test.sh publishes it first);
#                 without it: dotnet publish src/LuksVirt -c Release -r linux-x64 -o artifacts/bin
#
# The version is VERSION's; packaging/debian/changelog's top entry must be VERSION-REVISION.
# Needs dpkg-dev (dpkg-deb --root-owner-group, no fakeroot) and lintian, and the man pages
# (scripts/build-man.sh) and bash completion (packaging/bash-completion/luksvirt).
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(...) stops the build too
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

publish=yes
while (($#)); do
  case $1 in
    --no-publish) publish=no ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "package.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

fail() { echo "package.sh: $*" >&2; exit 1; }

# --- Version: VERSION is the one source; the changelog's top entry must agree with it. -------
upstream=$(tr -d '[:space:]' <VERSION)
changelog=packaging/debian/changelog
version=$(dpkg-parsechangelog -l "$changelog" -S Version)
[[ $version == *-* ]] || fail "$changelog: version $version has no Debian revision (want $upstream-1)"
if [ "${version%-*}" != "$upstream" ]; then
  fail "$changelog's top entry is $version, but VERSION says $upstream: add an entry for $upstream-1 at the top of $changelog (dch -c $changelog -v $upstream-1)"
fi
maintainer=$(dpkg-parsechangelog -l "$changelog" -S Maintainer)
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$changelog" -S Timestamp)
export SOURCE_DATE_EPOCH

# --- Inputs made elsewhere: all required. ---------------------------------------------------
completion=packaging/bash-completion/luksvirt
[ -x scripts/build-man.sh ] || fail "scripts/build-man.sh is missing: it makes the man pages luksvirt.8 and luksvirt.xml.5"
[ -f "$completion" ] || fail "$completion is missing: the bash completion script"

if [ "$publish" = yes ]; then
  dotnet publish src/LuksVirt -c Release -r linux-x64 -o artifacts/bin --nologo -v quiet
fi
binary=artifacts/bin/luksvirt
[ -x "$binary" ] || fail "$binary is missing; build it: dotnet publish src/LuksVirt -c Release -r linux-x64 -o artifacts/bin"
# --version prints VERSION, possibly followed by +<commit>: an older binary is refused.
binary_version=$("$binary" --version)
[ "${binary_version%%+*}" = "$upstream" ] || fail "$binary says version $binary_version, VERSION says $upstream: publish again"

# --- The tree. --------------------------------------------------------------------------------
out=artifacts/deb
stage=$out/stage
root=$stage/luksvirt
rm -rf "$stage"
mkdir -p "$root/DEBIAN" "$out"
doc=/usr/share/doc/luksvirt
sbin=/usr/sbin
unitdir=/lib/systemd/system

install -d -m 0755 "$root$sbin" "$root$unitdir" "$root$doc/examples" \
  "$root/usr/share/man/man8" "$root/usr/share/man/man5" \
  "$root/usr/share/bash-completion/completions" "$root/usr/share/lintian/overrides"
install -m 0755 "$binary" "$root$sbin/luksvirt"

# The units name the binary and their documentation by absolute path; packaging/ holds them for
# the from-source install (/usr/local). Debian's paths here, and the man page next to the doc.
for unit in luksvirt.service luksvirt-usb@.service; do
  sed -e "s|/usr/local/bin/luksvirt|$sbin/luksvirt|g" \
      -e "s|/usr/local/share/doc/luksvirt|$doc|g" \
      -e "s|^Documentation=|Documentation=man:luksvirt(8) |" \
      "packaging/$unit" >"$root$unitdir/$unit"
  chmod 0644 "$root$unitdir/$unit"
  if grep -n /usr/local "$root$unitdir/$unit"; then fail "$unit still names /usr/local after the path rewrite"; fi
  grep -q "^ExecStart=$sbin/luksvirt " "$root$unitdir/$unit" || fail "$unit: ExecStart does not run $sbin/luksvirt"
done

# Opt-in, as docs/usb-and-service.md describes: the administrator copies the rule to
# /etc/udev/rules.d to use the udev entry point instead of luksvirt.service.
install -m 0644 packaging/99-luksvirt-usb.rules "$root$doc/examples/99-luksvirt-usb.rules"

# The configuration: root's alone (the program and docs want the file 0600).
install -d -m 0700 "$root/etc/luksvirt"
install -m 0600 packaging/luksvirt.xml.sample "$root/etc/luksvirt/luksvirt.xml"
echo /etc/luksvirt/luksvirt.xml >"$root/DEBIAN/conffiles"

man=$stage/man
scripts/build-man.sh "$man"
for page in luksvirt.8:man8 luksvirt.xml.5:man5; do
  [ -s "$man/${page%%:*}" ] || fail "scripts/build-man.sh made no ${page%%:*}"
  # The version the page shows (its .TH line) is VERSION too.
  grep -m1 '^\.TH ' "$man/${page%%:*}" | grep -F "$upstream" >/dev/null ||
    fail "${page%%:*}'s .TH line does not carry version $upstream: $(grep -m1 '^\.TH ' "$man/${page%%:*}")"
  gzip -9n <"$man/${page%%:*}" >"$root/usr/share/man/${page##*:}/${page%%:*}.gz"
done
install -m 0644 "$completion" "$root/usr/share/bash-completion/completions/luksvirt"

# Documentation, uncompressed (unit files and the README link to the .md files; see
# docs/packaging.md), plus Debian's changelog and copyright.
install -m 0644 README.md docs/*.md "$root$doc/"
gzip -9n <"$changelog" >"$root$doc/changelog.Debian.gz"
install -m 0644 packaging/debian/copyright "$root$doc/copyright"
install -m 0644 packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/luksvirt"

for script in postinst prerm postrm; do
  install -m 0755 "packaging/debian/$script" "$root/DEBIAN/$script"
done

# --- Dependencies, found by checking. ---------------------------------------------------------
# The package that ships PATH per dpkg -S. With usrmerge dpkg knows a file under /lib, /bin,
# /sbin or /usr/..., as the package shipped it, and PATH may be a symbolic link: try each form.
owner_of() {
  local path=$1 real candidate
  real=$(readlink -f "$path")
  for candidate in "$path" "$real" "/usr$path" "${path#/usr}" "/usr$real" "${real#/usr}"; do
    if dpkg -S "$candidate" >/dev/null 2>&1; then
      dpkg -S "$candidate" | sed -n '1s/:.*//p'   # reads to the end: no SIGPIPE under pipefail
      return
    fi
  done
  fail "no package ships $path ($real) according to dpkg -S"
}

# The package that ships a library, found through ldconfig's cache.
package_of_library() {
  local path
  path=$(ldconfig -p | awk -v s="$1" '!found && $1 == s && /x86-64/ { print $NF; found = 1 }')
  [ -n "$path" ] || fail "$1 (loaded by luksvirt) is not installed on this build host"
  owner_of "$path"
}

# The lowest version of PACKAGE whose symbols file provides every SYMBOL of SONAME: what
# dpkg-shlibdeps computes for linked libraries, done here for the ones LuksVirt dlopens.
minimum_version() {
  local package=$1 soname=$2 symbols_file minimum="" symbol v
  shift 2
  symbols_file=$(dpkg-query --control-path "$package" symbols)
  [ -n "$symbols_file" ] || fail "$package has no symbols file"
  for symbol in "$@"; do
    v=$(awk -v so="$soname" -v sym="$symbol" '
      /^[^ |*#]/ { inside = ($1 == so); next }
      inside && $1 ~ ("^(\\([^)]*\\))?" sym "@") { print $2; exit }' "$symbols_file")
    [ -n "$v" ] || fail "$symbol, which luksvirt calls in $soname, is not in $package's symbols file"
    if [ -z "$minimum" ] || dpkg --compare-versions "$v" gt "$minimum"; then minimum=$v; fi
  done
  echo "$minimum"
}

# The libraries LuksVirt loads through LibraryImport (src/LuksVirt.Interop, Interop.Libraries)
# and the entry points it binds in each.
interop=src/LuksVirt.Interop
library_const() {
  sed -n "s/.*const string $1 = \"\([^\"]*\)\".*/\1/p" "$interop/Interop.Libraries.cs"
}
entry_points() {
  grep -rhoE --include='*.cs' "LibraryImport\(Libraries\.$1, EntryPoint = \"[^\"]+\"" "$interop" |
    sed 's/.*EntryPoint = "\([^"]*\)"/\1/' | sort -u
}
consts=$(sed -n 's/.*internal const string \([A-Za-z]*\) = .*/\1/p' "$interop/Interop.Libraries.cs")
[ -n "$consts" ] || fail "no library names found in $interop/Interop.Libraries.cs"
unbound=$(grep -rhoE --include='*.cs' 'LibraryImport\([^,)]*' "$interop" | grep -v 'LibraryImport(Libraries\.' || true)
[ -z "$unbound" ] || fail "LibraryImport without an Interop.Libraries name: $unbound (package.sh cannot map it)"

deps=()
for name in $consts; do
  soname=$(library_const "$name")
  mapfile -t symbols < <(entry_points "$name")
  ((${#symbols[@]})) || fail "no entry points bound in $soname (Libraries.$name)"
  package=$(package_of_library "$soname")
  deps+=("$package (>= $(minimum_version "$package" "$soname" "${symbols[@]}"))")
done

# The binary's own ELF NEEDED entries (libc, libm, ld.so): dpkg-shlibdeps.
mkdir -p "$stage/shlibdeps/debian"
printf 'Source: luksvirt\n\nPackage: luksvirt\nArchitecture: amd64\n' >"$stage/shlibdeps/debian/control"
needed=$(cd "$stage/shlibdeps" && dpkg-shlibdeps -O "$repo/$root$sbin/luksvirt" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$needed" ] || fail "dpkg-shlibdeps found no dependencies of $binary"
IFS=, read -ra needed_deps <<<"$needed"
deps+=("${needed_deps[@]}")

# One entry per package, with the highest minimum version (dpkg compares versions).
declare -A highest=()
for dep in "${deps[@]}"; do
  dep=${dep# }
  p=${dep%% *}
  v=$(sed -n 's/.*(>= \([^)]*\)).*/\1/p' <<<"$dep")
  if [ -z "${highest[$p]+set}" ] || { [ -n "$v" ] && dpkg --compare-versions "$v" gt "${highest[$p]}"; }; then
    highest[$p]=$v
  fi
done
depends=$(for p in $(printf '%s\n' "${!highest[@]}" | sort); do
  echo "$p${highest[$p]:+ (>= ${highest[$p]})}"
done | paste -sd, | sed 's/,/, /g')

# Programs luksvirt runs (see docs/packaging.md): each must come from the package named here.
#   qemu-img: encrypt-vm (flattening images), doctor, bench; qemu-io: bench
#   lvcreate, lvremove: create --disk VG/LV
check_tool() {
  local path owner
  path=$(command -v "$1") || fail "$1 (run by luksvirt) is not installed on this build host"
  owner=$(owner_of "$path")
  [ "$owner" = "$2" ] || fail "$1 comes from $owner, not $2 (dpkg -S $path): fix the table in package.sh"
}
check_tool qemu-img qemu-utils
check_tool qemu-io qemu-utils
check_tool lvcreate lvm2
check_tool lvremove lvm2
# libvirtd (qemu:///system) and QEMU run the guests; cryptsetup, mtools/dosfstools are the
# administrator's tools for containers and key sticks (docs), never run by luksvirt.
recommends="libvirt-daemon-system, qemu-system-x86, qemu-utils"
suggests="lvm2, cryptsetup-bin, dosfstools, mtools"

installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: luksvirt
Version: $version
Architecture: amd64
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: $depends
Recommends: $recommends
Suggests: $suggests
Section: admin
Priority: optional
Description: unlock LUKS-encrypted libvirt/QEMU guests with keys from a USB stick
 LuksVirt keeps the disks of libvirt/QEMU guests in LUKS containers. When
 keys are presented (key files in a RAM directory, or a USB stick read
 without mounting it), it finds which key opens which disk, opens the disks,
 starts every guest whose disks are all open and wipes the keys. It also
 locks the host again, shows what is open, manages key slots and their
 holders, and backs up LUKS headers.
 .
 This package holds the NativeAOT binary (no .NET runtime needed), the
 watch service luksvirt.service, the udev entry point luksvirt-usb@.service
 with an example udev rule, a sample configuration, man pages and bash
 completion.
EOF

(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums" "$root/DEBIAN/conffiles"

deb=$out/luksvirt_${version}_amd64.deb
rm -f "$out"/luksvirt_*.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "package.sh: built $deb"
echo "package.sh: Depends: $depends"

# --- lintian: no errors, no warnings but the overridden ones (docs/packaging.md). ------------
lintian --fail-on error,warning --display-info "$deb" | tee "$out/lintian.txt"
echo "package.sh: lintian passed"
