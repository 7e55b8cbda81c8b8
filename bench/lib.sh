# shellcheck shell=bash
# Helpers for the benchmark's VM side (sourced by bench/guest and the
# scripts it runs): messages, the settings, load and phase records.

BENCH_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_RAW=${SMBDIRECT_RESULTS:?bench: run inside the VM through bench/run}
# The settings bench/run resolved, and the binaries it took a copy of.
# shellcheck source=/dev/null
. "$BENCH_RAW/config.sh" || { echo "bench: error: no $BENCH_RAW/config.sh" >&2; exit 1; }
BENCH_BIN=$BENCH_RAW/bin
BENCH_WORK=/tmp/bench		# the guest's own tmpfs
BENCH_SHARE=$BENCH_WORK/share	# one directory, served by every system in turn
BENCH_MNT=$BENCH_WORK/mnt	# where cifs.ko mounts it
BENCH_IP=${SMBDIRECT_VM_IP:-10.77.0.1}
BENCH_USER=root
BENCH_PASS=bench-smbdirect

blog() {
	local up
	read -r up _ </proc/uptime
	printf 'bench: [%5.0fs] %s\n' "$up" "$*"
}
bwarn() { blog "warning: $*"; }

bench_loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# record FILE KEY VALUE...: append "KEY=VALUE" lines for the report
record() {
	local f=$1
	shift
	while [ $# -ge 2 ]; do
		printf '%s=%s\n' "$1" "$2" >>"$f"
		shift 2
	done
}

# phase_begin DIR / phase_end DIR: when a system ran and how loaded the
# guest was (the host's load is sampled by bench/run, matched by time).
phase_begin() {
	mkdir -p "$1"
	record "$1/phase.txt" start "$(date +%s)" guest_load_before "$(bench_loadavg)"
}
phase_end() {
	record "$1/phase.txt" end "$(date +%s)" guest_load_after "$(bench_loadavg)"
}

# status DIR ok|"failed: why": the outcome of one system's run
phase_status() {
	record "$1/phase.txt" status "$2"
}

# wait_for SECONDS COMMAND...: poll COMMAND every 0.2 s until it succeeds
wait_for() {
	local n=$(($1 * 5))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}

tcp_listening() { [ -n "$(ss -Hltn "sport = :$1")" ]; }
tcp_free() { ! tcp_listening "$1"; }

# reap SECONDS PID: wait up to SECONDS for our child PID to exit, then kill it
reap() {
	local n=$(($1 * 5)) pid=$2
	while [ "$n" -gt 0 ] && kill -0 "$pid" 2>/dev/null; do
		sleep 0.2
		n=$((n - 1))
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}
