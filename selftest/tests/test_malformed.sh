#!/bin/bash
#
# smbdirectd drops SMB Direct peers that break [MS-SMBD] (bad negotiate
# requests, bad data transfer headers, credit violations, a client that
# vanishes in the middle of a PDU) and keeps serving a good client all
# the while.  Each scenario of selftest/tools/smbdirect_badclient runs on
# its own connection; after each: the tool saw the reaction [MS-SMBD]
# requires, smbdirectd still runs, its log names the reason and freed
# the connection, and a kernel SMB Direct mount of the same daemon still
# reads its file intact without having been disconnected.
# The desc-* scenarios, chaninfo-outside and bad-token send one SMB2
# WRITE with an RDMA channel whose buffer descriptors are bad (length 0,
# too many, overflowing, too short, above the max I/O size, outside the
# message) or well-formed but for a token never registered: the daemon
# must drop the connection before smbd sees the request (or when its
# RDMA READ fails), with no SMB2 session needed.
# valid-echo (a correct SMB2 NEGOTIATE through the daemon) runs first and
# last: it shows that the tool speaks correct SMB Direct, so that its
# failures mean something, and that the daemon still accepts clients.
#
# Runs inside the test VM: selftest/vm/run selftest/tests/test_malformed.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

ip=${SMBDIRECT_VM_IP:-10.77.0.1}
tool=$repo/out/smbdirect_badclient
mnt=$work/mnt
dlog=
mounted=
mount_conn=
want_sum=

start_all() {
	if [ ! -x "$tool" ] || [ ! -x "$repo/out/smbdirectd" ]; then
		fail "out/smbdirectd or out/smbdirect_badclient is missing (run 'make' first)"
		return 1
	fi
	smbd_env_init "$work/srv"
	# One smb.conf for both: smbd reads the RDMA flag to advertise it,
	# smbdirectd to know where to listen.
	SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals "$ip")
	smbdirect:negotiate timeout = 5" \
		smbd_env_start "" || { fail "smbd starts"; return 1; }
	if ! smbdirectd_env_start 2>"$work/start.err"; then
		fail "smbdirectd starts: $(t_tail "$(cat "$work/start.err")")"
		return 1
	fi
	dlog=$SMBDIRECTD_ENV_LOG
	if grep -q "listening for SMB Direct on $ip port 5445" "$dlog"; then
		pass "smbdirectd listens on $ip port 5445"
	else
		fail "smbdirectd listens elsewhere: $(grep listening "$dlog")"
		return 1
	fi
}

# The kernel client over RDMA with every I/O inline (cifs_inline_io and
# the mount options of smbd_env_mount_rdma_inline, which also steer clear
# of cifs.ko 6.1's multi-page inline write bug): this test is about bad
# peers next to a good one, not about the RDMA offload.
mount_rdma() {
	local out rc=0 start src disk back
	cifs_inline_io || { fail "cifs_inline_io"; return 1; }
	start=$(stat -c %s "$dlog")
	out=$(timeout 90 bash -c ". '$here/smbd_env.sh'; . '$here/smbdirectd_env.sh'; smbd_env_mount_rdma_inline '$mnt'" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "mount -t cifs -o rdma: exit $rc${out:+: $out} | dmesg: $(t_tail "$(dmesg | grep -iE 'cifs|smbd|rdma')") | smbdirectd: $(t_tail "$(smbdirectd_env_log_since "$start")")"
		return 1
	fi
	mounted=1
	if grep -q 'SMBDirect (in hex) protocol version: 100' \
		/proc/fs/cifs/DebugData; then
		pass "cifs.ko mounted the share over SMB Direct"
	else
		fail "the mount is not SMB Direct: $(grep -A1 '^1)' /proc/fs/cifs/DebugData | paste -sd ' ')"
	fi
	mount_conn=$(smbdirectd_env_log_since "$start" |
		sed -nE 's/.*connection ([0-9]+) from .* accepted.*/\1/p' |
		tail -1)

	# Write a file through the mount: it must arrive intact...
	head -c 262144 /dev/urandom >"$work/file"
	if ! cp "$work/file" "$mnt/file"; then
		fail "writing 256 KiB through the mount"
		return 0
	fi
	src=$(sha256sum <"$work/file")
	disk=$(sha256sum <"$SMBD_ENV_DIR/share/file")
	echo 3 >/proc/sys/vm/drop_caches	# read from the server
	back=$(sha256sum <"$mnt/file")
	if [ "$src" = "$disk" ] && [ "$src" = "$back" ]; then
		pass "256 KiB written through the mount and read back intact"
	else
		fail "256 KiB through the mount: $( [ "$src" = "$disk" ] ||
			cmp "$work/file" "$SMBD_ENV_DIR/share/file" 2>&1 |
			sed -E 's/.*differ: byte ([0-9]+).*/the server stored it wrong from byte \1 on/')$(
			[ "$disk" = "$back" ] || echo "; read back differs from the server's copy")"
	fi
	# ...and the scenarios below check that the mount keeps reading
	# what the server stores, so that they test the mount's survival,
	# not the write path again.
	want_sum=$disk
}

