#!/bin/bash
# bench/limit.sh OUTDIR: what rxe0 itself can do in this VM (perftest, both
# ends on rxe0 as every SMB Direct system here): ib_write_bw, ib_read_bw,
# ib_send_bw at 64 KiB and 1 MiB (as many messages as take BENCH_IB_SECONDS
# at rxe's ~40 MB/s under TCG), ib_write_lat and ib_send_lat at 2 bytes.  Raw output in OUTDIR/*.out, parsed results in
# OUTDIR/limit.tsv: test size MB/s lat_typical_us lat_avg_us lat_p99_us
# (MB = 10^6 bytes; perftest prints MiB/s).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

out=$1
mkdir -p "$out"
dev=${SMBDIRECT_VM_RDMA_DEV:-rxe0}
port=18600
failed=0

# pair NAME SIZE ARGS...: server in the background, client against it
pair() {
	local name=$1 size=$2 srv rc=0
	shift 2
	port=$((port + 1))
	srv=$out/$name-$size.server.out
	"$name" -d "$dev" -F -p "$port" -s "$size" "$@" >"$srv" 2>&1 &
	local spid=$!
	if ! wait_for 15 tcp_listening "$port"; then
		reap 0 "$spid"
		bwarn "$name $size: the perftest server did not start (see $srv)"
		failed=1
		return 1
	fi
	timeout $((BENCH_IB_SECONDS * 6 + 60)) "$name" -d "$dev" -F -p "$port" -s "$size" "$@" \
		"$BENCH_IP" >"$out/$name-$size.out" 2>&1 || rc=$?
	reap 30 "$spid"
	if [ "$rc" != 0 ]; then
		bwarn "$name $size failed (exit $rc); see $out/$name-$size.out"
		failed=1
		return 1
	fi
}

# A fixed number of messages, as many as take BENCH_IB_SECONDS at 40 MB/s
# (perftest's duration mode, -D, samples between timer signals, which
# under TCG on a busy host now and then counts nothing: "0.00 MB/sec").
bw() {
	local name=$1 size=$2 mbs iters
	iters=$((BENCH_IB_SECONDS * 40000000 / size))
	[ "$iters" -ge 20 ] || iters=20
	pair "$name" "$size" -n "$iters" || return 0
	mbs=$(awk -v s="$size" '$1 == s && NF == 5 && $4 > 0 { printf "%.2f", $4 * 1.048576 }' \
		"$out/$name-$size.out")
	if [ -z "$mbs" ]; then
		bwarn "$name $size: no result line in $out/$name-$size.out"
		failed=1
		return 0
	fi
	printf '%s\t%s\t%s\t-\t-\t-\n' "$name" "$size" "$mbs" >>"$out/limit.tsv"
	blog "limit: $name $((size / 1024)) KiB: $mbs MB/s"
}

# Under TCG perftest's clock calibration now and then fails and it prints
# "inf": such a run is repeated (up to 3 tries).
lat() {
	local name=$1 size=$2 r='' try
	for try in 1 2 3; do
		pair "$name" "$size" -n "$BENCH_IB_LAT_ITERS" || return 0
		# #bytes #iterations t_min t_max t_typical t_avg t_stdev 99% 99.9%
		r=$(awk -v s="$size" '$1 == s && NF == 9 && $5 + 0 > 0 && $5 != "inf" {
			printf "%s\t%s\t%s", $5, $6, $8 }' "$out/$name-$size.out")
		[ -z "$r" ] || break
		cp "$out/$name-$size.out" "$out/$name-$size.try$try.out"
	done
	if [ -z "$r" ]; then
		bwarn "$name $size: no result line in $out/$name-$size.out"
		failed=1
		return 0
	fi
	printf '%s\t%s\t-\t%s\n' "$name" "$size" "$r" >>"$out/limit.tsv"
	blog "limit: $name $size B: typical/avg/p99 $(tr '\t' / <<<"$r") us"
}

: >"$out/limit.tsv"
for size in 65536 1048576; do
	for t in ib_write_bw ib_read_bw ib_send_bw; do
		bw "$t" "$size"
	done
done
lat ib_write_lat 2
lat ib_send_lat 2
exit $failed
