# shellcheck shell=bash
# A private instance of the distro's smbd for one test (sourced, not run).
#
#   smbd_env_init DIR          config, share, user under DIR (a fresh tmp dir)
#   smbd_env_install_module SO put a vfs_smbdirect build where smbd looks
#   smbd_env_rdma_globals [--multichannel] [--no-lo] [--speed=N] [IP...]
#                              the [global] lines that put smbd and
#                              smbdirectd on the RDMA address(es) (default
#                              $SMBDIRECT_VM_IP): for SMBD_ENV_GLOBAL_EXTRA
#   smbd_env_conf [LINES]      write $SMBD_ENV_CONF (LINES go into [share])
#   smbd_env_start [LINES]     write smb.conf (LINES go into [share]), start
#   smbd_env_stop
#   smbd_env_mount MNT [OPTS]  mount the share with cifs.ko
#   smbd_env_lock_scenario M1 M2  another client (TCP mount M2) locks a
#                              range; M1's READ and WRITE of it refused
#   smbd_env_unlock            that client lets go and unmounts
#
# Only meant for the throw-away test VM: it installs into the VM's
# writable overlay of MODULESDIR and runs smbd on the standard port 445,
# which is what cifs.ko and smbdirectd expect.

. "$(dirname "${BASH_SOURCE[0]}")/../private_smbd_conf.sh"

SMBD_ENV_USER=root
SMBD_ENV_PASS=smbdirect-test

smbd_env_init() {
	SMBD_ENV_DIR=$1
	private_smbd_dirs "$SMBD_ENV_DIR"
	SMBD_ENV_CONF=$SMBD_ENV_DIR/smb.conf
}

smbd_env_modulesdir() {
	smbd -b | sed -n 's/^ *MODULESDIR: //p'
}

smbd_env_install_module() {
	local so=$1 dir
	dir="$(smbd_env_modulesdir)/vfs"
	mkdir -p "$dir" && install -m 0644 "$so" "$dir/smbdirect.so"
}

# The recommended configuration for SMB Direct, in this one place for
# every test (and the demo and the benchmark): each IP marked RDMA
# capable, where smbdirectd listens and which smbd advertises; smbd
# itself binds everywhere, since smbdirectd relays to it on 127.0.0.1.
#
# Variants, for the tests that need them:
# --multichannel: cifs.ko 6.1 opens a second channel to the address of
#   the first only when that interface is also RSS capable, so the
#   address is "capability=RDMA,capability=RSS" (with a speed), and there
#   is no loopback entry, which smbd would advertise too
#   (test_multichannel, test_signed_sessions, test_rdma_channel_from_tcp).
# --no-lo, --speed=N: no loopback entry; "speed=N" after the capability
#   (test_ports: smbd's own comma-separated syntax).
smbd_env_rdma_globals() {
	local ip list=lo caps="capability=RDMA"
	while [ $# -gt 0 ]; do
		case $1 in
		--multichannel)
			list=
			caps="capability=RDMA,capability=RSS,speed=10000000000"
			;;
		--no-lo) list= ;;
		--speed=*) caps="$caps,speed=${1#--speed=}" ;;
		*) break ;;
		esac
		shift
	done
	[ $# -gt 0 ] || set -- "$SMBDIRECT_VM_IP"
	for ip in "$@"; do
		list="${list:+$list }\"$ip;$caps\""
	done
	printf '\tinterfaces = %s\n\tbind interfaces only = no' "$list"
}

# The only writer of a private smbd's smb.conf (through
# selftest/private_smbd_conf.sh): SMBD_ENV_GLOBAL_EXTRA's lines come last
# in [global] and win.
smbd_env_conf() {
	private_smbd_conf "$SMBD_ENV_DIR" \
		interfaces="lo ${SMBDIRECT_VM_IP:-127.0.0.1}" \
		global="${SMBD_ENV_GLOBAL_EXTRA:-}" share="${1:-}" \
		>"$SMBD_ENV_CONF"
}

smbd_env_start() {
	local d=$SMBD_ENV_DIR

	smbd_env_conf "${1:-}" || return 1
	printf '%s\n%s\n' "$SMBD_ENV_PASS" "$SMBD_ENV_PASS" |
		smbpasswd -c "$SMBD_ENV_CONF" -s -a "$SMBD_ENV_USER" \
			>"$d/log/smbpasswd.out" 2>&1 || {
		cat "$d/log/smbpasswd.out" >&2
		return 1
	}
	smbd -s "$SMBD_ENV_CONF" -D || return 1
	# Ready when it listens on 445 (smbclient would take seconds to
	# start under TCG).
	local i
	for i in $(seq 150); do
		if [ -n "$(ss -Hltn 'sport = :445')" ]; then
			return 0
		fi
		sleep 0.2
	done
	echo "smbd did not start; log:" >&2
	tail -20 "$d"/log/log.smbd >&2
	return 1
}

