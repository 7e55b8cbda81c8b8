# shellcheck shell=bash
# Shared by the integration tests (sourced).  Each check prints one line,
# "PASS: name" or "FAIL: name: reason"; a test ends with `summary`, whose
# line "N passed, N failed" selftest/tests/run-in-vm.sh adds up, and whose
# status (non-zero on any failure) becomes the test's exit status.

T_PASSED=0
T_FAILED=0

pass() { T_PASSED=$((T_PASSED + 1)); echo "PASS: $*"; }
fail() { T_FAILED=$((T_FAILED + 1)); echo "FAIL: $*"; }

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

# Tests that need rxe0, root and a throw-away system call this first.
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
