# shellcheck shell=bash
# The smb.conf of a private instance of the distro's smbd, written in one
# place for the tests (selftest/tests/smbd_env.sh), the package test
# (selftest/test-package.sh) and the benchmark (bench/server-samba.sh).
# Sourced, not run.
#
#   private_smbd_dirs DIR             create DIR's state directories
#   private_smbd_conf DIR [NAME=VALUE...]
#
# private_smbd_conf prints an smb.conf whose locks, state, caches,
# passdb, pid files, ncalrpc sockets and logs live in DIR (lock state
# cache private pid ncalrpc log), with one share, [share]. NAME=VALUE:
#   port=445              smb ports
#   interfaces=lo         interfaces, as smb.conf spells them
#   bind_only=yes         bind interfaces only
#   log_level=3           log level
#   share_path=DIR/share  the share's path
#   global=LINES          more [global] lines (later lines win)
#   share=LINES           more [share] lines

private_smbd_dirs() {
	mkdir -p "$1"/{share,lock,state,cache,private,log,pid,ncalrpc}
}

private_smbd_conf() {
	local d=$1 kv port=445 interfaces=lo bind_only=yes log_level=3
	local share_path=$1/share global='' share=''
	shift
	for kv in "$@"; do
		case $kv in
		port=*) port=${kv#*=} ;;
		interfaces=*) interfaces=${kv#*=} ;;
		bind_only=*) bind_only=${kv#*=} ;;
		log_level=*) log_level=${kv#*=} ;;
		share_path=*) share_path=${kv#*=} ;;
		global=*) global=${kv#*=} ;;
		share=*) share=${kv#*=} ;;
		*)
			echo "private_smbd_conf: unknown setting $kv" >&2
			return 1
			;;
		esac
	done
	cat <<EOF
[global]
	server role = standalone server
	interfaces = $interfaces
	bind interfaces only = $bind_only
	smb ports = $port
	disable netbios = yes
	server min protocol = SMB3
	lock directory = $d/lock
	state directory = $d/state
	cache directory = $d/cache
	private dir = $d/private
	pid directory = $d/pid
	ncalrpc dir = $d/ncalrpc
	log file = $d/log/log.%m
	max log size = 0
	log level = $log_level
	passdb backend = tdbsam:$d/private/passdb.tdb
	load printers = no
	printing = bsd
	printcap name = /dev/null
	disable spoolss = yes
${global}

[share]
	path = $share_path
	read only = no
${share}
EOF
}
