# shellcheck shell=bash
# The distro's smbd, privately configured (sourced by bench/system.sh after
# lib.sh, with SAMBA_MODE set):
#   SAMBA_MODE=ours       smbd + `vfs objects = smbdirect` + smbdirectd,
#                         mounted with -o rdma (cifs.ko defaults: READ/WRITE
#                         of 4 KiB and more by RDMA, which smbdirectd
#                         carries out), smbd's own I/O defaults: every
#                         READ/WRITE goes to the module's async helpers,
#                         which read and write the pool slot (the zero-copy
#                         link's asynchronous way, vfs_smbdirect(8))
#   SAMBA_MODE=ours-copy  the same smb.conf plus `smbdirect:zero copy = no`
#                         in [global]: the only difference is the zero-copy
#                         link (payloads go pool <-> loopback TCP <-> smbd
#                         <-> the helpers' own buffers <-> file)
#   SAMBA_MODE=ours-sendfile  the zero-copy link's synchronous way: the
#                         share with `use sendfile = yes` and `aio read size
#                         = 0`, [global] `min receivefile size = 4095` (smbd
#                         hands a WRITE larger than that to recvfile, and
#                         cifs.ko offloads from 4096 bytes on)
#   SAMBA_MODE=ours-threads  ours with `smbdirect:async io = smbd` in the
#                         share: smbd's own thread pool does the async I/O,
#                         into and from the pool slots (no helper processes)
#   SAMBA_MODE=ours-plain smbd + smbdirectd without the module: smbd's own
#                         async I/O (its thread pool) into its own buffers,
#                         every payload through loopback TCP; ours less
#                         ours-plain is what the module costs or saves,
#                         ours-plain less tcp what the relay hop and the
#                         RDMA transport cost (issue #14)
#   SAMBA_MODE=tcp        the same smbd without the module and with smbd's
#                         I/O defaults, mounted over TCP: what a Samba user
#                         has today
# All with log level 0, the share on the same tmpfs.
#
# Implements: server_start, server_mount, server_stop, server_roots,
# server_cpu (which cpu-snapshot field is the server), server_save DIR.

SAMBA_DIR=$BENCH_WORK/samba-$SAMBA_MODE
SMBDIRECTD_PID=

case $SAMBA_MODE in
ours)	server_label="smbd $(smbd --version | cut -d' ' -f2) + smbdirectd + vfs_smbdirect over SMB Direct, zero-copy link (async)"
	server_rdma=1 ;;
ours-copy)
	server_label="smbd $(smbd --version | cut -d' ' -f2) + smbdirectd + vfs_smbdirect over SMB Direct, smbdirect:zero copy = no"
	server_rdma=1 ;;
ours-sendfile)
	server_label="smbd $(smbd --version | cut -d' ' -f2) + smbdirectd + vfs_smbdirect over SMB Direct, zero copy through sendfile/recvfile"
	server_rdma=1 ;;
ours-threads)
	server_label="smbd $(smbd --version | cut -d' ' -f2) + smbdirectd + vfs_smbdirect over SMB Direct, zero-copy link (async, smbd's threads)"
	server_rdma=1 ;;
ours-plain)
	server_label="smbd $(smbd --version | cut -d' ' -f2) + smbdirectd over SMB Direct, without vfs_smbdirect"
	server_rdma=1 ;;
tcp)	server_label="smbd $(smbd --version | cut -d' ' -f2) over TCP"
	server_rdma=0 ;;
*)	echo "bench: error: SAMBA_MODE must be ours, ours-copy, ours-sendfile, ours-threads, ours-plain or tcp" >&2; exit 1 ;;
esac
server_cpu=tree

# The smb.conf every private smbd of this project gets, with smbd's
# defaults otherwise (selftest/private_smbd_conf.sh), and the RDMA
# interfaces lines the tests use (smbd_env_rdma_globals).
# shellcheck source=../selftest/tests/smbd_env.sh
. "$BENCH_HERE/../selftest/tests/smbd_env.sh"
samba_conf() {
	local global='' share=''
	global=$(smbd_env_rdma_globals "$BENCH_IP")
	if [ "$server_rdma" = 1 ] && [ "$SAMBA_MODE" != ours-plain ]; then
		share="	vfs objects = smbdirect"
	fi
	if [ "$SAMBA_MODE" = ours-copy ]; then
		global="$global
	smbdirect:zero copy = no"
	fi
	if [ "$SAMBA_MODE" = ours-threads ]; then
		share="$share
	smbdirect:async io = smbd"
	fi
	if [ "$SAMBA_MODE" = ours-sendfile ]; then
		global="$global
	min receivefile size = 4095"
		share="$share
	use sendfile = yes
	aio read size = 0"
	fi
	private_smbd_conf "$SAMBA_DIR" log_level=0 share_path="$BENCH_SHARE" \
		global="$global" share="$share"
}

