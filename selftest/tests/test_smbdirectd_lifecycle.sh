#!/bin/bash
#
# smbdirectd starts with an smb.conf, finds the VM's Soft-RoCE device rxe0,
# writes its pid file, and stops cleanly on SIGTERM (for both builds).
#
# Runs inside the test VM: selftest/vm/run selftest/tests/test_smbdirectd_lifecycle.sh

set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

work=$(mktemp -d /tmp/test_smbdirectd.XXXXXX)
daemon_pid=
cleanup() {
	[ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

write_conf() {
	mkdir -p "$work/log" "$work/pid" "$work/lock"
	cat >"$work/smb.conf" <<EOF
[global]
	pid directory = $work/pid
	lock directory = $work/lock
	log file = $work/log/log.%m
	interfaces = "${SMBDIRECT_VM_IP:-127.0.0.1};capability=RDMA"
EOF
}

run_build() {
	local build=$1 bin=$2 out rc i

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

	"$bin" -s "$work/smb.conf" -F --debug-stdout -d 3 \
		>"$work/$build.out" 2>&1 &
	daemon_pid=$!

	for i in $(seq 100); do
		[ -s "$work/pid/smbdirectd.pid" ] && break
		sleep 0.1
	done
	if [ "$(cat "$work/pid/smbdirectd.pid" 2>/dev/null)" = "$daemon_pid" ]; then
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
	if [ ! -e "$work/pid/smbdirectd.pid" ]; then
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
run_build fast "$repo/out/smbdirectd"
run_build waf "$repo/out/waf/smbdirectd"
summary
