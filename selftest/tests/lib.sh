# shellcheck shell=bash
# Shared by the integration tests (sourced).  Each check prints one line,
# "PASS: name" or "FAIL: name: reason"; a test ends with `summary`, whose
# line "N passed, N failed" selftest/tests/run-in-vm.sh adds up, and whose
# status (non-zero on any failure) becomes the test's exit status.

T_PASSED=0
T_FAILED=0

# Each check's time since the test began, in $SMBDIRECT_RESULTS/<test>.steps
# ("SECONDS PASS: name"): where a test spends CI's time (README, "Tests").
t_step() {
	[ -n "${SMBDIRECT_RESULTS:-}" ] || return 0
	echo "$SECONDS $*" >>"$SMBDIRECT_RESULTS/$(basename "$0" .sh).steps"
}

pass() {
	T_PASSED=$((T_PASSED + 1))
	echo "PASS: $*"
	t_step "PASS: $*"
}

fail() {
	T_FAILED=$((T_FAILED + 1))
	echo "FAIL: $*"
	t_step "FAIL: $*"
}

# The last lines of a command's output, on one line, for a FAIL reason.
t_tail() { tail -n 3 <<<"$1" | paste -sd '|' | sed 's/|/ | /g'; }

# check NAME COMMAND [ARGS...]: PASS if COMMAND succeeds, else FAIL with its
# exit status and the last lines of its output (stdout and stderr).
check() {
	local name=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$name"
	else
		fail "$name: '$*' exited $rc${out:+: $(t_tail "$out")}"
	fi
}

# check_output NAME REGEX COMMAND [ARGS...]: PASS if COMMAND succeeds and its
# output matches the extended REGEX.
check_output() {
	local name=$1 re=$2 out rc=0
	shift 2
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "$name: '$*' exited $rc${out:+: $(t_tail "$out")}"
	elif grep -qE -- "$re" <<<"$out"; then
		pass "$name"
	else
		fail "$name: no /$re/ in the output of '$*'${out:+: $(t_tail "$out")}"
	fi
}

# Tests that need rxe0, root and a throw-away system call this first
# (test_begin does).
require_vm() {
	if [ "${SMBDIRECT_VM:-}" != 1 ]; then
		echo "FAIL: $(basename "$0") must run inside the test VM: selftest/vm/run $0"
		echo "0 passed, 1 failed"
		exit 1
	fi
}

summary() {
	echo "$T_PASSED passed, $T_FAILED failed"
	[ "$T_FAILED" -eq 0 ]
}

# The builds a test of the builds themselves checks: SMBDIRECT_TEST_BUILDS
# (default "fast waf"; make check-integration tests waf's in a VM of its
# own, once its background build is done), and where each one's output is.
t_builds() {
	echo "${SMBDIRECT_TEST_BUILDS:-fast waf}"
}

t_build_dir() {
	case $1 in
	fast) echo "$repo/out" ;;
	waf) echo "$repo/out/waf" ;;
	*) echo "$repo/out/unknown-build-$1" ;;
	esac
}

# shellcheck source=known_kernel_bugs.sh
. "$(dirname "${BASH_SOURCE[0]}")/known_kernel_bugs.sh"

# t_task_blocked PID: PID is in uninterruptible sleep (D); prints its
# context switches so far (task_ctxt_switches).
t_task_blocked() {
	local _ state
	read -r _ _ state _ <"/proc/$1/stat" 2>/dev/null || return 1
	[ "$state" = D ] || return 1
	task_ctxt_switches "$1"
}

