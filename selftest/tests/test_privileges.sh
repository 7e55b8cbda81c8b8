#!/bin/bash
#
# smbdirectd drops the capabilities it no longer needs once it listens
# (issue #7, smbdirectd_privs.c, smbdirectd(8) PRIVILEGES), and still
# serves RDMA mounts afterwards:
#
# By default smbdirectd listens on port 445 as well on InfiniBand and
# RoCE devices (rxe0 is one), which needs CAP_NET_BIND_SERVICE for the
# daemon's life (rdma_cm refuses a process whose credentials changed
# since it opened the device file, so it cannot be dropped later):
#
# 1. RLIMIT_MEMLOCK limited (the VM's default): only CAP_IPC_LOCK and
#    CAP_NET_BIND_SERVICE are left, in CapEff, CapPrm and CapBnd;
#    no_new_privs is set; a mount
#    (whose first connection registers the 64 MiB pool, far beyond the
#    limit) writes and reads a file by RDMA, and --status finds the smbd
#    process of the connection, through the resolver smbdirectd-pid,
#    a child that keeps CAP_SYS_PTRACE and nothing else.
# 2. RLIMIT_MEMLOCK unlimited (what the systemd unit sets): only
#    CAP_NET_BIND_SERVICE, and a mount still works.
# 3. The same with smbdirect:port = 5445: no capability at all, and a
#    mount still works.
#
# Runs inside the test VM: selftest/run-integration selftest/tests/test_privileges.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

ip=${SMBDIRECT_VM_IP:-10.77.0.1}
mnt=$work/mnt

CAP_IPC_LOCK_MASK=0000000000004000
CAP_NET_BIND_MASK=0000000000000400
CAP_IPC_LOCK_NET_BIND_MASK=0000000000004400
CAP_SYS_PTRACE_MASK=0000000000080000
NONE=0000000000000000

# status_field FIELD [PID]: a field of /proc/PID/status (default: the daemon)
status_field() {
	awk -v f="$1:" '$1 == f { print $2 }' \
		"/proc/${2:-$SMBDIRECTD_ENV_PID}/status"
}

# The smbd pid resolver: the daemon's child named smbdirectd-pid.
resolver_pid() {
	local c
	for c in $(cat "/proc/$SMBDIRECTD_ENV_PID/task/"*/children); do
		[ "$(cat "/proc/$c/comm" 2>/dev/null)" = smbdirectd-pid ] &&
			echo "$c"
	done
}

# check_caps WANT WHAT [PID]: all capability sets of PID must be WANT.
check_caps() {
	local want=$1 what=$2 pid=${3:-$SMBDIRECTD_ENV_PID} f v bad=
	for f in CapEff CapPrm CapInh CapBnd CapAmb; do
		v=$(status_field "$f" "$pid")
		case $f in
		CapInh | CapAmb) [ "$v" = "$NONE" ] || bad="$bad $f=$v" ;;
		*) [ "$v" = "$want" ] || bad="$bad $f=$v" ;;
		esac
	done
	if [ -z "$bad" ]; then
		pass "$what: CapEff = CapPrm = CapBnd = $want, no inheritable" \
			"or ambient capability"
	else
		fail "$what: want $want:$bad"
	fi
	v=$(status_field NoNewPrivs "$pid")
	if [ "$v" = 1 ]; then
		pass "$what: NoNewPrivs 1"
	else
		fail "$what: NoNewPrivs ${v:-?}"
	fi
}

