#!/bin/bash
#
# Prepare the Samba source tree that matches the installed smbd, so that
# vfs_smbdirect and smbdirectd can be compiled against it.
#
#   build/samba-tree.sh          prepare (if needed) and print the tree's path
#
# Steps, each cached under $SMBDIRECT_CACHE/samba/<debian version>/ with a
# stamp so that a second run costs nothing:
#   1. check that the installed Samba is one this project was prepared for;
#   2. fetch the source of exactly that Debian version (apt-get source,
#      adding a deb-src entry if the machine has none);
#   3. configure it minimally with Debian's paths and vendor suffix (the
#      suffix is part of the symbol versions smbd checks when it loads a
#      module, see ../shared/notes/samba-4.17.md);
#   4. generate the headers the module and the daemon include (IDL, param,
#      ntstatus/werror, prototypes): no Samba library is compiled.

set -euo pipefail

# The Samba releases whose VFS interface this project is written for.
# vfs_smbdirect.c checks SMB_VFS_INTERFACE_VERSION at compile time too.
SUPPORTED_SERIES="4.17"
RECIPE=3 # bump when configure options or generated targets change

CACHE="${SMBDIRECT_CACHE:-/var/cache/smbdirect}"
MULTIARCH="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null ||
	echo x86_64-linux-gnu)"
say() { echo "samba-tree: $*" >&2; }
die() {
	echo "samba-tree: ERROR: $*" >&2
	exit 1
}

if ! command -v smbd >/dev/null; then
	die "smbd is not installed; run 'make deps' (apt-get install samba)"
fi

# "Version 4.17.12-Debian" -> 4.17.12 and Debian
smbd_version="$(smbd --version | sed -n 's/^Version //p')"
upstream="${smbd_version%%-*}"
vendor=""
case "$smbd_version" in
*-*) vendor="${smbd_version#*-}" ;;
esac
series="$(echo "$upstream" | cut -d. -f1,2)"
deb_version="$(dpkg-query -W -f '${Version}' samba)"

supported=no
for s in $SUPPORTED_SERIES; do
	[ "$s" = "$series" ] && supported=yes
done
if [ "$supported" != yes ]; then
	die "the installed smbd is Samba $smbd_version (package $deb_version),
but vfs_smbdirect was prepared for Samba $SUPPORTED_SERIES only (VFS
interface 47). A module built against another series would be refused by
smbd or, worse, misread its structures. Port the module first (see
README.md, 'Porting to another Samba')."
fi

top="$CACHE/samba/$(echo "$deb_version" | tr ":~" "__")"
src="$top/src"
mkdir -p "$top"

# Samba's waf must run with the system Python, not a pyenv/venv one.
waf_env=(env PATH=/usr/sbin:/usr/bin:/sbin:/bin PYTHON=/usr/bin/python3
	PYTHONHASHSEED=1 WAF_MAKE=1)
waf() { (cd "$src" && "${waf_env[@]}" /usr/bin/python3 buildtools/bin/waf "$@"); }

ensure_deb_src() {
	if grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list \
		/etc/apt/sources.list.d/; then
		return 0
	fi
	[ "$(id -u)" = 0 ] || die "no deb-src entry in APT's sources; as root,
add one for the Debian mirror (or run this as root and it will)"
	say "adding a deb-src entry for the configured Debian mirror"
	local f=/etc/apt/sources.list.d/debian.sources
	if [ -f "$f" ]; then
		sed -e 's/^Types: deb$/Types: deb-src/' "$f" \
			>/etc/apt/sources.list.d/smbdirect-deb-src.sources
	else
		grep -hE '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' \
			>/etc/apt/sources.list.d/smbdirect-deb-src.list
	fi
	apt-get update -qq
}

