#!/bin/bash
# bench/system.sh SYSTEM OUTDIR: one server system, start to stop: start it,
# mount the share with cifs.ko, check the transport, verify data once, run
# every workload of bench/workloads.list (bench/fio-jobs), keep the
# server's logs and counters, unmount, stop.  SYSTEM: ksmbd, ours,
# ours-copy, ours-sendfile, ours-threads, ours-plain or tcp.
# OUTDIR/phase.txt gets when it ran, the guest's load, and its status.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

sys=$1 out=$2
case $sys in
ksmbd)	. "$BENCH_HERE/server-ksmbd.sh" ;;
ours)	SAMBA_MODE=ours; . "$BENCH_HERE/server-samba.sh" ;;
ours-copy) SAMBA_MODE=ours-copy; . "$BENCH_HERE/server-samba.sh" ;;
ours-sendfile) SAMBA_MODE=ours-sendfile; . "$BENCH_HERE/server-samba.sh" ;;
ours-threads) SAMBA_MODE=ours-threads; . "$BENCH_HERE/server-samba.sh" ;;
ours-plain) SAMBA_MODE=ours-plain; . "$BENCH_HERE/server-samba.sh" ;;
tcp)	SAMBA_MODE=tcp; . "$BENCH_HERE/server-samba.sh" ;;
*)	echo "bench: error: unknown system $sys" >&2; exit 2 ;;
esac

mkdir -p "$out"
phase_begin "$out"
record "$out/phase.txt" label "$server_label" cpu_field "$server_cpu"
status=ok
started=0 mounted=0

failed() {	# failed WHAT REASON: remember the first failure, say it
	[ "$status" != ok ] || status="failed: $1${2:+: $2}"
	bwarn "$sys: $1${2:+: $2}"
}

finish() {
	if [ "$mounted" = 1 ]; then
		umount "$BENCH_MNT" 2>/dev/null || umount -f -l "$BENCH_MNT" 2>/dev/null ||
			failed "umount"
	fi
	if [ "$started" = 1 ]; then
		[ -z "${SMBDIRECTD_PID:-}" ] || sleep 1.5	# smbdirectd rewrites its status file every second
		server_save "$out"
		server_stop >"$out/stop.msg" 2>&1 ||
			failed "stopping the server" "$(cat "$out/stop.msg")"
	fi
	phase_end "$out"
	phase_status "$out" "$status"
	blog "$sys: $status"
	[ "$status" = ok ]
	exit
}

blog "$sys: starting $server_label"
# Not in $(...): server_start remembers process ids in this shell.
if ! server_start >"$out/start.msg" 2>&1; then
	started=1
	failed "start" "$(cat "$out/start.msg")"
	finish
fi
started=1
if declare -F smbd_pid >/dev/null; then
	# for BENCH_STRACE=1 (bench/job-mark)
	BENCH_SMBD_PID=$(smbd_pid)
	export BENCH_SMBD_PID
fi
if [ -n "${SMBDIRECTD_PID:-}" ]; then
	# for bench/status-snapshot around each fio job
	export BENCH_SMBDIRECTD_STATUS=$SAMBA_DIR/pid/smbdirectd.status
	export BENCH_SMBDIRECTD_PID=$SMBDIRECTD_PID
fi
mkdir -p "$BENCH_MNT"
if ! r=$(server_mount 2>&1); then
	failed "mount" "$r; dmesg: $(dmesg | tail -n 3 | paste -sd' ')"
	finish
fi
mounted=1
cp /proc/fs/cifs/DebugData "$out/cifs-DebugData.txt" 2>/dev/null
if grep -q 'SMBDirect' "$out/cifs-DebugData.txt"; then transport=rdma; else transport=tcp; fi
if { [ "$server_rdma" = 1 ] && [ "$transport" != rdma ]; } ||
   { [ "$server_rdma" = 0 ] && [ "$transport" != tcp ]; }; then
	failed "transport" "the mount went over $transport"
	finish
fi
record "$out/phase.txt" transport "$transport"
if [ -n "${SMBDIRECTD_PID:-}" ]; then
	# Whether vfs_smbdirect attached the connection (at tree connect, so
	# in the status file a rewrite after the mount).
	sleep 1.5
	record "$out/phase.txt" zero_copy_link "$(samba_zero_copy_link)"
fi
blog "$sys: mounted over $transport; verifying data"

if r=$("$BENCH_HERE/verify" "$out" 2>&1); then
	record "$out/phase.txt" verify ok
else
	record "$out/phase.txt" verify "failed: $r"
	failed "data verification" "$r"
fi

if "$BENCH_HERE/fio-jobs" "$sys" "$out" "$(server_roots)" 2>"$out/fio-jobs.msg"; then
	rm -f "$out/fio-jobs.msg"
else
	failed "fio" "$(cat "$out/fio-jobs.msg")"
fi
finish