# run_scenario NAME TIMEOUT ERE: the tool's verdict, the daemon alive,
# ERE in its log (the reason), the connection freed, the mount intact.
run_scenario() {
	local name=$1 t=$2 ere=$3 start out rc=0 lines
	start=$(stat -c %s "$dlog")
	out=$(timeout $((t + 30)) "$tool" --server "$ip" --scenario "$name" \
		--timeout "$t" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$name: ${out#"$name: "}"
	else
		fail "$name: smbdirect_badclient exit $rc: $out"
	fi

	if ! smbdirectd_env_alive; then
		fail "$name: smbdirectd died: $(t_tail "$(smbdirectd_env_log_since "$start")")"
		return
	fi
	pass "$name: smbdirectd still running"

	if smbdirectd_env_wait_log "$start" "$ere" &&
		smbdirectd_env_wait_log "$start" "connection [0-9]+ from .* closed: "; then
		pass "$name: smbdirectd logged /$ere/ and closed the connection"
	else
		lines=$(smbdirectd_env_log_since "$start" |
			grep -E 'disconnecting|refused|closed' | tail -3 |
			paste -sd '|' | sed 's/|/ | /g')
		fail "$name: no /$ere/ and 'closed' line in smbdirectd's log: ${lines:-nothing}"
	fi

	[ -n "$mounted" ] || return
	# With the page cache dropped the read goes to the server, through
	# the daemon.  cifs.ko would reconnect a dropped connection silently,
	# so the daemon's log must also show the mount's connection untouched.
	echo 3 >/proc/sys/vm/drop_caches
	if [ "$(timeout 60 sha256sum <"$mnt/file")" != "$want_sum" ]; then
		fail "$name: the SMB Direct mount no longer reads its file"
	elif [ -n "$mount_conn" ] && smbdirectd_env_log_since "$start" |
		grep -qE "connection $mount_conn from .* (disconnecting|closed)"; then
		fail "$name: the mount's connection $mount_conn was dropped: $(t_tail "$(smbdirectd_env_log_since "$start" | grep -E "connection $mount_conn from")")"
	else
		pass "$name: the SMB Direct mount (connection ${mount_conn:-?}) still reads its file intact"
	fi
}

# name | tool timeout (s) | what smbdirectd must log (ERE)
SCENARIOS=(
	"valid-echo|20|RDMA peer .* is relayed to smbd"
	"silent|20|disconnecting: no SMB Direct negotiate request within 5 s"
	"short-negotiate|10|disconnecting: .*length 10 below minimum 20"
	"bad-version|10|negotiate refused: .*0x0200\.\.0x0200 does not include 0x0100"
	"zero-credits-negotiate|10|disconnecting: negotiate: .*CreditsRequested is 0"
	"tiny-receive-size|10|disconnecting: .*MaxReceiveSize 64 below minimum 128"
	"tiny-fragmented-size|10|disconnecting: .*MaxFragmentedSize 4096 below minimum 131072"
	"short-data|10|disconnecting: .*message length 12 below minimum 20"
	"zero-credits-requested|10|disconnecting: data transfer: CreditsRequested is 0"
	"offset-outside|10|disconnecting: .*DataOffset 24 \+ DataLength 2000 exceeds message length 100"
	"offset-overflow|10|disconnecting: .*DataOffset 4294967288 \+ DataLength 16 exceeds message length 40"
	"reassembly-overflow|10|disconnecting: .*RemainingDataLength 2147483647 exceeds max fragmented size"
	"no-credits|10|disconnecting: .*credit (violation|deadlock)"
	"vanish-mid-message|10|disconnecting: (the peer disconnected|.*work request failed|rdma_cm event)"
	"desc-zero-length|10|bad RDMA channel request: WRITE MessageId 1: buffer descriptors: entry 0 has Length 0"
	"desc-too-many|10|bad RDMA channel request: WRITE MessageId 1: 17 buffer descriptors, at most 16 allowed"
	"desc-overflow|10|bad RDMA channel request: WRITE MessageId 1: buffer descriptor lengths sum to 8589934590, overflowing 32 bits"
	"desc-short|10|bad RDMA channel request: WRITE MessageId 1: buffer descriptors hold 4096 bytes, less than the 8192 to transfer"
	"desc-huge|10|bad RDMA channel request: WRITE MessageId 1: RemainingBytes 2147483647 outside 1\.\.[0-9]+"
	"chaninfo-outside|10|bad RDMA channel request: WRITE MessageId 1: channel info \[8192, \+16\) outside"
	"bad-token|10|RDMA READ of [0-9]+ bytes from the client failed"
	"valid-echo|20|RDMA peer .* is relayed to smbd"
)

# The tool must also be able to say no: exit 1 for a server that keeps
# a connection (smbdirectd waits 5 s for the negotiate request), exit 2
# when nothing listens.
tool_controls() {
	local out rc=0
	out=$("$tool" --server "$ip" --scenario silent --timeout 2 2>&1) || rc=$?
	if [ "$rc" -eq 1 ]; then
		pass "control: silent --timeout 2 reports the open connection: $out"
	else
		fail "control: silent --timeout 2 exited $rc, not 1: $out"
	fi
	rc=0
	out=$("$tool" --server "$ip" --port 5446 --scenario valid-echo \
		--timeout 10 2>&1) || rc=$?
	if [ "$rc" -eq 2 ]; then
		pass "control: nothing on port 5446 is a setup error: $out"
	else
		fail "control: port 5446 exited $rc, not 2: $out"
	fi
}

if start_all; then
	mount_rdma || echo "NOTE: no mount: the scenarios run without the mount checks"
	tool_controls
	for s in "${SCENARIOS[@]}"; do
		IFS='|' read -r name t ere <<<"$s"
		smbdirectd_env_alive || break
		run_scenario "$name" "$t" "$ere"
	done

	# No connection of the scenarios may linger in the daemon.
	if smbdirectd_env_alive; then
		n=$(rdma resource show cm_id 2>/dev/null |
			grep 'comm smbdirectd' | grep -vc 'state LISTEN')
		if [ "$n" -eq "${mounted:-0}" ]; then
			pass "smbdirectd holds no stale rdma_cm ids ($n connected)"
		else
			fail "smbdirectd holds $n connected rdma_cm ids, expected ${mounted:-0}: $(rdma resource show cm_id 2>&1 | grep 'comm smbdirectd' | paste -sd '|')"
		fi
	fi
	if [ -n "$mounted" ]; then
		if umount "$mnt"; then
			mounted=
			pass "umount of the SMB Direct mount"
		else
			fail "umount of the SMB Direct mount"
		fi
	fi
	if smbdirectd_env_alive; then
		if smbdirectd_env_stop; then
			pass "smbdirectd stops cleanly on SIGTERM after it all"
		else
			fail "smbdirectd exit status after SIGTERM (124: still running)"
		fi
	fi
fi
summary
