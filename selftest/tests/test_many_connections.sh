#!/bin/bash
#
# Many clients at once, and the offload pool running out:
#
# 1. SMBDIRECT_TEST_CONNECTIONS (default 64) cifs.ko mounts with
#    -o rdma,nosharesock (cifs.ko shares one connection per server and
#    user otherwise), so as many RDMA connections to smbdirectd, each
#    with its own smbd child;
#    all of them then write a file of their own (256 KiB, 1 MiB with
#    SMBDIRECT_TEST_LONG; offloaded by RDMA READ) and read it back (RDMA
#    WRITE) at the same time, checked by sha256 through the mount and on
#    the server's disk.
#    With SMBDIRECT_TEST_MAX_CONN=N it goes on mounting up to N and
#    reports how many the VM took (the I/O check stays at the first
#    SMBDIRECT_TEST_CONNECTIONS).
# 2. Pool exhaustion: smbdirectd restarted with "smbdirect:max read write
#    size = 1048576" and "smbdirect:pool size = 2" (MiB: two 1 MiB
#    transfers at a time), four mounts each running fio with 1 MiB
#    O_DIRECT writes and reads at iodepth 4 (16 transfers wanted at
#    once), verified. Everything must complete within a timeout (a
#    deadlock fails it), without an error, no offload failure and no
#    reconnect; the status must show that transfers waited for the pool
#    (pool_waits) and that the pool is empty afterwards.
#    Then a client sends one compound of three 1 MiB WRITEs by RDMA,
#    more than the whole pool (smbdirect_badclient pool-hog): it must be
#    dropped at once, and another mount's I/O must go on meanwhile.
#
# Runs inside the test VM: selftest/run-integration selftest/tests/test_many_connections.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin --faults

N=${SMBDIRECT_TEST_CONNECTIONS:-64}
TRY=${SMBDIRECT_TEST_MAX_CONN:-$N}
mounted=0

smbd_env_init "$work/srv"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals)
	log level = 1" \
	smbd_env_start "" || { fail "smbd starts"; summary; exit; }
smbdirectd_env_start || { fail "smbdirectd starts"; summary; exit; }
cifs_default_io

# ---------------------------------------------------- 1. many mounts
# Eight at a time: a mount is mostly round trips (rdma_cm, negotiate,
# session setup, smbd's fork), which overlap; one by one, 64 took over
# five minutes on a busy host.
t0=$SECONDS
why=
i=0
while [ "$mounted" -eq "$i" ] && [ "$i" -lt "$TRY" ]; do
	last=$((i + 8 > TRY ? TRY : i + 8))
	pids=()
	for j in $(seq $((i + 1)) "$last"); do
		smbd_env_mount_rdma "$work/m$j" nosharesock \
			2>"$work/mount$j.err" &
		pids+=($!)
	done
	# (not a bare wait: smbdirectd is a child of this shell too)
	wait "${pids[@]}"
	for j in $(seq $((i + 1)) "$last"); do
		if mountpoint -q "$work/m$j"; then
			mounted=$((mounted + 1))
		elif [ -z "$why" ]; then
			why="mount $j: $(cat "$work/mount$j.err")"
		fi
	done
	i=$last
done
# (the mounts are numbered 1..$mounted only if none failed: else the
# loop stops and the test fails below; cleanup unmounts them all)
why=${why:+$why $(dmesg | tail -3 | paste -sd '|')}
echo "mounted $mounted of $TRY in $((SECONDS - t0)) s${why:+; $why}"
free -m | sed -n 2p
if [ "$mounted" -ge "$N" ]; then
	pass "$mounted simultaneous RDMA mounts (nosharesock)"
else
	fail "only $mounted RDMA mounts of $N: $why"
fi
sleep 1.5
c=$(sd_json .daemon.connections)
p=$(sd_json '[.connections[].smbd_pid] | unique | length')
if [ "$c" = "$mounted" ] && [ "$p" = "$mounted" ]; then
	pass "smbdirectd: $c connections, each relayed to its own smbd child"
else
	fail "smbdirectd: ${c:-?} connections, ${p:-?} smbd children" \
		"for $mounted mounts"
