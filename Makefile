# vfs_smbdirect: SMB Direct (SMB3 over RDMA) for the Samba your
# distribution ships. See README.md.
#
#   make              install build deps, prepare the Samba tree, build
#   make waf          the same two targets through Samba's own waf build
#   make check        unit tests on the host + integration tests in the VM
#   make demo         build, boot the Soft-RoCE VM, show real traffic
#   make soak         long soak in the VM (SOAK_SECONDS=600)
#   make bench        benchmarks in the VM (bench/); make profile: where
#                     an offloaded request's time goes
#   make install      module, daemon, man pages, systemd unit (DESTDIR)
#   make deb          the Debian package samba-vfs-smbdirect in out/deb/

SHELL := /bin/bash
OUT ?= out
export SMBDIRECT_CACHE ?= /var/cache/smbdirect

DESTDIR ?=
SBINDIR ?= /usr/sbin
MANDIR ?= /usr/share/man
# Where the distro's smbd looks for VFS modules ("smbd -b": MODULESDIR).
MODULESDIR ?= $(shell smbd -b 2>/dev/null | sed -n 's/^ *MODULESDIR: //p')

MANPAGES_XML := $(wildcard manpages/*.xml)
MANPAGES := $(patsubst manpages/%.xml,$(OUT)/man/%,$(MANPAGES_XML))
DOCBOOK_MAN_XSL := http://docbook.sourceforge.net/release/xsl/current/manpages/docbook.xsl

.PHONY: all deps samba-tree build waf manpages check check-unit \
	check-fuzz check-integration check-package check-systemd demo \
	install uninstall \
	clean vm-prepare

all: build manpages

deps:
	@build/install-deps.sh build

# The prepared tree's path is kept in $(OUT)/samba-src for the sub-makes.
samba-tree: deps
	@mkdir -p $(OUT)
	@build/samba-tree.sh > $(OUT)/samba-src.new
	@mv $(OUT)/samba-src.new $(OUT)/samba-src

build: samba-tree
	@$(MAKE) --no-print-directory -f build/compile.mk \
		SAMBA_SRC="$$(cat $(OUT)/samba-src)" OUT=$(OUT)
	@echo "built: $(OUT)/smbdirect.so $(OUT)/smbdirectd"

# Samba's own in-tree build of the same two targets (slower: waf compiles
# the Samba libraries the module depends on first).
waf: samba-tree
	@build/waf-build.sh "$$(cat $(OUT)/samba-src)" $(OUT)/waf

manpages: $(MANPAGES)

$(OUT)/man/%: manpages/%.xml
	@mkdir -p $(OUT)/man
	@echo "  MAN     $@"
	@xsltproc --nonet --xinclude --param man.output.quietly 1 \
		--output $@ $(DOCBOOK_MAN_XSL) $< 2>$@.log || \
		{ cat $@.log; rm -f $@; exit 1; }
	@if [ -s $@.log ]; then cat $@.log; rm -f $@; \
		echo "$<: fix the warnings above"; exit 1; fi; rm -f $@.log

# The whole suite (README's test command): unit tests on the host, then
# both builds (fast and waf) checked inside the Soft-RoCE VM.
check: check-unit check-fuzz check-integration check-package check-systemd

check-unit: build manpages
	@build/install-deps.sh test
	@$(MAKE) --no-print-directory -C selftest/unit check \
		SAMBA_SRC="$$(cat $(OUT)/samba-src)"
	@selftest/check-layers.sh $(OUT)/obj
	@selftest/check-manpage-options.sh
	@selftest/check-version-guard.sh

# libFuzzer on the code that parses peer bytes, bounded for CI; run it
# longer with "make check-fuzz FUZZ_SECONDS=3600".
FUZZ_SECONDS ?= 30
check-fuzz: samba-tree
	@build/install-deps.sh test
	@$(MAKE) --no-print-directory -C selftest/fuzz run \
		SAMBA_SRC="$$(cat $(OUT)/samba-src)" FUZZ_SECONDS=$(FUZZ_SECONDS)

# Build the Debian package, install it on this machine, check it and
# purge it again (needs root).
check-package:
	@selftest/test-package.sh

# The package and its unit the administrator's way, on a VM booted with
# systemd as PID 1: dpkg -i, systemctl enable --now, a mount over RDMA
# (selftest/systemd/test_package_systemd.sh; issue #6).
check-systemd: deb
	@build/install-deps.sh test
	@selftest/vm/run --systemd --timeout 900 \
		--results $(OUT)/systemd-results -- \
		selftest/systemd/test_package_systemd.sh

# The main VM tests the fast build; Samba's waf build compiles meanwhile
# with the idle CPU policy (build/waf-background.sh: 8 minutes on a fresh
# machine) and gets a VM of its own for the two tests that load it.
# Tests that change the VM's kernel state for good (selftest/tests/
# isolated/) each get a VM of their own, after the main suite.
WAF_TESTS = selftest/tests/test_module_load.sh \
	selftest/tests/test_smbdirectd_lifecycle.sh
check-integration: build manpages
	@build/install-deps.sh test
	@build/waf-background.sh start "$$(cat $(OUT)/samba-src)" $(OUT)/waf
	@SMBDIRECT_TEST_BUILDS=fast selftest/run-integration || \
		{ build/waf-background.sh stop $(OUT)/waf; exit 1; }
	@build/waf-background.sh wait $(OUT)/waf
	@SMBDIRECT_TEST_BUILDS=waf \
		SMBDIRECT_RESULTS_DIR=$(CURDIR)/$(OUT)/selftest-results/waf \
		selftest/run-integration $(WAF_TESTS)
	@for t in selftest/tests/isolated/test_*.sh; do \
		SMBDIRECT_VM_TIMEOUT=1200 \
		SMBDIRECT_RESULTS_DIR=$(CURDIR)/$(OUT)/selftest-results/isolated/$$(basename $$t .sh) \
		selftest/run-integration "$$t" || exit 1; \
	done

# The whole suite with every variant the tests keep out of make check
# (SMBDIRECT_TEST_LONG: more dialects, signing contexts; kept out to
# hold make check within CI's time).
.PHONY: check-long
check-long:
	@SMBDIRECT_TEST_LONG=1 $(MAKE) --no-print-directory check-integration

# The soak of issue #7 at length (make check runs a 1-minute one):
# mixed verified I/O over several RDMA mounts, resources sampled and
# required flat (selftest/tests/test_soak.sh).
SOAK_SECONDS ?= 600
.PHONY: soak
soak: build
	@build/install-deps.sh test
	@SMBDIRECT_SOAK_SECONDS=$(SOAK_SECONDS) \
		SMBDIRECT_VM_TIMEOUT=$$(($(SOAK_SECONDS) + 900)) \
		SMBDIRECT_TEST_BUDGET=$$(($(SOAK_SECONDS) + 600)) \
		selftest/run-integration selftest/tests/test_soak.sh

vm-prepare:
	@selftest/vm/prepare

demo: build
	@build/install-deps.sh test
	@selftest/vm/run -- selftest/demo.sh

# The systemd unit (not enabled: "systemctl enable --now smbdirectd"), and
# an smb.conf example in the package's documentation directory.
UNITDIR ?= /lib/systemd/system
DOCDIR ?= /usr/share/doc/samba-vfs-smbdirect

install: build manpages
	@test -n "$(MODULESDIR)" || \
		{ echo "smbd -b shows no MODULESDIR: is samba installed?"; exit 1; }
	install -d $(DESTDIR)$(MODULESDIR)/vfs $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(DOCDIR)/examples
	install -m 0644 $(OUT)/smbdirect.so $(DESTDIR)$(MODULESDIR)/vfs/smbdirect.so
	install -m 0755 $(OUT)/smbdirectd $(DESTDIR)$(SBINDIR)/smbdirectd
	install -m 0644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man8/
	sed 's|/usr/sbin/smbdirectd|$(SBINDIR)/smbdirectd|' \
		packaging/smbdirectd.service >$(DESTDIR)$(UNITDIR)/smbdirectd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/smbdirectd.service
	install -m 0644 packaging/smb.conf.example \
		$(DESTDIR)$(DOCDIR)/examples/smb.conf.example

uninstall:
	@test -n "$(MODULESDIR)" || \
		{ echo "smbd -b shows no MODULESDIR: is samba installed?"; exit 1; }
	rm -f $(DESTDIR)$(MODULESDIR)/vfs/smbdirect.so \
		$(DESTDIR)$(SBINDIR)/smbdirectd \
		$(patsubst $(OUT)/man/%,$(DESTDIR)$(MANDIR)/man8/%,$(MANPAGES)) \
		$(DESTDIR)$(UNITDIR)/smbdirectd.service \
		$(DESTDIR)$(DOCDIR)/examples/smb.conf.example
	rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null || true

# The Debian package samba-vfs-smbdirect (debian/), built by
# dpkg-buildpackage in a copy of this tree under $(OUT)/deb/src, so that
# neither the tree nor $(OUT) gets its build products; the packages land
# in $(OUT)/deb/. It depends on exactly the samba it was built against.
.PHONY: deb
deb: deps
	@rm -rf $(OUT)/deb
	@mkdir -p $(OUT)/deb/src
	@rsync -a --exclude=/.git --exclude=/$(OUT) --exclude='/selftest/*/out' \
		./ $(OUT)/deb/src/
	cd $(OUT)/deb/src && dpkg-buildpackage -us -uc -b
	@rm -rf $(OUT)/deb/src
	@ls -1 $(OUT)/deb/*.deb

clean:
	rm -rf $(OUT)
	@$(MAKE) --no-print-directory -C selftest/unit clean 2>/dev/null || true

.PHONY: bench
bench: build
	@bench/run

# vfs_smbdirect's async I/O against vfs_aio_fork and smbd's default, over
# TCP on this host (no VM): bench/module-run, results in
# bench/results/module-DATE/.
.PHONY: bench-module
bench-module: build
	@bench/module-run

# Where the time of an offloaded request goes (issue #14): a quick bench
# of ksmbd and ours, then smbdirectd's per-request spans and CPU
# (bench/profile-report); PROFILE_STRACE=1 adds a second run of ours
# under strace for system calls per request.
PROFILE_STRACE ?= 0
.PHONY: profile
profile: build
	@d=bench/results/profile-$$(date -u +%Y-%m-%d-%H%M); \
	BENCH_QUICK=1 BENCH_SYSTEMS="ksmbd ours" BENCH_RESULTS=$$d \
		bench/run && cat $$d/profile.txt && \
	if [ "$(PROFILE_STRACE)" = 1 ]; then \
		BENCH_QUICK=1 BENCH_STRACE=1 BENCH_SYSTEMS=ours \
		BENCH_RESULTS=$$d-strace bench/run && \
		cat $$d-strace/profile.txt; fi
