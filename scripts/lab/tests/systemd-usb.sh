# lab-init: systemd
# lab-timeout: 600
# Lab test: the Debian package and the udev entry point end to end, with systemd as PID 1.
# LuksVirt is installed as an administrator would: `apt-get install ./luksvirt_*.deb` (built by
# scripts/package.sh; the lab's root is the host's, so every dependency is there and nothing is
# downloaded). The package's files are checked (--version, man pages, completion, units known
# to systemd, luksvirt.service enabled by the postinst and started only where no policy-rc.d
# forbids it); the administrator then
# switches to the udev entry point (the example rule into /etc/udev/rules.d). The host hot-plugs
# a stick on xhci; systemd-udevd applies 99-luksvirt-usb.rules, systemd starts the installed
# luksvirt-usb@sdX.service with all its hardening, and the dmcrypt guest runs. Nothing is run by
# hand between the plug-in and the running guest. Then the same with the watch service,
# luksvirt.service, instead of the udev rule. Last, `dpkg --purge luksvirt` (what `apt purge`
# runs) leaves none of the package's files, its state or its log behind, but keeps a header
# backup the administrator stored under /var/lib/luksvirt.
. "$LAB_REPO/scripts/lab/lib.sh"
check_eq pid1-systemd "PID 1 is systemd" systemd "$(cat /proc/1/comm)"

deb=$(ls "$LAB_REPO"/artifacts/deb/luksvirt_*_amd64.deb 2>/dev/null | head -1)
[ -n "$deb" ] || result package FAIL "no artifacts/deb/luksvirt_*_amd64.deb: build it with scripts/package.sh"
version=$(cat "$LAB_REPO/VERSION")
# guest-init.sh hides the host's /etc/luksvirt under an empty tmpfs; the package must create it
# itself, as on a fresh host: no mount, no directory (removed in the overlay only, where the
# removal also keeps the host's files, if any, hidden).
umount /etc/luksvirt && rm -rf /etc/luksvirt
# Lab time only (nothing checked depends on them): no man-db index update (man -w and man -l
# below need none) and no PackageKit daemon woken by apt's hook (about 10 s each under TCG).
rm -f /var/lib/man-db/auto-update
systemctl mask --runtime --quiet packagekit.service
# First as into a chroot or image build: a policy-rc.d that forbids starting services (Docker
# hosts have one too). The postinst must enable luksvirt.service and start nothing.
printf '#!/bin/sh\nexit 101\n' >/tmp/policy-rc.d.deny
mv /usr/sbin/policy-rc.d /tmp/policy-rc.d.host 2>/dev/null || true
install -m 0755 /tmp/policy-rc.d.deny /usr/sbin/policy-rc.d
t_apt=$(date +%s.%N)
check install "apt-get install ./$(basename "$deb")" \
  env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb"
echo "LAB-TIME apt-install $(echo "$(date +%s.%N) - $t_apt" | bc)"
tail -5 /tmp/check.out
dpkg-query -L luksvirt >/tmp/luksvirt.files
LUKSVIRT=/usr/sbin/luksvirt
check_eq installed-binary "luksvirt on PATH is the package's" /usr/sbin/luksvirt "$(command -v luksvirt)"
# --version may add +<commit> (the build's source revision); the version itself is VERSION's.
installed_version=$(luksvirt --version 2>&1)
check_eq version "luksvirt --version is VERSION ($installed_version)" "$version" "${installed_version%%+*}"
check_eq package-version "the package's version is VERSION-revision" "$version" "$(dpkg-query -W -f='${Version}' luksvirt | sed 's/-[^-]*$//')"
check man-found "man finds luksvirt(8) and luksvirt.xml(5)" sh -c \
  'test "$(man -w 8 luksvirt)" = /usr/share/man/man8/luksvirt.8.gz && test "$(man -w 5 luksvirt.xml)" = /usr/share/man/man5/luksvirt.xml.5.gz'
check man-renders "man -l renders both installed pages without warnings" sh -c \
  'for p in /usr/share/man/man8/luksvirt.8.gz /usr/share/man/man5/luksvirt.xml.5.gz; do
     MANWIDTH=80 man --warnings -l "$p" >/tmp/man.out 2>/tmp/man.err && test -s /tmp/man.out && ! test -s /tmp/man.err || { cat /tmp/man.err; exit 1; }
   done'
