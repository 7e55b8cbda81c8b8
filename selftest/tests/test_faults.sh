#!/bin/bash
#
# Processes killed with SIGKILL while a cifs.ko mount (-o rdma, cifs.ko's
# defaults: every I/O of 4 KiB and more offloaded by RDMA READ/WRITE)
# moves large files, the share served with "vfs objects = smbdirect":
#
# 1. smbdirectd during a large read, then during a large write; it is
#    started again each time. The client reconnects (a 1 MiB write and
#    read on the same mount work again within RECONNECT_LIMIT s, or, if
#    cifs.ko's cifsd is blocked for good in a known client kernel bug,
#    on a new mount); files
#    written, fsync'ed and closed before the crash are intact on disk
#    and through the mount; the I/O in flight either failed or, if it
#    reported success (dd with conv=fsync: every write, the fsync and
#    the close), its data is intact.
# 2. vfs_smbdirect's I/O helpers (smbdirect-io) during copies: smbd
#    (same pid) and smbdirectd go on, the mount is not reconnected,
#    failed copies are no more than the requests smbd failed because of
#    a killed helper, every copy that succeeded is intact, and later I/O
#    works.
# 3. The smbd child serving the mount during a large write: smbdirectd
#    logs that smbd closed the connection, drops it and stays up; the
#    client reconnects to a new smbd child; earlier data is intact.
#
# Runs inside the test VM: selftest/run-integration selftest/tests/test_faults.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin --faults

m1=$work/m1

# cifs.ko retries a failed RDMA connect every few seconds; 60 s is ample
# under TCG and still bounds a hang.
RECONNECT_LIMIT=60
BIG=48 # MiB: 2-10 s under TCG (rxe ~40 MB/s, less on a busy host)

# Acknowledged data: written, fsync'ed, closed; its checksum recorded.
declare -A acked
ack_write() {
	local name=$1 mib=$2
	big_file "$work/$name" "$mib"
	if dd if="$work/$name" of="$m1/$name" bs=4M conv=fsync status=none; then
		acked[$name]=$(sha "$work/$name")
		rm -f "$work/$name"
		return 0
	fi
	rm -f "$work/$name"
	return 1
}

# Every acknowledged file, on the server's disk and through the mount.
check_acked() {
	local tag=$1 n bad=""
	echo 3 >/proc/sys/vm/drop_caches
	for n in "${!acked[@]}"; do
		[ "$(sha "$SMBD_ENV_DIR/share/$n")" = "${acked[$n]}" ] ||
			bad="$bad $n(disk)"
		[ "$(sha "$m1/$n")" = "${acked[$n]}" ] ||
			bad="$bad $n(mount)"
	done
	if [ -z "$bad" ]; then
		pass "$tag: ${#acked[@]} acknowledged files intact on disk" \
			"and through the mount"
	else
		fail "$tag: acknowledged files differ:$bad"
	fi
}

# The I/O that was in flight: an error, or (if it reported success)
# the right data. $1 tag, $2 exit status, $3 file written/read, $4 sha.
check_in_flight() {
	local tag=$1 rc=$2 file=$3 want=$4 got
	if [ "$rc" -eq 124 ]; then
		fail "$tag: the I/O in flight hung (killed after its timeout)"
	elif [ "$rc" -ne 0 ]; then
		pass "$tag: the I/O in flight failed (dd exit $rc)"
	else
		got=$(sha "$file")
		if [ "$got" = "$want" ]; then
			pass "$tag: the I/O in flight completed and its data" \
				"is intact"
		else
			fail "$tag: the I/O in flight reported success but" \
				"its data differs"
		fi
	fi
}

# Reconnected: a 1 MiB write + read back on the same mount work. When
# not, and cifs.ko's cifsd is blocked for good in one of the client's
# known kernel bugs (Soft-RoCE's 6.1 kernel: its receive queue drain
# after the server vanished during RDMA READs never ends: 3 times in
# about 25 write crashes on 2026-12-07), that is said and a new mount of
# the share must work instead: smbdirectd, started again, serves it, and
# the test goes on with it as m1.
mounts=1
check_reconnect() {
	local tag=$1 s what
	if s=$(probe_io "$m1" "$RECONNECT_LIMIT" "$tag"); then
		pass "$tag: the mount works again after $s s"
		return
	fi
	if ! what=$(t_client_kernel_bug); then
		fail "$tag: the mount does not work $RECONNECT_LIMIT s later"
		return
	fi
	echo "SKIP: $tag: the mount's reconnect: its cifsd is blocked in" \
		"the client's kernel: $what"
	mounts=$((mounts + 1))
	m1=$work/m1.$mounts
	if smbd_env_mount_rdma "$m1" nosharesock &&
		s=$(probe_io "$m1" "$RECONNECT_LIMIT" "$tag (new mount)"); then
		pass "$tag: a new mount works (after $s s)"
	else
		fail "$tag: neither the mount nor a new one works"
	fi
}

