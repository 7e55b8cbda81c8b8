#!/bin/bash
#
# cifs.ko with its default settings through smbdirectd: every READ and
# WRITE of 4 KiB or more asks for an RDMA channel, and smbdirectd must
# carry it by RDMA READ/WRITE (the offload). Files from 1 byte to 64 MiB
# (256 MiB with SMBDIRECT_TEST_LONG), sizes around 4 KiB, 1 MiB and the
# negotiated maximum (8 MiB), writes at random offsets, fio in verify
# mode with several jobs; the counters must show that the offload
# carried the bytes.
#
# Runs inside the test VM: selftest/run-integration selftest/tests/test_rdma_offload.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

m1=$work/m1
m2=$work/m2

MAX=$((8 << 20)) # smbdirect:max read write size, default
SIZES="1 4095 4096 4097 65536 1048575 1048576 1048577 $((MAX - 1)) $MAX
$((MAX + 1)) $((64 << 20))"
# 256 MiB (30 s under TCG) only in make check-long: 64 MiB already spans
# eight maximal requests and the pool many times over.
[ -z "${SMBDIRECT_TEST_LONG:-}" ] || SIZES+=" $((256 << 20))"

# Read back from the server: the page cache of the client would hide a
# wrong answer (cache=none for the whole test, drop_caches to be sure).
same_as() {
	echo 3 >/proc/sys/vm/drop_caches
	cmp -s "$1" "$2"
}

smbd_env_init "$work/srv"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals)" \
	smbd_env_start "" || { fail "smbd starts"; summary; exit; }
smbdirectd_env_start || { fail "smbdirectd starts"; summary; exit; }
cifs_default_io
check_output "cifs.ko offloads from 4096 bytes on (its default)" \
	'^4096$' cat /proc/fs/cifs/rdma_readwrite_threshold

if ! smbd_env_mount_rdma "$m1"; then
	fail "mount -o rdma: $(dmesg | tail -3 | paste -sd '|')"
	summary
	exit
fi
pass "mount -t cifs -o rdma (default settings)"

for s in $SIZES; do
	head -c "$s" /dev/urandom >"$work/src"
	if ! cp "$work/src" "$m1/f$s"; then
		fail "write $s bytes"
		continue
	fi
	if same_as "$work/src" "$SMBD_ENV_DIR/share/f$s" &&
		same_as "$work/src" "$m1/f$s"; then
		pass "$s bytes: on disk and read back intact"
	else
		fail "$s bytes differ after the round trip"
	fi
done
rm -f "$work/src"

# Writes and reads at random offsets and sizes into one file, the same
# done to a local copy; both must end up identical. 20 of them (40 with
# SMBDIRECT_TEST_LONG): each costs about a second of process starts in
# the TCG VM.
nrand=20
[ -z "${SMBDIRECT_TEST_LONG:-}" ] || nrand=40
head -c $((16 << 20)) /dev/urandom >"$work/ref"
cp "$work/ref" "$m1/rand"
RANDOM=4242
ok=1
for i in $(seq "$nrand"); do
	off=$(((RANDOM * 32768 + RANDOM) % (15 << 20)))
	len=$(((RANDOM % 64 + 1) * 4096 + RANDOM % 4096))
	head -c "$len" /dev/urandom >"$work/chunk"
	dd if="$work/chunk" of="$work/ref" seek="$off" conv=notrunc \
		oflag=seek_bytes bs=1M status=none
	dd if="$work/chunk" of="$m1/rand" seek="$off" conv=notrunc \
		oflag=seek_bytes bs=1M status=none || ok=0
	a=$(dd if="$m1/rand" skip="$off" count="$len" bs=1M status=none \
		iflag=skip_bytes,count_bytes | sha256sum)
	b=$(sha256sum <"$work/chunk")
	[ "$a" = "$b" ] || ok=0
done
if [ "$ok" = 1 ] && same_as "$work/ref" "$m1/rand"; then
	pass "$nrand writes and reads at random offsets and sizes"
else
	fail "random offset writes/reads: contents differ"
fi

# fio: several jobs at once, with verification of what was written.
if command -v fio >/dev/null; then
	if fio --name=verify --directory="$m1" --size=16m --numjobs=4 \
		--rw=randwrite --bsrange=4k-1m --ioengine=psync --direct=1 \
		--verify=crc32c --verify_fatal=1 --do_verify=1 \
		--group_reporting >"$work/fio.out" 2>&1; then
		pass "fio randwrite+verify, 4 jobs, 4 KiB-1 MiB blocks"
	else
		fail "fio verify: $(tail -5 "$work/fio.out" | paste -sd '|')"
	fi
else
	fail "fio is not installed (build/install-deps.sh test)"
