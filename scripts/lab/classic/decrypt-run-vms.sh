#!/bin/sh
# The classic recipe's unlock script (docs: classic-recipe.md, section 9), as the lab's baseline:
# for each <vm> of the config, skip it if running; for each <disk>, unless its mapping
# /dev/mapper/luks-<basename of target> exists, try every key file of the key directory in
# directory order with `cryptsetup luksOpen` until one opens it, chown the mapping to the
# hypervisor's user, link the target to it; start the vm if a disk was opened in this run;
# log every step with a timestamp; finally delete the keys.
# Usage: decrypt-run-vms.sh CONFIG [KEYDIR] [LOG]
config=$1 keydir=${2:-/dev/shm/lukskeys} log=${3:-/var/log/decrypt-run-vms.log}
say() { echo "$(date '+%F %T') $*" >>"$log"; }
# (The recipe's "already running" check, counting its own processes with ps | grep, is left
# out: it is no lock and costs nothing measurable.)
ls "$keydir"/luks-*.key >/dev/null 2>&1 || { say "no keys in $keydir"; exit 0; }

# The config as "vm NAME" and "disk SOURCE TARGET" lines (the recipe uses xmllint; the lab's
# configs are written by classic_config, one attribute per line, so sed reads them).
sed -n -e "s/.*<vm name='\([^']*\)'.*/vm \1/p" -e "s/.*<disk source='\([^']*\)'.*/source \1/p" \
  -e "s/.*target='\([^']*\)'.*/target \1/p" "$config" |
  awk '$1 == "vm" { print } $1 == "source" { s = $2 } $1 == "target" { print "disk", s, $2 }' >/tmp/classic-plan.$$

flush() {
  [ -n "$vm" ] && [ "$opened" = 1 ] && { say "starting $vm"; virsh -q start "$vm" >>"$log" 2>&1; }
  opened=0
}
vm= opened=0 skip=0
while read -r kind a b; do
  case $kind in
    vm) flush; vm=$a skip=0
        [ "$(virsh -q domstate "$vm" 2>/dev/null)" = running ] && { say "$vm already running"; skip=1; } ;;
    disk)
      [ "$skip" = 1 ] && continue
      [ -e "$a" ] || { say "$vm: $a missing"; continue; }
      name=luks-$(basename "$b")
      if ! [ -e "/dev/mapper/$name" ]; then
        for key in "$keydir"/luks-*.key; do
          say "$vm: trying $(basename "$key") on $a"
          if cryptsetup --key-file "$key" luksOpen "$a" "$name" 2>>"$log"; then
            chown libvirt-qemu:kvm "/dev/mapper/$name"
            say "$vm: $a opened as $name"
            opened=1
            break
          fi
        done
      fi
      if [ -e "$b" ] && ! [ -b "$b" ]; then rm -f "$b"; fi
      [ -L "$b" ] || ln -s "/dev/mapper/$name" "$b" ;;
  esac
done </tmp/classic-plan.$$
flush
rm -f /tmp/classic-plan.$$ "$keydir"/luks-*.key
say "keys deleted"
