# Helpers for the fault and resource tests (sourced after lib.sh,
# smbd_env.sh and smbdirectd_env.sh; not a test itself).
#
#   sd_json JQ_EXPR          a value from smbdirectd --status --json
#   sd_kill9                 kill -9 the smbdirectd of smbdirectd_env_start
#   sd_restart               start it again (the old log is kept as .N)
#   probe_io MNT LIMIT TAG   a 1 MiB write + read back on MNT (RDMA offload
#                            with cifs.ko's defaults), retried for up to
#                            LIMIT s; prints the seconds it took
#   fd_pos PID FD            file position of a process's descriptor
#   wait_fd_pos PID FD MIN T until PID's FD is at MIN bytes or more (T s)
#   sha FILE                 sha256 of a file (empty when unreadable)
#   big_file PATH MIB        MIB MiB of random data

sd_json() {
	"$repo/out/smbdirectd" -s "$SMBD_ENV_CONF" --status --json 2>/dev/null |
		jq -r "$1" 2>/dev/null
}

# Wait (up to $2 s, default 5) until the status file says jq $1 is true.
sd_wait_json() {
	local i
	for i in $(seq $((${2:-5} * 5))); do
		[ "$(sd_json "$1")" = true ] && return 0
		sleep 0.2
	done
	return 1
}

SD_GENERATION=0
sd_kill9() {
	local pid=$SMBDIRECTD_ENV_PID
	[ -n "$pid" ] || return 1
	kill -KILL "$pid" || return 1
	wait "$pid" 2>/dev/null
	SMBDIRECTD_ENV_PID=
	return 0
}

sd_restart() {
	SD_GENERATION=$((SD_GENERATION + 1))
	mv "$SMBDIRECTD_ENV_LOG" "$SMBDIRECTD_ENV_LOG.$SD_GENERATION" 2>/dev/null
	smbdirectd_env_start
}

sha() {
	dd if="$1" bs=4M status=none 2>/dev/null | sha256sum | cut -d' ' -f1
}

big_file() {
	head -c $(($2 << 20)) /dev/urandom >"$1"
}

probe_io() {
	local mnt=$1 limit=$2 tag=$3 t0=$SECONDS src
	src=$work/probe.$tag
	[ -f "$src" ] || head -c 1048576 /dev/urandom >"$src"
	while [ $((SECONDS - t0)) -lt "$limit" ]; do
		if timeout 60 dd if="$src" of="$mnt/probe.$tag" bs=1M \
			conv=fsync status=none 2>/dev/null &&
			[ "$(timeout 60 dd if="$mnt/probe.$tag" bs=1M \
				status=none 2>/dev/null | sha256sum |
				cut -d' ' -f1)" = "$(sha "$src")" ]; then
			echo $((SECONDS - t0))
			return 0
		fi
		sleep 1
	done
	echo "$limit"
	return 1
}

fd_pos() {
	sed -n 's/^pos:[[:space:]]*//p' "/proc/$1/fdinfo/$2" 2>/dev/null
}

wait_fd_pos() {
	local pid=$1 fd=$2 min=$3 t=$4 i p
	for i in $(seq $((t * 20))); do
		kill -0 "$pid" 2>/dev/null || return 1
		p=$(fd_pos "$pid" "$fd")
		[ "${p:-0}" -ge "$min" ] && return 0
		sleep 0.05
	done
	return 1
}

# bg_wait PID LIMIT: wait up to LIMIT s for a background job; its exit
# status, or 124 when it had to be killed.
bg_wait() {
	local pid=$1 limit=$2 i
	for i in $(seq $((limit * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid"
}
