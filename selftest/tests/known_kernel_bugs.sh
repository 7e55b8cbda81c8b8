# shellcheck shell=bash
# The client's known kernel bugs (selftest/vm/known-kernel-bugs) and how
# to tell a task blocked for good, for run-in-vm.sh (a test's oops or
# hang) and for the tests (a cifsd blocked for good while the test goes
# on). Sourced; not a test itself.

KNOWN_KERNEL_BUGS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../vm" &&
	pwd)/known-kernel-bugs

# task_ctxt_switches PID: its context switches so far (voluntary and
# not). The same count later tells a task blocked for good from one that
# sleeps in a loop (cifs.ko's msleep()s show D state too).
task_ctxt_switches() {
	local key val n=0
	while read -r key val; do
		case $key in *ctxt_switches:) n=$((n + val)) ;; esac
	done 2>/dev/null <"/proc/$1/status" || return 1
	echo "$n"
}

# known_kernel_bug FILE: the description of the first known client kernel
# bug whose expression matches the kernel report in FILE; status 1 if none.
known_kernel_bug() {
	local report=$1 re what
	while IFS=$'\t' read -r re what; do
		case $re in '#'* | '') continue ;; esac
		if grep -qE -- "$re" "$report"; then
			echo "$what"
			return 0
		fi
	done <"$KNOWN_KERNEL_BUGS"
	return 1
}
