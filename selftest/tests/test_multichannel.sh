#!/bin/bash
#
# Multichannel over SMB Direct (issue #12, 1): the client discovers the
# RDMA interface in FSCTL_QUERY_NETWORK_INTERFACE_INFO and binds more
# RDMA connections to its session, each one relayed by smbdirectd to
# the distro's smbd, whose multichannel code passes it to the process
# that owns the session.
#
# cifs.ko 6.1 never mixes transports (cifs_try_adding_channels skips
# every interface whose rdma_capable differs from the primary
# channel's), so its multichannel RDMA session is `-o
# rdma,multichannel`; and it opens a second channel to the address of
# the first only when that interface is also RSS capable. smb.conf
# therefore marks the address "capability=RDMA,capability=RSS", and
# nothing else: no loopback entry, which smbd would advertise too.
#
# For max_channels 2 and 4: the extra channels show in DebugData, as
# connections of smbdirectd from the client, all served by ONE smbd
# process (the session's); parallel I/O of random data is spread over
# the channels and offloaded on each (per-connection counters), and
# the data is intact byte for byte through the mount and on disk.
#
# Runs inside the test VM: selftest/run-integration selftest/tests/test_multichannel.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

ip=${SMBDIRECT_VM_IP:-10.77.0.1}
mnt=$work/mnt

status_file() { cat "$SMBD_ENV_DIR/pid/smbdirectd.status" 2>/dev/null; }

# The conn lines of smbdirectd's status whose peer is this client.
conn_lines() { status_file | grep "^conn .* peer=$ip:" ; }

# Wait until cifs.ko reports N-1 extra channels (it opens them during
# the mount on 6.1, but keep waiting a little in case it defers).
wait_channels() {
	local want=$(($1 - 1)) i
	for i in $(seq 60); do
		grep -q "Extra Channels: $want" /proc/fs/cifs/DebugData && return 0
		sleep 0.5
	done
	return 1
}

# Several writers and readers at once, so that cifs.ko's channel pick
# (least in flight, round robin start) uses every channel.
parallel_io() {
	local n=$1 k pids=() ok=1
	for k in $(seq "$n"); do
		head -c $(((k % 3 + 1) * (3 << 20) + k * 4097)) /dev/urandom \
			>"$work/src$k"
	done
	for k in $(seq "$n"); do
		cp "$work/src$k" "$mnt/f$k" & pids+=($!)
	done
	for k in "${pids[@]}"; do wait "$k" || ok=0; done
	pids=()
	for k in $(seq "$n"); do
		cat "$mnt/f$k" >"$work/back$k" & pids+=($!)
	done
	for k in "${pids[@]}"; do wait "$k" || ok=0; done
	for k in $(seq "$n"); do
		cmp -s "$work/src$k" "$work/back$k" || ok=0
		cmp -s "$work/src$k" "$SMBD_ENV_DIR/share/f$k" || ok=0
	done
	[ "$ok" = 1 ]
}

one_round() {
	local n=$1 lines pids npids conns
	if ! smbd_env_mount_rdma "$mnt" "multichannel,max_channels=$n"; then
		fail "$n channels: mount -o rdma,multichannel,max_channels=$n: $(dmesg | tail -3 | paste -sd '|')"
		return
	fi
	pass "$n channels: mount -o rdma,multichannel,max_channels=$n"
	if wait_channels "$n"; then
		pass "$n channels: DebugData shows $((n - 1)) extra channel(s)"
	else
		fail "$n channels: DebugData: $(grep -E 'Extra Channels|failed to open extra' /proc/fs/cifs/DebugData | paste -sd '|'); dmesg: $(dmesg | grep -i channel | tail -3 | paste -sd '|')"
	fi
	check_output "$n channels: the client sees the interface as RDMA and RSS capable" \
		'Capabilities: rdma rss' cat /proc/fs/cifs/DebugData

	if parallel_io 6; then
		pass "$n channels: 6 files written and read in parallel, intact through the mount and on disk"
	else
		fail "$n channels: data differs after the parallel round trip"
	fi
	smbdirectd_env_status_fresh
	lines=$(conn_lines)
	conns=$(grep -c . <<<"$lines")
	if [ "$conns" = "$n" ]; then
		pass "$n channels: smbdirectd relays $n connections from $ip"
	else
		fail "$n channels: smbdirectd has $conns connection(s) from $ip: $(status_file | paste -sd '|')"
	fi
	pids=$(sed -n 's/.* smbd_pid=\([0-9]*\) .*/\1/p' <<<"$lines" | sort -u)
	npids=$(grep -c . <<<"$pids")
	if [ "$npids" = 1 ] && [ "$pids" != 0 ] &&
		[ "$(cat /proc/"$pids"/comm 2>/dev/null)" = smbd ]; then
		pass "$n channels: all served by one smbd process (pid $pids): smbd passed the bound channels to the session's owner"
	else
		fail "$n channels: smbd pids of the connections: [$(paste -sd ' ' <<<"$pids")]"
	fi
	# Every channel carried offloaded data both ways.
	local idle
	idle=$(awk '{ w = r = 0
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^offload_write_bytes=/) { sub(/.*=/, "", $i); w = $i }
			if ($i ~ /^offload_read_bytes=/) { sub(/.*=/, "", $i); r = $i }
		}
		if (w == 0 || r == 0) print $2 }' <<<"$lines")
	if [ -n "$lines" ] && [ -z "$idle" ]; then
		pass "$n channels: RDMA READ and WRITE offload on every channel"
	else
		fail "$n channels: channels without offload both ways: [$idle]: $(paste -sd '|' <<<"$lines")"
	fi
	if umount "$mnt"; then
		pass "$n channels: umount"
	else
		fail "$n channels: umount"
		umount -f "$mnt" 2>/dev/null
	fi
	rm -f "$SMBD_ENV_DIR"/share/f* "$work"/src* "$work"/back*
	# smbdirectd lets go of every channel
	local i
	for i in $(seq 50); do
		smbdirectd_env_status_fresh
		[ -z "$(conn_lines)" ] && break
	done
	if [ -z "$(conn_lines)" ]; then
		pass "$n channels: every connection closed after umount"
	else
		fail "$n channels: connections left: $(conn_lines | paste -sd '|')"
	fi
}

smbd_env_init "$work/srv"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals --multichannel "$ip")
	server multi channel support = yes" \
	smbd_env_start "" || { fail "smbd starts"; summary; exit; }
smbdirectd_env_start || { fail "smbdirectd starts"; summary; exit; }
cifs_default_io
check_output "smbdirectd listens on the address smbd advertises as RDMA capable" \
	"listening for SMB Direct on $ip port 5445" smbdirectd_env_log
if smbdirectd_env_log | grep -q "advertises the loopback"; then
	fail "smbdirectd warns about a loopback interface this smb.conf has not"
else
	pass "no loopback warning for an smb.conf without one"
fi

one_round 2
one_round 4
summary
