#!/bin/sh
# lab-test.service's body: runs $LAB_SCRIPT as guest-init.sh does without systemd, prints
# LAB-READY / LAB-DONE, and powers the lab off.
echo "LAB-READY uptime=$(cut -d' ' -f1 /proc/uptime) init=$(cat /proc/1/comm)"
cd /lab-repo || exit 1
# Output goes to the serial console, a tty: no pager may wait there for a key.
export SYSTEMD_PAGER=cat PAGER=cat
LAB_REPO=/lab-repo sh "$LAB_SCRIPT"
echo "LAB-DONE rc=$? uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
echo o >/proc/sysrq-trigger