fi

# Each mount writes its file and reads it back into a file of ours, all
# at the same time; the checksums come after, in one sha256sum: in the
# TCG VM the programs a test starts cost more than the I/O (64 MiB each
# way, 10 programs per mount, took ~100 s). 256 KiB per mount, 1 MiB in
# make check-long.
io=$((mounted < N ? mounted : N))
size=$((256 << 10))
[ -z "${SMBDIRECT_TEST_LONG:-}" ] || size=$((1 << 20))
head -c $((io * size)) /dev/urandom >"$work/all"
split -b "$size" -d -a 3 "$work/all" "$work/src."
src_of() { printf '%s/src.%03d' "$work" $(($1 - 1)); }
w0=$(sd_json .daemon.offload_write_ops)
r0=$(sd_json .daemon.offload_read_ops)
t0=$SECONDS
pids=()
for i in $(seq "$io"); do
	(
		timeout 300 dd if="$(src_of "$i")" of="$work/m$i/f$i" \
			bs="$size" conv=fsync status=none || { echo "write $i"; exit; }
		dd if="$work/m$i/f$i" of="$work/back$i" bs="$size" \
			status=none || echo "read $i"
	) >"$work/res$i" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
declare -A sum=()
while read -r h f; do
	sum[$f]=$h
done < <(sha256sum "$work"/src.* "$work"/back* "$SMBD_ENV_DIR"/share/f* \
	2>/dev/null)
bad=$(cat "$work"/res* | paste -sd ' ')
for i in $(seq "$io"); do
	want=${sum[$(src_of "$i")]:-none}
	[ "${sum[$work/back$i]:-}" = "$want" ] || bad+=" back $i"
	[ "${sum[$SMBD_ENV_DIR/share/f$i]:-}" = "$want" ] || bad+=" disk $i"
done
if [ -z "$bad" ]; then
	pass "$io mounts wrote and read back $((size >> 10)) KiB each at" \
		"the same time, intact ($((SECONDS - t0)) s)"
else
	fail "concurrent I/O on $io mounts: $bad"
fi
smbdirectd_env_status_fresh
w=$(($(sd_json .daemon.offload_write_ops) - w0))
r=$(($(sd_json .daemon.offload_read_ops) - r0))
if [ "$w" -ge "$io" ] && [ "$r" -ge "$io" ]; then
	pass "the I/O went by RDMA offload ($w WRITE, $r READ ops)"
else
	fail "too few offloaded ops for $io mounts: $w WRITE, $r READ"
fi
check "no offload failures" test "$(sd_json .daemon.offload_failures)" = 0
n=$(grep -c "is relayed to smbd" "$SMBDIRECTD_ENV_LOG")
check "no reconnects ($n connections for $mounted mounts)" \
	test "$n" -eq "$mounted"

t0=$SECONDS
ok=1
for i in $(seq "$mounted"); do
	umount "$work/m$i" || ok=0
done
mounted=0
check "all unmounted" test "$ok" = 1
if sd_wait_json '.daemon.connections == 0' 60; then
	pass "smbdirectd back to 0 connections ($((SECONDS - t0)) s)"
else
	fail "smbdirectd still has $(sd_json .daemon.connections)" \
		"connections 60 s after umount"
fi
rm -f "$work"/src* "$work"/res*

# ---------------------------------------------- 2. pool exhaustion
smbdirectd_env_stop || fail "smbdirectd stops for the pool test"
sed -i "s/^\[global\]/[global]\n\tsmbdirect:pool size = 2\n\tsmbdirect:max read write size = 1048576/" \
	"$SMBD_ENV_CONF"
sd_restart || { fail "smbdirectd starts with a 2 MiB pool"; summary; exit; }
check_output "smbdirectd: a 2 MiB pool, 1 MiB max I/O" \
	"max read/write 1048576.* offload pool 2 MiB" smbdirectd_env_log
P=4
for i in $(seq "$P"); do
	smbd_env_mount_rdma "$work/m$i" nosharesock || break
	mounted=$i