smbd_env_init "$work/srv"
if [ ! -f "$repo/out/smbdirect.so" ]; then
	fail "out/smbdirect.so is missing (run 'make' first)"
	summary
	exit
fi
smbd_env_install_module "$repo/out/smbdirect.so"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals)" \
	smbd_env_start "	vfs objects = smbdirect" ||
	{ fail "smbd starts"; summary; exit; }
smbdirectd_env_start || { fail "smbdirectd starts"; summary; exit; }
cifs_default_io
if ! smbd_env_mount_rdma "$m1"; then
	fail "mount -o rdma: $(dmesg | tail -3 | paste -sd '|')"
	summary
	exit
fi
pass "mount -t cifs -o rdma (cifs.ko defaults)"

ack_write a1 8 && ack_write a2 1 && ack_write a3 4 ||
	fail "writing the acknowledged files"
big_file "$work/R" "$BIG"
want_r=$(sha "$work/R")
dd if="$work/R" of="$m1/R" bs=4M conv=fsync status=none ||
	fail "writing the file to read"
rm -f "$work/R"

# ------------------------------------------------------------- 1a. read
echo 3 >/proc/sys/vm/drop_caches
dd if="$m1/R" of="$work/rcopy" bs=4M status=none 2>/dev/null &
bg=$!
# At 8 MiB of $BIG the reader is well inside the transfer.
if wait_fd_pos "$bg" 1 $((8 << 20)) 60; then
	pos=$(fd_pos "$bg" 1)
	old=$SMBDIRECTD_ENV_PID
	sd_kill9
	pass "smbdirectd (pid $old) killed during a ${BIG} MiB read" \
		"at $((pos >> 20)) MiB"
else
	fail "the read did not get going (or ended) before the kill"
	sd_kill9
fi
sleep 1
sd_restart || fail "smbdirectd starts again"
bg_wait "$bg" 120
rc=$?
bg=
check_in_flight "read crash" "$rc" "$work/rcopy" "$want_r"
rm -f "$work/rcopy"
check_reconnect "read crash"
check_acked "read crash"

# ------------------------------------------------------------ 1b. write
big_file "$work/W" "$BIG"
want_w=$(sha "$work/W")
dd if="$work/W" of="$m1/W" bs=4M conv=fsync status=none 2>/dev/null &
bg=$!
if wait_fd_pos "$bg" 0 $((8 << 20)) 60; then
	pos=$(fd_pos "$bg" 0)
	old=$SMBDIRECTD_ENV_PID
	sd_kill9
	pass "smbdirectd (pid $old) killed during a ${BIG} MiB write" \
		"at $((pos >> 20)) MiB"
else
	fail "the write did not get going (or ended) before the kill"
	sd_kill9
fi
sleep 1
sd_restart || fail "smbdirectd starts again"
bg_wait "$bg" 120
rc=$?
bg=
echo 3 >/proc/sys/vm/drop_caches
check_in_flight "write crash (on disk)" "$rc" "$SMBD_ENV_DIR/share/W" \
	"$want_w"
check_reconnect "write crash"
check_in_flight "write crash (read back)" "$rc" "$m1/W" "$want_w"
check_acked "write crash"
rm -f "$m1/W" "$work/W"

sleep 1.5
r=$(sd_json '.daemon.offload_read_ops')
w=$(sd_json '.daemon.offload_write_ops')
if [ "${r:-0}" -gt 0 ] && [ "${w:-0}" -gt 0 ]; then
	pass "after the restarts the I/O is offloaded again" \
		"(READ $r, WRITE $w ops)"
else
	fail "no offloaded I/O after the restarts (READ ${r:-?}," \
		"WRITE ${w:-?})"
fi

# ---------------------------------------------------------- 2. helpers
conns_before=$(grep -c "is relayed to smbd" "$SMBDIRECTD_ENV_LOG")
sd_pid=$SMBDIRECTD_ENV_PID
client=$(sd_json '.connections[0].smbd_pid')
big_file "$work/H" 16
# Kill every helper at random moments while copies run (faults_env.sh).
kill_helpers_during_copies "$work/H" "$m1"
ok=$kh_ok bad=$kh_bad hung=$kh_hung hit=$kh_hit i=$kh_rounds kills=$kh_kills
failed=$((2 * i - ok - bad))
echo "helper kills: $kills kill rounds, $i write+read rounds, $ok good," \
	"$failed failed, $bad wrong; smbd failed $hit requests"