# Loaded the way bash-completion finds it on demand, by the command's name (without the file
# its loader would fall back to "complete -F _minimal").
check completion "bash-completion loads the installed completion" sh -c \
  'bash -c ". /usr/share/bash-completion/bash_completion; _completion_loader luksvirt; complete -p luksvirt" >/tmp/complete.out 2>&1;
   cat /tmp/complete.out; grep -q " luksvirt\$" /tmp/complete.out && ! grep -q _minimal /tmp/complete.out'
cat /tmp/check.out
check units-verify "systemd-analyze verify accepts the installed units" \
  systemd-analyze verify luksvirt.service luksvirt-usb@sda.service
cat /tmp/check.out
check_eq unit-exec "luksvirt.service runs the installed binary" "/usr/sbin/luksvirt watch" \
  "$(systemctl show -P ExecStart luksvirt.service | sed -n 's/.*argv\[\]=\([^;]*\) ;.*/\1/p')"
check_eq postinst-enabled "the postinst enabled luksvirt.service" enabled "$(systemctl is-enabled luksvirt.service 2>&1)"
check_eq postinst-no-start "policy-rc.d forbids it: the postinst started nothing" inactive "$(systemctl is-active luksvirt.service 2>&1)"
check_eq conffile "/etc/luksvirt/luksvirt.xml is a conffile, 0600 in 0700" "/etc/luksvirt/luksvirt.xml 600 700" \
  "$(dpkg-query -W -f='${Conffiles}' luksvirt | awk '{print $1}') $(stat -c %a /etc/luksvirt/luksvirt.xml) $(stat -c %a /etc/luksvirt)"
# Then as on a host (no policy-rc.d): reinstalling runs the postinst as an upgrade does, which
# (re)starts the enabled service.
rm /usr/sbin/policy-rc.d
t_apt=$(date +%s.%N)
check reinstall "dpkg -i again (as an upgrade runs the postinst), no policy-rc.d" dpkg -i "$deb"
echo "LAB-TIME dpkg-reinstall $(echo "$(date +%s.%N) - $t_apt" | bc)"
check_eq postinst-started "the postinst started luksvirt.service (systemd runs)" active "$(systemctl is-active luksvirt.service 2>&1)"

# The administrator edits the configuration and picks the udev entry point instead of the
# watch service (one entry point at a time), as docs/usb-and-service.md says.
# The unit runs `luksvirt usb` without --config: the default file.
web_guest /etc/luksvirt/luksvirt.xml /tmp/stick/luks-admin.0.key
stick=/lab-share/stick.img
key_stick "$stick" /tmp/stick/luks-admin.0.key
rm -f /tmp/stick/luks-admin.0.key
stick_sum=$(sha256sum <"$stick")
check udev-entry-point "switch to the udev entry point: watch disabled, example rule installed" sh -c \
  'systemctl disable --now luksvirt.service &&
   cp /usr/share/doc/luksvirt/examples/99-luksvirt-usb.rules /etc/udev/rules.d/ &&
   udevadm control --reload-rules'
check unit-known "systemd knows luksvirt-usb@.service" systemctl cat luksvirt-usb@.service

t0=$(date +%s.%N)
echo "LAB-REQUEST plug stick stick.img"
wait_for 30 sh -c 'ls /sys/block | grep -q "^sd"'
dev=$(ls /sys/block | grep '^sd' | head -1)
unit=luksvirt-usb@$dev.service
wait_for 120 sh -c 'test "$(virsh -q domstate web)" = running'
echo "LAB-TIME plug-to-running $(echo "$(date +%s.%N) - $t0" | bc)"
wait_for 30 sh -c "test \"\$(systemctl show -P ActiveState $unit)\" != activating"
journalctl --no-pager -o cat -u "$unit" | grep -v "│\\|┌\\|└\\|├" | tail -20
check_eq unit-result "systemd ran $unit to success" success "$(systemctl show -P Result "$unit" 2>&1)"
# Started by systemd because of the rule (this test never starts it; without the rule, below,
# no such unit runs), exactly once. A later "change" event (`udevadm trigger`, as package
# upgrades run it) must not start it again: a locked host would unlock with the stick still in.
unit_runs() { journalctl -o cat | grep -c '^Starting luksvirt-usb@'; }
check_eq unit-ran-once "luksvirt-usb@ started once" 1 "$(unit_runs)"
udevadm trigger --action=change --settle "/sys/block/$dev"
sleep 3
check_eq change-no-rerun "a change event on the stick does not start it again" 1 "$(unit_runs)"
check_eq guest-running "guest web runs" running "$(virsh -q domstate web 2>&1)"
check_eq mapping-owner "mapping owned by libvirt-qemu:kvm" libvirt-qemu:kvm "$(stat -L -c %U:%G /dev/mapper/$mapping 2>&1)"
check_eq link-target "link points to the mapping" "/dev/mapper/$mapping" "$(readlink $link 2>&1)"
check_eq stick-unchanged "nothing written to the stick" "$stick_sum" "$(sha256sum <"$stick")"
check log-written "the unit's run is in /var/log/luksvirt.log" grep -q "unlock done: 1/1" /var/log/luksvirt.log

