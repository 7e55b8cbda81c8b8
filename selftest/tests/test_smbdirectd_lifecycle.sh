#!/bin/bash
#
# smbdirectd starts with an smb.conf, finds the VM's Soft-RoCE device rxe0,
# writes its pid file, rewrites its status file on SIGUSR1 and stops cleanly
# on SIGTERM (for each build of SMBDIRECT_TEST_BUILDS, default both).
#
# Runs inside the test VM: selftest/vm/run selftest/tests/test_smbdirectd_lifecycle.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

# The daemon is started by hand here (its start and stop are the test),
# not by smbdirectd_env_start.
daemon_pid=
test_cleanup() {
	[ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
	return 0
}

# The smb.conf every test's smbd gets (no smbd runs here): smbdirectd
# needs its pid, lock and log directories and the RDMA interfaces line.
write_conf() {
	smbd_env_init "$work/srv"
	SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals)" smbd_env_conf
	pid_dir=$SMBD_ENV_DIR/pid
}

run_build() {
	local build=$1 bin=$2 out rc i ino now

	if [ ! -x "$bin" ]; then
		fail "$build: $bin is missing (run 'make' and 'make waf' first)"
		return
	fi

	out=$("$bin" --list-devices 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && echo "$out" | grep -q "^rxe0: .*" &&
		echo "$out" | grep -q "port 1: ACTIVE"; then
		pass "$build: --list-devices shows rxe0 with an ACTIVE port"
	else
		fail "$build: --list-devices (exit $rc): $out"
	fi

	"$bin" -s "$SMBD_ENV_CONF" -F --debug-stdout -d 3 \
		>"$work/$build.out" 2>&1 &
	daemon_pid=$!

	for i in $(seq 100); do
		[ -s "$pid_dir/smbdirectd.pid" ] && break
		sleep 0.1
	done
	if [ "$(cat "$pid_dir/smbdirectd.pid" 2>/dev/null)" = "$daemon_pid" ]; then
		pass "$build: started, pid file holds its pid"
	else
		fail "$build: no pid file with pid $daemon_pid"
	fi
	for i in $(seq 100); do
		grep -q "RDMA device rxe0" "$work/$build.out" && break
		sleep 0.1
	done
	if grep -q "found 1 RDMA device" "$work/$build.out" &&
		grep -q "RDMA device rxe0 (InfiniBand), port 1 ACTIVE" \
			"$work/$build.out"; then
		pass "$build: logged rxe0 at start-up"
	else
		fail "$build: rxe0 not in the log: $(head -20 "$work/$build.out")"
	fi
	if kill -0 "$daemon_pid" 2>/dev/null; then
		pass "$build: still running after start-up"
	else
		fail "$build: exited early: $(tail -5 "$work/$build.out")"
	fi

	# SIGUSR1: the status file written again (a new file renamed over
	# the old one), and the daemon still there.
	for i in $(seq 100); do
		ino=$(stat -c %i "$pid_dir/smbdirectd.status" 2>/dev/null) &&
			break
		sleep 0.1
	done
	kill -USR1 "$daemon_pid"
	for i in $(seq 50); do
		now=$(stat -c %i "$pid_dir/smbdirectd.status" 2>/dev/null)
		[ -n "$now" ] && [ "$now" != "$ino" ] && break
		sleep 0.1
	done
	if [ -n "$ino" ] && [ "$now" != "$ino" ] &&
		kill -0 "$daemon_pid" 2>/dev/null; then
		pass "$build: SIGUSR1: status file rewritten, still running"
	else
		fail "$build: SIGUSR1: status inode ${ino:-none} -> ${now:-none}," \
			"$(kill -0 "$daemon_pid" 2>/dev/null && echo running ||
				echo "gone: $(tail -3 "$work/$build.out")")"
	fi

	kill -TERM "$daemon_pid"
	rc=124
	for i in $(seq 100); do
		if ! kill -0 "$daemon_pid" 2>/dev/null; then
			wait "$daemon_pid"
			rc=$?
			break
		fi
		sleep 0.1
	done
	daemon_pid=
	if [ $rc -eq 0 ]; then
		pass "$build: SIGTERM stops it with exit status 0"
	else
		fail "$build: after SIGTERM: exit status $rc (124: still running)"
	fi
	if [ ! -e "$pid_dir/smbdirectd.pid" ]; then
		pass "$build: pid file removed at exit"
	else
		fail "$build: pid file left behind"
	fi
	if grep -q "smbdirectd stopped" "$work/$build.out"; then
		pass "$build: logged its orderly stop"
	else
		fail "$build: no 'smbdirectd stopped' in the log"
	fi
}

write_conf
for b in $(t_builds); do
	run_build "$b" "$(t_build_dir "$b")/smbdirectd"
done
summary
