#!/bin/bash
#
# The Debian package, as an administrator gets it: build it ("make deb"),
# install it with apt on this machine, check what it installed (module,
# daemon, man pages, systemd unit), that the distro's smbd loads the
# installed module, then remove and purge it and check nothing is left.
# Also "make install" / "make uninstall" into a scratch DESTDIR.
#
#   selftest/test-package.sh [--no-build]    (as root, on the host)
#
# --no-build installs the package already in out/deb/. This replaces any
# installed samba-vfs-smbdirect and purges it at the end: run it where that
# is fine (CI, a test machine). Prints PASS:/FAIL: lines and ends with
# "N passed, N failed"; exits non-zero on any failure.

set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=tests/lib.sh
. "$here/tests/lib.sh"
# shellcheck source=private_smbd_conf.sh
. "$here/private_smbd_conf.sh"

# A list on one line, for messages.
oneline() { tr -s ' \t\n' '   ' <<<"$1" | sed 's/^ //;s/ $//'; }

PKG=samba-vfs-smbdirect
OUT=${OUT:-out}
build=1
case ${1:-} in
--no-build) build=0 ;;
"") ;;
*)
	sed -n '9,14s/^# \{0,1\}//p' "$0" >&2
	exit 2
	;;
esac

if [ "$(id -u)" != 0 ]; then
	echo "FAIL: $(basename "$0") installs a package: run it as root"
	echo "0 passed, 1 failed"
	exit 1
fi

cd "$repo" || exit 1
work=$(mktemp -d /tmp/test-package.XXXXXX)
smbd_pid=
installed_by_us=0
cleanup() {
	if [ -n "$smbd_pid" ]; then
		kill -TERM "$smbd_pid" 2>/dev/null
		sleep 0.5
		kill -KILL "$smbd_pid" 2>/dev/null
	fi
	# Leave the machine as we found it, even after a failure.
	if [ "$installed_by_us" = 1 ] && dpkg -s "$PKG" >/dev/null 2>&1; then
		dpkg -P "$PKG" >/dev/null 2>&1
	fi
	rm -rf "$work"
}
trap cleanup EXIT

modulesdir=$(smbd -b | sed -n 's/^ *MODULESDIR: //p')
samba_version=$(dpkg-query -W -f '${Version}' samba)
# Everything the package puts on the system (dh adds the rest of the
# documentation directory).
pkg_files="
	$modulesdir/vfs/smbdirect.so
	/usr/sbin/smbdirectd
	/lib/systemd/system/smbdirectd.service
	/usr/share/man/man8/smbdirectd.8.gz
	/usr/share/man/man8/vfs_smbdirect.8.gz
	/usr/share/doc/$PKG/copyright
	/usr/share/doc/$PKG/examples/smb.conf.example
"

# --- debian/control agrees with build/install-deps.sh ---------------------
# (the build runs install-deps.sh, which fails without root when one of its
# packages is missing, so Build-Depends must name all of them)
build_pkgs=$(sed -n '/^BUILD_PKGS="/,/^"/p' build/install-deps.sh |
	sed '1d;$d' | tr -s ' \t' '\n' | grep -v '^$' |
	grep -vx build-essential | sort -u)
build_deps=$(sed -n '/^Build-Depends:/,/^[A-Z]/p' debian/control |
	sed '$d;s/^Build-Depends://' | tr ',' '\n' |
	sed 's/(.*)//;s/^[[:space:]]*//;s/[[:space:]]*$//' | grep -v '^$' |
	grep -vx debhelper-compat | sort -u)
# debhelper is what debhelper-compat stands for. (Files, not <(...):
# where /dev/fd is missing comm failed and the check passed on nothing.)
echo "$build_pkgs" >"$work/build_pkgs"
echo "$build_deps" >"$work/build_deps"
missing=$(grep -vx debhelper "$work/build_pkgs" |
	comm -23 - "$work/build_deps")