# t_client_kernel_bug: a cifsd (cifs.ko's thread of one connection to a
# server) blocked for good in one of the client's known kernel bugs
# (selftest/vm/known-kernel-bugs): in D state without a context switch
# for 5 s, with a kernel stack that matches. Prints the bug's description
# and keeps the stacks as $SMBDIRECT_RESULTS/<test>.client-kernel:
# run-in-vm.sh then counts the test's results but runs the tests after it
# in a fresh VM, since the task stays blocked in this one. A test calls
# it when a mount does not recover and goes on with a new mount
# (nosharesock, or cifs.ko gives it the blocked connection). Status 1
# (nothing printed) if no cifsd is blocked so.
t_client_kernel_bug() {
	local pid n stacks=$work/client-kernel what
	local -A before=()
	for pid in $(pgrep -x cifsd); do
		n=$(t_task_blocked "$pid") && before[$pid]=$n
	done
	[ ${#before[@]} -gt 0 ] || return 1
	sleep 5
	: >"$stacks"
	for pid in "${!before[@]}"; do
		n=$(t_task_blocked "$pid") || continue
		[ "$n" = "${before[$pid]}" ] || continue
		echo "cifsd (pid $pid) in D state, no context switch in 5 s:"
		cat "/proc/$pid/stack"
	done >>"$stacks" 2>&1
	what=$(known_kernel_bug "$stacks") || return 1
	if [ -n "${SMBDIRECT_RESULTS:-}" ]; then
		cp "$stacks" \
			"$SMBDIRECT_RESULTS/$(basename "$0" .sh).client-kernel"
	fi
	echo "$what"
}

# --- The prologue and teardown of every integration test -----------------
#
#   . "$(dirname "$0")/lib.sh"        (isolated/: "$(dirname "$0")/../lib.sh")
#   test_begin [--faults]
#
# test_begin sets here (selftest/tests), repo and work (a fresh directory
# under the VM's /tmp), sources smbd_env.sh and smbdirectd_env.sh (and
# faults_env.sh with --faults: its faults_cleanup kills the jobs named
# bg and killer), stops unless inside the test VM, and installs the EXIT
# trap test_teardown. A test defines, if it needs them:
#
#   test_cleanup          runs first: kill the test's own background jobs
#                         while its mounts and servers are still there
#   test_cleanup_stopped  runs once smbdirectd and smbd are stopped
#   test_keep FILE [NAME] copy FILE into the results at the end (as NAME)
#
# and never a trap of its own: one trap, so no step of the teardown is
# forgotten or run in the wrong order.

T_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T_KEEP=()

test_begin() {
	set -u
	here=$T_LIB_DIR
	repo=$(cd "$here/../.." && pwd)
	# shellcheck source=smbd_env.sh
	. "$here/smbd_env.sh"
	# shellcheck source=smbdirectd_env.sh
	. "$here/smbdirectd_env.sh"
	if [ "${1:-}" = --faults ]; then
		# shellcheck source=faults_env.sh
		. "$here/faults_env.sh"
	fi
	require_vm
	work=$(mktemp -d "/tmp/$(basename "$0" .sh).XXXXXX")
	trap test_teardown EXIT
}

test_keep() {
	T_KEEP+=("$1|${2:-$(basename "$1")}")
}

# Every mount under $work, deepest first; a forced unmount that fails
# (a client whose server vanished) falls back to a lazy one.
t_unmount_work() {
	local m
	[ -n "${work:-}" ] || return 0
	findmnt -rn -o TARGET | awk -v w="$work/" 'index($0, w) == 1' |
		sort -r | while read -r m; do
		umount -f "$m" 2>/dev/null || umount -f -l "$m" 2>/dev/null
	done
}

t_save_kept() {
	local k
	[ -n "${SMBDIRECT_RESULTS:-}" ] || return 0
	for k in "${T_KEEP[@]}"; do
		cp "${k%%|*}" "$SMBDIRECT_RESULTS/${k#*|}" 2>/dev/null
	done
}

# The order matters: the test's jobs go before the mounts they use, the
# mounts before the servers (an unmount needs its server to be quick),
# smbdirectd before smbd (its relayed connections end first), the logs
# once nobody writes them any more, the work dir last. The exit status
# stays the test's.
test_teardown() {
	local rc=$?
	if declare -F test_cleanup >/dev/null; then
		test_cleanup
	fi
	if declare -F faults_cleanup >/dev/null; then
		faults_cleanup
	fi
	if declare -F smbd_env_unlock >/dev/null; then
		smbd_env_unlock
	fi
	t_unmount_work
	smbdirectd_env_stop
	smbd_env_stop
	if declare -F test_cleanup_stopped >/dev/null; then
		test_cleanup_stopped
	fi
	smbd_env_save_logs
	t_save_kept
	cifs_io_restore
	[ -n "${work:-}" ] && rm -rf "$work"
	exit "$rc"
}
