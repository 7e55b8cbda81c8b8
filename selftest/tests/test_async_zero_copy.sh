#!/bin/bash
#
# The zero-copy link on smbd's asynchronous path (issue 13): a share with
# vfs_smbdirect and smbd's own I/O defaults ("aio read size" and "aio
# write size" 1, no sendfile, no recvfile), cifs.ko's default RDMA
# offload. smbd hands every offloaded READ/WRITE to pread_send /
# pwrite_send, vfs_smbdirect claims it by MessageId and a forked helper
# preads into / pwrites from the request's slot of smbdirectd's pool.
# - the zero_copy_* counters carry every offloaded byte (random data,
#   several sizes, a READ crossing the end of the file, a sparse file,
#   4 KiB random I/O with 16 in flight), data intact byte for byte;
# - smbd's process never made the helpers' own shared buffer (no copy
#   through it) while the helpers have smbdirectd's pool mapped;
# - a byte-range lock held by another client (over TCP) still refuses
#   READ and WRITE, and the locked bytes stay as they were;
# - helpers killed during I/O fail only their requests: copies that
#   succeeded are intact, smbd and smbdirectd go on, and every pool slot
#   comes back;
# - smbd killed while its helpers hold slots: smbdirectd keeps them until
#   the helpers are gone too, then gives them back; the client
#   reconnects and zero copy works again.
# With SMBDIRECT_TEST_ASYNC_IO=smbd (test_async_zero_copy_smbd.sh) the
# share has "smbdirect:async io = smbd": smbd's own threads read into and
# write from the slots. The same data checks, then: no helper process
# ever, smbd maps the pool itself; smbd killed during zero-copy WRITEs
# gives every slot back (its threads died with it), the client
# reconnects and zero copy works again.
#
# Runs inside the test VM: selftest/run-integration test_async_zero_copy

. "$(dirname "$0")/lib.sh"
test_begin --faults
async_io=${SMBDIRECT_TEST_ASYNC_IO:-helpers}

m1=$work/m1   # RDMA
m2=$work/m2   # TCP, the other client holding locks

MiB=$((1 << 20))

counter() {
	smbdirectd_env_status_fresh
	smbdirectd_env_counter "$1"
}

# Read through the mount in 1 MiB requests, from the server (cache=none).
read_back() {
	dd if="$1" of="$2" bs=1M status=none
}

# The smbd process serving the RDMA connection (smbdirectd's status).
client_smbd() {
	smbdirectd_env_status_fresh
	smbdirectd_env_counter smbd_pid conn
}

smbd_env_init "$work/srv"
smbd_env_install_module "$repo/out/smbdirect.so"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals)
	smbdirect:control socket = $SMBD_ENV_DIR/lock/zc.sock" \
	smbd_env_start "	vfs objects = smbdirect
	smbdirect:async io = $async_io
	strict locking = yes" || { fail "smbd starts"; summary; exit; }
smbdirectd_env_start || { fail "smbdirectd starts"; summary; exit; }
cifs_default_io

# smbd's defaults, as testparm sees them: nothing set for zero copy.
param() {
	testparm -s --section-name=share --parameter-name="$1" \
		"$SMBD_ENV_CONF" 2>/dev/null
}
gparam() {
	testparm -s --parameter-name="$1" "$SMBD_ENV_CONF" 2>/dev/null
}
if [ "$(param 'aio read size')" = 1 ] &&
	[ "$(param 'aio write size')" = 1 ] &&
	[ "$(param 'use sendfile')" = No ] &&
	[ "$(gparam 'min receivefile size')" = 0 ]; then
	pass "the share has smbd's I/O defaults (aio 1, no sendfile/recvfile)"
else
	fail "not smbd's defaults: aio read $(param 'aio read size')," \
		"aio write $(param 'aio write size'), sendfile" \
		"$(param 'use sendfile'), receivefile" \
		"$(gparam 'min receivefile size')"
fi

if ! smbd_env_mount_rdma "$m1"; then
	fail "mount -t cifs -o rdma: $(dmesg | tail -3 | paste -sd '|')"
	summary
	exit
fi
pass "mount -t cifs -o rdma"
smbdirectd_env_status_fresh
check_output "vfs_smbdirect attached the connection" 'zero_copy=attached' \
	grep '^conn ' "$SMBD_ENV_DIR/pid/smbdirectd.status"