extra=$(comm -13 "$work/build_pkgs" "$work/build_deps")
if [ -z "$build_pkgs" ] || [ -z "$build_deps" ]; then
	fail "no BUILD_PKGS or no Build-Depends found"
elif [ -z "$missing$extra" ]; then
	pass "debian/control Build-Depends = BUILD_PKGS of build/install-deps.sh"
else
	fail "Build-Depends and BUILD_PKGS differ: missing [$(oneline "$missing")] extra [$(oneline "$extra")]"
fi

# --- make install / make uninstall into a scratch DESTDIR ------------------
dest=$work/destdir
mkdir -p "$dest"
expect=$(printf '%s\n' \
	"$modulesdir/vfs/smbdirect.so" /usr/sbin/smbdirectd \
	/usr/share/man/man8/smbdirectd.8 /usr/share/man/man8/vfs_smbdirect.8 \
	/lib/systemd/system/smbdirectd.service \
	/usr/share/doc/$PKG/examples/smb.conf.example | sort)
if make --no-print-directory install DESTDIR="$dest" >"$work/install.log" 2>&1; then
	got=$(cd "$dest" && find . -type f -o -type l | sed 's/^\.//' | sort)
	if [ "$got" = "$expect" ]; then
		pass "make install DESTDIR: module, daemon, man pages, unit, example"
	else
		fail "make install DESTDIR installed: $(oneline "$got") (expected: $(oneline "$expect"))"
	fi
	if grep -qx 'ExecStart=/usr/sbin/smbdirectd .*' \
		"$dest/lib/systemd/system/smbdirectd.service"; then
		pass "make install: the unit starts /usr/sbin/smbdirectd"
	else
		fail "make install: the unit's ExecStart is not /usr/sbin/smbdirectd"
	fi
else
	fail "make install DESTDIR=$dest: $(t_tail "$(cat "$work/install.log")")"
fi
if make --no-print-directory uninstall DESTDIR="$dest" >"$work/uninstall.log" 2>&1; then
	left=$(cd "$dest" && find . -type f -o -type l)
	if [ -z "$left" ]; then
		pass "make uninstall DESTDIR: no file left"
	else
		fail "make uninstall DESTDIR left: $(oneline "$left")"
	fi
else
	fail "make uninstall DESTDIR=$dest: $(t_tail "$(cat "$work/uninstall.log")")"
fi

# --- build ------------------------------------------------------------------
if [ "$build" = 1 ]; then
	if make --no-print-directory deb >"$work/deb.log" 2>&1; then
		pass "make deb"
	else
		fail "make deb: $(t_tail "$(cat "$work/deb.log")")"
		cp "$work/deb.log" /tmp/test-package-deb.log 2>/dev/null &&
			echo "  (log: /tmp/test-package-deb.log)"
	fi
fi
deb=$(ls "$OUT"/deb/${PKG}_*.deb 2>/dev/null | tail -n 1)
if [ -z "$deb" ]; then
	fail "no $OUT/deb/${PKG}_*.deb"
	summary
	exit
fi
deb=$repo/$deb
pass "package: $(basename "$deb")"

# The package as built: exact samba dependency, its version carries samba's.
check_output "Depends: samba (= $samba_version)" \
	"(^|, )samba \(= $(sed 's/[.+]/\\&/g' <<<"$samba_version")\)(,|$)" \
	dpkg-deb -f "$deb" Depends
check_output "Depends: libibverbs1, librdmacm1, ibverbs-providers" \
	'libibverbs1.*librdmacm1|librdmacm1.*libibverbs1' dpkg-deb -f "$deb" Depends
