#!/bin/bash
#
# The client goes away in the middle of RDMA transfers (cifs.ko,
# -o rdma, its defaults: every I/O of 4 KiB and more offloaded), and
# smbdirectd must give back everything the connection held:
#
# - umount -f -l during a large write (not during a read: cifs.ko 6.1
#   hits a kernel BUG then, see that step);
# - kill -9 of the process doing a large read, and of one doing a
#   large write, then a normal umount;
# - not the RDMA device deleted under the mount (rdma link delete rxe0):
#   that hangs cifs.ko on this kernel, see the note at its step.
#
# After each way: smbdirectd runs, --status --json reports 0
# connections, 0 bytes of the offload pool in use and no waiters, and
# its descriptors and memory are back at the baseline taken after a
# warm-up of the same kinds of I/O (mount, large read and write, umount):
# - open descriptors: equal to the baseline. Nothing in smbdirectd
#   holds a descriptor outside a connection except for the instant it
#   rewrites its status file, so the count is sampled until it matches
#   (for up to 5 s).
# - anonymous RSS (RssAnon, its heap; the offload pool is a shared memfd
#   and counts as RssShmem, resident once touched): at most
#   RSS_TOLERANCE_KB above the baseline. By default glibc raises its
#   mmap threshold to the largest block freed (READ responses of 4 MiB
#   here) and then keeps up to twice that of freed heap resident: seen,
#   RssAnon 2.7 MiB at the baseline, 5.3 MiB after one way and 4.3 MiB
#   after the next, with nothing held. So smbdirectd runs here with
#   MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ fixed at 128 KiB:
#   every block of 128 KiB or more (PDUs, a connection's ~350 KiB
#   receive and send buffers) goes back to the kernel when freed, and
#   the heap is trimmed. What remains is small-block fragmentation. A
#   connection's buffers are ~700 KiB (zeroed, so resident): leaked
#   ones add up over the ways and exceed the tolerance by the third.
#
# Runs inside the test VM: selftest/run-integration selftest/tests/test_client_vanish.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin --faults

m1=$work/m1

RSS_TOLERANCE_KB=1024
BIG=64 # MiB: 2-10 s under TCG (rxe ~40 MB/s, less on a busy host)

nfds() { ls "/proc/$SMBDIRECTD_ENV_PID/fd" 2>/dev/null | wc -l; }
rss_anon() {
	sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\) kB/\1/p' \
		"/proc/$SMBDIRECTD_ENV_PID/status"
}
rss_shmem() {
	sed -n 's/^RssShmem:[[:space:]]*\([0-9]*\) kB/\1/p' \
		"/proc/$SMBDIRECTD_ENV_PID/status"
}

# Until smbdirectd reports no connection (up to $1 s).
wait_idle() {
	sd_wait_json '.daemon.connections == 0 and
		.daemon.pool_in_use == 0' "$1"
}

# check_baseline TAG: the daemon is back where it was after the warm-up.
check_baseline() {
	local tag=$1 t0=$SECONDS fds rss sh i
	if wait_idle 60; then
		pass "$tag: 0 connections, 0 pool bytes in use after" \
			"$((SECONDS - t0)) s"
	else
		fail "$tag: after 60 s: $(sd_json '.daemon |
			{connections, pool_in_use, pool_waiters} | tostring')"
	fi
	check "$tag: no pool waiters" \
		test "$(sd_json .daemon.pool_waiters)" = 0
	check "$tag: smbdirectd still runs" smbdirectd_env_alive
	for i in $(seq 25); do
		fds=$(nfds)
		[ "$fds" -eq "$base_fds" ] && break
		sleep 0.2
	done
	if [ "$fds" -eq "$base_fds" ]; then
		pass "$tag: $fds open descriptors, as at the baseline"
	else
		fail "$tag: $fds open descriptors, baseline $base_fds:" \
			"$(ls -l "/proc/$SMBDIRECTD_ENV_PID/fd" |
				awk '{print $NF}' | sort | uniq -c |
				sort -rn | head -5 | paste -sd ' ')"
	fi
	rss=$(rss_anon)
	sh=$(rss_shmem)
	echo "$tag: RssAnon $rss kB (baseline $base_rss kB)," \
		"RssShmem $sh kB (baseline $base_shmem kB)"
	if [ "$rss" -le $((base_rss + RSS_TOLERANCE_KB)) ]; then
		pass "$tag: heap (RssAnon $rss kB) within" \
			"$RSS_TOLERANCE_KB kB of the baseline ($base_rss kB)"
	else
		fail "$tag: heap (RssAnon $rss kB) grew more than" \
			"$RSS_TOLERANCE_KB kB over the baseline ($base_rss kB)"
	fi
}

# bg_io read|write: a large dd through the mount, in the background.
bg_io() {
	if [ "$1" = read ]; then
		echo 3 >/proc/sys/vm/drop_caches
		dd if="$m1/R" of=/dev/null bs=4M status=none 2>/dev/null &
		bg=$!
		bg_fd=0
	else
		dd if="$work/W" of="$m1/W" bs=4M conv=fsync status=none \
			2>/dev/null &
		bg=$!
		bg_fd=0
	fi
}

