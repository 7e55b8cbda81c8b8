#!/bin/bash
#
# Inside the VM: run each integration test given on the command line, show
# its output, keep it in $SMBDIRECT_RESULTS/<test>.log, and sum the
# "N passed, N failed" lines. A test that dies without its summary line
# counts as one failure.
#
# After a kernel oops or a test stuck past its budget the VM's kernel is
# not to be trusted (a dead kworker keeps its locks): this VM runs no more
# tests. The ones left are written to $SMBDIRECT_RESULTS/next-boot for
# selftest/run-integration to run in a fresh VM, and the sums so far to
# $SMBDIRECT_RESULTS/tally. A test that met one of the client's known
# kernel bugs (selftest/vm/known-kernel-bugs) goes into next-boot as a
# rerun, uncounted, unless it is already one (SMBDIRECT_RERUN, the names
# of the tests that are). A test that found a client task blocked for
# good in such a bug and went on without it (lib.sh, t_client_kernel_bug:
# $SMBDIRECT_RESULTS/<test>.client-kernel) is counted as it ran; the
# tests after it go to a fresh VM.

set -u

# One test may take SMBDIRECT_TEST_BUDGET seconds (default 900; the
# longest, test_valgrind and test_soak, take about 400 s under TCG). A test
# still running then is stuck, often in the kernel (cifs.ko 6.1's SMB
# Direct teardown can block umount for good): the blocked tasks' stacks
# are printed (sysrq w), the test's process group is killed, it counts as
# failed and the next test runs, instead of the whole VM running into its
# timeout with nothing said.
budget=${SMBDIRECT_TEST_BUDGET:-900}

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

# A test is also stuck, long before its budget, when some task has been
# in uninterruptible sleep (D) in the same kernel function, without one
# context switch, for SMBDIRECT_TEST_STUCK seconds (default 240) while
# the test wrote nothing: a cifs.ko teardown that blocks for good shows
# that way, and waiting out the whole budget for it cost CI its time. A
# D state that moves on (a reconnect, I/O) or a test that still prints
# is not stuck.
stuck_after=${SMBDIRECT_TEST_STUCK:-240}

# d_state_tasks: "PID:WCHAN:SWITCHES" of every task in D state, one per
# line; SWITCHES from task_ctxt_switches (known_kernel_bugs.sh).
d_state_tasks() {
	local pid stat wchan sw
	while read -r pid stat wchan; do
		[[ $stat == *D* ]] || continue
		sw=$(task_ctxt_switches "$pid")
		echo "$pid:$wchan:$sw"
	done < <(ps -eo pid=,stat=,wchan:40=)
}

# run_with_deadline TEST LOG: the test's output on stdout and in LOG; its
# exit status; timed_out=1 when it ran past the budget, or was stuck in
# the kernel, and was stopped.
run_with_deadline() {
	local t=$1 log=$2 pid rc why='' start=$SECONDS now
	local size last_size=-1 last_growth=$SECONDS task next_sample=0 p w
	local -A d_since=() still=()
	local -a seen
	# setsid: the test, its tee and everything they start are one
	# process group that can be killed as one.
	# shellcheck disable=SC2016 # expanded by the inner bash
	setsid bash -c 'bash "$1" 2>&1 | tee "$2"; exit "${PIPESTATUS[0]}"' \
		run-in-vm "$t" "$log" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		now=$SECONDS
		if [ $((now - start)) -ge "$budget" ]; then
			why="still running after $budget s (SMBDIRECT_TEST_BUDGET)"
		elif [ -n "$time_left" ] && [ "$now" -ge "$time_left" ]; then
			why="still running at SMBDIRECT_DEADLINE"
		elif [ "$now" -ge "$next_sample" ]; then
			next_sample=$((now + 10))
			size=$(stat -c %s "$log" 2>/dev/null || echo 0)
			if [ "$size" != "$last_size" ]; then
				last_size=$size last_growth=$now
			fi
			mapfile -t seen < <(d_state_tasks)
			still=()
			for task in "${seen[@]}"; do
				still[$task]=1
				[ -n "${d_since[$task]:-}" ] || d_since[$task]=$now
			done
			for task in "${!d_since[@]}"; do
				if [ -z "${still[$task]:-}" ]; then
					unset "d_since[$task]"
				elif [ $((now - d_since[$task])) -ge "$stuck_after" ] &&
					[ $((now - last_growth)) -ge "$stuck_after" ]; then
					IFS=: read -r p w _ <<<"$task"
					why="stuck: task $p blocked in $w for"
					why+=" $((now - d_since[$task])) s, no output"
					why+=" for $((now - last_growth)) s"
					why+=" (SMBDIRECT_TEST_STUCK)"
				fi
			done
		fi
		if [ -n "$why" ]; then
			echo "FAIL: $(basename "$t" .sh): $why: stopped" |
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
	done
	wait "$pid"
	rc=$?
	return "$rc"
}

# known_kernel_bug FILE
# shellcheck source=known_kernel_bugs.sh
. "$(dirname "$0")/known_kernel_bugs.sh"

is_rerun() {
	case " ${SMBDIRECT_RERUN:-} " in *" $1 "*) return 0 ;; esac
	return 1
}

results=${SMBDIRECT_RESULTS:-/tmp}
rm -f "$results/next-boot" "$results/tally" "$results/times"
total_pass=0
total_fail=0
failed_tests=()
rerun_tests=()
tests=("$@")

