#!/bin/bash
#
# The main job, end to end, inside the Soft-RoCE VM ("make demo"):
# the distro's smbd serves a share through vfs_smbdirect, smbdirectd
# listens on the VM's RDMA device, and the Linux kernel's SMB Direct client
# (mount -o rdma, default settings) moves real data through it, the
# payloads by RDMA READ/WRITE. Every step says what it shows.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/tests/smbd_env.sh"
. "$here/tests/smbdirectd_env.sh"

step() { printf '\n==> %s\n' "$*"; }

work=$(mktemp -d /tmp/demo.XXXXXX)
mnt=$work/mnt
cleanup() {
	umount -f "$mnt" 2>/dev/null || true
	smbdirectd_env_stop
	smbd_env_stop
}
trap cleanup EXIT

step "RDMA devices in this VM (smbdirectd --list-devices)"
"$repo/out/smbdirectd" --list-devices

step "smbd $(smbd --version | cut -d' ' -f2) with vfs objects = smbdirect and the zero-copy settings"
smbd_env_init "$work/srv"
smbd_env_install_module "$repo/out/smbdirect.so"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals)
	min receivefile size = 16384" \
	smbd_env_start "	vfs objects = smbdirect
	use sendfile = yes
	aio read size = 0"
echo "smbd pid $(smbd_env_pid), listening on 127.0.0.1:445 only;" \
	"share at $SMBD_ENV_DIR/share"

step "smbdirectd with the same smb.conf (listens on $SMBDIRECT_VM_IP:5445)"
SMBDIRECTD_ENV_DEBUG=1 smbdirectd_env_start
grep -E "listening|found|offload pool" "$SMBDIRECTD_ENV_LOG"

step "mount -t cifs //$SMBDIRECT_VM_IP/share -o rdma (kernel SMB Direct client)"
modprobe cifs
smbd_env_mount_rdma "$mnt"
grep -iE "SMBDirect|RDMA" /proc/fs/cifs/DebugData | head -6 || true

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

step "smbdirectd --status: the payloads went by RDMA"
sleep 1.5 # the status file is rewritten every second
"$repo/out/smbdirectd" -s "$SMBD_ENV_CONF" --status

step "unmount, stop smbdirectd (SIGTERM)"
umount "$mnt"
smbdirectd_env_stop
grep -E "relayed to smbd|stopped|connections:" "$SMBDIRECTD_ENV_LOG" | tail -3
echo
echo "demo: done"
