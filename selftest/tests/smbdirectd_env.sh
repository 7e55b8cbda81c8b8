# shellcheck shell=bash
# smbdirectd beside the private smbd of smbd_env.sh (sourced, not run).
#
#   smbdirectd_env_start [BIN]   start it (foreground, logging to a file)
#                                on the smb.conf of smbd_env_start
#   smbdirectd_env_stop          SIGTERM, wait, return its exit status
#   smbdirectd_env_alive         is it still running?
#   smbdirectd_env_log           its log so far
#   smbdirectd_env_log_since N   what it logged after byte N of its log
#                                (N from stat -c %s "$SMBDIRECTD_ENV_LOG")
#   smbdirectd_env_wait_log N ERE  until a line logged after byte N
#                                matches ERE (10 s; status 1 if none)
#   cifs_inline_io               make cifs.ko send all I/O inline
#   cifs_default_io              back to cifs.ko's default threshold
#   cifs_io_restore              the same, only if cifs.ko is loaded
#   smbd_env_mount_rdma MNT [OPTS]         cifs.ko defaults (RDMA offload)
#   smbd_env_mount_rdma_inline MNT [OPTS]  inline I/O only
#   smbdirectd_env_counter NAME  a counter from smbdirectd's status file

SMBDIRECTD_ENV_PID=

smbdirectd_env_start() {
	local bin=${1:-$repo/out/smbdirectd} i
	SMBDIRECTD_ENV_LOG=$SMBD_ENV_DIR/log/smbdirectd.out
	# SMBDIRECTD_ENV_WRAPPER: e.g. valgrind (it runs in the same process);
	# SMBDIRECTD_ENV_ARGS: more arguments, one per line, e.g.
	# --option=smbdirect:port=445
	local args=()
	[ -z "${SMBDIRECTD_ENV_ARGS:-}" ] ||
		mapfile -t args <<<"$SMBDIRECTD_ENV_ARGS"
	# shellcheck disable=SC2086 # the wrapper is a word list
	${SMBDIRECTD_ENV_WRAPPER:-} \
		"$bin" -s "$SMBD_ENV_CONF" -F --debug-stdout "${args[@]}" \
		-d "${SMBDIRECTD_ENV_DEBUG:-3}" >"$SMBDIRECTD_ENV_LOG" 2>&1 &
	SMBDIRECTD_ENV_PID=$!
	for i in $(seq 600); do
		grep -q "listening for SMB Direct" "$SMBDIRECTD_ENV_LOG" && return 0
		kill -0 "$SMBDIRECTD_ENV_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "smbdirectd did not start listening:" >&2
	tail -20 "$SMBDIRECTD_ENV_LOG" >&2
	return 1
}

smbdirectd_env_alive() {
	[ -n "$SMBDIRECTD_ENV_PID" ] && kill -0 "$SMBDIRECTD_ENV_PID" 2>/dev/null
}

smbdirectd_env_log() {
	cat "$SMBDIRECTD_ENV_LOG" 2>/dev/null
}

smbdirectd_env_log_since() {
	tail -c +$(($1 + 1)) "$SMBDIRECTD_ENV_LOG"
}

smbdirectd_env_wait_log() {
	local _
	for _ in $(seq 50); do
		smbdirectd_env_log_since "$1" | grep -qE -- "$2" && return 0
		sleep 0.2
	done
	return 1
}

smbdirectd_env_stop() {
	local pid=$SMBDIRECTD_ENV_PID rc i
	[ -n "$pid" ] || return 0
	SMBDIRECTD_ENV_PID=
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 600); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			rc=$?
			return $rc
		fi
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 124
}

