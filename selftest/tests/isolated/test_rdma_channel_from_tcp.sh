#!/bin/bash
#
# The deployment flow of Windows (issue #12, 1 and 2): the client mounts
# over TCP, finds the RDMA interface in FSCTL_QUERY_NETWORK_INTERFACE_INFO
# and binds an RDMA channel, through smbdirectd, to its TCP session.
# Stock cifs.ko 6.1 never adds RDMA channels to a TCP session, so this
# test loads the test build of cifs.ko (selftest/vm/patches/
# cifs-rdma-channels-on-tcp-session.patch, built by selftest/vm/prepare
# into lib/modules/KVER/cifs-test/) and puts the stock one back after.
#
# 1. mount -o multichannel,max_channels=2 over TCP: the extra channel is
#    RDMA (DebugData), smbdirectd relays it, and the smbd process it ends
#    in is the one serving the TCP connection (smbd's multichannel code
#    passed it there); parallel I/O of random data is intact, and the
#    RDMA channel offloaded READ and WRITE.
# 2. Channel loss: smbdirectd killed with -9 during writes on that mount:
#    the session goes on over TCP, every write that returned success is
#    on disk intact; smbdirectd started again, the client binds its RDMA
#    channel again and offloads on it once more. What cifs.ko 6.1 does
#    meanwhile (it keeps sending requests to the dead channel, which fail
#    with EHOSTDOWN, instead of moving them to TCP) is said in a NOTE.
#
# In a VM of its own (tests/isolated/): it swaps cifs.ko for the test
# build, and after the other tests cifs.ko may not unload (a lazy
# unmount keeps it busy: insmod then says "File exists").
#
# Runs inside the test VM:
#   selftest/run-integration selftest/tests/isolated/test_rdma_channel_from_tcp.sh

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
test_begin

ip=${SMBDIRECT_VM_IP:-10.77.0.1}
mnt=$work/mnt
test_ko=/usr/lib/modules/$(uname -r)/cifs-test/cifs.ko
# The stock cifs.ko for the tests after this one, once the mount and the
# servers are gone (the teardown then sets its default threshold).
test_cleanup_stopped() {
	rmmod cifs 2>/dev/null
	modprobe cifs
}

status_file() { cat "$SMBD_ENV_DIR/pid/smbdirectd.status" 2>/dev/null; }
conn_lines() { status_file | grep "^conn .* peer=$ip:"; }
conn_counter() { # NAME: the counter summed over this client's connections
	conn_lines | tr ' ' '\n' | sed -n "s/^$1=//p" | awk '{ s += $1 } END { print s + 0 }'
}

# The smbd process holding the client's TCP connection to port 445.
tcp_smbd_pid() {
	ss -Htnp state established "( sport = :445 )" "dst $ip" 2>/dev/null |
		sed -n 's/.*"smbd",pid=\([0-9]*\).*/\1/p' | sort -u
}

wait_for() { # SECONDS COMMAND...: until COMMAND succeeds
	local t=$1 i
	shift
	for i in $(seq $((t * 2))); do
		"$@" && return 0
		sleep 0.5
	done
	return 1
}
has_rdma_channel() { [ -n "$(conn_lines)" ]; }
extra_channel() { grep -q "Extra Channels: 1" /proc/fs/cifs/DebugData; }

parallel_io() { # TAG N
	local tag=$1 n=$2 k pids=() ok=1
	for k in $(seq "$n"); do
		head -c $(((k % 3 + 1) * (2 << 20) + k * 4097)) /dev/urandom \
			>"$work/$tag$k"
	done
	for k in $(seq "$n"); do
		cp "$work/$tag$k" "$mnt/$tag$k" & pids+=($!)
	done
	for k in "${pids[@]}"; do wait "$k" || ok=0; done
	echo 3 >/proc/sys/vm/drop_caches
	for k in $(seq "$n"); do
		cmp -s "$work/$tag$k" "$mnt/$tag$k" || ok=0
		cmp -s "$work/$tag$k" "$SMBD_ENV_DIR/share/$tag$k" || ok=0
	done
	[ "$ok" = 1 ]
}

if [ ! -r "$test_ko" ]; then
	fail "no test build of cifs.ko at $test_ko (selftest/vm/prepare builds it)"
	summary
	exit
