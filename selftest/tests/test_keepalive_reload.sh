#!/bin/bash
#
# Two life-cycle duties of smbdirectd with a real client:
# - keepalive ([MS-SMBD] 3.1.6.2): with a 2 s idle timer, an idle mount
#   gets RESPONSE_REQUESTED messages, answers them and stays connected;
# - SIGHUP reloads smb.conf: a hosts deny added afterwards refuses the
#   next connection while the daemon (and the open mount) go on.
#
# Runs inside the test VM: selftest/run-integration selftest/tests/test_keepalive_reload.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

m1=$work/m1
m2=$work/m2

smbd_env_init "$work/srv"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals)
	smbdirect:keepalive interval = 2
	smbdirect:keepalive timeout = 5" \
	smbd_env_start "" || { fail "smbd starts"; summary; exit; }
smbdirectd_env_start || { fail "smbdirectd starts"; summary; exit; }
cifs_default_io

if ! smbd_env_mount_rdma "$m1"; then
	fail "mount -o rdma"
	summary
	exit
fi
echo before >"$m1/k"
sleep 1.5
sends_before=$(smbdirectd_env_counter rdma_sends conn)
recvs_before=$(smbdirectd_env_counter rdma_recvs conn)
sleep 8 # four idle intervals
sends_after=$(smbdirectd_env_counter rdma_sends conn)
recvs_after=$(smbdirectd_env_counter rdma_recvs conn)
if [ "${sends_after:-0}" -gt "${sends_before:-0}" ] &&
	[ "${recvs_after:-0}" -gt "${recvs_before:-0}" ]; then
	pass "idle connection: keepalives sent ($sends_before -> $sends_after) and answered ($recvs_before -> $recvs_after)"
else
	fail "no keepalive traffic while idle: sends $sends_before -> $sends_after, receives $recvs_before -> $recvs_after"
fi
if grep -q "keepalive not answered" "$SMBDIRECTD_ENV_LOG"; then
	fail "smbdirectd dropped the idle client for an unanswered keepalive"
else
	pass "the client answered every keepalive in time"
fi
check_output "the idle mount still works" "^before$" cat "$m1/k"

# Reload: deny the client's address, then a new connection is refused.
sed -i "s/^\[global\]/[global]\n\thosts deny = $SMBDIRECT_VM_IP/" "$SMBD_ENV_CONF"
kill -HUP "$SMBDIRECTD_ENV_PID"
sleep 1
check_output "SIGHUP reloaded smb.conf" "reloaded .*smb.conf" smbdirectd_env_log
if smbd_env_mount_rdma "$m2" nosharesock 2>/dev/null; then
	fail "after the reload, a denied peer could still connect"
	umount "$m2"
else
	pass "after the reload, a new connection from the denied peer is refused"
fi
check_output "the refusal is logged" \
	"refusing SMB Direct connection from $SMBDIRECT_VM_IP" smbdirectd_env_log
check "smbdirectd goes on after the reload" smbdirectd_env_alive
summary
