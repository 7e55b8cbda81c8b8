#!/bin/bash
#
# The distro's smbd loads vfs_smbdirect, as built by "make" (fast build
# against the installed libraries) and by "make waf" (Samba's in-tree
# build), and the Linux kernel client copies files through a share that
# uses it, over TCP, with the data intact (the builds of
# SMBDIRECT_TEST_BUILDS, default both).
#
# Runs inside the test VM: selftest/vm/run selftest/tests/test_module_load.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

mnt=$work/mnt

# Sizes around the boundaries that matter to SMB2 (credits, 64 KiB, 1 MiB
# I/O units) and one large file.
SIZES="0 1 4095 4096 65537 1048577 16777216"

make_inputs() {
	local s
	mkdir -p "$work/in"
	for s in $SIZES; do
		head -c "$s" /dev/urandom >"$work/in/f$s"
	done
}

# copy_through BUILD: write every input into the share and read it back.
copy_through() {
	local build=$1 s a b
	for s in $SIZES; do
		if ! cp "$work/in/f$s" "$mnt/f$s"; then
			fail "$build: copy of $s bytes into the share"
			continue
		fi
		# Read back through the client (cache=none: from the server)
		# and compare with what smbd wrote to disk.
		a=$(sha256sum <"$work/in/f$s")
		b=$(sha256sum <"$mnt/f$s")
		if [ "$a" != "$b" ]; then
			fail "$build: $s bytes read back differ"
			continue
		fi
		b=$(sha256sum <"$SMBD_ENV_DIR/share/f$s")
		if [ "$a" != "$b" ]; then
			fail "$build: $s bytes on the server's disk differ"
			continue
		fi
		pass "$build: $s bytes written and read back intact"
	done
}

run_build() {
	local build=$1 so=$2

	if [ ! -f "$so" ]; then
		fail "$build: $so is missing (run 'make' and 'make waf' first)"
		return
	fi
	smbd_env_init "$work/$build"
	smbd_env_install_module "$so"
	if ! smbd_env_start "	vfs objects = smbdirect"; then
		fail "$build: smbd starts with vfs objects = smbdirect"
		return
	fi
	if ! smbd_env_mount "$mnt"; then
		fail "$build: mount -t cifs over TCP"
		smbd_env_stop
		return
	fi
	pass "$build: cifs.ko mounted the share over TCP"

	copy_through "$build"

	# The tree connect went through the module: its own log line, and
	# no "vfs module ... failed" line from smbd.
	if smbd_env_logs | grep -q "connected to share \[share\]"; then
		pass "$build: smbd loaded vfs_smbdirect (module's log line)"
	else
		fail "$build: no 'connected to share [share]' in smbd's log"
	fi
	if smbd_env_logs | grep -qiE "(vfs|module).*(fail|not found)"; then
		fail "$build: smbd logged a module error: $(smbd_env_logs |
			grep -iE '(vfs|module).*(fail|not found)' | head -1)"
	else
		pass "$build: no module error in smbd's log"
	fi

	umount "$mnt" || fail "$build: umount"
	smbd_env_stop
}

make_inputs
for b in $(t_builds); do
	run_build "$b" "$(t_build_dir "$b")/smbdirect.so"
done
summary