# One write and one read back of FILE (SIZE bytes) through the mount:
# intact both ways, and every offloaded byte by zero copy. A tail under
# 4 KiB goes inline (cifs.ko's threshold), so offloaded >= SIZE - 4095.
write_read() {
	local name=$1 src=$2 s ow0 zw0 or0 zr0 ow zw or zr
	s=$(stat -c %s "$src")
	zw0=$(counter zero_copy_write_bytes)
	ow0=$(counter offload_write_bytes)
	if ! dd if="$src" of="$m1/$name" bs=1M conv=fsync status=none; then
		fail "$name: write $s bytes"
		return
	fi
	zw=$(($(counter zero_copy_write_bytes) - zw0))
	ow=$(($(counter offload_write_bytes) - ow0))
	echo 3 >/proc/sys/vm/drop_caches
	if cmp -s "$src" "$SMBD_ENV_DIR/share/$name"; then
		pass "$name: $s bytes written, intact on disk"
	else
		fail "$name: $s bytes written, the file on disk differs"
	fi
	if [ "$ow" -ge $((s - 4095)) ] && [ "$zw" -eq "$ow" ]; then
		pass "$name: WRITE offloaded $ow bytes, all by zero copy"
	else
		fail "$name: WRITE offloaded $ow, zero copy $zw (of $s)"
	fi

	zr0=$(counter zero_copy_read_bytes)
	or0=$(counter offload_read_bytes)
	if read_back "$m1/$name" "$work/back" &&
		cmp -s "$src" "$work/back"; then
		pass "$name: read back intact"
	else
		fail "$name: read back differs"
	fi
	zr=$(($(counter zero_copy_read_bytes) - zr0))
	or=$(($(counter offload_read_bytes) - or0))
	if [ "$or" -ge $((s - 4095)) ] && [ "$zr" -eq "$or" ]; then
		pass "$name: READ offloaded $or bytes, all by zero copy"
	else
		fail "$name: READ offloaded $or, zero copy $zr (of $s)"
	fi
}

# Wait up to TRIES x 0.2 s for smbdirectd's pool to be empty; sets
# in_use to the last pool_in_use seen.
pool_wait_empty() {
	local i
	in_use=
	for i in $(seq "$1"); do
		in_use=$(counter pool_in_use)
		[ "$in_use" = 0 ] && return 0
		sleep 0.2
	done
	return 1
}

# Every slot back (pool_in_use 0) within 10 s, and no offload failure.
pool_all_back() {
	pool_wait_empty 50
	check "every pool slot is back (pool_in_use ${in_use:-?})" \
		test "$in_use" = 0
	check_output "no offload failures" '^0$' counter offload_failures
}

# After the client's smbd was killed: the mount works again (a new
# smbd), zero copy with it, every slot back; smbdirectd stops cleanly.
after_smbd_killed() {
	local i
	head -c $((2 * MiB)) /dev/urandom >"$work/src"
	for i in $(seq 60); do
		dd if="$work/src" of="$m1/probe" bs=1M count=1 status=none \
			2>/dev/null && break
		sleep 1
	done
	check "$1: the mount works again (after $i tries)" \
		dd if="$work/src" of="$m1/probe" bs=1M count=1 status=none
	write_read "reconnected" "$work/src"
	pool_all_back
	check "smbdirectd is still running" smbdirectd_env_alive
	umount "$m1"
	if smbdirectd_env_stop; then
		pass "smbdirectd stops cleanly"
	else
		fail "smbdirectd stops with status $?"
	fi
}

# smbd's threads hold the slots: smbd killed during zero-copy WRITEs
# takes them along, so smbdirectd gives every slot back once smbd is
# gone; the mount reconnects to a new smbd and zero copy works again.
zero_copy_smbd_killed() {
	local client bg i zw0
	client=$(client_smbd)
	head -c $((32 * MiB)) /dev/urandom >"$work/K"
	zw0=$(counter zero_copy_write_ops)
	(
		for i in $(seq 50); do
			timeout 120 dd if="$work/K" of="$m1/k" bs=4M \
				conv=notrunc status=none 2>/dev/null || exit
		done
	) &
	bg=$!
	for i in $(seq 50); do
		[ "$(counter zero_copy_write_ops)" -gt "$zw0" ] &&
			break
		sleep 0.2
	done
	check "the writer is at it when smbd is killed" test -d "/proc/$bg"
	kill -KILL "${client:-0}" 2>/dev/null
	pkill -P "$bg" 2>/dev/null # its timeout, which passes it on to dd
	kill "$bg" 2>/dev/null
	wait "$bg" 2>/dev/null
	after_smbd_killed "smbd ($client) killed"
}

# --- sizes in whole pages ----------------------------------------------
for s in $((64 << 10)) $MiB $((8 * MiB)); do
	head -c "$s" /dev/urandom >"$work/src"
	write_read "f$s" "$work/src"
