#!/bin/bash
#
# The SMB Direct transport alone: cifs.ko (mount -o rdma) through
# smbdirectd with every READ and WRITE inline (cifs_inline_io), so that
# only [MS-SMBD] messages, credits and fragmentation carry the data:
# file operations, data from 0 bytes to 4 MiB intact, several mounts at
# once, unmount and remount, and no RDMA offload counted.
#
# Runs inside the test VM: selftest/run-integration selftest/tests/test_rdma_inline.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

m1=$work/m1
m2=$work/m2

SIZES="0 1 1339 1340 1341 1363 1364 4096 65537 1048576 1048577 4194304"

smbd_env_init "$work/srv"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals)" \
	smbd_env_start "" || { fail "smbd starts"; summary; exit; }
# smbd listens on lo, smbdirectd on the RDMA address only: cifs.ko's TCP
# fallback would find nothing there, so a mount proves the RDMA path.
smbdirectd_env_start || { fail "smbdirectd starts"; summary; exit; }
pass "smbd and smbdirectd started"

check "cifs.ko keeps I/O inline" cifs_inline_io
if smbd_env_mount_rdma_inline "$m1"; then
	pass "mount -t cifs -o rdma through smbdirectd"
else
	fail "mount -o rdma: $(dmesg | tail -5 | paste -sd '|')"
	echo "--- smbdirectd log"; tail -30 "$SMBDIRECTD_ENV_LOG"
	summary
	exit
fi

# The kernel says which transport the mount uses.
if grep -q "SMBDirect" /proc/fs/cifs/DebugData &&
	! grep -qE "SMBDirect transport not available" /proc/fs/cifs/DebugData; then
	pass "DebugData shows an SMB Direct (RDMA) connection"
else
	fail "DebugData shows no SMB Direct connection: $(grep -iA3 rdma /proc/fs/cifs/DebugData | paste -sd '|')"
fi
check_output "smbdirectd logged the relay to smbd" \
	"relayed to smbd at 127.0.0.1:445" smbdirectd_env_log
# peer <-> loopback port <-> the smbd process serving it
spid=$(sed -n 's/.*<-> smbd pid \([0-9]*\)$/\1/p' "$SMBDIRECTD_ENV_LOG" | head -1)
if [ -n "$spid" ] && [ "$spid" != 0 ] &&
	[ "$(cat /proc/"$spid"/comm 2>/dev/null)" = smbd ]; then
	pass "smbdirectd logged the smbd process serving the client ($spid)"
else
	fail "no smbd pid in the log (found '${spid:-}')"
fi

# Data of every size, written and read back through the mount, and as
# smbd stored it.
mkdir -p "$work/in"
for s in $SIZES; do
	head -c "$s" /dev/urandom >"$work/in/f$s"
done
for s in $SIZES; do
	if ! cp "$work/in/f$s" "$m1/f$s" || ! sync -f "$m1/f$s"; then
		fail "write $s bytes"
		continue
	fi
	# Read back from the server, not from the client's page cache.
	echo 3 >/proc/sys/vm/drop_caches
	a=$(sha256sum <"$work/in/f$s")
	if [ "$a" = "$(sha256sum <"$m1/f$s")" ] &&
		[ "$a" = "$(sha256sum <"$SMBD_ENV_DIR/share/f$s")" ]; then
		pass "$s bytes written and read back intact"
	else
		fail "$s bytes differ after the round trip"
	fi
done

# Namespace operations
mkdir "$m1/dir" && echo hello >"$m1/dir/a" &&
	mv "$m1/dir/a" "$m1/dir/b" &&
	[ "$(ls "$m1/dir")" = b ] && [ "$(cat "$m1/dir/b")" = hello ] &&
	rm "$m1/dir/b" && rmdir "$m1/dir" && [ ! -e "$SMBD_ENV_DIR/share/dir" ]
if [ $? -eq 0 ]; then
	pass "create, list, rename, delete over RDMA"
else
	fail "create, list, rename, delete over RDMA"
fi
n=$(ls "$m1" | wc -l)
if [ "$n" -eq "$(echo $SIZES | wc -w)" ]; then
	pass "directory listing shows the $n files"
else
	fail "directory listing shows $n files"
fi

# A second mount at the same time: its own SMB Direct connection.
if smbd_env_mount_rdma_inline "$m2" nosharesock; then
	pass "second concurrent RDMA mount"
	cp "$work/in/f1048577" "$m2/g" && sync -f "$m2/g"
	echo 3 >/proc/sys/vm/drop_caches
	check "data written on one mount is read on the other" \
		cmp "$m1/g" "$work/in/f1048577"
	umount "$m2"
else
	fail "second concurrent RDMA mount"
fi
conns=$(grep -c "is relayed to smbd" "$SMBDIRECTD_ENV_LOG")
if [ "$conns" -ge 2 ]; then
	pass "smbdirectd relayed $conns connections"
else
	fail "smbdirectd relayed only $conns connection(s)"
fi

# Unmount and remount: the data is still there.
check "umount" umount "$m1"
if smbd_env_mount_rdma_inline "$m1"; then
	check "remount reads the 4 MiB file back" \
		cmp "$m1/f4194304" "$work/in/f4194304"
	umount "$m1"
else
	fail "remount over RDMA"
fi

n=$(smbdirectd_env_counter offload_write_ops)
r=$(smbdirectd_env_counter offload_read_ops)
if [ "$n" = 0 ] && [ "$r" = 0 ]; then
	pass "no READ or WRITE went by RDMA offload (all inline)"
else
	fail "offload counters: WRITE ${n:-?}, READ ${r:-?} (expected 0)"
fi
c=$(grep -c "is relayed to smbd" "$SMBDIRECTD_ENV_LOG")
if [ "$c" -le 3 ]; then
	pass "no reconnects: $c connections for 3 mounts"
else
	fail "$c connections for 3 mounts: the client reconnected"
fi
check "smbdirectd still running" smbdirectd_env_alive
if smbdirectd_env_stop; then
	pass "smbdirectd stops cleanly on SIGTERM"
else
	fail "smbdirectd exit status after SIGTERM"
fi
if grep -qE "DBG_ERR|PANIC|smb_panic|AddressSanitizer" "$SMBDIRECTD_ENV_LOG"; then
	fail "smbdirectd log has a panic: $(grep -E 'PANIC|panic' "$SMBDIRECTD_ENV_LOG" | head -2)"
else
	pass "no panic in smbdirectd's log"
fi
summary
