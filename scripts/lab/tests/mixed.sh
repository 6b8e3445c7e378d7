# Lab test: a mixed host. One stick (its image read by `luksvirt usb`) holds one key that opens
# a `native` guest's container (QEMU decrypts through a libvirt secret; found by discovery) and a
# `dmcrypt` guest's container (listed in the classic config): both guests run after one run.
. "$LAB_REPO/scripts/lab/lib.sh"
crypted=/var/lib/libvirt/images-crypted images=/var/lib/libvirt/images
mkdir -p "$crypted" "$images" /tmp/stick
# A text passphrase: the native backend hands the key to libvirt as a passphrase secret.
head -c 24 /dev/urandom | base64 | tr -d '\n' >/tmp/stick/luks-admin.0.key
make_container "$crypted/web-d0.raw.crypted" /tmp/stick/luks-admin.0.key
# QEMU opens LUKS1 containers itself.
truncate -s 16M "$crypted/nat-d0.luks"
cryptsetup luksFormat --batch-mode --type luks1 --pbkdf-force-iterations 1000 --key-file=- \
  "$crypted/nat-d0.luks" </tmp/stick/luks-admin.0.key
define_domain web "$images/web-d0.raw.decrypted"
cat >/tmp/dom-nat.xml <<XML
<domain type='qemu'><name>nat</name><memory unit='MiB'>32</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/>
<source file='$crypted/nat-d0.luks'/><target dev='vda' bus='virtio'/>
<encryption format='luks'><secret type='passphrase' uuid='$(cat /proc/sys/kernel/random/uuid)'/></encryption>
</disk></devices></domain>
XML
virsh -q define /tmp/dom-nat.xml >/dev/null
classic_config /tmp/decrypt-run-vms.xml web "$crypted/web-d0.raw.crypted=$images/web-d0.raw.decrypted"
stick=/lab-share/stick.img
key_stick "$stick" /tmp/stick/luks-admin.0.key
rm -f /tmp/stick/luks-admin.0.key

t0=$(date +%s.%N)
check usb-exit "luksvirt usb exits 0 (every guest in scope runs)" "$LUKSVIRT" usb --config /tmp/decrypt-run-vms.xml "$stick"
echo "LAB-TIME usb-unlock $(echo "$(date +%s.%N) - $t0" | bc)"
cat /tmp/check.out
check_eq native-guest-running "native guest nat runs" running "$(virsh -q domstate nat 2>&1)"
check_eq dmcrypt-guest-running "dmcrypt guest web runs" running "$(virsh -q domstate web 2>&1)"
check_eq dmcrypt-link "web's link points to its mapping" /dev/mapper/luks-web-d0.raw.decrypted "$(readlink $images/web-d0.raw.decrypted 2>&1)"
check_eq no-mapping-for-native "no dm mapping for the native container" "" "$(dmsetup ls --target crypt 2>&1 | grep -v luks-web || true)"