fi
umount -a -t cifs 2>/dev/null
modprobe cifs && rmmod cifs # loads, then keeps, what cifs.ko depends on
if insmod "$test_ko"; then
	pass "test build of cifs.ko loaded (RDMA channels on TCP sessions)"
else
	fail "insmod $test_ko: $(dmesg | tail -2 | paste -sd '|')"
	summary
	exit
fi
cifs_default_io

smbd_env_init "$work/srv"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals --multichannel "$ip")
	server multi channel support = yes" \
	smbd_env_start "" || { fail "smbd starts"; summary; exit; }
smbdirectd_env_start || { fail "smbdirectd starts"; summary; exit; }

# --- 1. TCP session, RDMA channel --------------------------------------------
if ! smbd_env_mount "$mnt" "multichannel,max_channels=2"; then
	fail "mount over TCP -o multichannel: $(dmesg | tail -3 | paste -sd '|')"
	summary
	exit
fi
pass "mount over TCP with -o multichannel,max_channels=2"
if wait_for 30 extra_channel; then
	pass "DebugData shows the extra channel"
else
	fail "no extra channel: $(grep -E 'Extra Channels|failed to open extra' /proc/fs/cifs/DebugData | paste -sd '|'); $(dmesg | grep -i channel | tail -2 | paste -sd '|')"
fi
tcp_conn=$(ss -Htn state established "( sport = :445 )" "dst $ip" | awk '{ print $3, $4 }')
if [ -n "$tcp_conn" ] && ! grep -q "SMBDirect" /proc/fs/cifs/DebugData; then
	pass "the primary channel is TCP ($tcp_conn), no SMB Direct primary"
else
	fail "primary channel: TCP [$tcp_conn], DebugData: $(grep -A1 SMBDirect /proc/fs/cifs/DebugData | paste -sd '|')"
fi
smbdirectd_env_status_fresh
n=$(conn_lines | grep -c .)
if [ "$n" = 1 ]; then
	pass "smbdirectd relays the client's one RDMA channel"
else
	fail "smbdirectd has $n connection(s) from $ip: $(status_file | paste -sd '|')"
fi
rdma_pid=$(conn_lines | sed -n 's/.* smbd_pid=\([0-9]*\) .*/\1/p' | head -1)
tcp_pid=$(tcp_smbd_pid)
if [ -n "$rdma_pid" ] && [ "$rdma_pid" = "$tcp_pid" ]; then
	pass "the RDMA channel is served by the smbd process of the TCP session (pid $tcp_pid)"
else
	fail "smbd of the RDMA channel [$rdma_pid], of the TCP connection [$tcp_pid]"
fi
if parallel_io a 6; then
	pass "6 files written and read in parallel over both channels, intact through the mount and on disk"
else
	fail "data differs after the parallel round trip"
fi
smbdirectd_env_status_fresh
w=$(conn_counter offload_write_bytes)
r=$(conn_counter offload_read_bytes)
if [ "$w" -gt 0 ] && [ "$r" -gt 0 ]; then
	pass "the RDMA channel offloaded WRITE ($w bytes) and READ ($r bytes)"
else
	fail "RDMA channel offload: WRITE $w, READ $r bytes"
fi

# --- 2. the RDMA channel lost during writes -----------------------------------
head -c $((48 << 20)) /dev/urandom >"$work/big"
( cp "$work/big" "$mnt/big"; echo $? >"$work/cp.rc" ) &
cp_pid=$!
# Kill it once an eighth of the file is on disk, not after a fixed
# time: on a fast machine the whole copy can be over within 2 s.
big_started() {
	[ -e "$work/cp.rc" ] ||
		[ "$(stat -c %s "$SMBD_ENV_DIR/share/big" 2>/dev/null || echo 0)" -ge $((6 << 20)) ]
}
wait_for 60 big_started
if [ -e "$work/cp.rc" ]; then
	echo "NOTE: the copy ended before smbdirectd could be killed"
