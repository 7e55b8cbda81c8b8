#!/bin/bash
#
# Every "smbdirect:" option the code reads is documented in a man page,
# and every option a man page documents is read by the code.
#
#   selftest/check-manpage-options.sh      (from make check-unit)

set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1

# In the code: parm_uint("NAME", ...) in smbdirectd_config.c (its PARM is
# "smbdirect") and lp_parm_*(..., PARM or "smbdirect", "NAME", ...).
code=$(
	{
		grep -ohE 'parm_uint\("[^"]+"' \
			source3/modules/smbdirect_helper/smbdirectd_config.c |
			sed -E 's/parm_uint\("([^"]+)"/\1/'
		grep -ohE '(PARM|"smbdirect"),[[:space:]]*"[^"]+"' \
			source3/modules/vfs_smbdirect.c \
			source3/modules/smbdirect_helper/*.c |
			sed -E 's/.*,[[:space:]]*"([^"]+)"/\1/'
	} | sort -u
)
docs=$(grep -ohE 'smbdirect:[a-z][a-z ]*[a-z] =' manpages/*.xml |
	sed -E 's/smbdirect:(.*) =/\1/' | sort -u)

passed=0
failed=0
while IFS= read -r opt; do
	[ -n "$opt" ] || continue
	if grep -qxF "$opt" <<<"$docs"; then
		passed=$((passed + 1))
	else
		echo "FAIL: smbdirect:$opt is read by the code but in no man page"
		failed=$((failed + 1))
	fi
done <<<"$code"
while IFS= read -r opt; do
	[ -n "$opt" ] || continue
	if ! grep -qxF "$opt" <<<"$code"; then
		echo "FAIL: smbdirect:$opt is documented but no code reads it"
		failed=$((failed + 1))
	fi
done <<<"$docs"
echo "man page options: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