if [ "$hit" -ge 1 ]; then
	pass "helpers: killed during requests ($kills kill rounds," \
		"$hit requests failed by smbd)"
else
	fail "helpers: no request was hit in 180 s ($kills kills)"
fi
check "helpers: every copy that reported success is intact" \
	test "$bad" -eq 0
check "helpers: no copy hung" test "$hung" -eq 0
# One failed request fails one dd (a later retry by cifs.ko could only
# make it fewer); more failures would mean collateral damage.
if [ "$failed" -le "$hit" ]; then
	pass "helpers: $failed copies failed, no more than the $hit" \
		"requests the killed helpers took with them"
else
	fail "helpers: $failed copies failed for $hit requests hit"
fi
if [ -n "$client" ] && [ "$client" -gt 0 ] && kill -0 "$client" &&
	[ "$(sd_json '.connections[0].smbd_pid')" = "$client" ]; then
	pass "helpers: the client's smbd (pid $client) goes on"
else
	fail "helpers: the client's smbd ${client:-?} is gone or replaced"
fi
check "helpers: smbdirectd (pid $sd_pid) goes on" \
	test "$SMBDIRECTD_ENV_PID" = "$sd_pid" -a -d "/proc/$sd_pid"
conns_after=$(grep -c "is relayed to smbd" "$SMBDIRECTD_ENV_LOG")
check "helpers: the mount was not reconnected" \
	test "$conns_after" -eq "$conns_before"
if s=$(probe_io "$m1" 10 helpers); then
	pass "helpers: I/O works afterwards"
else
	fail "helpers: I/O fails afterwards"
fi
if smbd_env_logs | grep -qE "PANIC|BACKTRACE|smb_panic"; then
	fail "helpers: smbd panicked"
else
	pass "helpers: no PANIC in smbd's logs"
fi
rm -f "$work/H"

# ------------------------------------------------------ 3. smbd child
client=$(sd_json '.connections[0].smbd_pid')
conn_id=$(sd_json '.connections[0].id')
# Its reading side sees the end of the stream, or its next write fails.
smbd_gone="(smbd closed the connection|writing to smbd failed)"
big_file "$work/W" "$BIG"
want_w=$(sha "$work/W")
dd if="$work/W" of="$m1/W" bs=4M conv=fsync status=none 2>/dev/null &
bg=$!
if [ -n "$client" ] && [ "$client" -gt 0 ] &&
	wait_fd_pos "$bg" 0 $((8 << 20)) 60; then
	kill -KILL "$client"
	pass "smbd child (pid $client) killed during a ${BIG} MiB write"
else
	fail "no smbd child to kill (${client:-?}) or the write did not" \
		"get going"
fi
for i in $(seq 50); do
	grep -qE "connection $conn_id from .*: disconnecting: $smbd_gone" \
		"$SMBDIRECTD_ENV_LOG" && break
	sleep 0.2
done
check_output "smbd child: smbdirectd logs that smbd went away" \
	"connection $conn_id from .*: disconnecting: $smbd_gone" \
	smbdirectd_env_log
bg_wait "$bg" 120
rc=$?
bg=
check_in_flight "smbd child (on disk)" "$rc" "$SMBD_ENV_DIR/share/W" \
	"$want_w"
check_reconnect "smbd child"
check "smbd child: smbdirectd goes on" smbdirectd_env_alive
new=$(sd_json '.connections[0].smbd_pid')
n=$(sd_json '.daemon.connections')
if [ "$n" = 1 ] && [ -n "$new" ] && [ "$new" != "$client" ] &&
	kill -0 "$new" 2>/dev/null; then
	pass "smbd child: one connection, served by a new smbd child" \
		"($client -> $new)"
else
	fail "smbd child: connections ${n:-?}, smbd pid ${new:-?}" \
		"(old $client)"
fi
check_acked "smbd child"
if grep -qE "connection $conn_id .*closed:" "$SMBDIRECTD_ENV_LOG"; then
	pass "smbd child: the old connection was released"
else
	fail "smbd child: no 'closed' line for connection $conn_id"
fi

check "umount" umount "$m1"
if smbdirectd_env_stop; then
	pass "smbdirectd stops cleanly on SIGTERM"
else
	fail "smbdirectd exit status after SIGTERM"
fi
summary