fetch() {
	[ -f "$top/.fetched" ] && return 0
	ensure_deb_src
	say "fetching the source of samba $deb_version (apt-get source)"
	rm -rf "$top/dl" "$src"
	mkdir -p "$top/dl"
	if ! (cd "$top/dl" && apt-get source --download-only \
		"samba=$deb_version" >/dev/null 2>"$top/dl/apt.err"); then
		apt-get update -qq
		(cd "$top/dl" && apt-get source --download-only \
			"samba=$deb_version" >/dev/null 2>"$top/dl/apt.err") ||
			die "apt-get source samba=$deb_version failed:
$(cat "$top/dl/apt.err")
The mirror must still carry the source of the installed version."
	fi
	say "unpacking and applying Debian's patches"
	dpkg-source -x "$top"/dl/samba_*.dsc "$src" >"$top/unpack.log" 2>&1 ||
		die "dpkg-source -x failed; see $top/unpack.log"
	local have
	have="$(. <(grep -E '^SAMBA_VERSION_(MAJOR|MINOR|RELEASE)=' \
		"$src/VERSION") && echo "$SAMBA_VERSION_MAJOR.$SAMBA_VERSION_MINOR.$SAMBA_VERSION_RELEASE")"
	[ "$have" = "$upstream" ] ||
		die "the source is Samba $have but smbd is $upstream"
	# As debian/rules does: the suffix ends up in every symbol version.
	sed -i "s/^SAMBA_VERSION_VENDOR_SUFFIX=.*/SAMBA_VERSION_VENDOR_SUFFIX=$vendor/" \
		"$src/VERSION"
	touch "$top/.fetched"
}

configure() {
	if [ "$(cat "$top/.configured" 2>/dev/null)" = "$RECIPE" ]; then
		return 0
	fi
	say "configuring (about a minute; log: $top/configure.log)"
	local libdir="/usr/lib/$MULTIARCH"
	if ! (cd "$src" && "${waf_env[@]}" ./configure \
		--prefix=/usr --enable-fhs --sysconfdir=/etc \
		--localstatedir=/var --libdir="$libdir" \
		--with-modulesdir="$libdir/samba" \
		--with-privatedir=/var/lib/samba/private \
		--with-smbpasswd-file=/etc/samba/smbpasswd \
		--with-piddir=/run/samba --with-lockdir=/run/samba \
		--with-statedir=/var/lib/samba --with-cachedir=/var/cache/samba \
		--disable-rpath --disable-rpath-install --without-ad-dc \
		--disable-python --without-json --without-ads --without-ldap \
		--without-pam --without-systemd --without-libarchive \
		--disable-cups --disable-iprint --without-gpgme --disable-avahi \
		--disable-glusterfs --disable-cephfs --disable-spotlight \
		--without-lttng --without-winbind --without-quotas \
		--without-utmp --without-automount --without-regedit \
		--without-fam --without-ldb-lmdb --with-profiling-data \
		--with-shared-modules='!DEFAULT,vfs_smbdirect' \
		>"$top/configure.log" 2>&1); then
		tail -20 "$top/configure.log" >&2
		die "configure failed; see $top/configure.log (a missing -dev
package? 'make deps' installs the known ones)"
	fi
	rm -f "$top/.headers"
	echo "$RECIPE" >"$top/.configured"
}

headers() {
	if [ "$(cat "$top/.headers" 2>/dev/null)" = "$RECIPE" ]; then
		return 0
	fi
	say "generating headers (IDL, param, errors, prototypes; about 40 s)"
	local targets
	waf list >"$top/targets.txt" 2>"$top/headers.log" ||
		die "waf list failed; see $top/headers.log"
	# PIDL_* generate the NDR headers; *proto.h are autoprotos; the rest
	# are the generators behind param and the NTSTATUS/WERROR tables.
	targets="$(
		{
			grep -E '^PIDL_' "$top/targets.txt"
			grep -E 'proto\.h *$' "$top/targets.txt" | grep -v '^\.\./'
			printf '%s\n' ntstatus_generated werror_generated \
				param_functions.c param_functions.h param_global.h \
				param_local.h param_table_gen.c s3_param_proto_h
		} | tr -d ' ' | paste -sd, -
	)"
	if ! waf build --targets="$targets" >>"$top/headers.log" 2>&1; then
		tail -20 "$top/headers.log" >&2
		die "generating headers failed; see $top/headers.log"
	fi
	echo "$RECIPE" >"$top/.headers"
}

fetch
configure
headers
echo "$src"
