#!/bin/bash
#
# Inside the VM: run each integration test given on the command line, show
# its output, keep it in $SMBDIRECT_RESULTS/<test>.log, and sum the
# "N passed, N failed" lines. A test that dies without its summary line
# counts as one failure.

set -u
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
	bash "$t" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
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