fi

# A second mount at the same time: its own connection, its own offload.
if smbd_env_mount_rdma "$m2" nosharesock; then
	head -c $((3 << 20)) /dev/urandom >"$work/g"
	cp "$work/g" "$m2/g"
	if same_as "$work/g" "$m1/g"; then
		pass "second mount writes, first mount reads the same data"
	else
		fail "data written on one mount differs on the other"
	fi
	umount "$m2"
else
	fail "second concurrent RDMA mount"
fi

sleep 1.5 # the status file is rewritten every second
w=$(smbdirectd_env_counter offload_write_bytes)
r=$(smbdirectd_env_counter offload_read_bytes)
f=$(smbdirectd_env_counter offload_failures)
# At least the files of 64 MiB and more, each way, went by RDMA.
need=0
for s in $SIZES; do
	[ "$s" -lt $((64 << 20)) ] || need=$((need + s))
done
if [ "${w:-0}" -ge "$need" ] && [ "${r:-0}" -ge "$need" ]; then
	pass "the offload carried the bytes: RDMA READ $w, RDMA WRITE $r"
else
	fail "offload counters too low: WRITE ${w:-?}, READ ${r:-?} bytes " \
		"(at least $need each expected)"
fi
if [ "${f:-x}" = 0 ]; then
	pass "no offload failures"
else
	fail "offload failures: ${f:-?}"
fi
# The status view, for people and as JSON, while the daemon runs.
check_output "smbdirectd --status shows the live connection" \
	"^connection [0-9]+ from $SMBDIRECT_VM_IP:[0-9]+: running, smbd pid [1-9]" \
	"$repo/out/smbdirectd" -s "$SMBD_ENV_CONF" --status
if "$repo/out/smbdirectd" -s "$SMBD_ENV_CONF" --status --json |
	python3 -c 'import json, sys
s = json.load(sys.stdin)
assert s["daemon"]["connections"] == 1, s["daemon"]
assert s["daemon"]["offload_write_bytes"] > 0
c = s["connections"][0]
assert c["state"] == "running" and c["max_read_write"] == 8388608, c'; then
	pass "smbdirectd --status --json parses and has the counters"
else
	fail "smbdirectd --status --json"
fi
# Where the offloaded requests' time went (smbdirectd_profile, issue
# #14): one record per offloaded WRITE (cifs.ko asks for
# RDMA_V1_INVALIDATE, so every one has a record), at least one per
# offloaded READ, and per request the three spans add up to the total.
if "$repo/out/smbdirectd" -s "$SMBD_ENV_CONF" --status --json |
	python3 -c 'import json, sys
s = json.load(sys.stdin)
d = s["daemon"]
prof = {(p["op"], p["span"]): p for p in s["profile"]}
w = prof[("write", "total")]
assert w["count"] == d["offload_write_ops"], (w, d["offload_write_ops"])
r = prof[("read", "total")]
assert r["count"] >= d["offload_read_ops"] > 0, (r, d["offload_read_ops"])
for op in ("read", "write"):
    t = prof[(op, "total")]
    parts = [prof[(op, x)] for x in ("to_smbd", "in_smbd", "to_client")]
    assert all(p["count"] == t["count"] for p in parts), parts
    spans = sum(p["sum_us"] for p in parts)
    assert abs(spans - t["sum_us"]) <= 3, (op, spans, t["sum_us"])
    assert sum(t["hist"]) == t["count"], t
    assert 0 < t["sum_us"] <= t["max_us"] * t["count"], t'; then
	pass "--status --json profile: a record per offloaded request, spans add up"
else
	fail "--status --json profile (see the assertion above)"
fi
check_output "smbdirectd --status shows where the requests' time went" \
	"^  write in_smbd +[0-9]+ requests, mean +[0-9]+ us, p50 < [0-9]+ us" \
	"$repo/out/smbdirectd" -s "$SMBD_ENV_CONF" --status
c=$(grep -c "is relayed to smbd" "$SMBDIRECTD_ENV_LOG")
if [ "$c" -eq 2 ]; then
	pass "two connections for two mounts: no reconnect"
else
	fail "$c connections for two mounts: the client reconnected"
fi

check "umount" umount "$m1"
check "smbdirectd still running" smbdirectd_env_alive
if smbdirectd_env_stop; then
	pass "smbdirectd stops cleanly on SIGTERM"
else
	fail "smbdirectd exit status after SIGTERM"
fi
if grep -q "offload pool" "$SMBDIRECTD_ENV_LOG" &&
	grep -q "offloaded WRITE" "$SMBDIRECTD_ENV_LOG"; then
	pass "counters logged at disconnect and exit"
else
	fail "no offload counters in smbdirectd's log"
fi
summary