done

pid=$(client_smbd)
helpers=$(pgrep -P "${pid:-0}" -x smbdirect-io | head -1)
if [ "$async_io" = smbd ]; then
	if [ -n "$pid" ] && [ -z "$(pgrep -x smbdirect-io)" ] &&
		grep -q 'memfd:smbdirectd-pool' "/proc/$pid/maps"; then
		pass "no helper process; smbd $pid maps smbdirectd's pool"
	else
		fail "smbd ${pid:-?}: helpers $(pgrep -x smbdirect-io |
			paste -sd,), pool mapped $(grep -c \
			'memfd:smbdirectd-pool' "/proc/$pid/maps" 2>/dev/null)"
	fi
elif [ -n "$pid" ] && [ -n "$helpers" ] &&
	grep -q 'memfd:smbdirectd-pool' "/proc/$helpers/maps" &&
	! grep -q 'memfd:smbdirect-io' "/proc/$pid/maps"; then
	pass "helper $helpers maps smbdirectd's pool; smbd $pid never made" \
		"the helpers' own buffer"
else
	fail "smbd ${pid:-?}, helper ${helpers:-none}: pool mapped" \
		"$(grep -c 'memfd:smbdirectd-pool' "/proc/$helpers/maps" \
			2>/dev/null), own buffers" \
		"$(grep -c 'memfd:smbdirect-io' "/proc/$pid/maps" 2>/dev/null)"
fi

# --- the end of the file inside a READ ---------------------------------
head -c $((5 * MiB + 12345)) /dev/urandom >"$work/src"
write_read "eof" "$work/src"
sr0=$(counter zero_copy_read_ops)
br0=$(counter zero_copy_read_bytes)
if dd if="$m1/eof" of="$work/tail" bs=1M skip=5 status=none &&
	[ "$(stat -c %s "$work/tail")" -eq 12345 ] &&
	cmp -s "$work/tail" <(tail -c 12345 "$work/src"); then
	pass "a 1 MiB READ at 5 MiB returns the last 12345 bytes"
else
	fail "the READ crossing the end of the file is wrong"
fi
sr=$(($(counter zero_copy_read_ops) - sr0))
br=$(($(counter zero_copy_read_bytes) - br0))
if [ "$sr" -ge 1 ] && [ "$br" -eq 12345 ]; then
	pass "the short READ went by zero copy ($br bytes)"
else
	fail "the short READ: $sr zero-copy READs, $br bytes"
fi

# In smbd's mode make check leaves out what does not depend on who
# reads and writes the slot (the sparse file, the lock: smbd checks it
# before either), to keep within CI's time; make check-long runs them.
full=1
[ "$async_io" = helpers ] || [ -n "${SMBDIRECT_TEST_LONG:-}" ] || full=

# --- a sparse file -------------------------------------------------------
if [ -n "$full" ]; then
	sparse=$SMBD_ENV_DIR/share/sparse
	truncate -s $((8 * MiB)) "$sparse"
	head -c "$MiB" /dev/urandom >"$work/mid"
	dd if="$work/mid" of="$sparse" bs=1M seek=3 conv=notrunc status=none
	truncate -s $((8 * MiB)) "$work/sparse.ref"
	dd if="$work/mid" of="$work/sparse.ref" bs=1M seek=3 conv=notrunc \
		status=none
	check "the server's file is sparse" \
		test "$(stat -c %b "$sparse")" -lt $((8 * MiB / 512))
	zr0=$(counter zero_copy_read_bytes)
	if read_back "$m1/sparse" "$work/back" && cmp -s "$work/sparse.ref" \
		"$work/back"; then
		pass "sparse file read intact (holes as zeros)"
	else
		fail "sparse file read differs"
	fi
	zr=$(($(counter zero_copy_read_bytes) - zr0))
	check "sparse file: 8 MiB by zero copy ($zr)" test "$zr" -eq $((8 * MiB))
fi

# --- 4 KiB random I/O, 16 in flight -------------------------------------
if command -v fio >/dev/null; then
	zw0=$(counter zero_copy_write_ops)
	zr0=$(counter zero_copy_read_ops)
	if fio --name=qd16 --filename="$m1/fio" --size=4M --bs=4k \
		--rw=randwrite --iodepth=16 --ioengine=libaio --direct=1 \
		--verify=crc32c --do_verify=1 --verify_fatal=1 \
		--output="$work/fio.out" >/dev/null 2>&1; then
		pass "fio 4 KiB random write QD16 + crc32c verify"
	else
		fail "fio 4 KiB QD16: $(tail -3 "$work/fio.out" | paste -sd '|')"
	fi
	zw=$(($(counter zero_copy_write_ops) - zw0))
	zr=$(($(counter zero_copy_read_ops) - zr0))
	# 1024 writes of 4 KiB and the verify's reads
	if [ "$zw" -ge 1024 ] && [ "$zr" -ge 1 ]; then
		pass "fio: $zw WRITEs and $zr READs by zero copy"
	else
		fail "fio: $zw WRITEs and $zr READs by zero copy"
	fi
