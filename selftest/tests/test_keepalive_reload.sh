#!/bin/bash
#
# Two life-cycle duties of smbdirectd with a real client:
# - keepalive ([MS-SMBD] 3.1.6.2): with a 2 s idle timer, an idle mount
#   gets RESPONSE_REQUESTED messages, answers them and stays connected;
#   a peer that goes quiet after the negotiate is dropped, whether it
#   granted the credit to ask it for a keepalive or not, and one whose
#   credit comes late gets the whole timeout to answer;
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

# Peers that negotiate and then go quiet (smbdirect_badclient): "mute"
# grants smbdirectd credits, so it is asked for a keepalive, and dropped
# when it does not answer; "mute-no-credit" grants none and cannot be
# asked, so it is dropped after the same time. The mount goes on.
tool=$repo/out/smbdirect_badclient
# badclient SCENARIO TIMEOUT: the tool's line in out, its exit in rc.
badclient() {
	rc=0
	out=$(timeout 60 "$tool" --server "$SMBDIRECT_VM_IP" \
		--scenario "$1" --timeout "$2" 2>&1) || rc=$?
}
# quiet_peer SCENARIO ERE: the tool sees the drop, the log says why.
quiet_peer() {
	local name=$1 ere=$2 start
	start=$(stat -c %s "$SMBDIRECTD_ENV_LOG")
	badclient "$name" 20
	if [ "$rc" -eq 0 ]; then
		pass "$name: ${out#"$name: "}"
	else
		fail "$name: smbdirect_badclient exit $rc: $out"
	fi
	if smbdirectd_env_wait_log "$start" "$ere"; then
		pass "$name: smbdirectd logged /$ere/"
	else
		fail "$name: no /$ere/ in smbdirectd's log: $(t_tail "$(smbdirectd_env_log_since "$start" | grep -E 'disconnecting|closed')")"
	fi
}
quiet_peer mute "disconnecting: keepalive not answered within 5 s"
quiet_peer mute-no-credit \
	"disconnecting: quiet for [0-9]+ s, and no send credit to ask it for a keepalive"
# A peer whose first credit comes after smbdirectd wanted to ask it for
# a keepalive: the timeout runs from when the request could go out.
badclient late-credit 20
if [ "$rc" -eq 0 ]; then
	pass "late-credit: ${out#"late-credit: "}"
else
	fail "late-credit: smbdirect_badclient exit $rc: $out"
fi
# The control: before 2 s of idleness and 5 s of timeout the tool must
# find the quiet peer still connected (exit 1), or its verdict says nothing.
badclient mute 3
if [ "$rc" -eq 1 ]; then
	pass "control: mute --timeout 3 reports the open connection: $out"
else
	fail "control: mute --timeout 3 exited $rc, not 1: $out"
fi
check_output "the idle mount still works after the quiet peers" "^before$" \
	cat "$m1/k"

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
