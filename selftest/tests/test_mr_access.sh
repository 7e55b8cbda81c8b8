#!/bin/bash
#
# Least privilege of smbdirectd's memory registrations (issue #7): on
# InfiniBand and RoCE none of them may grant remote access, since in SMB
# Direct only the server issues RDMA READ and WRITE.
#
# How it is shown, on rxe0, two ways:
#
# 1. The kernel's RDMA resource tracking ("rdma resource show mr", as
#    root: every registration with its pid, length and keys) lists
#    smbdirectd's registrations once a client is connected: the offload
#    pool and the connection's receive and send buffers. rxe reports an
#    rkey only for a registration that grants remote access (rxe_mr_init:
#    rkey = lkey if any IB_ACCESS_REMOTE_* flag, else 0), so every rkey
#    must be 0.
# 2. A client (smbdirect_badclient, probe-* scenarios) connects and
#    negotiates like any SMB Direct client, then sends one RDMA READ, one
#    RDMA WRITE or one atomic compare-and-swap (a fresh connection each)
#    at the offload pool, with the pool's key (the lkey from 1: on rxe
#    and mlx5 an rkey, where one exists, is the same number) and its
#    address (the memfd:smbdirectd-pool mapping in /proc/PID/maps; this
#    iproute2 does not show iova). The right key and address: only the
#    access flags stand between the probe and the memory, and each probe
#    must come back with IBV_WC_REM_ACCESS_ERR. (The receive and send
#    buffers are in smbdirectd's heap, whose addresses cannot be learned
#    from outside; a probe with a wrong address fails whatever the
#    flags, so they are covered by 1 only.)
#
# The control: out/test/smbdirectd-mr-remote, a test build that adds
# remote read, write and atomic access to every registration
# (build/compile.mk), must show non-zero rkeys and let every probe
# through. That shows both checks can fail: a wrong address or key, or a
# QP that refuses RDMA READ, would make a probe "pass" for the wrong
# reason, and the control catches that.
#
# Runs inside the test VM: selftest/run-integration selftest/tests/test_mr_access.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

ip=${SMBDIRECT_VM_IP:-10.77.0.1}
tool=$repo/out/smbdirect_badclient
mutant=$repo/out/test/smbdirectd-mr-remote
probe_pid=
test_cleanup() {
	[ -n "$probe_pid" ] && kill "$probe_pid" 2>/dev/null
	return 0
}

for f in "$tool" "$mutant" "$repo/out/smbdirectd"; do
	if [ ! -x "$f" ]; then
		fail "$f is missing (run 'make' first)"
		summary
		exit
	fi
done
if ! command -v rdma >/dev/null; then
	fail "no rdma tool (iproute2)"
	summary
	exit
fi

# smbdirectd's registrations as "MRN RKEY LKEY LEN" lines, by mrn, from
# the kernel's resource tracking (keys are shown to root only).
daemon_mrs() {
	rdma -j resource show mr | python3 -c '
import json, sys
pid = int(sys.argv[1])
def num(v, base=16):
    return int(v, base) if isinstance(v, str) else int(v)
rows = sorted((num(m["mrn"], 10), num(m.get("rkey", "0")),
               num(m.get("lkey", "0")), num(m["mrlen"], 10))
              for m in json.load(sys.stdin) if m.get("pid") == pid)
for r in rows:
    print("%d 0x%x 0x%x %d" % r)
' "$SMBDIRECTD_ENV_PID"
}

# The address of the offload pool: its memfd mapping.
pool_addr() {
	awk '/\/memfd:smbdirectd-pool/ { split($1, a, "-"); print "0x" a[1]; exit }' \
		"/proc/$SMBDIRECTD_ENV_PID/maps"
}

