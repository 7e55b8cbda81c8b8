#!/bin/bash
#
# The RDMA device under smbdirectd goes away ("rdma link delete", as a
# driver unload would do): the kernel waits for every user of the device,
# so smbdirectd must let go of its listener and its pool registration.
# The removal then completes, smbdirectd says why it stops and exits with
# status 1 (a service manager starts it again), and once the device is
# back a new smbdirectd serves mounts again.
#
# Without a client mounted: with a cifs.ko 6.1 mount on the device, the
# removal hangs in cifs.ko itself (its cifsd thread, seen in the VM).
# The connection that registers the pool before the removal is
# smbdirect_badclient's valid-echo (an SMB2 NEGOTIATE answered by smbd),
# not a cifs.ko mount: cifs.ko 6.1's teardown after umount oopsed
# (smbd_post_send_credits -> smbd_post_recv, NULL pointer, 2026-12-06,
# twice in a row here) and the dead kworker then hung its cifsd in
# smbd_destroy and the removal behind it. cifs.ko mounts the new device
# afterwards, where its teardown comes last.
# After the other tests (lazy unmounts, killed clients) it hung too, in
# a kernel state those left behind: so this test gets a VM of its own
# (selftest/tests/isolated/, run by "make check-integration" after the
# main suite, with a short timeout).
#
# Runs inside the test VM:
#   selftest/run-integration selftest/tests/isolated/test_device_removal.sh

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
test_begin

mnt=$work/m

rxe_active() {
	rdma link show rxe0/1 2>/dev/null | grep -q 'state ACTIVE'
}

# Leave the VM as the other tests expect it: rxe0 on veth0, ACTIVE.
rxe_restore() {
	local i
	rdma dev show rxe0 >/dev/null 2>&1 ||
		rdma link add rxe0 type rxe netdev veth0 || return 1
	for i in $(seq 300); do
		rxe_active && return 0
		sleep 0.1
	done
	return 1
}

# Once smbdirectd and smbd have stopped: the device back, as the VM's
# other tests expect it.
test_cleanup_stopped() {
	rxe_restore || echo "FAIL: rxe0 could not be restored"
}

smbd_env_init "$work/srv"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals)" \
	smbd_env_start "" || { fail "smbd starts"; summary; exit; }
smbdirectd_env_start || { fail "smbdirectd starts"; summary; exit; }
cifs_default_io

# A connection first, so that the pool is registered on rxe0.
tool=$repo/out/smbdirect_badclient
check_output "an SMB2 NEGOTIATE through smbdirectd before the removal" \
	"^valid-echo: ok" timeout 60 "$tool" --server "$SMBDIRECT_VM_IP" \
	--scenario valid-echo --timeout 20
check_output "the pool was registered on rxe0" \
	"rxe0: offload pool of [0-9]+ MiB registered" smbdirectd_env_log
pid=$SMBDIRECTD_ENV_PID

conn_gone() { [ "$(smbdirectd_env_counter connections)" = 0 ]; }
for i in $(seq 60); do
	conn_gone && break
	sleep 0.5
done
check "the client's RDMA connection is gone before the removal" conn_gone

check "rdma link delete rxe0 completes within 60 s" \
	timeout 60 rdma link delete rxe0

rc=
for i in $(seq 100); do
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid"
		rc=$?
		break
	fi
	sleep 0.1
done
SMBDIRECTD_ENV_PID=
if [ "$rc" = 1 ]; then
	pass "smbdirectd stops with status 1 when nothing is left to listen on"
else
	fail "smbdirectd after the removal: exit status '${rc:-still running}'"
	kill -KILL "$pid" 2>/dev/null
fi
check_output "it says the device was removed" \
	"RDMA device rxe0 was removed" smbdirectd_env_log
check_output "it says why it stops" "no RDMA address left to listen on" \
	smbdirectd_env_log
check_output "it released the pool registration" \
	"rxe0: removed, its pool registration is released" smbdirectd_env_log

check "rxe0 comes back" rxe_restore
if smbdirectd_env_start; then
	pass "a new smbdirectd listens on the new rxe0"
	if smbd_env_mount_rdma "$mnt"; then
		head -c $((1 << 20)) /dev/urandom >"$work/f"
		check "1 MiB through the new smbdirectd" cp "$work/f" "$mnt/f"
		check "and intact on disk" cmp "$work/f" "$SMBD_ENV_DIR/share/f"
		echo 3 >/proc/sys/vm/drop_caches
		check "and read back intact" cmp "$work/f" "$mnt/f"
		umount "$mnt"
	else
		fail "mount -o rdma after the device came back"
	fi
	if smbdirectd_env_stop; then
		pass "smbdirectd stops cleanly"
	else
		fail "smbdirectd stops with status $?"
	fi
else
	fail "smbdirectd starts again after the device came back"
fi
summary
