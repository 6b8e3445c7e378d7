# Lab smoke test: the guest runs on the host's root with dm-crypt and libvirt available.
. "$LAB_REPO/scripts/lab/lib.sh"
check dm-control "device-mapper present" test -c /dev/mapper/control
check libvirt-up "libvirtd answers" virsh -q -c qemu:///system list --all
check luksvirt-runs "luksvirt binary starts" "$LUKSVIRT" --help
