#!/bin/bash
#
# Where smbdirectd listens (issue #12, 3): clients expect SMB Direct on
# rdma_cm port 445 on InfiniBand and RoCE devices (Windows, ksmbd) and on
# 5445 on iWARP (TCP's port space, where 445 is smbd's); the Linux client
# tries 5445, then 445. By default smbdirectd listens on 5445 on every
# RDMA address and on 445 as well where the device is IB/RoCE: rxe0 gets
# both. smbdirect:port (a list) overrides. The "interfaces" entries are
# read with smbd's own code, so Samba's syntax works: an interface name
# stands for its addresses, options are comma separated.
#
# Each case starts smbdirectd on the same smbd with other options
# (--option), checks the listeners (log, --status, --status --json) and,
# where it matters, that cifs.ko connects (rdma res show cm_id gives the
# port the connection was accepted on).
#
# Runs inside the test VM: selftest/run-integration selftest/tests/test_ports.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

ip=${SMBDIRECT_VM_IP:-10.77.0.1}
ip6=fd77::1
mnt=$work/mnt

status_listen() {
	"$repo/out/smbdirectd" -s "$SMBD_ENV_CONF" --status --json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"]["listen"])'
}

# The local port of smbdirectd's accepted (connected) rdma_cm ids.
accepted_ports() {
	rdma res show cm_id 2>/dev/null |
		awk '/state CONNECT/ && /src-addr '"$ip"':/ {
			for (i = 1; i <= NF; i++) if ($i == "src-addr") print $(i + 1) }' |
		sed 's/.*://' | sort -u | paste -sd ' '
}

# mounted NAME PORT: a mount by RDMA works, and the server side of its
# connection is on PORT.
mounted() {
	local name=$1 port=$2 got
	if ! smbd_env_mount_rdma "$mnt"; then
		fail "$name: mount -o rdma: $(dmesg | tail -2 | paste -sd '|')"
		return
	fi
	echo "port test" >"$mnt/hello"
	if [ "$(cat "$SMBD_ENV_DIR/share/hello")" = "port test" ]; then
		pass "$name: mount -o rdma works"
	else
		fail "$name: data written through the mount did not arrive"
	fi
	got=$(accepted_ports)
	if grep -qw -- "$port" <<<"$got"; then
		pass "$name: the client's connection was accepted on port $port"
	else
		fail "$name: connection accepted on port(s) [$got], want $port: $(rdma res show cm_id 2>&1 | tail -4 | paste -sd '|')"
	fi
	umount "$mnt" || umount -f "$mnt"
}

# restart ARGS...: smbdirectd again with other --options
restart() {
	smbdirectd_env_stop
	SMBDIRECTD_ENV_ARGS=$(printf '%s\n' "$@") smbdirectd_env_start
}

smbd_env_init "$work/srv"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals --no-lo --speed=100000000000 "$ip")" \
	smbd_env_start "" || { fail "smbd starts"; summary; exit; }
cifs_default_io

# --- defaults --------------------------------------------------------------
smbdirectd_env_start || { fail "smbdirectd starts"; summary; exit; }
check_output "default: listens on $ip port 5445" \
	"listening for SMB Direct on $ip port 5445 \\(device rxe0\\)" smbdirectd_env_log
check_output "default: and on $ip port 445, rxe0 being RoCE" \
	"listening for SMB Direct on $ip port 445 \\(device rxe0\\)" smbdirectd_env_log
smbdirectd_env_status_fresh
check_output "default: --status --json lists both listeners" \
	"^$ip:5445,$ip:445\$" status_listen
check_output "default: --status says where it listens" \
	"listening \\(rdma_cm address:port\\): $ip:5445,$ip:445" \
	"$repo/out/smbdirectd" -s "$SMBD_ENV_CONF" --status
mounted "default" 5445

# --- smbdirect:port = 445 --------------------------------------------------
restart --option=smbdirect:port=445 || fail "port 445: smbdirectd starts"
smbdirectd_env_status_fresh
check_output "port 445: only 445" "^$ip:445\$" status_listen
# cifs.ko tries 5445 first: nothing there, so it must fall back to 445.
mounted "port 445" 445

# --- smbdirect:port = 5445 -------------------------------------------------
restart --option=smbdirect:port=5445 || fail "port 5445: smbdirectd starts"
smbdirectd_env_status_fresh
check_output "port 5445: only 5445" "^$ip:5445\$" status_listen

# --- smbdirect:port = 5445 445 (a list) -------------------------------------
restart --option=smbdirect:port=5445,445 || fail "port list: smbdirectd starts"
smbdirectd_env_status_fresh
check_output "port list 5445 445: both" "^$ip:5445,$ip:445\$" status_listen

# --- a bad port: refused with a message that says what is wrong ------------
smbdirectd_env_stop
out=$("$repo/out/smbdirectd" -s "$SMBD_ENV_CONF" -F --debug-stdout \
	--option=smbdirect:port=44x5 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && grep -q "smbdirect:port: '44x5' is not a port number" <<<"$out"; then
	pass "smbdirect:port = 44x5: refused (exit $rc) with the reason"
else
	fail "smbdirect:port = 44x5: exit $rc: $(t_tail "$out")"
fi

# --- an interface name, as smbd takes it ------------------------------------
SMBDIRECTD_ENV_ARGS='--option=interfaces="veth0;capability=RDMA,speed=1000000000"' \
	smbdirectd_env_start || fail "interfaces = veth0: smbdirectd starts"
check_output "interfaces = \"veth0;capability=RDMA,...\": its IPv4 address" \
	"listening for SMB Direct on $ip port 5445" smbdirectd_env_log
check_output "interfaces = \"veth0;capability=RDMA,...\": its IPv6 address" \
	"listening for SMB Direct on $ip6 port 5445" smbdirectd_env_log
mounted "interfaces = veth0" 5445

# --- a loopback entry: smbd would advertise it, smbdirectd says so ---------
restart '--option=interfaces=lo "'"$ip"';capability=RDMA"' ||
	fail "interfaces = lo ...: smbdirectd starts"
check_output "interfaces = lo ...: warns that smbd advertises 127.0.0.1" \
	"smbd advertises the loopback address 127.0.0.1 to multichannel clients" \
	smbdirectd_env_log
summary