# A mount by RDMA, 8 MiB written and read back, the smbd pid found.
check_serves() {
	local what=$1
	if ! smbd_env_mount_rdma "$mnt"; then
		fail "$what: mount -o rdma: $(dmesg | tail -2 | paste -sd '|')"
		return
	fi
	head -c $((8 << 20)) /dev/urandom >"$work/src"
	cp "$work/src" "$mnt/f" && echo 3 >/proc/sys/vm/drop_caches
	if cmp -s "$work/src" "$mnt/f" &&
		cmp -s "$work/src" "$SMBD_ENV_DIR/share/f"; then
		pass "$what: 8 MiB written and read back by RDMA"
	else
		fail "$what: the file differs after the round trip"
	fi
	check_output "$what: --status finds the smbd process" \
		"^connection [0-9]+ from $ip:[0-9]+: running, smbd pid [1-9]" \
		"$repo/out/smbdirectd" -s "$SMBD_ENV_CONF" --status
	umount "$mnt" || fail "$what: umount"
	if [ "$(smbdirectd_env_counter offload_write_bytes)" -gt 0 ] 2>/dev/null
	then
		pass "$what: the offload (registered pool) carried the write"
	else
		fail "$what: no offloaded WRITE bytes"
	fi
}

smbd_env_init "$work/srv"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals "$ip")" \
	smbd_env_start "" || { fail "smbd starts"; summary; exit; }
cifs_default_io

# --- 1. RLIMIT_MEMLOCK limited ---------------------------------------------
limit=$(ulimit -l)
if [ "$limit" = unlimited ]; then
	fail "the VM's memlock limit is unlimited: case 1 cannot be shown"
else
	smbdirectd_env_start || { fail "smbdirectd starts"; summary; exit; }
	sleep 1.5 # the status file is rewritten every second
	check_caps "$CAP_IPC_LOCK_NET_BIND_MASK" "memlock ${limit} KiB"
	rp=$(resolver_pid)
	if [ -n "$rp" ] && [ "$(wc -w <<<"$rp")" = 1 ]; then
		pass "one smbd pid resolver (smbdirectd-pid), pid $rp"
		check_caps "$CAP_SYS_PTRACE_MASK" "the resolver" "$rp"
	else
		fail "want one child smbdirectd-pid of smbdirectd, got [$rp]"
	fi
	check_output "memlock ${limit} KiB: the log says what was kept" \
		'privileges dropped: .*CAP_IPC_LOCK kept.*CAP_NET_BIND_SERVICE kept' \
		smbdirectd_env_log
	check_serves "memlock ${limit} KiB"
	check_caps "$CAP_IPC_LOCK_NET_BIND_MASK" \
		"memlock ${limit} KiB, after a connection"
	smbdirectd_env_stop || fail "memlock ${limit} KiB: exit status after SIGTERM"
	if [ -n "$rp" ]; then
		for _ in $(seq 50); do
			[ -d "/proc/$rp" ] || break
			sleep 0.1
		done
		if [ -d "/proc/$rp" ]; then
			fail "the resolver $rp outlives smbdirectd"
		else
			pass "the resolver ends with smbdirectd"
		fi
	fi
fi

# --- 2. RLIMIT_MEMLOCK unlimited (the systemd unit's LimitMEMLOCK) ---------
SMBDIRECTD_ENV_WRAPPER="prlimit --memlock=unlimited:unlimited" \
	smbdirectd_env_start || { fail "smbdirectd starts (memlock unlimited)"; summary; exit; }
sleep 1.5
check_caps "$CAP_NET_BIND_MASK" "memlock unlimited"
check_serves "memlock unlimited"
if smbdirectd_env_stop; then
	pass "memlock unlimited: SIGTERM stops it with exit status 0"
else
	fail "memlock unlimited: exit status after SIGTERM"
fi

# --- 3. ... and no port below 1024 -----------------------------------------
SMBDIRECTD_ENV_WRAPPER="prlimit --memlock=unlimited:unlimited" \
	SMBDIRECTD_ENV_ARGS="--option=smbdirect:port=5445" \
	smbdirectd_env_start || { fail "smbdirectd starts (port 5445)"; summary; exit; }
sleep 1.5
check_caps "$NONE" "memlock unlimited, port 5445"
check_serves "memlock unlimited, port 5445"
if smbdirectd_env_stop; then
	pass "memlock unlimited, port 5445: SIGTERM stops it with exit status 0"
else
	fail "memlock unlimited, port 5445: exit status after SIGTERM"
fi
summary