# Until smbdirectd offloads READ/WRITE with RDMA channels, cifs.ko must not
# ask for them. It offloads every unsigned I/O of at least
# /proc/fs/cifs/rdma_readwrite_threshold, and caps that threshold at the
# server's MaxFragmentedSize (1 MiB): so raise the threshold and keep
# rsize/wsize below that (CIFS_INLINE_OPTS).
#
# Writes stay at one page: cifs.ko 6.1's smbd_send() sizes the pieces of
# an inline write's page array by remaining_data_length instead of the
# page's own length, so an inline write of several pages sends bytes from
# beyond each page (seen here: a 64 KiB write arrived shifted by 1264
# bytes after every page). Only page-aligned, one-page writes are exact,
# which the page cache (cache=strict) with wsize=4096 guarantees; with
# the default threshold cifs.ko never sends such writes inline.
# Reads stay below cifs.ko's own max fragmented receive size (173910
# bytes): a larger inline READ response could not be sent to it.
CIFS_INLINE_OPTS=rsize=131072,wsize=4096
CIFS_DEFAULT_THRESHOLD=4096
cifs_inline_io() {
	modprobe cifs || return 1
	echo 2147483647 >/proc/fs/cifs/rdma_readwrite_threshold
}

# Back to cifs.ko's default (tests share one VM: leave it as found).
cifs_default_io() {
	modprobe cifs || return 1
	echo "$CIFS_DEFAULT_THRESHOLD" >/proc/fs/cifs/rdma_readwrite_threshold
}

# At a test's end (test_teardown): the default again if the test changed
# it. Without cifs.ko loaded there is nothing to restore.
cifs_io_restore() {
	local f=/proc/fs/cifs/rdma_readwrite_threshold
	[ -w "$f" ] || return 0
	[ "$(cat "$f")" = "$CIFS_DEFAULT_THRESHOLD" ] ||
		echo "$CIFS_DEFAULT_THRESHOLD" >"$f"
}

# Inline I/O only (see above); for tests of the transport itself.
smbd_env_mount_rdma_inline() {
	local mnt=$1 opts=${2:-}
	SMBD_ENV_CACHE=strict smbd_env_mount "$mnt" \
		"rdma,$CIFS_INLINE_OPTS${opts:+,$opts}"
}

# The Linux client's defaults: every I/O of 4 KiB and more by RDMA.
smbd_env_mount_rdma() {
	local mnt=$1 opts=${2:-}
	smbd_env_mount "$mnt" "rdma${opts:+,$opts}"
}

# Wait until smbdirectd rewrites its status file: the counters read
# afterwards include everything done before the call. SIGUSR1 asks for
# the write at once; without it (not started here, or not yet writing
# its status) the daemon's own once-a-second write comes within 5 s.
# Only bash's builtins: every program started in the TCG VM costs a
# tenth of a second or more, and the tests read counters hundreds of
# times.
smbdirectd_env_status_fresh() {
	local now=${EPOCHREALTIME/[.,]/} _ w
	w=$(smbdirectd_env_counter written_usec)
	# (a daemon whose status has no written_usec would die of SIGUSR1)
	if [ -n "$SMBDIRECTD_ENV_PID" ] && [ -n "$w" ]; then
		kill -USR1 "$SMBDIRECTD_ENV_PID" 2>/dev/null
	fi
	for _ in {1..200}; do
		[ -n "$w" ] && [ "$w" -gt "$now" ] && return 0
		# a 25 ms sleep without starting a program: read from a pipe
		# nobody writes to, with a timeout
		read -r -t 0.025 <> <(:) || :
		w=$(smbdirectd_env_counter written_usec)
	done
	return 1
}

# One counter of smbdirectd's status file, daemon line (or conn line N).
smbdirectd_env_counter() {
	local name=$1 line=${2:-daemon} l w words
	while read -r l; do
		[[ $l == "$line "* ]] || continue
		read -r -a words <<<"$l"
		for w in "${words[@]}"; do
			if [[ $w == "$name="* ]]; then
				echo "${w#*=}"
				return 0
			fi
		done
		return 0
	done <"$SMBD_ENV_DIR/pid/smbdirectd.status" 2>/dev/null
}
