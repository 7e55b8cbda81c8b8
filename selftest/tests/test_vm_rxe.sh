#!/bin/bash
#
# The test VM itself works: rxe0 (Soft-RoCE on veth0) is ACTIVE, rdma_cm
# connections run over it, and cifs.ko is the rebuilt one with SMB Direct.
# Every other RDMA test relies on these three facts.
#
# Runs inside the test VM: selftest/vm/run selftest/tests/test_vm_rxe.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

ip=${SMBDIRECT_VM_IP:-10.77.0.1}

# --- (a) the device
check_output "rxe0 is ACTIVE on veth0 (rdma link)" \
	'rxe0/1 state ACTIVE physical_state LINK_UP netdev veth0' rdma link show rxe0/1
check_output "ibv_devinfo sees rxe0 with PORT_ACTIVE" 'state:[[:space:]]+PORT_ACTIVE' \
	ibv_devinfo -d rxe0
check "verbs and rdma_cm device nodes exist" \
	test -c /dev/infiniband/uverbs0 -a -c /dev/infiniband/rdma_cm

# --- (b) rdma_cm connections over rxe0 (client and server share it)
wait_listen() {	# PORT: until an rdma_cm id listens on it
	local _
	for _ in $(seq 100); do
		rdma resource show cm_id 2>/dev/null | grep -q "state LISTEN .*:$1 " && return 0
		sleep 0.1
	done
	return 1
}

# client_server NAME PORT SERVER_CMD... -- CLIENT_CMD...: both must exit 0.
client_server() {
	local name=$1 port=$2 srv=() spid crc=0 src=0
	shift 2
	while [ "$1" != -- ]; do srv+=("$1"); shift; done
	shift
	timeout 60 "${srv[@]}" >"$work/$name.server" 2>&1 &
	spid=$!
	if ! wait_listen "$port"; then
		kill "$spid" 2>/dev/null
		fail "$name: the server never listened on port $port: $(t_tail "$(cat "$work/$name.server")")"
		return 1
	fi
	timeout 60 "$@" >"$work/$name.client" 2>&1 || crc=$?
	wait "$spid" || src=$?
	if [ "$crc" -ne 0 ] || [ "$src" -ne 0 ]; then
		fail "$name: client exit $crc, server exit $src (124: timeout): $(t_tail "$(cat "$work/$name.client")")"
		return 1
	fi
}

# rping: RC connection, SEND + RDMA READ + RDMA WRITE each round.
# -S must be the same on both sides.
if client_server rping 7471 rping -s -a "$ip" -p 7471 -C 5 -S 128 -v -- \
	rping -c -a "$ip" -p 7471 -C 5 -S 128 -v; then
	n=$(grep -c '^ping data: rdma-ping-' "$work/rping.client")
	if [ "$n" -eq 5 ]; then
		pass "rping: 5 rounds of send/RDMA read/RDMA write over rdma_cm"
	else
		fail "rping: $n of 5 rounds in the client's output"
	fi
fi

# ucmatose: several connections at once, 10 sends each way.
if client_server ucmatose 7472 ucmatose -b "$ip" -p 7472 -c 2 -C 10 -- \
	ucmatose -s "$ip" -p 7472 -c 2 -C 10; then
	if grep -q 'test complete' "$work/ucmatose.client"; then
		pass "ucmatose: 2 connections x 10 messages over rdma_cm"
	else
		fail "ucmatose: no 'test complete': $(t_tail "$(cat "$work/ucmatose.client")")"
	fi
fi

# --- (c) the rebuilt cifs.ko
if modprobe cifs 2>"$work/modprobe.err"; then
	path=$(modinfo -n cifs)
	if [[ $path == */updates/cifs.ko ]] &&
	   [ "$(cat /sys/module/cifs/srcversion)" = "$(modinfo -F srcversion cifs)" ]; then
		pass "the loaded cifs.ko is the rebuilt one ($path)"
	else
		fail "cifs.ko: loaded from $path, not from updates/ (run selftest/vm/prepare)"
	fi
	# Features line of DebugData, and what only smbdirect.c and the
	# CONFIG_CIFS_SMB_DIRECT parts of cifs_debug.c create.
	if grep -q '^Features:.*SMB_DIRECT' /proc/fs/cifs/DebugData &&
	   [ -e /proc/fs/cifs/rdma_readwrite_threshold ] &&
	   [ -e /sys/module/cifs/parameters/smbd_logging_class ]; then
		pass "cifs.ko has SMB Direct (CONFIG_CIFS_SMB_DIRECT)"
	else
		fail "cifs.ko lacks SMB Direct: $(grep '^Features:' /proc/fs/cifs/DebugData)"
	fi
else
	fail "modprobe cifs: $(cat "$work/modprobe.err")"
fi

summary
