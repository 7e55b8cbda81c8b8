#!/bin/bash
#
# smbdirectd under valgrind's memcheck while the Linux client mounts over
# RDMA, writes and reads files by RDMA offload (through the zero-copy link
# of vfs_smbdirect) and inline, a second connection comes and goes, and the daemon stops on SIGTERM: no invalid
# access, no use of uninitialised memory, nothing definitely lost.
#
# Runs inside the test VM: selftest/run-integration selftest/tests/test_valgrind.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

mnt=$work/m
vglog=$work/valgrind.log
# Complete once smbdirectd (run under valgrind) has stopped.
test_keep "$vglog"

if ! command -v valgrind >/dev/null; then
	fail "valgrind is not installed (build/install-deps.sh test)"
	summary
	exit
fi

smbd_env_init "$work/srv"
smbd_env_install_module "$repo/out/smbdirect.so"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals)
	min receivefile size = 16384" \
	smbd_env_start "	vfs objects = smbdirect
	use sendfile = yes
	aio read size = 0" || { fail "smbd starts"; summary; exit; }
SMBDIRECTD_ENV_DEBUG=1 \
SMBDIRECTD_ENV_WRAPPER="valgrind --tool=memcheck --leak-check=full
	--show-leak-kinds=definite --errors-for-leak-kinds=definite
	--track-origins=yes --log-file=$vglog" \
	smbdirectd_env_start || { fail "smbdirectd starts under valgrind"; summary; exit; }
pass "smbdirectd started under valgrind"
cifs_default_io

if smbd_env_mount_rdma "$mnt"; then
	for s in 1000 65536 3145728; do
		head -c "$s" /dev/urandom >"$work/f"
		cp "$work/f" "$mnt/f$s" && cmp -s "$work/f" "$mnt/f$s" ||
			fail "$s bytes through smbdirectd under valgrind"
	done
	ls "$mnt" >/dev/null
	smbdirectd_env_status_fresh
	zr=$(smbdirectd_env_counter zero_copy_read_bytes)
	zw=$(smbdirectd_env_counter zero_copy_write_bytes)
	if [ "${zr:-0}" -gt 0 ] && [ "${zw:-0}" -gt 0 ]; then
		pass "the zero-copy link carried data ($zw written, $zr read)"
	else
		fail "the zero-copy link carried nothing (write $zw, read $zr)"
	fi
	umount "$mnt"
	pass "mount, offloaded and inline I/O, umount under valgrind"
else
	fail "mount -o rdma with smbdirectd under valgrind"
fi

if smbdirectd_env_stop; then
	pass "smbdirectd under valgrind stops on SIGTERM with status 0"
else
	fail "smbdirectd under valgrind: exit status after SIGTERM"
fi

errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$vglog" | tail -1)
lost=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$vglog" | tail -1)
if [ "${errors:-x}" = 0 ]; then
	pass "valgrind: 0 errors"
else
	fail "valgrind: ${errors:-no} errors: $(grep -m3 -A3 '^==[0-9]*== [A-Z]' "$vglog" | paste -sd '|')"
fi
if [ -z "$lost" ] || [ "$lost" = 0 ]; then
	pass "valgrind: nothing definitely lost"
else
	fail "valgrind: $lost bytes definitely lost"
fi
summary
