#!/bin/bash
#
# The zero-copy link between smbdirectd and vfs_smbdirect
# (source3/modules/smbdirect_helper/proto/smbdirect_zerocopy.h), with cifs.ko's
# default RDMA offload:
# - the module attaches at tree connect (status: zero_copy=attached);
# - with "use sendfile = yes", "aio read size = 0" (smbd only uses
#   sendfile for synchronous reads) and "min receivefile size", offloaded
#   READs and WRITEs go file <-> registered pool: the zero_copy_* counters carry
#   every offloaded byte, and the data is intact on disk and read back;
# - a byte-range lock held by another client (over TCP) on part of an
#   offloaded range is still enforced, for READ and WRITE, and the
#   locked bytes stay as they were;
# - a share without the module, on the same connection, falls back to the
#   copying path: correct data, zero-copy counters unchanged.
#
# Runs inside the test VM: selftest/run-integration test_zero_copy

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

m1=$work/m1   # RDMA, [share] with vfs_smbdirect
m2=$work/m2   # TCP, the other client holding locks
m3=$work/m3   # RDMA, [plain] without the module

MiB=$((1 << 20))

# A counter as of now (the status file is rewritten once a second).
counter() {
	smbdirectd_env_status_fresh
	smbdirectd_env_counter "$1"
}

# Read back from the server, not the client's page cache.
same_as() {
	echo 3 >/proc/sys/vm/drop_caches
	cmp -s "$1" "$2"
}

smbd_env_init "$work/srv"
mkdir -p "$SMBD_ENV_DIR/plain"
smbd_env_install_module "$repo/out/smbdirect.so"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals)
	min receivefile size = 16384
	smbdirect:control socket = $SMBD_ENV_DIR/lock/zc.sock" \
	smbd_env_start "	vfs objects = smbdirect
	use sendfile = yes
	aio read size = 0
	strict locking = yes

[plain]
	path = $SMBD_ENV_DIR/plain
	read only = no
	use sendfile = yes" || { fail "smbd starts"; summary; exit; }
smbdirectd_env_start || { fail "smbdirectd starts"; summary; exit; }
cifs_default_io

check "smbdirectd listens on its control socket" \
	test -S "$SMBD_ENV_DIR/lock/zc.sock"
check_output "the control socket is root's alone" '^srwx------ root$' \
	stat -c '%A %U' "$SMBD_ENV_DIR/lock/zc.sock"

if ! smbd_env_mount_rdma "$m1"; then
	fail "mount -o rdma: $(dmesg | tail -3 | paste -sd '|')"
	summary
	exit
fi
pass "mount -t cifs -o rdma"
smbdirectd_env_status_fresh
check_output "vfs_smbdirect attached the connection" 'zero_copy=attached' \
	grep '^conn ' "$SMBD_ENV_DIR/pid/smbdirectd.status"

# --- WRITE and READ through the link ----------------------------------
for s in $((64 << 10)) $MiB $((8 * MiB)) $((64 * MiB)); do
	head -c "$s" /dev/urandom >"$work/src"
	zw0=$(counter zero_copy_write_bytes)
	ow0=$(counter offload_write_bytes)
	if ! dd if="$work/src" of="$m1/f$s" bs=1M conv=fsync status=none; then
		fail "write $s bytes"
		continue
	fi
	zw=$(($(counter zero_copy_write_bytes) - zw0))
	ow=$(($(counter offload_write_bytes) - ow0))
	if same_as "$work/src" "$SMBD_ENV_DIR/share/f$s"; then
		pass "$s bytes written: intact on disk"
	else
		fail "$s bytes written: the file on disk differs"
	fi
	if [ "$ow" -eq "$s" ] && [ "$zw" -eq "$s" ]; then
		pass "$s bytes written: all by RDMA and zero copy"
	else
		fail "$s bytes written: offloaded $ow, zero copy $zw"
	fi

	zr0=$(counter zero_copy_read_bytes)
	or0=$(counter offload_read_bytes)
	if same_as "$work/src" "$m1/f$s"; then
		pass "$s bytes read back intact"
	else
		fail "$s bytes read back differ"
	fi
	zr=$(($(counter zero_copy_read_bytes) - zr0))
	or=$(($(counter offload_read_bytes) - or0))
	# cifs.ko reads 1 MiB at a time; smbd never uses sendfile for a
	# READ that reaches past the end of the file: that one is copied.
	want=$((s - s % MiB))
	if [ "$or" -ge "$s" ] && [ "$zr" -eq "$want" ]; then
		pass "$s bytes read: $zr by zero copy, as expected"
	else
		fail "$s bytes read: offloaded $or, zero copy $zr, expected $want"
	fi
done
check_output "status shows the zero-copy figures" \
	'of which zero copy .*WRITE [1-9][0-9]* ops' \
	"$repo/out/smbdirectd" -s "$SMBD_ENV_CONF" --status

# --- a byte-range lock of another client ------------------------------
if smbd_env_lock_scenario "$m1" "$m2"; then
	check "a READ beside the lock works" \
		dd if="$m1/locked" of="$work/part" bs=1M skip=2 count=1 \
		status=none
	dd if="$work/lockref" of="$work/partref" bs=1M skip=2 count=1 \
		status=none
	check "and is correct" cmp "$work/part" "$work/partref"
	smbd_env_unlock
	sleep 1
	check "after the lock is gone the range can be written" \
		dd if="$work/new" of="$m1/locked" bs=1M seek=1 count=1 \
		conv=notrunc status=none
	dd if="$work/new" of="$work/lockref" bs=1M seek=1 count=1 \
		conv=notrunc status=none
	check "and holds the new bytes" \
		cmp "$work/lockref" "$SMBD_ENV_DIR/share/locked"
fi

# --- a share without the module: the copying way ----------------------
mkdir -p "$m3"
if mount -t cifs "//$SMBDIRECT_VM_IP/plain" "$m3" -o \
	"rdma,vers=3.1.1,username=$SMBD_ENV_USER,password=$SMBD_ENV_PASS,cache=none"
then
	head -c $((8 * MiB)) /dev/urandom >"$work/src"
	zw0=$(counter zero_copy_write_bytes)
	zr0=$(counter zero_copy_read_bytes)
	ow0=$(counter offload_write_bytes)
	check "[plain]: 8 MiB written" \
		dd if="$work/src" of="$m3/p" bs=1M conv=fsync status=none
	check "[plain]: intact on disk" same_as "$work/src" \
		"$SMBD_ENV_DIR/plain/p"
	check "[plain]: read back intact" same_as "$work/src" "$m3/p"
	ow=$(($(counter offload_write_bytes) - ow0))
	zw=$(($(counter zero_copy_write_bytes) - zw0))
	zr=$(($(counter zero_copy_read_bytes) - zr0))
	if [ "$ow" -ge $((8 * MiB)) ] && [ "$zw" -eq 0 ] && [ "$zr" -eq 0 ]
	then
		pass "[plain]: offloaded ($ow) but copied, not zero copy"
	else
		fail "[plain]: offloaded $ow, zero copy write $zw read $zr"
	fi
	umount "$m3"
else
	fail "mount [plain] over RDMA"
fi

check "smbdirectd is still running" smbdirectd_env_alive
check_output "no offload failures" '^0$' counter offload_failures
umount "$m1"
if smbdirectd_env_stop; then
	pass "smbdirectd stops cleanly"
else
	fail "smbdirectd stops with status $?"
fi
check "the control socket is removed" test ! -e "$SMBD_ENV_DIR/lock/zc.sock"
summary