# wait_bg: the background dd is gone within 60 s (killed after that).
wait_bg() {
	local i
	for i in $(seq 600); do
		kill -0 "$bg" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$bg" 2>/dev/null; then
		kill -KILL "$bg"
		wait "$bg" 2>/dev/null
		bg=
		return 1
	fi
	wait "$bg" 2>/dev/null
	bg=
	return 0
}

mount_it() {
	smbd_env_mount_rdma "$m1" || {
		fail "$1: mount -o rdma: $(dmesg | tail -2 | paste -sd '|')"
		return 1
	}
}

# In the middle of the transfer: 8 MiB of BIG MiB moved, then $1 runs.
mid_transfer() {
	local tag=$1
	shift
	local pos
	if wait_fd_pos "$bg" "$bg_fd" $((8 << 20)) 60; then
		pos=$(fd_pos "$bg" "$bg_fd")
		"$@"
		pass "$tag: the client went away at $((${pos:-0} >> 20)) MiB"
	else
		fail "$tag: the transfer did not get going"
		"$@"
	fi
}

smbd_env_init "$work/srv"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals)" \
	smbd_env_start "" || { fail "smbd starts"; summary; exit; }
# env execs smbdirectd: the pid stays the one smbdirectd_env.sh knows.
SMBDIRECTD_ENV_WRAPPER="env MALLOC_MMAP_THRESHOLD_=131072
	MALLOC_TRIM_THRESHOLD_=131072" smbdirectd_env_start ||
	{ fail "smbdirectd starts"; summary; exit; }
cifs_default_io

# ------------------------------------------------------------- warm-up
big_file "$work/W" "$BIG"
if ! mount_it warm-up; then
	summary
	exit
fi
dd if="$work/W" of="$m1/R" bs=4M conv=fsync status=none
echo 3 >/proc/sys/vm/drop_caches
if [ "$(sha "$m1/R")" = "$(sha "$work/W")" ]; then
	pass "warm-up: ${BIG} MiB written and read back by RDMA"
else
	fail "warm-up: ${BIG} MiB round trip differs"
fi
umount "$m1"
if wait_idle 30; then
	pass "warm-up: the connection is released after umount"
else
	fail "warm-up: connection still open after umount"
fi
sleep 1
base_fds=$(nfds)
base_rss=$(rss_anon)
base_shmem=$(rss_shmem)
echo "baseline: $base_fds descriptors, RssAnon $base_rss kB," \
	"RssShmem $base_shmem kB"

# ------------------------------------------ umount -f -l during writes
# Only during a write. During a large read, cifs.ko of Debian's 6.1.192
# hits a kernel BUG when the reader, the last user of the detached
# mount, exits: "BUG: Dentry ... still in use (1) [unmount of cifs
# cifs]", "kernel BUG at fs/super.c:503!" in generic_shutdown_super,
# from cifs_kill_sb (seen here on the first run of this test). That is
# the client's bug, not smbdirectd's, and it leaves the VM's kernel
# tainted for the tests after this one: that way is left out.
for way in write; do
	tag="umount -f -l during a $way"
	mount_it "$tag" || continue
	bg_io $way
	mid_transfer "$tag" umount -f -l "$m1"
	if wait_bg; then
		pass "$tag: the I/O process ended"
	else
		fail "$tag: the I/O process still ran 60 s later (killed)"
	fi
	check_baseline "$tag"
done

# --------------------------------------- kill -9 of the I/O process
for way in read write; do
	tag="kill -9 of a reader"
	[ "$way" = write ] && tag="kill -9 of a writer"
	mount_it "$tag" || continue
	bg_io $way
	mid_transfer "$tag" kill -KILL "$bg"
	if wait_bg; then
		pass "$tag: it is gone"
	else
		fail "$tag: still there 60 s after SIGKILL"
	fi
	# The mount itself stays and keeps working (maybe after a
	# reconnect, if the killed I/O's memory went away under an RDMA
	# transfer): then it goes away the normal way.
	if s=$(probe_io "$m1" 60 "k$way"); then
		pass "$tag: the mount still works ($s s)"
	else
		fail "$tag: the mount does not work afterwards"
	fi
	check "$tag: umount" umount "$m1"
	check_baseline "$tag"
done

# ----------------------------------------------- the device goes away
# Not done: "rdma link delete rxe0" under a mount with a large write in
# flight never returned on this kernel (Debian 6.1.192): the hung-task
# watchdog reported both the rdma command and cifs.ko's cifsd thread
# blocked for more than 120 s, and the VM did not recover (tried once
# with the same mount and dd as above). Whether smbdirectd's part (it
# keeps its PD and pool registration, and rxe cannot disassociate a
# user context, so unregistering the device waits for it) adds to it is
# not known; cifsd hangs in any case.
echo "SKIP: rdma link delete rxe0 under a mount: hangs cifs.ko 6.1 (see the test)"

check "smbdirectd still runs at the end" smbdirectd_env_alive
if smbdirectd_env_stop; then
	pass "smbdirectd stops cleanly on SIGTERM"
else
	fail "smbdirectd exit status after SIGTERM"
fi
summary
