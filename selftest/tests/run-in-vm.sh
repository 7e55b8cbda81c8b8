#!/bin/bash
#
# Inside the VM: run each integration test given on the command line, show
# its output, keep it in $SMBDIRECT_RESULTS/<test>.log, and sum the
# "N passed, N failed" lines. A test that dies without its summary line
# counts as one failure.

set -u

# One test may take SMBDIRECT_TEST_BUDGET seconds (default 1200; the
# longest, test_valgrind and test_soak, take about 400 s under TCG). A test
# still running then is stuck, often in the kernel (cifs.ko 6.1's SMB
# Direct teardown can block umount for good): the blocked tasks' stacks
# are printed (sysrq w), the test's process group is killed, it counts as
# failed and the next test runs, instead of the whole VM running into its
# timeout with nothing said.
budget=${SMBDIRECT_TEST_BUDGET:-1200}

show_blocked_tasks() {
	echo "=== blocked (D state) tasks:"
	ps -eo pid,stat,etimes,wchan:30,args | awk 'NR == 1 || $2 ~ /D/'
	if [ -w /proc/sysrq-trigger ]; then
		local before
		before=$(dmesg | wc -l)
		echo w >/proc/sysrq-trigger
		sleep 1
		dmesg | tail -n +$((before + 1)) | head -150
	fi
}

# run_with_deadline TEST LOG: the test's output on stdout and in LOG; its
# exit status; timed_out=1 when it ran past the budget and was stopped.
run_with_deadline() {
	local t=$1 log=$2 pid waited=0 rc
	# setsid: the test, its tee and everything they start are one
	# process group that can be killed as one.
	setsid bash -c 'bash "$1" 2>&1 | tee "$2"; exit "${PIPESTATUS[0]}"' \
		run-in-vm "$t" "$log" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$waited" -ge "$budget" ]; then
			echo "FAIL: $(basename "$t" .sh): still running after" \
				"$budget s (SMBDIRECT_TEST_BUDGET): stopped" |
				tee -a "$log"
			show_blocked_tasks | tee -a "$log"
			kill -TERM -- "-$pid" 2>/dev/null
			sleep 15
			kill -KILL -- "-$pid" 2>/dev/null
			# What it started outside its group (smbd daemonises)
			# must not hold the next test's ports.
			pkill -KILL -x smbdirectd
			pkill -KILL -x smbd
			timed_out=1
			return 1
		fi
		sleep 2
		waited=$((waited + 2))
	done
	wait "$pid"
	rc=$?
	return "$rc"
}

total_pass=0
total_fail=0
failed_tests=()

for t in "$@"; do
	name=$(basename "$t" .sh)
	log=${SMBDIRECT_RESULTS:-/tmp}/$name.log
	echo "=== $name"
	start=$(date +%s)
	warn_before=$(dmesg | grep -cE "WARNING:")
	oops_before=$(dmesg | grep -cE "BUG:|Oops:")
	timed_out=0
	run_with_deadline "$t" "$log"
	rc=$?
	if [ "$timed_out" -eq 1 ]; then
		total_fail=$((total_fail + 1))
		failed_tests+=("$name")
		continue
	fi
	# A kernel bug met during the test is reported with it, and counted:
	# the kernel's own traces say whose code it is (cifs.ko, rxe, ...).
	# (cifs.ko's harmless "failed to drain recv queue" WARNING at
	# umount is shown, not counted.)
	if [ "$(dmesg | grep -cE "WARNING:")" -gt "$warn_before" ]; then
		echo "=== $name: kernel warnings during the test:"
		dmesg | grep -E "WARNING:" | tail -n +$((warn_before + 1))
	fi
	if [ "$(dmesg | grep -cE "BUG:|Oops:")" -gt "$oops_before" ]; then
		echo "=== $name: kernel oops during the test:"
		dmesg | grep -E -A14 "BUG:|Oops:" | tail -45
		echo "FAIL: $name: kernel oops (see above)" | tee -a "$log"
		total_fail=$((total_fail + 1))
		failed_tests+=("$name")
	fi
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	if [ -z "$line" ]; then
		echo "=== $name: exit $rc without a summary line: counted as failed"
		total_fail=$((total_fail + 1))
		failed_tests+=("$name")
		continue
	fi
	p=${line%% passed*}
	f=${line#*passed, }
	f=${f%% failed*}
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	if [ "$f" -ne 0 ] || [ "$rc" -ne 0 ]; then
		failed_tests+=("$name")
		[ "$f" -eq 0 ] && total_fail=$((total_fail + 1))
	fi
	echo "=== $name: $line (exit $rc, $(($(date +%s) - start)) s)"
done

if [ ${#failed_tests[@]} -gt 0 ]; then
	echo "failed: ${failed_tests[*]}"
fi
echo "integration: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
