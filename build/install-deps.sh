#!/bin/bash
#
# Install the Debian packages a part of the project needs, if missing.
#
#   build/install-deps.sh build|test|all
#
# Idempotent and quiet when everything is already there, so that every
# make target can call it. Needs root (apt-get) only when something is
# missing; the error then says which packages to install by hand.

set -euo pipefail

# Building vfs_smbdirect.so and smbdirectd against the distro's Samba:
# samba itself (we build against the installed libraries), what a minimal
# configure of the matching Samba source needs to generate its headers,
# rdma-core, cmocka for the unit tests, the DocBook tool chain for the
# man pages and debhelper for the Debian package (make deb).
BUILD_PKGS="
	build-essential pkg-config dpkg-dev rsync python3 xz-utils
	samba samba-vfs-modules smbclient
	bison flex perl libparse-yapp-perl libjson-perl
	libtalloc-dev libtevent-dev libtdb-dev libpopt-dev libacl1-dev
	libkeyutils-dev libgnutls28-dev zlib1g-dev libbsd-dev libcap-dev
	libtasn1-6-dev libtasn1-bin libcmocka-dev
	libibverbs-dev librdmacm-dev
	xsltproc docbook-xsl docbook-xml man-db
	debhelper
"

# Running the tests: the client side and the Soft-RoCE VM
# (selftest/vm/prepare installs the VM's own packages).
TEST_PKGS="
	cifs-utils fio attr acl clang libclang-rt-14-dev valgrind jq
	rdma-core ibverbs-providers ibverbs-utils rdmacm-utils
"

case "${1:-all}" in
build) want="$BUILD_PKGS" ;;
test) want="$TEST_PKGS" ;;
all) want="$BUILD_PKGS $TEST_PKGS" ;;
*)
	echo "usage: $0 build|test|all" >&2
	exit 2
	;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run as root, or: apt-get install$missing" >&2
	exit 1
fi

echo "deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the list is intended
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done" >&2
