# shellcheck shell=bash
# ksmbd, the kernel's SMB server, with SMB Direct: the peer (sourced by
# bench/system.sh after lib.sh).  ksmbd.ko is the one selftest/vm/prepare
# --ksmbd rebuilt with CONFIG_SMB_SERVER_SMBDIRECT and two fixes;
# ksmbd-tools is unpacked in the cache, never installed (it conflicts with
# samba).  Its defaults, except the share and the user.
#
# Implements: server_start, server_mount, server_stop, server_roots,
# server_cpu (which cpu-snapshot field is the server), server_save DIR.

KSMBD_TOOLS=${SMBDIRECT_CACHE:-/var/cache/smbdirect}/vm/$(uname -r)/ksmbd-tools/usr/sbin
KSMBD_DIR=$BENCH_WORK/ksmbd

server_label="ksmbd (kernel SMB server) over SMB Direct"
server_rdma=1

server_start() {
	[ -x "$KSMBD_TOOLS/ksmbd.mountd" ] ||
		{ echo "no ksmbd-tools in $KSMBD_TOOLS (run selftest/vm/prepare --ksmbd)"; return 1; }
	wait_for 15 tcp_free 445 || { echo "TCP port 445 still in use: $(ss -Hltnp 'sport = :445')"; return 1; }
	modprobe ksmbd || { echo "modprobe ksmbd failed (run selftest/vm/prepare --ksmbd)"; return 1; }
	local ko
	ko=$(modinfo -F filename ksmbd)
	case $ko in */updates/*) ;; *) echo "ksmbd.ko is $ko, not the rebuilt one with SMB Direct"; return 1 ;; esac
	rm -rf "$KSMBD_DIR"	# a fresh user database for every run
	mkdir -p "$KSMBD_DIR"
	cat >"$KSMBD_DIR/ksmbd.conf" <<EOF
[global]
	bind interfaces only = no
[share]
	path = $BENCH_SHARE
	read only = no
EOF
	"$KSMBD_TOOLS/ksmbd.adduser" -a "$BENCH_USER" -p "$BENCH_PASS" \
		-c "$KSMBD_DIR/ksmbd.conf" -i "$KSMBD_DIR/users.db" >"$KSMBD_DIR/adduser.out" 2>&1 ||
		{ echo "ksmbd.adduser failed: $(tail -n 2 "$KSMBD_DIR/adduser.out")"; return 1; }
	"$KSMBD_TOOLS/ksmbd.mountd" -c "$KSMBD_DIR/ksmbd.conf" -u "$KSMBD_DIR/users.db" \
		>"$KSMBD_DIR/mountd.out" 2>&1 ||
		{ echo "ksmbd.mountd failed: $(tail -n 2 "$KSMBD_DIR/mountd.out")"; return 1; }
	wait_for 20 tcp_listening 445 || { echo "ksmbd does not listen on TCP 445"; return 1; }
	# Its SMB Direct listener is a kernel thread of its own.
	wait_for 10 pgrep -x ksmbd-smb_direc >/dev/null ||
		{ echo "ksmbd has no SMB Direct listener (ksmbd.ko without SMB Direct?)"; return 1; }
}

server_mount() {
	mount -t cifs "//$BENCH_IP/share" "$BENCH_MNT" \
		-o "rdma,vers=3.1.1,username=$BENCH_USER,password=$BENCH_PASS,cache=none"
}

server_roots() { :; }
server_cpu=ksmbd

server_save() {
	cp "$KSMBD_DIR"/*.out "$KSMBD_DIR/ksmbd.conf" "$1/" 2>/dev/null
	return 0
}

server_stop() {
	"$KSMBD_TOOLS/ksmbd.control" -s >"$KSMBD_DIR/control.out" 2>&1
	local i
	for i in $(seq 50); do
		rmmod ksmbd 2>/dev/null && break
		sleep 0.2
	done
	if lsmod | grep -q '^ksmbd '; then
		echo "ksmbd.ko would not unload"
		return 1
	fi
	wait_for 10 tcp_free 445
}
