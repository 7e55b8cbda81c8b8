#!/bin/bash
#
# vfs_smbdirect's forked I/O helpers, over TCP, against the distro's smbd:
#
# 1. Files from 0 bytes to 64 MiB (256 MiB with SMBDIRECT_TEST_LONG) go
#    through a share with "vfs objects = smbdirect" (cifs.ko,
#    cache=none) and a 3 MB file
#    through smbclient put/get, intact (sha256 of the input, of what the
#    client reads back and of what is on the server's disk).
# 2. The same with "vfs objects = aio_fork" fails above 128 KiB, as
#    vfs_aio_fork does (smbclient: NT_STATUS_INVALID_PARAMETER).
# 3. The helpers: named smbdirect-io, children of the client's smbd,
#    holding no file of smbd's open; bounded by "smbdirect:max helpers";
#    gone after "smbdirect:idle timeout".
# 4. Helpers killed at random (pkill -9) during copies: smbd never
#    panics, the client's smbd and the mount survive, and a final copy is
#    intact.
#
# Runs inside the test VM:
#     selftest/run-integration selftest/tests/test_vfs_module.sh
# SMBDIRECT_MODULE=path/to/smbdirect.so picks another build (default: the
# fast build, out/smbdirect.so).

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

mnt=$work/mnt
so=${SMBDIRECT_MODULE:-$repo/out/smbdirect.so}
killer=
test_cleanup() {
	[ -n "$killer" ] && kill "$killer" 2>/dev/null
	return 0
}

ip=${SMBDIRECT_VM_IP:-127.0.0.1}
SIZES="0 1 65537 131073 1048577 3000000 8388609 16777216 67108864"
# 256 MiB (28 s under TCG) only in make check-long.
[ -z "${SMBDIRECT_TEST_LONG:-}" ] || SIZES+=" 268435456"
mkdir -p "$work/in" "$work/out"
modprobe cifs 2>/dev/null

# Large I/O on purpose: with cache=none each 4 MiB read(2)/write(2)
# becomes SMB2 READs/WRITEs of cifs.ko's rsize/wsize (4 MiB), which is
# what aio_fork cannot do and smbd's own defaults allow (8 MiB).
# BS=64K for aio_fork's sanity check: its limit is per request.
sum() {
	dd if="$1" bs="${BS:-4M}" status=none | sha256sum | cut -d' ' -f1
}
put() { dd if="$1" of="$2" bs="${BS:-4M}" status=none; }
helpers() { pgrep -x smbdirect-io; }
nhelpers() { pgrep -c -x smbdirect-io; }

# start NAME VFS_LINES: a fresh smbd instance with these [share] lines.
start() {
	local i
	umount "$mnt" 2>/dev/null
	smbd_env_stop
	smbd_env_save_logs "test_vfs_module.$prev"
	# The last instance's helpers exit with its client's smbd.
	for i in $(seq 50); do
		[ "$(nhelpers)" -eq 0 ] && break
		sleep 0.1
	done
	prev=$1
	smbd_env_init "$work/$1"
	smbd_env_start "$2"
}
prev=none

smbclient_cmd() {
	smbclient "//$ip/share" -s "$SMBD_ENV_CONF" -m SMB3 \
		-U "$SMBD_ENV_USER%$SMBD_ENV_PASS" -c "$1" 2>&1
}

# copy_check TAG SIZE: SIZE random bytes into the share and back, checked
# three ways; the share's copy is removed afterwards (the VM is tmpfs).
copy_check() {
	local tag=$1 s=$2 a b c
	head -c "$s" /dev/urandom >"$work/in/f"
	a=$(sum "$work/in/f")
	if ! put "$work/in/f" "$mnt/f$s" 2>"$work/err"; then
		fail "$tag: writing $s bytes into the share: $(cat "$work/err")"
		rm -f "$mnt/f$s"
		return
	fi
	b=$(sum "$mnt/f$s")
	c=$(sum "$SMBD_ENV_DIR/share/f$s")
	if [ "$a" = "$b" ] && [ "$a" = "$c" ]; then
		pass "$tag: $s bytes written and read back intact"
	else
		fail "$tag: $s bytes: in $a, read back $b, on disk $c"
	fi
	rm -f "$mnt/f$s" "$work/in/f"
}

if [ ! -f "$so" ]; then
	fail "$so is missing (run 'make' first)"
	summary
	exit
fi
smbd_env_install_module "$so"

