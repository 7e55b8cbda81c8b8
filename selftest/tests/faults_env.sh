# shellcheck shell=bash disable=SC2154 # repo, work: set by test_begin
# Helpers for the fault and resource tests (sourced by "test_begin
# --faults"; not a test itself).
#
#   bg, killer               the test's background I/O job and the job
#                            that kills something in the middle of it:
#                            faults_cleanup (run by test_teardown before
#                            anything else) kills both
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
#   kill_helpers_during_copies FILE MNT
#                            copies both ways while vfs_smbdirect's
#                            helpers are killed; results in kh_*

bg=
killer=
# The background jobs go first: a dd left running would hold a mount
# that the teardown then could not unmount.
faults_cleanup() {
	local p
	for p in ${killer:-} ${bg:-}; do
		# disown: no "Killed" notice from bash after the summary line
		disown "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	return 0
}

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

# kill_helpers_during_copies FILE MNT: write FILE to MNT (conv=fsync) and
# read it back, again and again, while the vfs_smbdirect helpers
# (smbdirect-io) that are busy (running or in the kernel: a request, not
# waiting for one) are killed, checked every 10-90 ms; until a killed
# helper has failed a request of smbd's (and at least two rounds ran),
# or 180 s. (Killing idle helpers too, 60 s once hit nothing in a TCG VM
# on a loaded host: the helpers work a small part of each round.) Each
# copy that reports success is compared with the file on the server.
# Sets kh_rounds (write+read rounds), kh_ok, kh_bad (copies
# that succeeded but differ), kh_hung (copies killed after 60 s), kh_hit
# (requests smbd reported failed during a helper's death) and kh_kills.
# shellcheck disable=SC2034 # kh_*: the results, for the caller
kill_helpers_during_copies() {
	local src=$1 mnt=$2 want fail_before t0 i=0 srv
	want=$(sha "$src")
	fail_before=$(smbd_env_logs | grep -c "failed during a")
	kh_ok=0 kh_bad=0 kh_hung=0 kh_hit=0
	: >"$work/kills"
	rm -f "$work/stop"
	(
		while [ ! -e "$work/stop" ]; do
			for p in $(pgrep -x smbdirect-io); do
				# state: the field after "(comm)" in /proc/PID/stat
				read -r _ _ st _ <"/proc/$p/stat" 2>/dev/null ||
					continue
				case $st in
				R | D) kill -9 "$p" 2>/dev/null &&
					echo x >>"$work/kills" ;;
				esac
			done
			read -r -t "0.0$((RANDOM % 9 + 1))" <> <(:) || :
		done
	) &
	killer=$!
	t0=$SECONDS
	while [ $((SECONDS - t0)) -lt 180 ]; do
		i=$((i + 1))
		srv=$SMBD_ENV_DIR/share/h$i
		if timeout 60 dd if="$src" of="$mnt/h$i" bs=4M conv=fsync \
			status=none 2>/dev/null; then
			echo 3 >/proc/sys/vm/drop_caches
			if [ "$(sha "$srv")" = "$want" ]; then
				kh_ok=$((kh_ok + 1))
			else
				kh_bad=$((kh_bad + 1))
			fi
		else
			[ $? -eq 124 ] && kh_hung=$((kh_hung + 1))
		fi
		if timeout 60 dd if="$mnt/h$i" of="$work/hcopy" bs=4M \
			status=none 2>/dev/null; then
			if [ "$(sha "$work/hcopy")" = "$(sha "$srv")" ]; then
				kh_ok=$((kh_ok + 1))
			else
				kh_bad=$((kh_bad + 1))
			fi
		else
			[ $? -eq 124 ] && kh_hung=$((kh_hung + 1))
		fi
		rm -f "$mnt/h$i" "$work/hcopy"
		kh_hit=$(($(smbd_env_logs | grep -c "failed during a") -
			fail_before))
		[ "$kh_hit" -ge 1 ] && [ "$i" -ge 2 ] && break
	done
	touch "$work/stop"
	wait "$killer"
	killer=
	kh_rounds=$i
	kh_kills=$(wc -l <"$work/kills")
}
