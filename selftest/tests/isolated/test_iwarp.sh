#!/bin/bash
#
# SMB Direct over iWARP, with Soft-iWARP (siw.ko, which Debian's kernel
# lacks: selftest/vm/prepare builds it from linux-source) on a second
# veth pair beside rxe0. What differs from RoCE:
# - iWARP shares TCP's port space, where 445 is smbd's: smbdirectd must
#   listen on 5445 only (with the default ports), and say so;
# - cifs.ko sends its 8-byte IRD/ORD private data with the connect
#   request on iWARP, which the accept must take;
# - the local sink of an RDMA READ (the pool, for an offloaded WRITE)
#   needs REMOTE_WRITE access on iWARP: offloaded WRITEs and READs move
#   data intact and are counted.
# The mount goes to the siw address; data of several sizes, offloaded
# both ways, intact through the mount and on disk; fio with verify.
#
# Its own VM (tests/isolated/): siw0 and the second veth pair stay in
# the kernel after it, and removing an RDMA link after cifs.ko mounts
# has hung here before (see test_device_removal.sh).
#
# Runs inside the test VM:
#   selftest/run-integration selftest/tests/isolated/test_iwarp.sh

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
test_begin

ip=10.78.0.1
mnt=$work/mnt

siw_active() {
	rdma link show siw0/1 2>/dev/null | grep -q 'state ACTIVE'
}

# --- Soft-iWARP on veth2 ------------------------------------------------------
if ! modprobe siw; then
	fail "modprobe siw (selftest/vm/prepare builds it into updates/)"
	summary
	exit
fi
pass "siw.ko loaded"
ip link add veth2 type veth peer name veth3 &&
	ip addr add "$ip/24" dev veth2 &&
	ip link set veth3 up && ip link set veth2 up &&
	rdma link add siw0 type siw netdev veth2 ||
	{ fail "siw0 on veth2 ($ip)"; summary; exit; }
for _ in $(seq 100); do siw_active && break; sleep 0.1; done
if siw_active; then
	pass "siw0 on veth2 ($ip) is ACTIVE, beside rxe0"
else
	fail "siw0 not ACTIVE: $(rdma link show 2>&1 | paste -sd '|')"
	summary
	exit
fi
check_output "libibverbs sees siw0 as an iWARP device" 'transport:[[:space:]]+iWARP' \
	ibv_devinfo -d siw0

smbd_env_init "$work/srv"
SMBD_ENV_GLOBAL_EXTRA="	interfaces = \"$ip;capability=RDMA,speed=10000000000\"
	bind interfaces only = no" \
	smbd_env_start "" || { fail "smbd starts"; summary; exit; }
# siw pins user memory against RLIMIT_MEMLOCK itself, CAP_IPC_LOCK or
# not (siw_umem_get): without a limit above the pool, as the systemd
# unit sets, the pool cannot be registered (smbdirectd(8), PRIVILEGES).
SMBDIRECTD_ENV_WRAPPER="prlimit --memlock=unlimited:unlimited" \
	smbdirectd_env_start || { fail "smbdirectd starts"; summary; exit; }
cifs_default_io
check_output "smbdirectd listens on $ip port 5445 (device siw0)" \
	"listening for SMB Direct on $ip port 5445 \\(device siw0\\)" smbdirectd_env_log
if smbdirectd_env_log | grep -q "on $ip port 445 "; then
	fail "smbdirectd listens on port 445 of an iWARP device (TCP's, smbd's)"
else
	pass "no port 445 on the iWARP device (TCP's port space: smbd's)"
fi
check_output "smbd's own TCP port 445 is untouched" ':445 ' ss -Hltn 'sport = :445'

# --- a mount over iWARP -------------------------------------------------------
# rsize/wsize below 1 MiB: siw allows 256 pages per fast registration,
# cifs.ko 6.1 then caps I/O at 256 pages (1 MiB) but needs 257 for a
# 1 MiB buffer that does not start on a page, and retries that forever
# ("smbd_register_mr: num_pages=257 max_frmr_depth=256", seen here).
IWARP_OPTS=rsize=1040384,wsize=1040384
if ! mkdir -p "$mnt" || ! mount -t cifs "//$ip/share" "$mnt" -o \
	"rdma,vers=3.1.1,username=$SMBD_ENV_USER,password=$SMBD_ENV_PASS,cache=none,$IWARP_OPTS"; then
	fail "mount -o rdma over siw0: $(dmesg | tail -3 | paste -sd '|')"
	echo "--- smbdirectd log"
	tail -20 "$SMBDIRECTD_ENV_LOG"
	summary
	exit
fi
pass "mount -t cifs -o rdma //$ip/share over iWARP (siw0)"
check_output "smbdirectd took the connection on siw0" \
	"RDMA peer $ip" smbdirectd_env_log
ok=1
for s in 1 4096 65537 1048576 8388608 12582917; do
	head -c "$s" /dev/urandom >"$work/src"
	timeout 60 cp "$work/src" "$mnt/f$s" || { ok=0; echo "cp of $s bytes failed"; break; }
	timeout 60 cmp -s "$work/src" "$mnt/f$s" || { ok=0; echo "read of $s bytes failed"; break; }
	cmp -s "$work/src" "$SMBD_ENV_DIR/share/f$s" || ok=0
done
if [ "$ok" = 1 ]; then
	pass "1 B to 12 MiB written and read back over iWARP, intact on disk"
else
	fail "data differs over iWARP"
	echo "--- smbdirectd log"; tail -40 "$SMBDIRECTD_ENV_LOG"
	echo "--- dmesg"; dmesg | grep -v smbd_register_mr | tail -10
	summary
	exit
fi
if timeout 300 fio --name=verify --directory="$mnt" --size=8m --numjobs=2 \
	--rw=randwrite --bsrange=4k-1m --ioengine=psync --direct=1 \
	--verify=crc32c --verify_fatal=1 --do_verify=1 \
	--group_reporting >"$work/fio.out" 2>&1; then
	pass "fio randwrite+verify over iWARP, 2 jobs, 4 KiB-1 MiB"
else
	fail "fio verify over iWARP: $(tail -3 "$work/fio.out" | paste -sd '|')"
fi
smbdirectd_env_status_fresh
w=$(smbdirectd_env_counter offload_write_bytes)
r=$(smbdirectd_env_counter offload_read_bytes)
f=$(smbdirectd_env_counter offload_failures)
if [ "${w:-0}" -gt 0 ] && [ "${r:-0}" -gt 0 ] && [ "${f:-1}" = 0 ]; then
	pass "offload over iWARP: RDMA READ into the pool ($w bytes, REMOTE_WRITE sinks) and RDMA WRITE ($r bytes), no failure"
else
	fail "offload over iWARP: write ${w:-?}, read ${r:-?}, failures ${f:-?}"
fi
if umount "$mnt"; then
	pass "umount"
else
	fail "umount"
fi
check "smbdirectd still running" smbdirectd_env_alive
summary