smbd_env_pid() {
	[ -n "${SMBD_ENV_DIR:-}" ] || return 1
	cat "$SMBD_ENV_DIR/pid/smbd.pid" 2>/dev/null
}

smbd_env_stop() {
	local pid i
	pid=$(smbd_env_pid) || return 0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

smbd_env_mount() {
	local mnt=$1 opts=${2:-}
	mkdir -p "$mnt"
	mount -t cifs "//${SMBDIRECT_VM_IP:-127.0.0.1}/share" "$mnt" \
		-o "vers=3.1.1,username=$SMBD_ENV_USER,password=$SMBD_ENV_PASS,cache=${SMBD_ENV_CACHE:-none}${opts:+,$opts}"
}

# The log lines of every smbd process of this instance.
smbd_env_logs() {
	cat "$SMBD_ENV_DIR"/log/log.* 2>/dev/null
}

# Keep this instance's logs (smbd, smbdirectd) with the test results.
smbd_env_save_logs() {
	local dest=${SMBDIRECT_RESULTS:-}/${1:-$(basename "$0" .sh)}.logs
	[ -n "${SMBDIRECT_RESULTS:-}" ] && [ -d "${SMBD_ENV_DIR:-}/log" ] || return 0
	mkdir -p "$dest" && cp -r "$SMBD_ENV_DIR/log/." "$dest/" 2>/dev/null
	return 0
}

# smbd_env_lock_scenario M1 M2: a 4 MiB file "locked" in the share
# (random, kept as $work/lockref); a second client, the TCP mount M2 made
# here (a session of its own), locks bytes [1 MiB, 2 MiB) of it with an
# SMB2 LOCK and holds it (SMBD_ENV_LOCKER) until smbd_env_unlock. Through
# M1 a READ and a WRITE of that range must be refused, and the bytes on
# disk stay as they were. False when the lock could not be set up.
SMBD_ENV_LOCKER=
SMBD_ENV_LOCK_MNT=
# shellcheck disable=SC2154 # work: set by test_begin
smbd_env_lock_scenario() {
	local m1=$1 m2=$2 _
	head -c $((4 << 20)) /dev/urandom >"$work/lockref"
	cp "$work/lockref" "$SMBD_ENV_DIR/share/locked"
	if ! smbd_env_mount "$m2" "nosharesock"; then
		fail "TCP mount for the lock holder"
		return 1
	fi
	SMBD_ENV_LOCK_MNT=$m2
	python3 - "$m2/locked" "$work/locked.ready" <<'EOF' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1 << 20, 1 << 20, 0)
open(sys.argv[2], "w").close()
time.sleep(120)
EOF
	SMBD_ENV_LOCKER=$!
	for _ in $(seq 100); do
		[ -e "$work/locked.ready" ] && break
		sleep 0.1
	done
	check "the other client holds [1 MiB, 2 MiB)" \
		test -e "$work/locked.ready" || return 1
	if dd if="$m1/locked" of=/dev/null bs=1M skip=1 count=1 status=none \
		2>"$work/dd.err"; then
		fail "READ of the locked range succeeded"
	else
		pass "READ of the locked range refused: $(head -1 "$work/dd.err")"
	fi
	head -c $((1 << 20)) /dev/urandom >"$work/new"
	if dd if="$work/new" of="$m1/locked" bs=1M seek=1 count=1 \
		conv=notrunc status=none 2>"$work/dd.err"; then
		fail "WRITE to the locked range succeeded"
	else
		pass "WRITE to the locked range refused: $(head -1 "$work/dd.err")"
	fi
	check "the locked bytes are unchanged on disk" \
		cmp "$work/lockref" "$SMBD_ENV_DIR/share/locked"
	return 0
}

# The lock holder of smbd_env_lock_scenario lets go and its mount goes
# (test_teardown calls it too, before the unmounts).
smbd_env_unlock() {
	[ -n "$SMBD_ENV_LOCKER" ] || return 0
	kill "$SMBD_ENV_LOCKER" 2>/dev/null
	wait "$SMBD_ENV_LOCKER" 2>/dev/null
	SMBD_ENV_LOCKER=
	umount "$SMBD_ENV_LOCK_MNT" 2>/dev/null
	SMBD_ENV_LOCK_MNT=
	return 0
}