server_start() {
	local d=$SAMBA_DIR
	rm -rf "$d"	# fresh state for every run (the last one's logs are saved)
	private_smbd_dirs "$d"
	samba_conf >"$d/smb.conf"
	if [ "$server_rdma" = 1 ]; then
		local mods
		mods=$(smbd -b | sed -n 's/^ *MODULESDIR: //p')
		# The VM's / is an overlay with a tmpfs on top: this stays in the VM.
		mkdir -p "$mods/vfs" && install -m 0644 "$BENCH_BIN/smbdirect.so" "$mods/vfs/smbdirect.so" ||
			{ echo "cannot install smbdirect.so into $mods/vfs"; return 1; }
	fi
	wait_for 15 tcp_free 445 || { echo "TCP port 445 still in use: $(ss -Hltnp 'sport = :445')"; return 1; }
	printf '%s\n%s\n' "$BENCH_PASS" "$BENCH_PASS" |
		smbpasswd -c "$d/smb.conf" -s -a "$BENCH_USER" >"$d/log/smbpasswd.out" 2>&1 ||
		{ echo "smbpasswd failed: $(tail -n 2 "$d/log/smbpasswd.out")"; return 1; }
	smbd -s "$d/smb.conf" -D || { echo "smbd -D failed"; return 1; }
	wait_for 30 tcp_listening 445 ||
		{ echo "smbd does not listen on 445: $(tail -n 5 "$d/log/log.smbd" 2>/dev/null)"; return 1; }
	[ "$server_rdma" = 1 ] || return 0

	"$BENCH_BIN/smbdirectd" -s "$d/smb.conf" -F --debug-stdout -d 1 \
		>"$d/log/smbdirectd.out" 2>&1 &
	SMBDIRECTD_PID=$!
	wait_for 20 grep -q "listening for SMB Direct" "$d/log/smbdirectd.out" ||
		{ echo "smbdirectd does not listen: $(tail -n 5 "$d/log/smbdirectd.out")"; return 1; }
}

server_mount() {
	local rdma=
	[ "$server_rdma" = 1 ] && rdma=rdma,
	mount -t cifs "//$BENCH_IP/share" "$BENCH_MNT" \
		-o "${rdma}vers=3.1.1,username=$BENCH_USER,password=$BENCH_PASS,cache=none"
}

smbd_pid() { cat "$SAMBA_DIR/pid/smbd.pid" 2>/dev/null; }

# samba_zero_copy_link: "attached" or "no" (smbdirectd's status file, of the
# client's connection), "none" without a connection in it
samba_zero_copy_link() {
	local s
	s=$(sed -n 's/^conn .* zero_copy=\([a-z]*\) .*/\1/p' "$SAMBA_DIR/pid/smbdirectd.status" 2>/dev/null | sort -u | paste -sd,)
	echo "${s:-none}"
}

server_roots() { echo "$(smbd_pid) $SMBDIRECTD_PID"; }

server_save() {
	cp -r "$SAMBA_DIR/log/." "$SAMBA_DIR/smb.conf" "$1/" 2>/dev/null
	[ -z "$SMBDIRECTD_PID" ] || cp "$SAMBA_DIR/pid/smbdirectd.status" "$1/" 2>/dev/null
	return 0
}

server_stop() {
	local rc=0 pid
	if [ -n "$SMBDIRECTD_PID" ]; then
		kill -TERM "$SMBDIRECTD_PID" 2>/dev/null
		reap 15 "$SMBDIRECTD_PID"
		SMBDIRECTD_PID=
	fi
	pid=$(smbd_pid)
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		wait_for 15 bash -c "! kill -0 $pid" || { kill -KILL "$pid"; rc=1; }
	fi
	wait_for 10 tcp_free 445 || rc=1
	return $rc
}
