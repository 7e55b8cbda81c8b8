#!/bin/bash
#
# Issue #6: the Debian package and its systemd unit, used the way an
# administrator would, on a system whose PID 1 is systemd: the test VM
# booted with "selftest/vm/run --systemd" (systemd 252 from the host's
# root filesystem, the distro's smbd.service enabled as on the host).
#
#   dpkg -i the package built by "make deb" (out/deb/)
#   add an RDMA address and a share with vfs objects = smbdirect to the
#     stock /etc/samba/smb.conf, restart smbd.service
#   systemctl enable --now smbdirectd: active (Type=notify: READY=1
#     came), enabled, its capabilities dropped (LimitMEMLOCK=infinity:
#     only CAP_NET_BIND_SERVICE left, for port 445 on RoCE)
#   mount -t cifs -o rdma from cifs.ko in the same VM, write and read
#   smbdirectd --status (the default smb.conf) shows the connection;
#     log.smbdirectd in /var/log/samba
#   systemctl reload (same process), stop, disable; dpkg -P
#
# Run by "make check-systemd" (part of "make check"):
#     selftest/vm/run --systemd -- selftest/systemd/test_package_systemd.sh

# shellcheck source=../tests/lib.sh
. "$(dirname "$0")/../tests/lib.sh"
test_begin

PKG=samba-vfs-smbdirect
ip=${SMBDIRECT_VM_IP:-10.77.0.1}
pw=smbdirect-test
# The administrator's mount point and services, outside $work: this
# test's own part of the teardown.
mnt=/mnt/smbdirect
test_cleanup() {
	umount -f "$mnt" 2>/dev/null
	systemctl stop smbdirectd 2>/dev/null
	return 0
}
test_keep /var/log/samba/log.smbdirectd systemd-log.smbdirectd

if [ "$(cat /proc/1/comm)" != systemd ] || [ ! -d /run/systemd/system ]; then
	fail "PID 1 is $(cat /proc/1/comm), not systemd: run with selftest/vm/run --systemd"
	summary
	exit
fi
pass "PID 1 is systemd ($(systemctl --version | head -n 1))"

state=$(timeout 300 systemctl is-system-running --wait 2>&1)
case $state in
running | degraded)
	pass "system up: $state (after $(cut -d' ' -f1 /proc/uptime) s)"
	[ "$state" = degraded ] && echo "  failed units (the VM's, not ours):" \
		"$(systemctl list-units --failed --plain --no-legend | cut -d' ' -f1 | paste -sd ' ')"
	;;
*) fail "systemctl is-system-running: $state" ;;
esac

deb=$(ls "$repo"/out/deb/${PKG}_*.deb 2>/dev/null | tail -n 1)
if [ -z "$deb" ]; then
	fail "no out/deb/${PKG}_*.deb: run 'make deb' first"
	summary
	exit
fi
# man-db's trigger would rebuild the whole man index over 9p under TCG
# (minutes); the man pages are checked by selftest/test-package.sh.
rm -f /var/lib/man-db/auto-update
check "dpkg -i $(basename "$deb")" dpkg -i "$deb"
# (is-enabled exits 1 for "disabled")
state=$(systemctl is-enabled smbdirectd 2>&1)
if [ "$state" = disabled ]; then
	pass "installed, not enabled"
else
	fail "after dpkg -i, systemctl is-enabled says: $state"
fi

# --- smb.conf as the package's example says -----------------------------
conf=/etc/samba/smb.conf
check "the package's smb.conf example is there" \
	test -s /usr/share/doc/$PKG/examples/smb.conf.example
sed -i "/^\[global\]/a\\
	interfaces = lo \"$ip;capability=RDMA\"" "$conf"
mkdir -p /srv/media
cat >>"$conf" <<EOF

[media]
	path = /srv/media
	read only = no
	vfs objects = smbdirect
EOF
check_output "testparm: [media] has vfs objects = smbdirect" '^smbdirect$' \
	testparm -s --section-name media --parameter-name "vfs objects"