# ---------------------------------------------------------------- 1.
if start smbdirect "	vfs objects = smbdirect" && smbd_env_mount "$mnt"; then
	pass "smbdirect: smbd started, cifs.ko mounted over TCP"
	for s in $SIZES; do
		copy_check smbdirect "$s"
	done

	# The I/O really goes through helpers: right after a copy they
	# are there (idle for 30 s; the large checks above may take longer
	# than that under TCG).
	head -c 4194304 /dev/urandom >"$work/in/h"
	put "$work/in/h" "$mnt/h" && sum "$mnt/h" >/dev/null
	pids=$(helpers)
	check "smbdirect: I/O helpers ran (pgrep -x smbdirect-io)" \
		test -n "$pids"

	head -c 3000000 /dev/urandom >"$work/in/p3m"
	out=$(smbclient_cmd "put $work/in/p3m p3m; get p3m $work/out/p3m")
	a=$(sum "$work/in/p3m")
	if [ "$a" = "$(sum "$SMBD_ENV_DIR/share/p3m")" ] &&
		[ "$a" = "$(sum "$work/out/p3m" 2>/dev/null)" ]; then
		pass "smbdirect: smbclient put/get of 3 MB intact"
	else
		fail "smbdirect: smbclient put/get of 3 MB: $(t_tail "$out")"
	fi

	# 3. What a helper is and holds.
	ok=1 why="no helper to look at"
	[ -n "$pids" ] && why=
	[ -n "$pids" ] || ok=0
	for p in $pids; do
		pp=$(ps -o ppid= -p "$p" | tr -d ' ')
		if [ "$(ps -o comm= -p "$pp")" != smbd ]; then
			ok=0 why="helper $p: parent $pp is not smbd"
		fi
		for fd in /proc/"$p"/fd/*; do
			t=$(readlink "$fd") || continue
			case $t in
			/dev/null|socket:*|"/memfd:smbdirect-io (deleted)") ;;
			*) ok=0 why="helper $p holds $t open" ;;
			esac
		done
	done
	if [ "$ok" = 1 ]; then
		pass "smbdirect: helpers are smbd's children, hold no file open"
	else
		fail "smbdirect: $why"
	fi
	check_output "smbdirect: smbd loaded the module" \
		"connected to share \[share\]" smbd_env_logs
else
	fail "smbdirect: smbd with vfs objects = smbdirect, mounted"
fi

# ---------------------------------------------------------------- 2.
if [ -f "$(smbd_env_modulesdir)/vfs/aio_fork.so" ] &&
	start aio_fork "	vfs objects = aio_fork" &&
	smbd_env_mount "$mnt"; then
	# In requests under its 128 KiB limit aio_fork works: what fails
	# below is the size.
	BS=64K copy_check "aio_fork, 64 KiB requests" 1048577
	head -c 3000000 /dev/urandom >"$work/in/p3m"
	out=$(smbclient_cmd "put $work/in/p3m p3m")
	size=$(stat -c %s "$SMBD_ENV_DIR/share/p3m" 2>/dev/null || echo no)
	if grep -q NT_STATUS_INVALID_PARAMETER <<<"$out" &&
		[ "$size" != 3000000 ]; then
		pass "aio_fork: smbclient put of 3 MB fails" \
			"(NT_STATUS_INVALID_PARAMETER, $size bytes on disk)"
	else
		fail "aio_fork: a 3 MB put did not fail as expected:" \
			"$(t_tail "$out")"
	fi
	head -c 1048577 /dev/urandom >"$work/in/f"
	if put "$work/in/f" "$mnt/f" 2>/dev/null &&
		[ "$(sum "$work/in/f")" = "$(sum "$mnt/f")" ]; then
		fail "aio_fork: 1 MiB through cifs.ko succeeded"
	else
		pass "aio_fork: 1 MiB through cifs.ko fails"
	fi
	rm -f "$mnt/f"
else
	fail "aio_fork: smbd with vfs objects = aio_fork" \
		"(or aio_fork.so missing)"
fi

# ---------------------------------------------------------------- 3.
# "sync always" makes smbd follow every write with an fsync_send; vfs:10
# logs each helper request.
if SMBD_ENV_GLOBAL_EXTRA="	log level = 3 vfs:10" start bounded \
	"	vfs objects = smbdirect
	smbdirect:max helpers = 2
	smbdirect:idle timeout = 3
	sync always = yes" && smbd_env_mount "$mnt"; then
	head -c 16777216 /dev/urandom >"$work/in/b"
	put "$work/in/b" "$mnt/b"
	# Four readers at once on one connection: more requests in flight
	# than helpers.
	max=0
	for i in 1 2 3 4; do
		sum "$mnt/b" >"$work/out/b$i" &
	done
	while [ -n "$(jobs -rp)" ]; do
		n=$(nhelpers)
		[ "$n" -gt "$max" ] && max=$n
		sleep 0.1
	done
	wait
	ok=1
	want=$(sum "$work/in/b")
	for i in 1 2 3 4; do
		[ "$(cat "$work/out/b$i")" = "$want" ] || ok=0
	done
	check "bounded: 4 parallel readers of 16 MiB read intact data" \
		test "$ok" = 1
	if [ "$max" -ge 1 ] && [ "$max" -le 2 ]; then
		pass "bounded: at most 2 helpers seen (max $max)"
	else
		fail "bounded: $max helpers seen with smbdirect:max helpers = 2"
	fi
	check_output "sync always: smbd's fsyncs ran in the helpers" \
		"helper [0-9]+: fsync of" smbd_env_logs
	# Idle for 3 s: gone (6 s allow for a slow VM).
	for i in $(seq 60); do
		[ "$(nhelpers)" -eq 0 ] && break
		sleep 0.1
	done
	t=$(nhelpers)
	if [ "$t" -eq 0 ]; then
		pass "bounded: idle helpers gone after" \
			"smbdirect:idle timeout = 3"
	else
		fail "bounded: $t helpers still there 6 s after the last I/O"
	fi
	rm -f "$mnt/b" "$work/in/b"
else
	fail "bounded: smbd with smbdirect:max helpers = 2, mounted"
fi

# ---------------------------------------------------------------- 4.
if start kill "	vfs objects = smbdirect" && smbd_env_mount "$mnt"; then
	master=$(smbd_env_pid)
	head -c 67108864 /dev/urandom >"$work/in/k"
	a=$(sum "$work/in/k")
	put "$work/in/k" "$mnt/warmup" && rm -f "$mnt/warmup"
	client=$(ps -o ppid= -p "$(helpers | head -1)" 2>/dev/null | tr -d ' ')

	# Kill every helper at random moments (10-90 ms apart) while
	# copies run, until at least 10 kill rounds hit or 8 passes ran.
	echo 0 >"$work/kills"
	(
		n=0
		while [ ! -e "$work/stop" ]; do
			if pkill -9 -x smbdirect-io; then
				n=$((n + 1))
				echo "$n" >"$work/kills"
			fi
			sleep "0.0$((RANDOM % 9 + 1))"
		done
	) &
	killer=$!
	failed=0
	for i in $(seq 8); do
		put "$work/in/k" "$mnt/k$i" 2>/dev/null ||
			failed=$((failed + 1))
		dd if="$mnt/k$i" of=/dev/null bs=4M status=none 2>/dev/null ||
			failed=$((failed + 1))
		rm -f "$mnt/k$i"
		[ "$(cat "$work/kills")" -ge 10 ] 2>/dev/null && break
	done
	touch "$work/stop"
	wait "$killer"
	killer=
	kills=$(cat "$work/kills")
	echo "kill test: $kills kill rounds; $failed of $((2 * i)) reads" \
		"and writes of 64 MiB failed"
	check "kill: helpers were killed during the copies ($kills rounds)" \
		test "$kills" -ge 1

	if put "$work/in/k" "$mnt/final" &&
		[ "$(sum "$mnt/final")" = "$a" ] &&
		[ "$(sum "$SMBD_ENV_DIR/share/final")" = "$a" ]; then
		pass "kill: a 64 MiB copy afterwards is intact"
	else
		fail "kill: the copy after the kills is not intact"
	fi
	check "kill: the master smbd is alive" kill -0 "$master"
	if [ -n "$client" ] && kill -0 "$client" 2>/dev/null; then
		pass "kill: the client's smbd ($client) is still the same" \
			"process"
	else
		fail "kill: the client's smbd (${client:-?}) is gone"
	fi
	if smbd_env_logs | grep -qE "PANIC|BACKTRACE|smb_panic"; then
		fail "kill: smbd panicked: $(smbd_env_logs |
			grep -E 'PANIC|BACKTRACE|smb_panic' | head -1)"
	else
		pass "kill: no PANIC in smbd's logs"
	fi
	n=$(smbd_env_logs | grep -c "failed during a" || true)
	echo "smbd logged $n requests failed by a killed helper"
else
	fail "kill: smbd with vfs objects = smbdirect, mounted"
fi

umount "$mnt" 2>/dev/null
smbd_env_stop
summary
