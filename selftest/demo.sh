#!/bin/bash
#
# The main job, end to end, inside the Soft-RoCE VM ("make demo"):
# the distro's smbd serves a share through vfs_smbdirect, smbdirectd runs
# beside it on the VM's RDMA device, and the Linux kernel client moves
# real data through the share. Every step says what it shows.
#
# Until the SMB Direct transport lands, the client mounts over TCP; the
# RDMA side shows smbdirectd finding and holding the rxe0 device.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/tests/smbd_env.sh"

step() { printf '\n==> %s\n' "$*"; }

work=$(mktemp -d /tmp/demo.XXXXXX)
mnt=$work/mnt
daemon_pid=
cleanup() {
	umount -f "$mnt" 2>/dev/null || true
	[ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null
	smbd_env_stop
}
trap cleanup EXIT

step "RDMA devices in this VM (smbdirectd --list-devices)"
"$repo/out/smbdirectd" --list-devices

step "smbd $(smbd --version | cut -d' ' -f2) with vfs objects = smbdirect"
smbd_env_init "$work/srv"
smbd_env_install_module "$repo/out/smbdirect.so"
SMBD_ENV_GLOBAL_EXTRA="	interfaces = lo \"$SMBDIRECT_VM_IP;capability=RDMA\"" \
	smbd_env_start "	vfs objects = smbdirect"
echo "smbd pid $(smbd_env_pid), share at $SMBD_ENV_DIR/share"

step "smbdirectd with the same smb.conf"
"$repo/out/smbdirectd" -s "$SMBD_ENV_CONF" -F --debug-stdout -d 1 \
	>"$work/smbdirectd.log" 2>&1 &
daemon_pid=$!
sleep 1
cat "$work/smbdirectd.log"

step "mount -t cifs //$SMBDIRECT_VM_IP/share (kernel client, TCP for now)"
smbd_env_mount "$mnt"
grep -E "^[0-9]+\) ConnectionId|Number of credits|RDMA|TCP" \
	/proc/fs/cifs/DebugData | head -8 || true

step "write and read back 64 MiB through the share"
head -c $((64 << 20)) /dev/urandom >"$work/data"
t0=$(date +%s.%N)
cp "$work/data" "$mnt/data"
t1=$(date +%s.%N)
cmp "$work/data" "$mnt/data"
t2=$(date +%s.%N)
awk -v t0="$t0" -v t1="$t1" -v t2="$t2" \
	'BEGIN { printf "write %.1f MB/s, read %.1f MB/s, data identical\n",
		 64 * 1.048576 / (t1 - t0), 64 * 1.048576 / (t2 - t1) }'

step "smbd's log: the share went through vfs_smbdirect"
smbd_env_logs | grep "connected to share" | head -3

step "stop smbdirectd (SIGTERM)"
kill -TERM "$daemon_pid"
wait "$daemon_pid"
daemon_pid=
tail -2 "$work/smbdirectd.log"
echo
echo "demo: done"
