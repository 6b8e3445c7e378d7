# Lab benchmark: plug-in to all guests running, LuksVirt against the classic recipe, on the same
# containers, stick and guests. The host's layout of the recipe: 3 guests, 4 dmcrypt disks, each
# container with a recovery key in slot 0 and one of three holders' binary keys in slot 1; the
# stick holds the holders' keys named as the recipe names them (luks-<holder>.1.key).
#   classic: scripts/lab/classic/usb-hook.sh (usbmount + its hook: mount, copy keys to
#            /dev/shm, run decrypt-run-vms.sh: every key against every disk with luksOpen, in
#            directory order, then chown, link, virsh start);
#   luksvirt: `luksvirt watch` (reads the stick without mounting, trials in parallel, slot hints).
# Both wait for the stick as daemons do, started before the plug-in; the clock runs from the
# moment the kernel lists the new USB device to the moment all three guests run. A warm-up start and a warm-up open come
# first, so neither side pays the lab's first-use costs.
# lab-timeout: 900
. "$LAB_REPO/scripts/lab/lib.sh"
crypted=/var/lib/libvirt/images-crypted images=/var/lib/libvirt/images keys=/tmp/bench-keys
iter_time=${LAB_BENCH_ITER_TIME:-400}   # ms per key derivation, calibrated in the lab
mkdir -p "$crypted" "$images" "$keys" /media/usb0
chmod 0700 "$keys"
for holder in a b c; do head -c 64 /dev/urandom >"$keys/luks-$holder.1.key"; done
head -c 64 /dev/urandom >/tmp/recovery.key
disks="web-d0:a db-d0:b db-d1:b mail-d0:c"
for pair in $disks; do
  file=$crypted/${pair%:*}.raw.crypted
  truncate -s 24M "$file"
  cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --iter-time "$iter_time" \
    --key-slot 0 --key-file /tmp/recovery.key "$file"
  cryptsetup luksAddKey --batch-mode --pbkdf pbkdf2 --iter-time "$iter_time" --key-slot 1 \
    --key-file /tmp/recovery.key "$file" "$keys/luks-${pair#*:}.1.key"
done
iterations=$(cryptsetup luksDump "$crypted/web-d0.raw.crypted" | sed -n 's/^[[:space:]]*Iterations:[[:space:]]*//p' | head -1)
echo "LAB-BENCH pbkdf2-iterations $iterations"
define_domain web "$images/web-d0.raw.decrypted"
define_domain db "$images/db-d0.raw.decrypted" "$images/db-d1.raw.decrypted"
define_domain mail "$images/mail-d0.raw.decrypted"
config=/tmp/decrypt-run-vms.xml
{
  echo "<vms>"
  for vm in web db mail; do
    echo "  <vm name='$vm'>"
    echo "    <luks>"
    for pair in $disks; do
      disk=${pair%:*}
      [ "${disk%-d*}" = "$vm" ] || continue
      echo "      <disk source='$crypted/$disk.raw.crypted'"
      echo "            target='$images/$disk.raw.decrypted' />"
    done
    echo "    </luks>"
    echo "  </vm>"
  done
  echo "</vms>"
} >"$config"
chmod 0600 "$config"
stick=/lab-share/stick.img
key_stick "$stick" "$keys"/luks-*.key
rm -rf "$keys"

# One virsh call per poll (each costs a few hundred ms under TCG): all three guests running.
all_running() { [ "$(virsh -q list --state-running --name | grep -cxE 'web|db|mail')" = 3 ]; }
no_stick() { ! ls /sys/block | grep -q '^sd'; }
elapsed() { echo "$(date +%s.%N) - $1" | bc; }
# The plug-in instant (t0): when the kernel lists the new USB device (polled every 20 ms), not when
# the host's monitor requests go out (about 1.5 s of monitor round trips, the same for both).
plug_in() {
  before=$(ls /sys/bus/usb/devices | grep -c '^[0-9]-')
  echo "LAB-REQUEST plug $1 stick.img"
  while [ "$(ls /sys/bus/usb/devices | grep -c '^[0-9]-')" = "$before" ]; do sleep 0.02; done
  t0=$(date +%s.%N)
}
# Guests off, links removed, mappings closed: the host as before the plug-in.
teardown() {
  for vm in web db mail; do virsh -q destroy $vm >/dev/null 2>&1; done
  for pair in $disks; do
    rm -f "$images/${pair%:*}.raw.decrypted"
    cryptsetup close "luks-${pair%:*}.raw.decrypted" 2>/dev/null
  done
}

# Warm-up: the first guest start and the first dm-crypt open in a fresh lab are slow for
# reasons that are neither tool's (QEMU and libraries read over 9p for the first time).
define_domain warm
virsh -q start warm >/dev/null && virsh -q destroy warm >/dev/null
cryptsetup open --key-file /tmp/recovery.key "$crypted/web-d0.raw.crypted" warm && cryptsetup close warm
"$LUKSVIRT" --version >/dev/null

# LuksVirt
"$LUKSVIRT" watch --config "$config" --log /tmp/luksvirt.log >/tmp/watch.out 2>&1 &
watch_pid=$!
wait_for 30 grep -q 'watching' /tmp/watch.out
plug_in lv
WAIT_INTERVAL=0.2 wait_for 300 all_running
luksvirt_s=$(elapsed "$t0")
check luksvirt-all-running "luksvirt: all three guests run after plug-in" all_running
check_eq luksvirt-link "luksvirt: db's second disk linked to its mapping" /dev/mapper/luks-db-d1.raw.decrypted "$(readlink $images/db-d1.raw.decrypted 2>&1)"
echo "LAB-REQUEST unplug lv"
wait_for 60 no_stick
kill "$watch_pid"; wait "$watch_pid" 2>/dev/null
cat /tmp/luksvirt.log
teardown

# The classic recipe
sh "$LAB_REPO/scripts/lab/classic/usb-hook.sh" "$config" &
hook_pid=$!
sleep 1
plug_in cl
WAIT_INTERVAL=0.2 wait_for 600 all_running
classic_s=$(elapsed "$t0")
wait "$hook_pid"
check classic-all-running "classic recipe: all three guests run after plug-in" all_running
check_eq classic-link "classic recipe: db's second disk linked to its mapping" /dev/mapper/luks-db-d1.raw.decrypted "$(readlink $images/db-d1.raw.decrypted 2>&1)"
check_eq classic-owner "classic recipe: mapping owned by libvirt-qemu:kvm" libvirt-qemu:kvm "$(stat -L -c %U:%G /dev/mapper/luks-db-d1.raw.decrypted 2>&1)"
cat /var/log/decrypt-run-vms.log
echo "LAB-REQUEST unplug cl"
wait_for 60 no_stick
teardown

echo "LAB-BENCH classic-recipe $classic_s s (plug-in to 3 guests running, $(grep -c 'trying' /var/log/decrypt-run-vms.log) luksOpen runs)"
echo "LAB-BENCH luksvirt $luksvirt_s s"
echo "LAB-BENCH ratio $(echo "scale=2; $classic_s / $luksvirt_s" | bc) (classic / luksvirt)"
