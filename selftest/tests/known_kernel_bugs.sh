# shellcheck shell=bash
# The client's known kernel bugs (selftest/vm/known-kernel-bugs), for
# run-in-vm.sh (a test's oops or hang) and for the tests (a cifsd blocked
# for good while the test goes on). Sourced; not a test itself.

KNOWN_KERNEL_BUGS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../vm" &&
	pwd)/known-kernel-bugs

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
