#!/bin/bash
#
# Signed and encrypted sessions over SMB Direct (issue #12, 4). Windows
# 11 24H2 and Server 2025 sign every session and then send READ/WRITE
# data inline (no RDMA channel, KB4458042); cifs.ko does the same. So a
# signed or encrypted session must work with every byte inline, and
# smbdirectd must pass the signed and encrypted messages through
# untouched (a rewritten message would lose its signature).
#
# smbd has "server signing = mandatory". Cases, each a fresh mount with
# -o rdma (and a multichannel one): sign on 3.1.1 (AES-128-CMAC), seal
# (SMB3 encryption), and sign on a session with 2 bound RDMA channels;
# with SMBDIRECT_TEST_LONG (make check-long) also sign on 3.0 (the 3.0
# key derivation) and sign with cifs.ko's signing negotiate context
# (enable_negotiate_signing=1). Each:
# smbstatus shows the session signed/encrypted with the algorithm, data
# of several sizes intact through the mount and on disk, no RDMA
# offload (cifs.ko sends inline on such sessions), no signature errors
# in smbd's log, smbdirectd relayed without refusing anything.
#
# AES-128-GMAC signing: cifs.ko 6.1 offers only AES-CMAC in its signing
# context (build_signing_ctxt: "TBD add SIGNING_ALG_AES_GMAC"), so no
# real client here can negotiate GMAC; the unit tests cover it.
#
# Writes stay at one page (wsize=4096, cache=strict): cifs.ko 6.1's
# smbd_send() corrupts inline writes of several pages (see
# smbdirectd_env.sh), and signed sessions always write inline.
#
# Runs inside the test VM: selftest/run-integration selftest/tests/test_signed_sessions.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

ip=${SMBDIRECT_VM_IP:-10.77.0.1}
mnt=$work/mnt
# cifs.ko's signing negotiate context off again (its default), once the
# mount is gone; the tests after this one share the module.
test_cleanup_stopped() {
	[ -w /sys/module/cifs/parameters/enable_negotiate_signing ] &&
		echo N >/sys/module/cifs/parameters/enable_negotiate_signing
	return 0
}

SIZES="1 4096 65537 1048577"

counter_sum() {
	echo $(($(smbdirectd_env_counter offload_write_bytes) + \
		$(smbdirectd_env_counter offload_read_bytes)))
}

# smbstatus's session line of this instance's only session
session_line() {
	smbstatus -s "$SMBD_ENV_CONF" -b 2>/dev/null | grep -E '^[0-9]+ +root'
}

# one_case NAME MOUNT_OPTS SIGNING_RE ENCRYPTION_RE [CHANNELS]
one_case() {
	local name=$1 opts=$2 sign_re=$3 enc_re=$4 channels=${5:-1}
	local before after s ok=1 line
	smbdirectd_env_status_fresh
	before=$(counter_sum)
	if ! SMBD_ENV_CACHE=strict smbd_env_mount "$mnt" \
		"rdma,$CIFS_INLINE_OPTS,$opts"; then
		fail "$name: mount -o rdma,$opts: $(dmesg | tail -3 | paste -sd '|')"
		return
	fi
	pass "$name: mount -o rdma,$opts"
	if [ "$channels" -gt 1 ]; then
		local i
		for i in $(seq 60); do
			grep -q "Extra Channels: $((channels - 1))" \
				/proc/fs/cifs/DebugData && break
			sleep 0.5
		done
		check_output "$name: $((channels - 1)) extra RDMA channel bound to the signed session" \
			"Extra Channels: $((channels - 1))" cat /proc/fs/cifs/DebugData
	fi
	line=$(session_line)
	if grep -qE -- "$sign_re" <<<"$line" && grep -qE -- "$enc_re" <<<"$line"; then
		pass "$name: smbstatus: $(tr -s ' ' <<<"$line" | cut -d' ' -f5-)"
	else
		fail "$name: smbstatus session line [$line] lacks /$sign_re/ or /$enc_re/"
	fi
	for s in $SIZES; do
		head -c "$s" /dev/urandom >"$work/src"
		if ! cp "$work/src" "$mnt/f$s" || ! sync -f "$mnt/f$s"; then
			ok=0
			fail "$name: write $s bytes"
			continue
		fi
		# drop the client's cache so that the read goes to the server
		echo 3 >/proc/sys/vm/drop_caches
		cmp -s "$work/src" "$mnt/f$s" || { ok=0; fail "$name: $s bytes read back differ"; }
		cmp -s "$work/src" "$SMBD_ENV_DIR/share/f$s" || { ok=0; fail "$name: $s bytes on disk differ"; }
	done
	[ "$ok" = 1 ] && pass "$name: $SIZES bytes intact through the mount and on disk"
	umount "$mnt" || { fail "$name: umount"; umount -f "$mnt"; }
	rm -f "$SMBD_ENV_DIR"/share/f*
	smbdirectd_env_status_fresh
	after=$(counter_sum)
	if [ "$before" = "$after" ]; then
		pass "$name: no RDMA offload (every byte inline, as clients do on such sessions)"
	else
		fail "$name: $((after - before)) bytes went by RDMA offload"
	fi
}

smbd_env_init "$work/srv"
SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals --multichannel "$ip")
	server signing = mandatory
	server min protocol = SMB3_00" \
	smbd_env_start "" || { fail "smbd starts"; summary; exit; }
smbdirectd_env_start || { fail "smbdirectd starts"; summary; exit; }
cifs_default_io

one_case "3.1.1 signed" "sign" 'AES-128-CMAC' '-'
if [ -n "${SMBDIRECT_TEST_LONG:-}" ]; then
	one_case "3.0 signed" "sign,vers=3.0" 'AES-128-CMAC' '-'
	if [ -w /sys/module/cifs/parameters/enable_negotiate_signing ]; then
		echo Y >/sys/module/cifs/parameters/enable_negotiate_signing
		one_case "3.1.1 signed, signing negotiate context" "sign" \
			'AES-128-CMAC' '-'
		echo N >/sys/module/cifs/parameters/enable_negotiate_signing
	else
		fail "cifs.ko has no writable enable_negotiate_signing parameter"
	fi
else
	echo "NOTE: 3.0 and the signing negotiate context run with make check-long"
fi
echo "NOTE: AES-128-GMAC signing cannot be negotiated by cifs.ko 6.1 (it offers only AES-CMAC); covered by unit tests"
one_case "3.1.1 encrypted" "seal" '.' 'AES-(128|256)-(GCM|CCM)'
one_case "3.1.1 signed, 2 channels" "sign,multichannel,max_channels=2" \
	'AES-128-CMAC' '-' 2

if smbd_env_logs | grep -iE "bad (SMB2 )?signature|signature check failed|NT_STATUS_ACCESS_DENIED.*sign" >"$work/sigerr"; then
	fail "smbd logged signature errors: $(head -3 "$work/sigerr" | paste -sd '|')"
else
	pass "smbd logged no signature errors"
fi
smbdirectd_env_status_fresh
check_output "smbdirectd counted no error on any of these connections" \
	'^0$' smbdirectd_env_counter errors
check "smbdirectd still running" smbdirectd_env_alive
summary
