#!/bin/bash
#
# Soak (issue #7): mixed I/O with verification over several RDMA mounts
# for a bounded time, while the resources of smbdirectd and of the smbd
# processes are sampled; they must be flat after a warm-up.
#
#   SMBDIRECT_SOAK_SECONDS   length of the I/O phase (default 60)
#   SMBDIRECT_SOAK_INTERVAL  seconds between samples (default 3)
#   SMBDIRECT_SOAK_MOUNTS    concurrent RDMA mounts (default 3)
#
# The long run: "make soak SOAK_SECONDS=600" (README, "Soak").
#
# Each mount has its own SMB Direct connection (nosharesock) and its own
# worker, which loops until the time is up over: fio randwrite with
# crc32c verification (reads it all back), the same job again with
# --verify_only (reads and checks it once more, writes nothing), and a
# dd write / cp read /
# cmp of a 2 MiB file. Every worker error fails the test.
#
# Samples, every INTERVAL seconds, printed as a table at the end:
#   d_rss d_fds      smbdirectd: VmRSS (KiB), open fds
#   s_procs s_rss s_fds  every process of the private smbd (the master,
#                        the children and their smbdirect-io helpers):
#                        count, summed VmRSS (KiB), summed open fds
#   conns pool_kib waiters   smbdirectd's status file, the one that
#                            smbdirectd --status --json prints (which is
#                            run to check them at the start and the end:
#                            starting it takes seconds under TCG)
#   helpers          smbdirect-io processes (vfs_smbdirect's helpers)
#
# "Flat": the first WARMUP samples (a quarter of the run, at least 20 s)
# are left out; of the rest, the median of the last third may exceed the
# median of the first third by no more than ABS + REL * (first median),
# per series (tolerances in FLAT below). Besides: every sample shows
# exactly MOUNTS connections; the pool never has waiters for longer than
# a sample; once the I/O stops the pool is back to 0 bytes in use.
#
# Runs inside the test VM:
#     selftest/run-integration selftest/tests/test_soak.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

SECONDS_RUN=${SMBDIRECT_SOAK_SECONDS:-60}
INTERVAL=${SMBDIRECT_SOAK_INTERVAL:-3}
MOUNTS=${SMBDIRECT_SOAK_MOUNTS:-3}
for n in "$SECONDS_RUN" "$INTERVAL" "$MOUNTS"; do
	if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
		fail "SMBDIRECT_SOAK_*: not a positive number: $n"
		summary
		exit
	fi
done

# series: absolute tolerance, relative tolerance (percent)
declare -A FLAT_ABS=(
	[d_rss]=2048 [d_fds]=0
	[s_procs]=2 [s_rss]=8192 [s_fds]=8
)
declare -A FLAT_REL=(
	[d_rss]=5 [d_fds]=0
	[s_procs]=0 [s_rss]=10 [s_fds]=0
)
SERIES="d_rss d_fds s_procs s_rss s_fds"

workers=()
sampler=
# The I/O workers and the sampler, waited for so that none still holds a
# mount when the teardown unmounts (only they: a bare "wait" would also
# wait for smbdirectd, a background job too, when a test ends early).
test_cleanup() {
	local p
	for p in "${workers[@]}" $sampler; do
		kill "$p" 2>/dev/null
	done
	# shellcheck disable=SC2086 # sampler: empty or one pid
	wait "${workers[@]}" $sampler 2>/dev/null
	return 0
}
test_keep "$work/samples" test_soak.samples

smbd_env_init "$work/srv"
smbd_env_install_module "${SMBDIRECT_MODULE:-$repo/out/smbdirect.so}" ||
	{ fail "install vfs_smbdirect into smbd's MODULESDIR"; summary; exit; }
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals)" \
	smbd_env_start "	vfs objects = smbdirect" ||
	{ fail "smbd starts"; summary; exit; }
check_output "the share uses vfs_smbdirect (testparm)" '^smbdirect$' \
	testparm -s --section-name share --parameter-name "vfs objects" \
	"$SMBD_ENV_CONF"
