#!/bin/bash
#
# Samba's in-tree build (build/waf-build.sh) beside the main test VM.
#
#   build/waf-background.sh start SAMBA_TREE OUTDIR
#   build/waf-background.sh wait OUTDIR
#   build/waf-background.sh stop OUTDIR
#
# On a fresh machine waf compiles some 1650 files of Samba before the two
# targets (8 minutes on 2 cores), and only two tests need its output.
# make check-integration starts it here with the idle CPU policy
# (SCHED_IDLE) and idle I/O class while the main VM runs: it gets the
# CPU the VM leaves (round trips, sleeps) and none the VM wants. (At
# nice 19 alone it took more than half of both cores and slowed the
# VM's tests 2-3 times while it ran.) The caller waits for it after
# that VM, then checks the waf build in a VM of its own. A build that
# fails says so and where its log is; "make waf" is the same build in
# the foreground.

set -euo pipefail

say() { echo "waf-background: $*" >&2; }
die() {
	say "ERROR: $*"
	exit 1
}

cmd=${1:?usage: $0 start SAMBA_TREE OUTDIR | wait OUTDIR | stop OUTDIR}
case $cmd in
start) out=${3:?usage: $0 start SAMBA_TREE OUTDIR} ;;
wait | stop) out=${2:?usage: $0 $cmd OUTDIR} ;;
*) die "unknown command $cmd (start, wait or stop)" ;;
esac
mkdir -p "$out"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
log=$out/background.log
status=$out/background.status
pidfile=$out/background.pid

# The last "[N/M]" waf printed: how far it is.
progress() {
	grep -o '^\[ *[0-9]*/[0-9]*\]' "$out/waf-build.log" 2>/dev/null |
		tail -1 | tr -d '[] '
}

running() {
	local pid
	pid=$(cat "$pidfile" 2>/dev/null) || return 1
	kill -0 "$pid" 2>/dev/null
}

case $cmd in
start)
	src=$2
	"$0" stop "$out"
	rm -f "$status" "$log"
	# Its own session, so that "stop" ends waf's compilers with it.
	# shellcheck disable=SC2016 # the inner shell expands its arguments
	setsid chrt --idle 0 nice -n 19 ionice -c 3 bash -c \
		'"$1" "$2" "$3" >"$4" 2>&1; echo $? >"$5"' _ \
		"$here/waf-build.sh" "$src" "$out" "$log" "$status" \
		</dev/null >/dev/null 2>&1 &
	echo $! >"$pidfile"
	say "started with the idle CPU policy beside the VM (log: $log)"
	;;
wait)
	[ -e "$pidfile" ] || die "nothing was started in $out"
	t0=$SECONDS
	next=60
	while [ ! -s "$status" ]; do
		if ! running && [ ! -s "$status" ]; then
			die "the build ended without a status; see $log"
		fi
		if [ $((SECONDS - t0)) -ge "$next" ]; then
			say "still building ($(progress) steps) after" \
				"$((SECONDS - t0)) s"
			next=$((next + 60))
		fi
		sleep 2
	done
	rc=$(cat "$status")
	rm -f "$pidfile"
	if [ "$rc" != 0 ]; then
		tail -30 "$log" >&2
		die "the waf build failed (exit $rc); see $log"
	fi
	say "done (waited $((SECONDS - t0)) s): $(tail -1 "$log")"
	;;
stop)
	if running; then
		kill -TERM -- "-$(cat "$pidfile")" 2>/dev/null || true
		say "stopped the build in $out"
	fi
	rm -f "$pidfile"
	;;
esac
