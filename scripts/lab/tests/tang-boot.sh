# lab-init: systemd
# lab-timeout: 420
# Lab test: nobody at the rack. A dmcrypt (LUKS2) guest disk is bound to a Tang server by
# Debian's own `clevis luks bind` (a clevis token, as clevis writes it), and no key is left on
# the host. luksvirt.service (the packaged unit with all its hardening, ExecStart pointed at the
# lab's binary) is started by systemd as PID 1, as at boot, while the Tang server is down: the
# guest stays off and the service says it will try again. The server comes up: the watch's
# retry opens the mapping and starts the guest with nobody present. Then, server up, a locked
# host whose service (re)starts runs its guest again: the boot case. Last, the other direction:
# a container bound by `luksvirt keys bind` is opened by clevis's own `clevis luks unlock`.
. "$LAB_REPO/scripts/lab/lib.sh"
check_eq pid1-systemd "PID 1 is systemd" systemd "$(cat /proc/1/comm)"
port=8765 url=http://127.0.0.1:8765
mkdir -p /tmp/tang/db
/usr/libexec/tangd-keygen /tmp/tang/db
# --collect: a socat stopped by SIGTERM "fails"; the unit must go so that it can run again.
tang_up() { systemd-run --quiet --collect --unit=lab-tang /usr/bin/socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" "EXEC:/usr/libexec/tangd /tmp/tang/db"; }
tang_up
wait_for 20 curl -sf "$url/adv"

mkdir -p /etc/luksvirt
web_guest /etc/luksvirt/luksvirt.xml /tmp/enrol.key
check bind "clevis luks bind -d web-d0 tang (LUKS2 token)" \
  clevis luks bind -y -d "$crypted/web-d0.raw.crypted" -k /tmp/enrol.key tang "{\"url\":\"$url\"}"
cat /tmp/check.out
check_eq clevis-token "the header holds one clevis token" 1 "$(cryptsetup luksDump --dump-json-metadata "$crypted/web-d0.raw.crypted" | grep -c '"type":"clevis"')"
# The recovery path for the end of the test: a passphrase slot (random, kept in this shell only).
# It reaches programs on standard input (printf is a builtin), never in an argument.
pass=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
add_passphrase() { printf '%s' "$pass" | cryptsetup luksAddKey --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file /tmp/enrol.key "$crypted/web-d0.raw.crypted" -; }
type_passphrase() { printf '%s\n' "$pass" | timeout 60 python3 "$LAB_REPO/scripts/lab/pty-type.py" "passphrase for guests web" systemd-tty-ask-password-agent --query >/tmp/agent.screen; }
holds_no_passphrase() { ! printf '%s\n' "$pass" | grep -qF -f - "$@"; }
check passphrase-slot "cryptsetup luksAddKey: a passphrase slot beside the clevis binding" add_passphrase
# Nobody present: the enrolment key is gone, only the binding (or a person) can open the disk.
shred -u /tmp/enrol.key

systemctl stop lab-tang
check tang-down "the Tang server is down (connection refused)" sh -c "! curl -sf $url/adv"
# The packaged unit, its ExecStart pointed at the lab's binary with the watch options given.
install_unit() {
  sed -e "s|^ExecStart=.*|ExecStart=$LUKSVIRT watch $*|" "$LAB_REPO/packaging/luksvirt.service" >/run/systemd/system/luksvirt.service
  systemctl daemon-reload
}
install_unit
t0=$(date +%s.%N)
check watch-started "systemctl start luksvirt.service (Type=notify) with the server down" systemctl start luksvirt.service
wait_for 60 sh -c 'grep -q "trying again" /var/log/luksvirt.log'
check retry-logged "the service names the server and will try again" sh -c "grep -q \"$url\" /var/log/luksvirt.log && grep -q 'binding(s) gave no key; trying again' /var/log/luksvirt.log"
check_eq locked-while-down "with the server down, guest web stays off" "shut off" "$(virsh -q domstate web 2>&1)"
check no-mapping-while-down "and its disk has no mapping" sh -c "! test -e /dev/mapper/$mapping"

t_up=$(date +%s.%N)
tang_up
wait_for 150 sh -c 'test "$(virsh -q domstate web)" = running'
echo "LAB-TIME tang-up-to-running $(echo "$(date +%s.%N) - $t_up" | bc)"
journalctl --no-pager -o cat -u luksvirt.service | grep -v "│\\|┌\\|└\\|├" | tail -12
check_eq running-after-retry "the server up, the watch's retry starts guest web" running "$(virsh -q domstate web 2>&1)"
check mapping-open "mapping active" cryptsetup status "$mapping"
check_eq mapping-owner "mapping owned by libvirt-qemu:kvm" libvirt-qemu:kvm "$(stat -L -c %U:%G /dev/mapper/$mapping 2>&1)"
check answered-logged "the log says the Tang run started the guest" grep -q "Tang: unlock finished: 1/1 guest(s) running (1 started" /var/log/luksvirt.log

# The boot case: the host locked, the service starts with the server reachable.
systemctl stop luksvirt.service
check lock-exit "luksvirt lock exits 0" "$LUKSVIRT" lock --timeout 1
check_eq locked "guest web shut off, mapping closed" "shut off no-mapping" "$(virsh -q domstate web 2>&1) $(test -e /dev/mapper/$mapping && echo mapping || echo no-mapping)"
t0=$(date +%s.%N)
check watch-restarted "systemctl start luksvirt.service with the server up" systemctl start luksvirt.service
wait_for 120 sh -c 'test "$(virsh -q domstate web)" = running'
echo "LAB-TIME service-start-to-running $(echo "$(date +%s.%N) - $t0" | bc)"
check_eq running-at-start "at the service's start, guest web runs with nobody present" running "$(virsh -q domstate web 2>&1)"
check no-key-in-log "the log holds no key material (no JWE, no 'pass')" sh -c "! grep -qiE 'eyJ|\"k\":' /var/log/luksvirt.log"
systemctl stop luksvirt.service

# The other direction, on dm-crypt: LuksVirt binds, clevis opens.
head -c 64 /dev/urandom >/tmp/other.key
make_container /tmp/other.luks /tmp/other.key
check luksvirt-bind "luksvirt keys bind tang on a LUKS2 container" \
  "$LUKSVIRT" keys bind --container /tmp/other.luks --key-file /tmp/other.key --yes tang "{\"url\":\"$url\"}"
cat /tmp/check.out
check clevis-lists "clevis luks list shows LuksVirt's binding" sh -c "clevis luks list -d /tmp/other.luks | grep -q '$url'"
check clevis-unlocks "clevis luks unlock opens the container LuksVirt bound" clevis luks unlock -d /tmp/other.luks -n lab-clevis-open
check clevis-mapping "the mapping clevis made is active" cryptsetup status lab-clevis-open
cryptsetup close lab-clevis-open 2>/dev/null || true

# Last, nobody at the rack and no network: the Tang server gone, every interface but lo down, no
# stick. The service, started with --ask-password, posts a request through systemd's password
# agents naming the guest; the passphrase typed into `systemd-tty-ask-password-agent --query` on
# a pseudo-terminal (as over ssh -t) starts it, and the request is withdrawn.
check lock-again "luksvirt lock exits 0" "$LUKSVIRT" lock --timeout 1
systemctl stop lab-tang
for dev in $(ls /sys/class/net); do [ "$dev" = lo ] || ip link set "$dev" down; done
check no-network "no network: the Tang server unreachable, no default route, no interface up but lo" sh -c \
  "! curl -sf --max-time 3 $url/adv && test -z \"\$(ip route show default)\" && test -z \"\$(ip -o link show up | grep -v ': lo:')\""
check no-stick "no stick: no SCSI/USB disk at all" sh -c "! ls /sys/block | grep -q '^sd'"
install_unit --ask-password
t0=$(date +%s.%N)
check watch-asks "systemctl start luksvirt.service (watch --ask-password), guest web locked" systemctl start luksvirt.service
wait_for 120 sh -c 'grep -l "passphrase for guests web" /run/systemd/ask-password/ask.* >/dev/null 2>&1'
echo "LAB-TIME service-start-to-request $(echo "$(date +%s.%N) - $t0" | bc)"
check_eq off-while-asked "while the request stands, guest web is off" "shut off" "$(virsh -q domstate web 2>&1)"
check request-logged "the log says the guest waits and how to answer" grep -q "guests web wait for a key: passphrase asked through systemd's password agents" /var/log/luksvirt.log
t_typed=$(date +%s.%N)
check tty-agent-answers "the passphrase typed into systemd-tty-ask-password-agent --query" type_passphrase
check agent-showed "the agent showed LuksVirt's question" grep -q "LuksVirt: passphrase for guests web:" /tmp/agent.screen
check agent-no-echo "and not the passphrase" holds_no_passphrase /tmp/agent.screen
wait_for 120 sh -c 'test "$(virsh -q domstate web)" = running'
echo "LAB-TIME typed-to-running $(echo "$(date +%s.%N) - $t_typed" | bc)"
check_eq running-by-passphrase "the typed passphrase starts guest web with no stick and no network" running "$(virsh -q domstate web 2>&1)"
check mapping-by-passphrase "mapping active" cryptsetup status "$mapping"
# grep exits 2 when no ask file is left at all (the pattern stays unexpanded): also "none left".
wait_for 30 sh -c '! grep -qs "passphrase for guests web" /run/systemd/ask-password/ask.*'
check request-withdrawn "no request naming guest web is left" sh -c '! grep -s "passphrase for guests web" /run/systemd/ask-password/ask.*'
check passphrase-run-logged "the log says the passphrase started the guest" grep -q "password agent: unlock finished: 1/1 guest(s) running (1 started" /var/log/luksvirt.log
journalctl --no-pager -o cat -u luksvirt.service >/tmp/journal.txt
check no-passphrase-in-log "neither the log nor the journal holds the passphrase" holds_no_passphrase /var/log/luksvirt.log /tmp/journal.txt
systemctl stop luksvirt.service