smbdirectd_env_start || { fail "smbdirectd starts"; summary; exit; }
cifs_default_io

for i in $(seq "$MOUNTS"); do
	if ! smbd_env_mount_rdma "$work/m$i" nosharesock; then
		fail "RDMA mount $i: $(dmesg | tail -3 | paste -sd '|')"
		summary
		exit
	fi
done
pass "$MOUNTS RDMA mounts (nosharesock: one connection each)"

# Samples are taken with bash builtins where possible: under TCG every
# fork and exec is slow, and the sampler must keep up with its interval.

# All processes of the private smbd: the master and its descendants.
smbd_tree() {
	local master p c f todo=()
	master=$(<"$SMBD_ENV_DIR/pid/smbd.pid") || return
	todo=("$master")
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		echo "$p"
		for f in /proc/"$p"/task/*/children; do
			[ -r "$f" ] || continue
			c=()
			# no newline at the end: read fails but fills c
			{ read -r -a c <"$f"; } 2>/dev/null
			todo+=("${c[@]}")
		done
	done
}

# VmRSS of a process in KiB, or "?" (so that a sample keeps its columns:
# once, in CI, one read of smbdirectd's /proc status came back without
# it, the fields after it moved left and the sample counted as one
# without 3 connections). Tried three times.
rss_kib() {
	local k v _
	for _ in 1 2 3; do
		{
			while read -r k v _; do
				[ "$k" = VmRSS: ] && { echo "$v"; return; }
			done <"/proc/$1/status"
		} 2>/dev/null
	done
	echo "?"
}

nfds() {
	local f=(/proc/"$1"/fd/*)
	[ -e "${f[0]}" ] && echo ${#f[@]} || echo 0
}

# The daemon line of smbdirectd's status file (what --status prints;
# rewritten every second) as "connections pool_kib waiters".
status_daemon() {
	local w k v conns='?' pool='?' waiters='?'
	{ read -r -a w <"$SMBD_ENV_DIR/pid/smbdirectd.status"; } 2>/dev/null
	for k in "${w[@]}"; do
		v=${k#*=}
		case $k in
		connections=*) conns=$v ;;
		pool_in_use=*) pool=$((v / 1024)) ;;
		pool_waiters=*) waiters=$v ;;
		esac
	done
	echo "$conns $pool $waiters"
}

# --status --json as "connections pool_kib waiters".
status_json() {
	"$repo/out/smbdirectd" -s "$SMBD_ENV_CONF" --status --json |
		python3 -c 'import json, sys
d = json.load(sys.stdin)["daemon"]
print(d["connections"], d["pool_in_use"] // 1024, d["pool_waiters"])'
}

nhelpers() {
	local p n=0 c
	for p in /proc/[0-9]*/comm; do
		{ read -r c <"$p"; } 2>/dev/null && [ "$c" = smbdirect-io ] &&
			n=$((n + 1))
	done
	echo "$n"
}

# One line: t d_rss d_fds s_procs s_rss s_fds conns pool_kib waiters helpers
sample() {
	local t=$1 d=$SMBDIRECTD_ENV_PID p n=0 rss=0 fds=0 r
	for p in $(smbd_tree); do
		r=$(rss_kib "$p")
		[[ $r =~ ^[0-9]+$ ]] || continue
		n=$((n + 1))
		rss=$((rss + r))
		fds=$((fds + $(nfds "$p")))
	done
	echo "$t $(rss_kib "$d") $(nfds "$d") $n $rss $fds $(status_daemon)" \
		"$(nhelpers)"
}