# The other entry point, the watch service, under the same systemd: lock, pull the stick, take
# the udev rule out (one entry point at a time), start luksvirt.service (Type=notify: active only
# once luksvirt says READY=1), plug the stick in again: the guest runs again.
check lock-exit "luksvirt lock exits 0" "$LUKSVIRT" lock --timeout 1
echo "LAB-REQUEST unplug stick"
wait_for 30 sh -c '! ls /sys/block | grep -q "^sd"'
rm /etc/udev/rules.d/99-luksvirt-usb.rules && udevadm control --reload-rules
check watch-started "systemctl start luksvirt.service returns once the watch is ready" systemctl start luksvirt.service
check_eq watch-active "luksvirt.service is active" active "$(systemctl is-active luksvirt.service)"
echo "LAB-REQUEST plug stick2 stick.img"
wait_for 120 sh -c 'test "$(virsh -q domstate web)" = running'
journalctl --no-pager -o cat -u luksvirt.service | grep -v "│\\|┌\\|└\\|├" | tail -12
check_eq watch-guest-running "with luksvirt.service, plugging the stick in runs guest web again" running "$(virsh -q domstate web 2>&1)"
check_eq watch-still-active "luksvirt.service still active after the unlock" active "$(systemctl is-active luksvirt.service)"
check_eq watch-stick-unchanged "nothing written to the stick" "$stick_sum" "$(sha256sum <"$stick")"
check_eq no-usb-unit-without-rule "without the rule, plugging in started no luksvirt-usb@ unit" 1 "$(unit_runs)"

# Purge. A header backup the administrator stored under /var/lib/luksvirt is theirs: it stays.
check header-backup "luksvirt header backup into /var/lib/luksvirt" \
  "$LUKSVIRT" header backup --container /var/lib/libvirt/images-crypted/web-d0.raw.crypted --file /var/lib/luksvirt/web-d0.header
check_eq state-written "luksvirt wrote its state file" yes "$(test -f /var/lib/luksvirt/state.json && echo yes)"
t_apt=$(date +%s.%N)
# dpkg --purge is what apt purge runs, without apt's 15 s of reading package lists under TCG.
check purge "dpkg --purge luksvirt" dpkg --purge luksvirt
echo "LAB-TIME dpkg-purge $(echo "$(date +%s.%N) - $t_apt" | bc)"
tail -3 /tmp/check.out
# luksvirt.service ran until now (started above); the prerm must have stopped it.
check_eq purge-stopped "the prerm stopped luksvirt.service" inactive "$(systemctl is-active luksvirt.service 2>&1)"
check_eq purged "dpkg keeps nothing of luksvirt (not even config-files)" "" "$(dpkg-query -W -f='${Status}' luksvirt 2>/dev/null | grep -v not-installed)"
left=$(while read -r f; do [ "$f" = /. ] || [ ! -e "$f" ] || [ -d "$f" -a "${f#/usr/share/doc/luksvirt}" = "$f" -a "${f#/etc/luksvirt}" = "$f" ] || echo "$f"; done </tmp/luksvirt.files)
check_eq purge-files "none of the package's files (nor its own directories) is left" "" "$left"
[ -z "$left" ] || ls -la $left
check_eq purge-state "state file, lock notice, log and service link are gone" "" \
  "$(ls -d /var/lib/luksvirt/state.json /var/lib/luksvirt/lock-notice /var/log/luksvirt.log /etc/systemd/system/multi-user.target.wants/luksvirt.service 2>/dev/null)"
check_eq purge-keeps-backup "the header backup is kept" yes "$(test -f /var/lib/luksvirt/web-d0.header && echo yes)"