done
check "$P mounts for the pool test" test "$mounted" -eq "$P"
t0=$SECONDS
pids=()
for i in $(seq "$mounted"); do
	timeout 300 fio --name=pool$i --directory="$work/m$i" --size=16m \
		--rw=write --bs=1m --iodepth=4 --ioengine=libaio --direct=1 \
		--verify=crc32c --verify_fatal=1 --do_verify=1 \
		>"$work/fio$i.out" 2>&1 &
	pids+=($!)
done
ok=0
for p in "${pids[@]}"; do
	wait "$p" && ok=$((ok + 1))
done
el=$((SECONDS - t0))
if [ "$ok" -eq "$mounted" ]; then
	pass "$mounted fio jobs, 1 MiB at iodepth 4 each, 16 MiB written" \
		"and verified through a 2 MiB pool ($el s)"
else
	fail "$((mounted - ok)) of $mounted fio jobs failed or timed out" \
		"($el s): $(grep -hiE 'error|verify' "$work"/fio*.out |
			head -3 | paste -sd '|')"
fi
sleep 1.5
waits=$(sd_json .daemon.pool_waits)
echo "pool: $waits transfers waited; $(sd_json '.daemon | tostring')"
if [ "${waits:-0}" -gt 0 ]; then
	pass "back-pressure: $waits transfers waited for pool memory"
else
	fail "no transfer waited for the pool (pool_waits ${waits:-?})"
fi
check "pool: nothing in use, nobody waiting afterwards" \
	test "$(sd_json '.daemon.pool_in_use + .daemon.pool_waiters')" = 0
check "pool: no offload failures" \
	test "$(sd_json .daemon.offload_failures)" = 0
n=$(grep -c "is relayed to smbd" "$SMBDIRECTD_ENV_LOG")
check "pool: no reconnects ($n connections for $mounted mounts)" \
	test "$n" -eq "$mounted"

# A compound of three 1 MiB WRITEs by RDMA (smbdirect_badclient
# pool-hog): more than the whole pool. The daemon must drop that client
# at once; it must never hold part of the pool and wait for the rest,
# which would stall every other connection's offload behind it.
tool=$repo/out/smbdirect_badclient
negs=$(grep -c ": negotiated:" "$SMBDIRECTD_ENV_LOG")
"$tool" --server "$SMBDIRECT_VM_IP" --scenario pool-hog --timeout 20 \
	>"$work/hog.out" 2>&1 &
hog=$!
for i in $(seq 100); do
	[ "$(grep -c ": negotiated:" "$SMBDIRECTD_ENV_LOG")" -gt "$negs" ] &&
		break
	sleep 0.2
done
sleep 2 # its compound is on the way
head -c 1048576 /dev/urandom >"$work/one"
t0=$SECONDS
if timeout 15 dd if="$work/one" of="$work/m1/one" bs=1M conv=fsync \
	status=none && [ "$(sha "$work/m1/one")" = "$(sha "$work/one")" ]; then
	pass "pool-hog: another mount's 1 MiB write and read went on" \
		"($((SECONDS - t0)) s)"
else
	fail "pool-hog: another mount's 1 MiB I/O stalled (or failed)" \
		"while the compound was pending"
fi
wait "$hog"
rc=$?
if [ "$rc" -eq 0 ]; then
	pass "pool-hog: dropped: $(cat "$work/hog.out")"
else
	fail "pool-hog (exit $rc): $(cat "$work/hog.out")"
fi
check_output "pool-hog: the reason is logged" \
	"disconnecting: offload: no pool memory for 3145728 bytes" \
	smbdirectd_env_log
sleep 1.5
check "pool-hog: nothing of the pool in use afterwards" \
	test "$(sd_json '.daemon.pool_in_use + .daemon.pool_waiters')" = 0

ok=1
for i in $(seq "$mounted"); do
	umount "$work/m$i" || ok=0
done
mounted=0
check "pool: all unmounted" test "$ok" = 1
if smbdirectd_env_stop; then
	pass "smbdirectd stops cleanly on SIGTERM"
else
	fail "smbdirectd exit status after SIGTERM"
fi
summary
