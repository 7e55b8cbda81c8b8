# A private instance of the distro's smbd for one test (sourced, not run).
#
#   smbd_env_init DIR          config, share, user under DIR (a fresh tmp dir)
#   smbd_env_install_module SO put a vfs_smbdirect build where smbd looks
#   smbd_env_start [LINES]     write smb.conf (LINES go into [share]), start
#   smbd_env_stop
#   smbd_env_mount MNT [OPTS]  mount the share with cifs.ko
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

smbd_env_start() {
	local share_lines=${1:-}
	local d=$SMBD_ENV_DIR

	private_smbd_conf "$d" interfaces="lo ${SMBDIRECT_VM_IP:-127.0.0.1}" \
		global="${SMBD_ENV_GLOBAL_EXTRA:-}" share="$share_lines" \
		>"$SMBD_ENV_CONF" || return 1
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