# The worker of mount $1: loops until $2 (epoch seconds).
worker() {
	local m=$1 end=$2 i=0 tag
	tag=$(basename "$m")
	while [ "$(date +%s)" -lt "$end" ]; do
		i=$((i + 1))
		fio --name=w --directory="$m" --filename="fio.$tag" --size=8m \
			--rw=randwrite --bsrange=4k-1m --ioengine=psync \
			--direct=1 --verify=crc32c --verify_fatal=1 \
			--do_verify=1 >"$work/fio.$tag.out" 2>&1 ||
			{ echo "round $i: fio randwrite+verify" \
				"$(tail -3 "$work/fio.$tag.out" | paste -sd '|')"; continue; }
		fio --name=w --directory="$m" --filename="fio.$tag" --size=8m \
			--rw=randwrite --bsrange=4k-1m --ioengine=psync \
			--direct=1 --verify=crc32c --verify_fatal=1 \
			--verify_only=1 >"$work/fio.$tag.out" 2>&1 ||
			{ echo "round $i: fio verify_only" \
				"$(tail -3 "$work/fio.$tag.out" | paste -sd '|')"; continue; }
		head -c $((2 << 20)) /dev/urandom >"$work/src.$tag"
		dd if="$work/src.$tag" of="$m/dd.$tag" bs=64k status=none ||
			{ echo "round $i: dd write"; continue; }
		cp "$m/dd.$tag" "$work/back.$tag" ||
			{ echo "round $i: read back"; continue; }
		cmp -s "$work/src.$tag" "$work/back.$tag" ||
			echo "round $i: dd file differs after the round trip"
	done >"$work/errors.$tag"
	echo "$i" >"$work/rounds.$tag"
}

# smbdirectd --status --json and the status file it reads agree (the
# samples take the file: starting smbdirectd takes seconds under TCG).
# The file is rewritten every second: one written before the last mount
# was accepted still says fewer connections (seen: 1 of 3).
smbdirectd_env_status_fresh
json=$(status_json)
file=$(status_daemon)
if [ "${json%% *}" = "$MOUNTS" ] && [ "${file%% *}" = "$MOUNTS" ]; then
	pass "--status --json and the status file: $MOUNTS connections"
else
	fail "--status --json [$json] / status file [$file]: want $MOUNTS connections"
fi

start=$(date +%s)
end=$((start + SECONDS_RUN))
for i in $(seq "$MOUNTS"); do
	worker "$work/m$i" "$end" &
	workers+=($!)
done
(
	while :; do
		sample $(($(date +%s) - start))
		sleep "$INTERVAL"
	done
) >"$work/samples" &
sampler=$!

wait "${workers[@]}"
workers=()
kill "$sampler" 2>/dev/null
wait "$sampler" 2>/dev/null
sampler=

# --- the I/O ------------------------------------------------------------
rounds=0
for i in $(seq "$MOUNTS"); do
	r=$(cat "$work/rounds.m$i" 2>/dev/null || echo 0)
	rounds=$((rounds + r))
	if [ -s "$work/errors.m$i" ]; then
		fail "mount $i: $(wc -l <"$work/errors.m$i") failed round(s)" \
			"of $r: $(head -2 "$work/errors.m$i" | paste -sd '|')"
	elif [ "$r" -ge 1 ]; then
		pass "mount $i: $r rounds of verified I/O, no error"
	else
		fail "mount $i: no round of I/O completed in ${SECONDS_RUN}s"
	fi
done

# --- the samples ----------------------------------------------------------
echo "samples (KiB, counts; t in s):"
printf '  %5s %7s %5s %7s %8s %6s %5s %8s %7s %7s\n' t d_rss d_fds \
	s_procs s_rss s_fds conns pool_kib waiters helpers
while read -r l; do
	printf '  %5s %7s %5s %7s %8s %6s %5s %8s %7s %7s\n' $l
done <"$work/samples"

nsamples=$(wc -l <"$work/samples")
warm_s=$((SECONDS_RUN / 4))
[ "$warm_s" -ge 20 ] || warm_s=20
awk -v w="$warm_s" '$1 >= w' "$work/samples" >"$work/steady"
nsteady=$(wc -l <"$work/steady")
echo "$nsamples samples, $nsteady after the warm-up of ${warm_s}s;" \
	"rounds of I/O: $rounds"
if [ "$nsteady" -lt 6 ]; then
	fail "only $nsteady samples after the warm-up (need 6: a longer" \
		"SMBDIRECT_SOAK_SECONDS or a shorter INTERVAL)"
	summary
	exit
fi
pass "$nsteady samples after the warm-up"