# SMBDIRECT_TIME_LEFT (run-integration sets it from SMBDIRECT_DEADLINE):
# seconds this VM may use. A test is not begun when less than a test's
# usual time is left; those left are counted as failed and named, so a
# run that would have overrun its caller's limit ends with its summary
# instead of being killed.
time_left=${SMBDIRECT_TIME_LEFT:-}
not_run=()

for ((i = 0; i < ${#tests[@]}; i++)); do
	t=${tests[i]}
	name=$(basename "$t" .sh)
	if [ -n "$time_left" ] && [ $((time_left - SECONDS)) -lt 180 ]; then
		not_run=("${tests[@]:i}")
		not_run=("${not_run[@]##*/}")
		not_run=("${not_run[@]%.sh}")
		echo "=== SMBDIRECT_DEADLINE: $((time_left - SECONDS)) s left," \
			"not run: ${not_run[*]}"
		total_fail=$((total_fail + ${#not_run[@]}))
		failed_tests+=("${not_run[@]}")
		break
	fi
	log=$results/$name.log
	report=$results/$name.kernel
	if is_rerun "$name"; then
		echo "=== $name (again, in a fresh VM)"
	else
		echo "=== $name"
	fi
	rm -f "$results/$name.steps" "$results/$name.client-kernel"
	start=$(date +%s)
	warn_before=$(dmesg | grep -cE "WARNING:")
	oops_before=$(dmesg | grep -cE "BUG:|Oops:")
	oops_lines=$(dmesg | wc -l)
	timed_out=0
	run_with_deadline "$t" "$log"
	rc=$?
	took=$(($(date +%s) - start))
	# cifs.ko's harmless "failed to drain recv queue" WARNING at umount
	# is shown, not counted; the kernel's traces say whose code it is.
	if [ "$(dmesg | grep -cE "WARNING:")" -gt "$warn_before" ]; then
		echo "=== $name: kernel warnings during the test:"
		dmesg | grep -E "WARNING:" | tail -n +$((warn_before + 1))
	fi
	poisoned=
	counted=
	if [ "$timed_out" -eq 1 ]; then
		poisoned="a test stuck past its budget"
		sed -n '/^=== blocked (D state) tasks:/,$p' "$log" >"$report"
	elif [ "$(dmesg | grep -cE "BUG:|Oops:")" -gt "$oops_before" ]; then
		poisoned="a kernel oops"
		dmesg | tail -n +$((oops_lines + 1)) >"$report"
		echo "=== $name: kernel oops during the test:"
		grep -E -A14 "BUG:|Oops:" "$report" | head -45
	elif [ -s "$results/$name.client-kernel" ]; then
		# The test found a client task blocked for good in a known
		# bug and went on without it (lib.sh, t_client_kernel_bug):
		# its results count, but that task stays blocked in this VM.
		poisoned="a client kernel task blocked for good"
		counted=1
		echo "=== $name: $poisoned ($name.client-kernel);" \
			"the test went on without it and its results count"
	fi
	if [ -n "$poisoned" ] && [ -z "$counted" ] && ! is_rerun "$name" &&
		known=$(known_kernel_bug "$report"); then
		echo "=== $name: met a known bug of the client's kernel: $known"
		echo "=== $name: this run is not counted; it runs once more in a fresh VM"
		echo "rerun $t" >>"$results/next-boot"
		mv "$log" "$results/$name.first-run.log"
		rerun_tests+=("$name")
	elif [ "$timed_out" -eq 1 ]; then
		total_fail=$((total_fail + 1))
		failed_tests+=("$name")
	else
		if [ -n "$poisoned" ] && [ -z "$counted" ]; then
			echo "FAIL: $name: $poisoned (see above)" | tee -a "$log"
			total_fail=$((total_fail + 1))
			failed_tests+=("$name")
		fi
		line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
		if [ -z "$line" ]; then
			echo "=== $name: exit $rc without a summary line: counted as failed"
			total_fail=$((total_fail + 1))
			failed_tests+=("$name")
		else
			p=${line%% passed*}
			f=${line#*passed, }
			f=${f%% failed*}
			total_pass=$((total_pass + p))
			total_fail=$((total_fail + f))
			if [ "$f" -ne 0 ] || [ "$rc" -ne 0 ]; then
				failed_tests+=("$name")
				[ "$f" -eq 0 ] && total_fail=$((total_fail + 1))
			fi
			echo "=== $name: $line (exit $rc, $took s)"
		fi
	fi
	echo "$name $took" >>"$results/times"
	if [ -n "$poisoned" ]; then
		left=$((${#tests[@]} - i - 1))
		for ((j = i + 1; j < ${#tests[@]}; j++)); do
			echo "run ${tests[j]}" >>"$results/next-boot"
		done
		echo "=== after $poisoned this VM's kernel is not to be trusted:" \
			"the $left test(s) left run in a fresh VM"
		break
	fi
done

{
	echo "passed $total_pass"
	echo "failed $total_fail"
	echo "failed_tests ${failed_tests[*]}"
	echo "rerun_tests ${rerun_tests[*]}"
} >"$results/tally"
if [ ${#failed_tests[@]} -gt 0 ]; then
	echo "failed: ${failed_tests[*]}"
fi
echo "this VM: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
