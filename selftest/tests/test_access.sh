#!/bin/bash
#
# smbd sees every relayed connection as 127.0.0.1, which "hosts allow"
# always admits, so smbdirectd must apply the [global] hosts allow/deny to
# the real RDMA peer itself. A denied peer is refused (and logged) while
# the daemon goes on; an allowed one gets in, over IPv4 and IPv6.
#
# Runs inside the test VM: selftest/run-integration selftest/tests/test_access.sh

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
test_begin

mnt=$work/m

ip6=${SMBDIRECT_VM_IP6:-fd77::1}
modprobe cifs

# run_with HOSTS_LINE: smbd + smbdirectd with that [global] line.
run_with() {
	smbdirectd_env_stop
	smbd_env_stop
	smbd_env_init "$work/srv"
	SMBD_ENV_GLOBAL_EXTRA="$(smbd_env_rdma_globals "$SMBDIRECT_VM_IP" "$ip6")
	$1" smbd_env_start "" && smbdirectd_env_start
}

# 1. The client's address is denied.
if run_with "hosts deny = $SMBDIRECT_VM_IP"; then
	if smbd_env_mount_rdma "$mnt" 2>/dev/null; then
		fail "a denied peer could mount"
		umount "$mnt"
	else
		pass "a peer in hosts deny cannot mount over RDMA"
	fi
	check_output "smbdirectd logged the refusal" \
		"refusing SMB Direct connection from $SMBDIRECT_VM_IP:[0-9]+: denied" \
		smbdirectd_env_log
	check "smbdirectd goes on after refusing" smbdirectd_env_alive
else
	fail "smbd and smbdirectd start with hosts deny"
fi

# 2. Only another network is allowed.
if run_with "hosts allow = 192.0.2.0/24"; then
	if smbd_env_mount_rdma "$mnt" 2>/dev/null; then
		fail "a peer outside hosts allow could mount"
		umount "$mnt"
	else
		pass "a peer outside hosts allow cannot mount over RDMA"
	fi
	check_output "smbdirectd logged that refusal too" \
		"refusing SMB Direct connection from $SMBDIRECT_VM_IP:[0-9]+: denied" \
		smbdirectd_env_log
else
	fail "smbd and smbdirectd start with hosts allow"
fi

# 3. Allowed, over IPv4 and IPv6.
if run_with "hosts allow = $SMBDIRECT_VM_IP $ip6 127.0.0.1 ::1"; then
	if smbd_env_mount_rdma "$mnt"; then
		echo allowed >"$mnt/a" && [ "$(cat "$SMBD_ENV_DIR/share/a")" = allowed ]
		check "an allowed IPv4 peer mounts and writes" test $? -eq 0
		umount "$mnt"
	else
		fail "an allowed IPv4 peer cannot mount"
	fi
	mkdir -p "$mnt"
	# mount.cifs does not parse a bracketed literal: name + ip=
	if mount -t cifs "//smbdirect-vm6/share" "$mnt" -o "ip=$ip6,rdma,vers=3.1.1,username=$SMBD_ENV_USER,password=$SMBD_ENV_PASS,cache=none"; then
		check_output "an allowed IPv6 peer mounts over RDMA" "^allowed$" \
			cat "$mnt/a"
		umount "$mnt"
	else
		fail "mount over RDMA to [$ip6]: $(dmesg | tail -2 | paste -sd '|')"
	fi
	check_output "smbdirectd listened on IPv6" \
		"listening for SMB Direct on $ip6 port 5445" smbdirectd_env_log
	check_output "smbdirectd relayed an IPv6 RDMA peer" \
		"RDMA peer \\[$ip6\\]:[0-9]+ is relayed" smbdirectd_env_log
else
	fail "smbd and smbdirectd start with hosts allow"
fi
summary