wait_no_connection() {
	local _ n
	for _ in $(seq 100); do
		n=$("$repo/out/smbdirectd" -s "$SMBD_ENV_CONF" --status --json |
			python3 -c 'import json, sys
print(json.load(sys.stdin)["daemon"]["connections"])' 2>/dev/null)
		[ "$n" = 0 ] && return 0
		sleep 0.2
	done
	return 1
}

# probe OP: one connection, one probe at the offload pool. Sets
# PROBE_OUT, PROBE_RC, PROBE_TARGET ("ADDR KEY") and PROBE_MRS
# (smbdirectd's registrations at that moment).
probe() {
	local op=$1 _ key addr
	PROBE_OUT='' PROBE_RC=2 PROBE_TARGET='' PROBE_MRS=''
	wait_no_connection || { PROBE_OUT="a connection did not go away"; return; }
	rm -f "$work/target" "$work/probe.out"
	"$tool" --server "$ip" --scenario "probe-$op" --timeout 30 \
		--probe-file "$work/target" >"$work/probe.out" 2>&1 &
	probe_pid=$!
	for _ in $(seq 600); do
		grep -q '^negotiated$' "$work/probe.out" && break
		kill -0 "$probe_pid" 2>/dev/null || break
		sleep 0.1
	done
	if grep -q '^negotiated$' "$work/probe.out"; then
		PROBE_MRS=$(daemon_mrs 2>&1)
		# the rkey where there is one, else the lkey
		key=$(awk -v p="$pool_bytes" '$4 == p {
			print ($2 != "0x0" ? $2 : $3); exit }' <<<"$PROBE_MRS")
		addr=$(pool_addr)
		if [ -n "$key" ] && [ -n "$addr" ]; then
			PROBE_TARGET="$addr $key"
			echo "$PROBE_TARGET" >"$work/target.tmp"
			mv "$work/target.tmp" "$work/target"
		fi
	fi
	[ -n "$PROBE_TARGET" ] || kill "$probe_pid" 2>/dev/null
	wait "$probe_pid"
	PROBE_RC=$?
	probe_pid=
	PROBE_OUT=$(grep -v '^negotiated$' "$work/probe.out" | tail -n 3)
	[ -n "$PROBE_TARGET" ] ||
		PROBE_OUT="no pool registration or mapping found [$PROBE_MRS]: $PROBE_OUT"
}

# mrs_check WANT WHAT: the registrations of the last probe, 3 or more
# with the pool among them, every rkey 0 (WANT=zero) or none (nonzero).
mrs_check() {
	local want=$1 what=$2 n bad
	echo "$what: registrations with one client connected (mrn rkey lkey len):"
	sed 's/^/  /' <<<"$PROBE_MRS"
	n=$(grep -c . <<<"$PROBE_MRS")
	if [ "$n" -ge 3 ] && awk -v p="$pool_bytes" '$4 == p { f = 1 }
		END { exit !f }' <<<"$PROBE_MRS"; then
		pass "$what: rdma resource show mr lists $n registrations," \
			"the pool ($pool_bytes bytes) among them"
	else
		fail "$what: want the pool ($pool_bytes bytes) and a" \
			"connection's buffers, got: $(t_tail "$PROBE_MRS")"
		return
	fi
	if [ "$want" = zero ]; then
		bad=$(awk '$2 != "0x0"' <<<"$PROBE_MRS")
	else
		bad=$(awk '$2 == "0x0"' <<<"$PROBE_MRS")
	fi
	if [ -z "$bad" ]; then
		pass "$what: every rkey is $([ "$want" = zero ] && echo 0 ||
			echo "non-zero") (rxe: remote access $([ "$want" = zero ] &&
			echo "granted by none" || echo "granted by all"))"
	else
		fail "$what: rkeys: $(t_tail "$bad")"
	fi
}

start_daemon() {
	smbdirectd_env_start "$1" || { fail "$(basename "$1") starts"; return 1; }
}

smbd_env_init "$work/srv"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals "$ip")" \
	smbd_env_start "" || { fail "smbd starts"; summary; exit; }

# --- smbdirectd as built ---------------------------------------------------
start_daemon "$repo/out/smbdirectd" || { summary; exit; }
pool_bytes=$(smbdirectd_env_counter pool_bytes)
for _ in $(seq 30); do
	[ -n "$pool_bytes" ] && break
	sleep 0.2
	pool_bytes=$(smbdirectd_env_counter pool_bytes)
done

for op in read write atomic; do
	probe "$op"
	[ "$op" = read ] && mrs_check zero "smbdirectd"
	if [ "$PROBE_RC" = 0 ]; then
		pass "pool [$PROBE_TARGET]: $op refused: $PROBE_OUT"
	else
		fail "pool [$PROBE_TARGET]: $op: exit $PROBE_RC: $PROBE_OUT"
	fi
done
check "smbdirectd survives the probes" smbdirectd_env_alive
smbdirectd_env_stop

# --- the control: a build that grants remote access -------------------------
start_daemon "$mutant" || { summary; exit; }
for op in read write atomic; do
	probe "$op"
	[ "$op" = read ] && mrs_check nonzero "control (smbdirectd-mr-remote)"
	if [ "$PROBE_RC" = 1 ]; then
		pass "control: $op at the pool of smbdirectd-mr-remote" \
			"succeeds (so the probe can fail): $PROBE_OUT"
	else
		fail "control: $op at the pool of smbdirectd-mr-remote:" \
			"exit $PROBE_RC (1 expected): $PROBE_OUT"
	fi
done
smbdirectd_env_stop
summary
