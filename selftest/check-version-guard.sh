#!/bin/bash
#
# A build against a Samba series the project was not prepared for must
# stop with a clear message instead of producing a module smbd refuses.
# build/samba-tree.sh is run with a stand-in smbd that claims 4.18.
#
#   selftest/check-version-guard.sh      (from make check-unit)

set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT

cat >"$fake/smbd" <<'EOS'
#!/bin/sh
echo "Version 4.18.9-Debian"
EOS
chmod +x "$fake/smbd"

passed=0
failed=0
out=$(PATH="$fake:$PATH" SMBDIRECT_CACHE="$fake/cache" \
	"$repo/build/samba-tree.sh" 2>&1)
rc=$?
if [ $rc -ne 0 ] &&
	grep -q "prepared for Samba 4.17 only" <<<"$out" &&
	grep -q "4.18.9-Debian" <<<"$out" &&
	[ ! -e "$fake/cache/samba" ]; then
	echo "PASS: samba-tree.sh refuses Samba 4.18 before fetching anything"
	passed=$((passed + 1))
else
	echo "FAIL: samba-tree.sh with smbd 4.18 (exit $rc): $out"
	failed=$((failed + 1))
fi

# The module itself refuses another VFS interface at compile time.
if grep -q "^#if SMB_VFS_INTERFACE_VERSION != 47" \
	"$repo/source3/modules/vfs_smbdirect.c"; then
	echo "PASS: vfs_smbdirect.c checks SMB_VFS_INTERFACE_VERSION"
	passed=$((passed + 1))
else
	echo "FAIL: vfs_smbdirect.c lost its interface version check"
	failed=$((failed + 1))
fi
echo "version guard: $passed passed, $failed failed"
[ $failed -eq 0 ]