else
	fail "fio is not installed"
fi

# --- a byte-range lock of another client --------------------------------
if [ -n "$full" ] && smbd_env_lock_scenario "$m1" "$m2"; then
	zr0=$(counter zero_copy_read_bytes)
	check "a READ beside the lock works" \
		dd if="$m1/locked" of="$work/part" bs=1M skip=2 count=1 \
		status=none
	dd if="$work/lockref" of="$work/partref" bs=1M skip=2 count=1 \
		status=none
	check "and is correct" cmp "$work/part" "$work/partref"
	zr=$(($(counter zero_copy_read_bytes) - zr0))
	check "and went by zero copy ($zr)" test "$zr" -eq "$MiB"
	smbd_env_unlock
fi

# The rest is about who holds the slots: the helpers, or smbd's threads.
if [ "$async_io" = smbd ]; then
	zero_copy_smbd_killed
	summary
	exit
fi

# --- helpers killed during I/O ------------------------------------------
sd_pid=$SMBDIRECTD_ENV_PID
client=$(client_smbd)
head -c $((16 * MiB)) /dev/urandom >"$work/H"
kill_helpers_during_copies "$work/H" "$m1"
ok=$kh_ok bad=$kh_bad hung=$kh_hung hit=$kh_hit i=$kh_rounds
echo "helper kills: $kh_kills rounds, $i write+read rounds," \
	"$ok good, $bad wrong, $hung hung; smbd failed $hit requests"
check "helpers: killed during zero-copy requests ($hit failed)" \
	test "$hit" -ge 1
check "helpers: every copy that reported success is intact" \
	test "$bad" -eq 0
check "helpers: no copy hung" test "$hung" -eq 0
check "helpers: the client's smbd ($client) goes on" \
	test -n "$client" -a "$(client_smbd)" = "$client"
check "helpers: smbdirectd goes on" test -d "/proc/$sd_pid"
head -c $((2 * MiB)) /dev/urandom >"$work/src"
write_read "after" "$work/src"
if smbd_env_logs | grep -qE "PANIC|BACKTRACE|smb_panic"; then
	fail "smbd panicked"
else
	pass "no PANIC in smbd's logs"
fi

# --- smbd killed while its helpers hold slots -------------------------
# Stop the client's helpers, so that the WRITEs smbd claims next wait in
# them with their slots CLAIMED, then kill smbd: smbdirectd must keep
# those slots until the helpers are gone (the guard pipe), then give
# them back; the mount reconnects to a new smbd. The writer rewrites
# its file until it is stopped, so that WRITEs are flowing when the
# helpers stop however fast the machine is (a single 32 MiB dd once
# ended first under KVM), and the helpers are stopped again as smbd
# forks more.
client=$(client_smbd)
head -c $((32 * MiB)) /dev/urandom >"$work/K"
(
	for i in $(seq 50); do
		timeout 120 dd if="$work/K" of="$m1/k" bs=4M conv=notrunc \
			status=none 2>/dev/null || exit
	done
) &
bg=$!
sleep 1
for i in $(seq 10); do
	pkill -STOP -P "${client:-0}" -x smbdirect-io
	sleep 0.2
done
check "the writer is still at it when smbd is killed" test -d "/proc/$bg"
kill -KILL "${client:-0}" 2>/dev/null
for i in $(seq 100); do
	smbdirectd_env_log | grep -q "gone with slots still claimed" && break
	sleep 0.2
done
check_output "smbd ($client) killed: smbdirectd keeps its helpers' slots" \
	"gone with slots still claimed" smbdirectd_env_log
pkill -P "$bg" 2>/dev/null # its timeout, which passes it on to dd
kill "$bg" 2>/dev/null
wait "$bg" 2>/dev/null
pool_wait_empty 100
check "and gives them back once they are gone (pool_in_use ${in_use:-?})" \
	test "$in_use" = 0
check "no helper of the killed smbd is left" \
	test -z "$(pgrep -P "${client:-0}" -x smbdirect-io)"
# every slot back: none left reserved for a helper that is gone
after_smbd_killed "smbd ($client) and its helpers gone"
summary
