#!/bin/bash
#
# Samba's official in-tree build of vfs_smbdirect and smbdirectd.
#
#   build/waf-build.sh SAMBA_TREE OUTDIR
#
# Copies the overlay (source3/) into the prepared Samba tree, makes
# source3/modules/wscript_build recurse into smbdirect_helper/, and asks
# waf for the two targets. waf first compiles the Samba libraries the
# module links to (a few minutes, once; later runs are incremental).
# The results land in OUTDIR as smbdirect.so and smbdirectd.

set -euo pipefail

src="${1:?usage: $0 SAMBA_TREE OUTDIR}"
mkdir -p "${2:?usage: $0 SAMBA_TREE OUTDIR}"
outdir="$(cd "$2" && pwd)"
here="$(cd "$(dirname "$0")/.." && pwd)"
say() { echo "waf-build: $*" >&2; }
die() {
	echo "waf-build: ERROR: $*" >&2
	exit 1
}

[ -f "$src/buildtools/bin/waf" ] || die "$src is not a prepared Samba tree"

say "copying the overlay into $src"
rsync -a --checksum "$here/source3/" "$src/source3/"
# Our own folder exactly as in the overlay: a file moved or removed here
# must not linger in the tree (a stale header would shadow the new one).
rsync -a --checksum --delete "$here/source3/modules/smbdirect_helper/" \
	"$src/source3/modules/smbdirect_helper/"

wb="$src/source3/modules/wscript_build"
if ! grep -q "RECURSE('smbdirect_helper')" "$wb"; then
	printf "\nbld.RECURSE('smbdirect_helper')\n" >>"$wb"
fi

log="$outdir/waf-build.log"
mkdir -p "$outdir"
say "waf build --targets=vfs_smbdirect,smbdirectd (log: $log;" \
	"several minutes the first time)"
if ! (cd "$src" && env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	PYTHON=/usr/bin/python3 PYTHONHASHSEED=1 WAF_MAKE=1 \
	/usr/bin/python3 buildtools/bin/waf build \
	--targets=vfs_smbdirect,smbdirectd -j"$(nproc)" \
	>"$log" 2>&1); then
	tail -30 "$log" >&2
	die "the waf build failed; see $log"
fi

b="$src/bin/default/source3/modules"
cp "$b/smbdirect_helper/libvfs_module_smbdirect.so" "$outdir/smbdirect.so" ||
	die "waf did not produce libvfs_module_smbdirect.so"
cp "$b/smbdirect_helper/smbdirectd" "$outdir/smbdirectd" ||
	die "waf did not produce smbdirectd"
say "built: $outdir/smbdirect.so $outdir/smbdirectd"