printf '%s\n%s\n' "$pw" "$pw" | smbpasswd -s -a root >/dev/null ||
	fail "smbpasswd -a root"
check "systemctl restart smbd" systemctl restart smbd
check_output "smbd.service active" '^active$' systemctl is-active smbd

# --- the unit ---------------------------------------------------------------
check "systemctl enable --now smbdirectd" systemctl enable --now smbdirectd
check_output "smbdirectd.service active (READY=1 received)" '^active$' \
	systemctl is-active smbdirectd
check_output "smbdirectd.service enabled" '^enabled$' \
	systemctl is-enabled smbdirectd
pid=$(systemctl show -p MainPID --value smbdirectd)
if [ -n "$pid" ] && [ "$pid" != 0 ] &&
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = smbdirectd ]; then
	pass "MainPID $pid is smbdirectd"
else
	fail "MainPID '${pid}' is not smbdirectd"
fi
check_output "LimitMEMLOCK=infinity reached the daemon" \
	'^Max locked memory +unlimited +unlimited' cat "/proc/$pid/limits"
# rxe0 is RoCE: smbdirectd listens on 445 there too, and keeps only the
# capability to bind it (smbdirectd(8), PRIVILEGES).
check_output "only CAP_NET_BIND_SERVICE left (CapEff)" \
	'^CapEff:[[:space:]]+0+400$' cat "/proc/$pid/status"
check_output "only CAP_NET_BIND_SERVICE left (CapBnd)" \
	'^CapBnd:[[:space:]]+0+400$' cat "/proc/$pid/status"
check_output "pid file /run/samba/smbdirectd.pid" "^$pid\$" \
	cat "$(smbd -b | sed -n 's/^ *PIDDIR: //p')/smbdirectd.pid"

# --- a client over RDMA ------------------------------------------------------
modprobe cifs
mkdir -p "$mnt"
if mount -t cifs "//$ip/media" "$mnt" \
	-o "rdma,vers=3.1.1,username=root,password=$pw,cache=none"; then
	pass "mount -t cifs -o rdma //$ip/media"
	head -c $((16 << 20)) /dev/urandom >/tmp/src
	cp /tmp/src "$mnt/f"
	echo 3 >/proc/sys/vm/drop_caches
	if cmp -s /tmp/src "$mnt/f" && cmp -s /tmp/src /srv/media/f; then
		pass "16 MiB written and read back by RDMA"
	else
		fail "the file differs after the round trip"
	fi
	check_output "smbdirectd --status (default smb.conf) shows it" \
		"^connection [0-9]+ from $ip:[0-9]+: running, smbd pid [1-9]" \
		smbdirectd --status
	check_output "the offload carried bytes (--status --json)" \
		'"offload_write_bytes": [1-9]' smbdirectd --status --json
	check "umount" umount "$mnt"
else
	fail "mount -o rdma: $(dmesg | tail -n 3 | paste -sd '|')"
fi
check_output "log.smbdirectd in /var/log/samba" "listening for SMB Direct on $ip" \
	cat /var/log/samba/log.smbdirectd

# --- reload, stop, remove ------------------------------------------------------
check "systemctl reload smbdirectd" systemctl reload smbdirectd
sleep 1
check_output "still active after reload" '^active$' systemctl is-active smbdirectd
check_output "same process after reload" "^$pid\$" \
	systemctl show -p MainPID --value smbdirectd
check "systemctl stop smbdirectd" systemctl stop smbdirectd
out=$(systemctl is-active smbdirectd)
if [ "$out" = inactive ]; then
	pass "inactive after stop (clean exit: not 'failed')"
else
	fail "after stop: $out"
fi
check "systemctl disable smbdirectd" systemctl disable smbdirectd
check "dpkg -P $PKG" dpkg -P "$PKG"
if [ ! -e /lib/systemd/system/smbdirectd.service ] && [ ! -e /usr/sbin/smbdirectd ]; then
	pass "purged: unit and daemon gone"
else
	fail "files left after dpkg -P"
fi
summary