fi
kill -9 "$SMBDIRECTD_ENV_PID" 2>/dev/null
wait "$SMBDIRECTD_ENV_PID" 2>/dev/null
SMBDIRECTD_ENV_PID=
pass "smbdirectd killed with -9 during the copy"
if wait_for 240 test -e "$work/cp.rc"; then
	rc=$(cat "$work/cp.rc")
	if [ "$rc" = 0 ]; then
		# Every write was acknowledged: all of it must be on disk.
		# Reading it back through the mount waits for the RDMA channel
		# (cifs.ko 6.1 sends reads to the dead channel: EHOSTDOWN,
		# below), so that is checked once the channel is back.
		big_acked=1
		if cmp -s "$work/big" "$SMBD_ENV_DIR/share/big"; then
			pass "the copy completed and is intact on disk"
		else
			fail "the copy returned success but the file on disk differs:" \
				"size $(stat -c %s "$work/big")," \
				"on disk $(stat -c %s "$SMBD_ENV_DIR/share/big")" \
				"[$(cmp "$work/big" "$SMBD_ENV_DIR/share/big" 2>&1 | head -1)]," \
				"$(cmp -l "$work/big" "$SMBD_ENV_DIR/share/big" 2>/dev/null | wc -l) bytes differ"
		fi
	else
		# Not lost silently: the writer was told. Say what was kept.
		echo "NOTE: cifs.ko failed the copy (cp exit $rc) when its RDMA channel died"
		pass "a failed copy was reported to the writer (cp exit $rc), not acknowledged"
	fi
else
	fail "the copy hangs 240 s after the RDMA channel died"
	kill "$cp_pid" 2>/dev/null
fi
wait "$cp_pid" 2>/dev/null
# cifs.ko 6.1's cifs_pick_channel() does not skip a channel that needs a
# reconnect (a dead channel has nothing in flight, so it is even picked
# first): until the RDMA channel is back, requests that land on it fail
# with EHOSTDOWN instead of moving to the TCP channel (Windows moves
# them). So the test asks what cifs.ko can give: the session and its
# TCP channel live on, and nothing is acknowledged that did not arrive.
ok_ops=0 failed_ops=0
for i in $(seq 10); do
	# a read: cache=none sends it to the server every time
	if head -c 65536 "$mnt/a$((i % 6 + 1))" >/dev/null 2>&1; then
		ok_ops=$((ok_ops + 1))
	else
		failed_ops=$((failed_ops + 1))
	fi
done
echo "NOTE: without its RDMA channel, $ok_ops of 10 reads succeeded, $failed_ops failed (cifs.ko 6.1 keeps picking the dead channel)"
now_conn=$(ss -Htn state established "( sport = :445 )" "dst $ip" | awk '{ print $3, $4 }')
if [ -n "$tcp_conn" ] && [ "$now_conn" = "$tcp_conn" ] &&
	[ "$(tcp_smbd_pid)" = "$tcp_pid" ]; then
	pass "the session's TCP channel lives on ($now_conn, smbd pid $tcp_pid)"
else
	fail "the TCP channel changed: [$tcp_conn] -> [$now_conn], smbd $tcp_pid -> $(tcp_smbd_pid)"
fi

smbdirectd_env_start || fail "smbdirectd starts again"
if wait_for 180 has_rdma_channel; then
	pass "the client bound its RDMA channel again once smbdirectd was back"
	smbdirectd_env_status_fresh
	before=$(conn_counter offload_write_bytes)
	if parallel_io c 6; then
		pass "the same session after the channel came back: 6 files intact"
		if [ "${big_acked:-0}" = 1 ]; then
			echo 3 >/proc/sys/vm/drop_caches
			check "the copy acknowledged before the channel died reads back intact through the mount" \
				cmp -s "$work/big" "$mnt/big"
		fi
	else
		fail "I/O after the channel came back: data differs"
	fi
	now_conn=$(ss -Htn state established "( sport = :445 )" "dst $ip" | awk '{ print $3, $4 }')
	if [ "$now_conn" = "$tcp_conn" ]; then
		pass "still the TCP connection of the mount ($now_conn): one session throughout"
	else
		fail "the TCP connection changed to [$now_conn]"
	fi
	smbdirectd_env_status_fresh
	after=$(conn_counter offload_write_bytes)
	if [ "$after" -gt "$before" ]; then
		pass "the new RDMA channel offloads again ($((after - before)) bytes written)"
	else
		fail "no offload on the new RDMA channel"
	fi
else
	echo "NOTE: cifs.ko 6.1 did not re-open the RDMA channel within 180 s: $(grep -E 'Extra Channels|DISCONNECTED|RECONNECT' /proc/fs/cifs/DebugData | paste -sd '|')"
	fail "no RDMA channel again within 180 s after smbdirectd came back"
fi
if umount "$mnt"; then
	pass "umount"
else
	fail "umount"
fi
summary