version=$(dpkg-deb -f "$deb" Version)
tag=${samba_version#*:}
if [ "${version%+samba"${tag//-/.}"}" != "$version" ]; then
	pass "version $version carries samba's $samba_version"
else
	fail "version $version does not end in +samba${tag//-/.}"
fi

# Debian's checks, where lintian is installed (it is not a build dependency).
changes=$(ls "$repo/$OUT"/deb/${PKG}_*.changes 2>/dev/null | tail -n 1)
if ! command -v lintian >/dev/null; then
	echo "note: lintian is not installed: not run"
elif [ -n "$changes" ]; then
	check "lintian: no error or warning" lintian --fail-on error,warning "$changes"
fi

# --- install ------------------------------------------------------------------
if dpkg -s "$PKG" >/dev/null 2>&1; then
	echo "note: purging the $PKG already installed"
	dpkg -P "$PKG" >/dev/null 2>&1
fi
installed_by_us=1
if DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" \
	>"$work/apt-install.log" 2>&1; then
	pass "apt-get install $(basename "$deb")"
else
	fail "apt-get install: $(t_tail "$(cat "$work/apt-install.log")")"
	summary
	exit
fi

check_output "dpkg -s: install ok installed" '^Status: install ok installed$' \
	dpkg -s "$PKG"
for f in $pkg_files; do
	check_output "installed and owned by $PKG: $f" "^$PKG: " dpkg -S "$f"
done
if [ -f "$modulesdir/vfs/smbdirect.so" ]; then
	pass "module in MODULESDIR/vfs ($modulesdir/vfs/smbdirect.so)"
else
	fail "no $modulesdir/vfs/smbdirect.so"
fi

# --- the daemon ---------------------------------------------------------------
check_output "smbdirectd --help" '--list-devices' /usr/sbin/smbdirectd --help
check_output "smbdirectd -V is the installed Samba ($(smbd -V))" \
	"^$(smbd -V | sed 's/[.+]/\\&/g')\$" /usr/sbin/smbdirectd -V
out=$(/usr/sbin/smbdirectd --list-devices 2>&1)
rc=$?
if [ "$rc" = 2 ] && grep -q "no RDMA support" <<<"$out"; then
	pass "smbdirectd --list-devices: exit 2, no RDMA support on this machine"
elif [ "$rc" = 0 ] && [ -n "$out" ]; then
	pass "smbdirectd --list-devices: exit 0, $(head -n 1 <<<"$out")"
else
	fail "smbdirectd --list-devices: exit $rc: $(t_tail "$out")"
fi

# --- man pages ------------------------------------------------------------------
check_output "man -w smbdirectd vfs_smbdirect" \
	'man8/smbdirectd\.8\.gz .*man8/vfs_smbdirect\.8\.gz' \
	bash -c 'man -w smbdirectd vfs_smbdirect | paste -sd " "'
for page in smbdirectd vfs_smbdirect; do
	warnings=$(MANWIDTH=80 man --warnings "$page" 2>&1 >/dev/null)
	head=$(MANWIDTH=80 man "$page" 2>/dev/null | col -b | head -n 1)
	if [ -z "$warnings" ] && grep -q "^$(tr a-z A-Z <<<"$page")(8)" <<<"$head"; then
		pass "man $page renders without warnings"
	else
		fail "man $page: ${warnings:-first line: $head}"
	fi
done

# --- the systemd unit --------------------------------------------------------
unit=/lib/systemd/system/smbdirectd.service
if command -v systemd-analyze >/dev/null; then
	check "systemd-analyze verify smbdirectd.service" \
		bash -c "out=\$(systemd-analyze verify $unit 2>&1); echo \"\$out\"; [ -z \"\$out\" ]"
else
	# A syntax check: sections, Key=value lines, an absolute ExecStart.
	check "smbdirectd.service syntax (no systemd-analyze)" \
		awk '/^[ \t]*(#|;|$)/ { next }
			/^\[(Unit|Service|Install)\]$/ { s++; next }
			/^[A-Za-z]+=/ { next }
			{ print "bad line " NR ": " $0; bad = 1 }
			END { exit bad || s != 3 }' "$unit"
fi
for want in 'Type=notify' \
	'ExecStart=/usr/sbin/smbdirectd --daemon --foreground --no-process-group $SMBDIRECTDOPTIONS' \
	'After=.*smbd\.service' 'Restart=on-failure' 'LimitMEMLOCK=infinity' \
	'ExecReload=/bin/kill -HUP $MAINPID' 'EnvironmentFile=-/etc/default/samba'; do
	check_output "unit: $want" "^$(sed 's/\$/\\$/g' <<<"$want")\$" cat "$unit"
done
# Not enabled by the installation: the administrator enables it.
if [ -e /etc/systemd/system/multi-user.target.wants/smbdirectd.service ]; then
	fail "the package enabled smbdirectd.service"
else
	pass "smbdirectd.service not enabled by the installation"
fi

# --- the distro's smbd loads the installed module -----------------------------
# A private smbd on a free high port, its own directories, one share with
# vfs objects = smbdirect; smbclient writes and reads a file through it.
port=
for p in $(seq 44445 44545); do
	if [ -z "$(ss -Hltn "sport = :$p")" ]; then
		port=$p
		break
	fi
done
d=$work/smbd
private_smbd_dirs "$d"
private_smbd_conf "$d" port="$port" share="	vfs objects = smbdirect" \
	>"$d/smb.conf"
pw=smbdirect-test
smbd_ok=0
if printf '%s\n%s\n' "$pw" "$pw" |
	smbpasswd -c "$d/smb.conf" -s -a root >"$d/log/smbpasswd.out" 2>&1 &&
	smbd -s "$d/smb.conf" -D; then
	for _ in $(seq 100); do
		smbd_pid=$(cat "$d/pid/smbd.pid" 2>/dev/null)
		if [ -n "$smbd_pid" ] && [ -n "$(ss -Hltn "sport = :$port")" ]; then
			smbd_ok=1
			break
		fi
		sleep 0.1
	done
fi
if [ "$smbd_ok" = 1 ]; then
	pass "private smbd on port $port with vfs objects = smbdirect"
	head -c 1048577 /dev/urandom >"$work/in"
	check "smbclient put and get through the share" \
		smbclient "//127.0.0.1/share" -p "$port" -U "root%$pw" \
		-c "lcd $work; put in f; get f back"
	if cmp -s "$work/in" "$work/back" && cmp -s "$work/in" "$d/share/f"; then
		pass "1 MiB written and read back intact"
	else
		fail "the file read back (or on the server's disk) differs"
	fi
	if cat "$d"/log/log.* | grep -q "connected to share \[share\]"; then
		pass "smbd loaded the installed vfs_smbdirect (module's log line)"
	else
		fail "no 'connected to share [share]' in smbd's log"
	fi
	if cat "$d"/log/log.* | grep -qiE "(vfs|module).*(fail|not found)"; then
		fail "smbd logged a module error: $(cat "$d"/log/log.* |
			grep -iE '(vfs|module).*(fail|not found)' | head -n 1)"
	else
		pass "no module error in smbd's log"
	fi
	kill -TERM "$smbd_pid" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$smbd_pid" 2>/dev/null || break
		sleep 0.1
	done
	smbd_pid=
else
	fail "private smbd did not start: $(t_tail "$(cat "$d"/log/* 2>/dev/null)")"
fi

# --- remove, purge -------------------------------------------------------------
if DEBIAN_FRONTEND=noninteractive apt-get remove -y -q "$PKG" \
	>"$work/apt-remove.log" 2>&1; then
	pass "apt-get remove $PKG"
else
	fail "apt-get remove: $(t_tail "$(cat "$work/apt-remove.log")")"
fi
left=
for f in $pkg_files; do
	[ -e "$f" ] && left="$left $f"
done
if [ -z "$left" ]; then
	pass "removed: no file of the package left"
else
	fail "left after removal:$left"
fi
check "dpkg -P $PKG" dpkg -P "$PKG"
if dpkg -s "$PKG" >/dev/null 2>&1; then
	fail "dpkg -s still knows $PKG after the purge"
else
	pass "purged: dpkg -s no longer knows $PKG"
fi
if [ -e "/usr/share/doc/$PKG" ]; then
	fail "/usr/share/doc/$PKG is left"
else
	pass "no /usr/share/doc/$PKG left"
fi
installed_by_us=0

summary