# The column of a series in a sample line.
col() {
	case $1 in
	d_rss) echo 2 ;; d_fds) echo 3 ;; s_procs) echo 4 ;;
	s_rss) echo 5 ;; s_fds) echo 6 ;; conns) echo 7 ;;
	pool_kib) echo 8 ;; waiters) echo 9 ;; helpers) echo 10 ;;
	esac
}
# median of the values of column $1 on lines $2..$3 of the steady samples
median() {
	sed -n "$2,$3p" "$work/steady" | awk -v c="$1" '$c ~ /^[0-9]+$/ { print $c }' |
		sort -n | awk '{ v[NR] = $1 } END {
			if (NR == 0) { print "?"; exit }
			if (NR % 2) print v[(NR + 1) / 2]
			else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
third=$((nsteady / 3))
for s in $SERIES; do
	c=$(col "$s")
	a=$(median "$c" 1 "$third")
	b=$(median "$c" $((nsteady - third + 1)) "$nsteady")
	if ! [[ $a =~ ^[0-9]+$ && $b =~ ^[0-9]+$ ]]; then
		fail "$s: no values (first third $a, last third $b)"
		continue
	fi
	tol=$((FLAT_ABS[$s] + a * FLAT_REL[$s] / 100))
	if [ $((b - a)) -le "$tol" ]; then
		pass "$s flat: median $a -> $b (growth $((b - a)), tolerance $tol)"
	else
		fail "$s grows: median $a -> $b (growth $((b - a)) > tolerance $tol)"
	fi
done

bad=$(awk -v n="$MOUNTS" -v c="$(col conns)" '$c != n' "$work/samples" | wc -l)
if [ "$bad" -eq 0 ]; then
	pass "every sample shows $MOUNTS connections"
else
	fail "$bad sample(s) without exactly $MOUNTS connections"
fi
# A waiter is normal for a moment (back-pressure); one that stays is not.
stuck=$(awk -v c="$(col waiters)" '$c != 0 { run++; if (run > max) max = run
	next } { run = 0 } END { print max + 0 }' "$work/samples")
if [ "$stuck" -le 1 ]; then
	pass "no pool waiter seen in two samples in a row"
else
	fail "pool waiters in $stuck samples in a row"
fi
if [ "$(awk -v c="$(col helpers)" '$c > 0' "$work/samples" | wc -l)" -gt 0 ]
then
	pass "vfs_smbdirect's smbdirect-io helpers served the I/O"
else
	fail "no smbdirect-io helper seen: is vfs_smbdirect in use?"
fi

# Quiet: the pool must drain (as --status --json reports it).
drained=
for _ in $(seq 10); do
	l=$(status_json)
	set -- $l
	if [ "$1" = "$MOUNTS" ] && [ "$2" = 0 ] && [ "$3" = 0 ]; then
		drained=1
		break
	fi
	sleep 1
done
if [ -n "$drained" ]; then
	pass "after the I/O (--status --json): $MOUNTS connections, pool" \
		"0 KiB in use, no waiter"
else
	fail "after the I/O (--status --json): $l (connections, KiB in use," \
		"waiters)"
fi
ofail=$(smbdirectd_env_counter offload_failures)
rerr=$(smbdirectd_env_counter errors)
if [ "${ofail:-x}" = 0 ] && [ "${rerr:-x}" = 0 ]; then
	pass "no offload failure, no relay error"
else
	fail "offload failures ${ofail:-?}, relay errors ${rerr:-?}"
fi
if smbd_env_logs | grep -q "connected to share \[share\]"; then
	pass "smbd loaded vfs_smbdirect for the share (its log line)"
else
	fail "no 'connected to share [share]' from vfs_smbdirect in smbd's log"
fi

for i in $(seq "$MOUNTS"); do
	umount "$work/m$i" || fail "umount mount $i"
done
check "smbdirectd still running" smbdirectd_env_alive
if smbdirectd_env_stop; then
	pass "smbdirectd stops cleanly on SIGTERM"
else
	fail "smbdirectd exit status after SIGTERM"
fi
summary
