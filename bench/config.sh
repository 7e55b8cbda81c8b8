# shellcheck shell=bash
# The benchmark's settings (sourced by bench/run).  Every one is an
# environment variable with a default; BENCH_QUICK=1 picks shorter defaults
# (about 8 minutes in all instead of about 25 under TCG).
#
#   BENCH_QUICK=1          quick mode
#   BENCH_REPEAT=N         run every measurement N times, report min/median (1)
#   BENCH_RUNTIME=S        seconds measured per fio job (full 30, quick 4)
#   BENCH_RAMP=S           seconds of an unmeasured warm-up run before each fio
#                          job (0: the data check after mounting warms up)
#   BENCH_SEQ_MB=N         size of the sequential file, MiB (full 256, quick 128)
#   BENCH_RAND_MB=N        size of the random-I/O file, MiB (full 64, quick 32)
#   BENCH_VERIFY_MB=N      data written and verified once per system, MiB (full 32, quick 8)
#   BENCH_IB_SECONDS=S     seconds per perftest bandwidth test at 40 MB/s (full 10, quick 3)
#   BENCH_IB_LAT_ITERS=N   iterations per perftest latency test (full 20000, quick 3000)
#   BENCH_SYSTEMS="..."    which of: limit ksmbd ours ours-copy ours-sendfile
#                          ours-threads ours-plain tcp
#                          (default: limit ksmbd ours ours-copy tcp; with
#                          BENCH_STORAGE=delay: ksmbd ours ours-sendfile tcp).
#                          ours = smbd's I/O defaults (async zero copy),
#                          ours-copy = ours with smbdirect:zero copy = no,
#                          ours-sendfile = the sendfile/recvfile setup,
#                          ours-threads = ours with smbdirect:async io = smbd,
#                          ours-plain = smbd + smbdirectd without the module
#   BENCH_STORAGE=S        tmpfs (default): the share on a tmpfs; delay: on
#                          ext4 over a dm-delay device (BENCH_DELAY_MS on
#                          every read and write), page cache dropped before
#                          each job
#   BENCH_DELAY_MS=N       dm-delay's delay, ms (1)
#   BENCH_STRACE=1         count smbdirectd's system calls per request
#                          (strace -c -f during each job: slows smbdirectd,
#                          so such a run's speeds are not for comparison)
#   BENCH_WORKLOADS="..."  names from bench/workloads.list (all)
#   BENCH_RESULTS=DIR      where results go (bench/results/DATE[-quick])
#   BENCH_VM_MEM=MB        memory of the VM (2048)
#   BENCH_TIMEOUT=S        give up on the VM after S seconds (from the settings)

bench_config() {
	local q=${BENCH_QUICK:-0}
	[ "$q" = 1 ] || q=0
	BENCH_MODE=full
	[ "$q" = 0 ] || BENCH_MODE=quick
	pick() { if [ "$q" = 1 ]; then echo "$2"; else echo "$1"; fi; }
	BENCH_REPEAT=${BENCH_REPEAT:-1}
	BENCH_RUNTIME=${BENCH_RUNTIME:-$(pick 30 4)}
	BENCH_RAMP=${BENCH_RAMP:-0}
	BENCH_SEQ_MB=${BENCH_SEQ_MB:-$(pick 256 128)}
	BENCH_RAND_MB=${BENCH_RAND_MB:-$(pick 64 32)}
	BENCH_VERIFY_MB=${BENCH_VERIFY_MB:-$(pick 32 8)}
	BENCH_IB_SECONDS=${BENCH_IB_SECONDS:-$(pick 10 3)}
	BENCH_IB_LAT_ITERS=${BENCH_IB_LAT_ITERS:-$(pick 20000 3000)}
	BENCH_STORAGE=${BENCH_STORAGE:-tmpfs}
	BENCH_DELAY_MS=${BENCH_DELAY_MS:-1}
	BENCH_STRACE=${BENCH_STRACE:-0}
	case $BENCH_STRACE in 0|1) ;;
	*) bench_die "BENCH_STRACE must be 0 or 1, not '$BENCH_STRACE'" ;;
	esac
	case $BENCH_STORAGE in tmpfs|delay) ;;
	*) bench_die "BENCH_STORAGE must be tmpfs or delay, not '$BENCH_STORAGE'" ;;
	esac
	[[ $BENCH_DELAY_MS =~ ^[0-9]+$ ]] || bench_die "BENCH_DELAY_MS must be a number, not '$BENCH_DELAY_MS'"
	if [ "$BENCH_STORAGE" = delay ]; then
		BENCH_SYSTEMS=${BENCH_SYSTEMS:-ksmbd ours ours-sendfile tcp}
	else
		BENCH_SYSTEMS=${BENCH_SYSTEMS:-limit ksmbd ours ours-copy tcp}
	fi
	BENCH_WORKLOADS=${BENCH_WORKLOADS:-}
	BENCH_VM_MEM=${BENCH_VM_MEM:-2048}
	unset -f pick

	local v
	for v in BENCH_REPEAT BENCH_RUNTIME BENCH_SEQ_MB BENCH_RAND_MB \
		BENCH_VERIFY_MB BENCH_IB_SECONDS BENCH_IB_LAT_ITERS BENCH_VM_MEM; do
		[[ ${!v} =~ ^[1-9][0-9]*$ ]] || bench_die "$v must be a positive number, not '${!v}'"
	done
	[[ $BENCH_RAMP =~ ^[0-9]+$ ]] || bench_die "BENCH_RAMP must be a number, not '$BENCH_RAMP'"
	for v in $BENCH_SYSTEMS; do
		case $v in limit|ksmbd|ours|ours-copy|ours-sendfile|ours-threads|ours-plain|tcp) ;;
		*) bench_die "BENCH_SYSTEMS: unknown system '$v' (limit ksmbd ours ours-copy ours-sendfile ours-threads ours-plain tcp)" ;;
		esac
	done
}

# Seconds the whole VM job should take, roughly (for the timeout and the
# progress message), from a run under TCG: per system, 8 fio jobs of
# runtime plus ~4 s of fio start-up and accounting each (~4 s more with a
# warm-up run), ~40 s to start, verify and stop; the limit phase, 6
# bandwidth runs of BENCH_IB_SECONDS plus ~4 s, 2 latency runs.
bench_estimate() {
	local n=0 s per_sys nwl=8
	[ -z "$BENCH_WORKLOADS" ] || nwl=$(wc -w <<<"$BENCH_WORKLOADS")
	per_sys=$((nwl * (BENCH_RUNTIME + 4) + 40))
	[ "$BENCH_RAMP" = 0 ] || per_sys=$((per_sys + nwl * (BENCH_RAMP + 4)))
	for s in $BENCH_SYSTEMS; do
		if [ "$s" = limit ]; then
			n=$((n + 6 * (BENCH_IB_SECONDS + 4) + 2 * (BENCH_IB_LAT_ITERS / 1000 + 6)))
		else
			n=$((n + per_sys))
		fi
	done
	echo $((n * BENCH_REPEAT + 30))
}
