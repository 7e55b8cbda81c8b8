#!/bin/bash
# bench/deps.sh: install the Debian packages the benchmark needs, if missing.
# fio and perftest run inside the VM (which uses the host's /), jq builds
# the report, gnuplot-nox draws the chart (optional: without it, no PNG),
# strace counts smbdirectd's system calls (BENCH_STRACE=1).
set -euo pipefail

need=(fio perftest jq strace)
want=(gnuplot-nox)

installed() {
	dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=() optional=()
for p in "${need[@]}"; do installed "$p" || missing+=("$p"); done
for p in "${want[@]}"; do installed "$p" || optional+=("$p"); done
[ ${#missing[@]} -gt 0 ] || [ ${#optional[@]} -gt 0 ] || exit 0

if [ "$(id -u)" != 0 ]; then
	if [ ${#missing[@]} -gt 0 ]; then
		echo "bench: error: missing Debian packages: ${missing[*]} (run as root, or: apt-get install ${missing[*]})" >&2
		exit 1
	fi
	echo "bench: ${optional[*]} not installed: no PNG chart (apt-get install ${optional[*]})" >&2
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "bench: installing ${missing[*]} ${optional[*]}" >&2
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" "${optional[@]}" >/dev/null; then
	apt-get update -qq || true
	if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" "${optional[@]}" >/dev/null; then
		for p in "${missing[@]}"; do
			installed "$p" || { echo "bench: error: apt-get install $p failed" >&2; exit 1; }
		done
		echo "bench: could not install ${optional[*]}: no PNG chart" >&2
	fi
fi
