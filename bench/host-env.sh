#!/bin/bash
# bench/host-env.sh REPO BINDIR: the host side of the report's header, as
# KEY=VALUE lines (what machine, which accelerator, which versions).
set -uo pipefail
repo=$1 bindir=$2

pkg() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo none; }

echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
echo "host_kernel=$(uname -r)"
echo "host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo "host_cpus=$(nproc)"
echo "host_mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)"
# The same choice selftest/vm/run makes.
if [ ! -e /sys/module/kvm_pvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	echo "accel=KVM"
elif [ -e /sys/module/kvm_pvm ]; then
	echo "accel=TCG (multi-threaded; /dev/kvm is nested PVM, which stock kernels do not boot on)"
else
	echo "accel=TCG (multi-threaded; no usable /dev/kvm)"
fi
echo "qemu=$(pkg qemu-system-x86)"
echo "samba=$(pkg samba)"
echo "fio=$(pkg fio)"
echo "perftest=$(pkg perftest)"
vmc=${SMBDIRECT_CACHE:-/var/cache/smbdirect}/vm
kver=$(cat "$vmc/current" 2>/dev/null)
# selftest/vm remembers which linux-image (never installed here) it unpacked.
echo "guest_kernel_pkg=$(sed -n 2p "$vmc/kernel-choice" 2>/dev/null | cut -d' ' -f2)"
echo "linux_source=$(pkg "linux-source-$(echo "$kver" | cut -d. -f1,2)")"
echo "ksmbd_tools=$(cat "$vmc/$kver/ksmbd-tools/VERSION" 2>/dev/null || echo none)"
rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$repo" diff --quiet HEAD -- source3 2>/dev/null || rev="$rev+uncommitted"
echo "vfs_smbdirect=$rev"
echo "smbdirectd_sha256=$(sha256sum "$bindir/smbdirectd" | cut -c1-12)"
echo "smbdirect_so_sha256=$(sha256sum "$bindir/smbdirect.so" | cut -c1-12)"
