# shellcheck shell=bash
# Shared by selftest/vm/prepare, run and the helpers they call (sourced, not run).
# Paths, messages, and how the guest kernel version is chosen.

# Bump when the way the cache is built changes: every step rebuilds then.
VM_RECIPE=1

VM_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_CACHE_ROOT=${SMBDIRECT_CACHE:-/var/cache/smbdirect}/vm

vm_log() { printf 'vm: %s\n' "$*" >&2; }
vm_die() { printf 'vm: error: %s\n' "$*" >&2; exit 1; }

# Installed-state check that is fast enough for every run (no apt-cache).
vm_missing_pkgs() {
	local ok
	ok=$(dpkg-query -W -f='${db:Status-Abbrev}${Package}\n' "$@" 2>/dev/null | sed -n 's/^ii //p' || true)
	printf '%s\n' "$@" | grep -vxF -e "${ok:-//}" || true
}

# The guest kernel is the one Debian's linux-image-amd64 points at, e.g.
# 6.1.0-56-amd64, plus its package version (a rebuild can keep the ABI name).
# apt-cache costs ~0.5 s per call here (no pkgcache.bin), so the answer is
# memoised against the signature of the apt lists: warm runs stay instant.
# Prints "KVER IMAGE_VERSION". SMBDIRECT_VM_KVER forces a version.
vm_resolve_kernel() {
	local sig memo kver ver
	sig=$(stat -c '%n %s %Y' /var/lib/apt/lists/*Packages* 2>/dev/null | md5sum | cut -c1-32)
	memo=$VM_CACHE_ROOT/kernel-choice
	if [ -z "${SMBDIRECT_VM_KVER:-}" ] && [ -r "$memo" ] &&
	   [ "$(head -n1 "$memo")" = "$sig" ]; then
		sed -n 2p "$memo"
		return
	fi
	kver=${SMBDIRECT_VM_KVER:-$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\(.*\)$/\1/p' | head -n1)}
	[ -n "$kver" ] || return 1
	ver=$(apt-cache show --no-all-versions "linux-image-$kver" 2>/dev/null |
		sed -n 's/^Version: //p' | head -n1)
	[ -n "$ver" ] || return 1
	if [ -z "${SMBDIRECT_VM_KVER:-}" ]; then	# best effort: may be read-only
		(mkdir -p "$VM_CACHE_ROOT" && printf '%s\n%s %s\n' "$sig" "$kver" "$ver" \
			>"$memo.$$" && mv "$memo.$$" "$memo") 2>/dev/null || rm -f "$memo.$$"
	fi
	printf '%s %s\n' "$kver" "$ver"
}
