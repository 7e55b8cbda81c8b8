# The "fast" build: compile vfs_smbdirect.so and smbdirectd with the
# headers of the prepared Samba source tree (build/samba-tree.sh) and link
# them against the Samba libraries that are INSTALLED on this machine, so
# that the symbol versions are the distro's by construction.
#
# Called from the top-level Makefile as
#     make -f build/compile.mk SAMBA_SRC=<tree> OUT=<dir>

ifndef SAMBA_SRC
$(error SAMBA_SRC is not set: run 'make' from the top of the repository)
endif

OUT ?= out
MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null \
		|| echo x86_64-linux-gnu)
LIBDIR := /usr/lib/$(MULTIARCH)
PRIVATELIBDIR := $(LIBDIR)/samba

CC ?= gcc
B := $(SAMBA_SRC)/bin/default

# The include path of a source3 module in Samba's own build, less the
# generated build directories we do not need. lib/util is deliberately not
# on the path: its signal.h would hide the system one.
SAMBA_INC_DIRS := include source3 source3/include source3/lib source4 \
	source4/include lib lib/replace librpc source3/librpc lib/talloc \
	lib/tevent lib/tdb/include third_party/popt
SAMBA_INCLUDES := $(foreach d,$(SAMBA_INC_DIRS),-I$(B)/$(d) -I$(SAMBA_SRC)/$(d)) \
	-I$(B) -I$(SAMBA_SRC)

# What Samba's waf passes to every object, plus our warnings.
SAMBA_CPPFLAGS := -D__STDC_WANT_LIB_EXT1__=1 -DHAVE_CONFIG_H=1 \
	-D_GNU_SOURCE=1 -D_XOPEN_SOURCE_EXTENDED=1 \
	-include $(B)/include/config.h
WARN := -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
	-Wno-missing-field-initializers -Werror=implicit-function-declaration \
	-Werror=format -Werror
CFLAGS ?= -O2 -g
ALL_CFLAGS := $(CFLAGS) -fPIC -fstack-protector-strong $(WARN) \
	-I source3/modules -I source3/modules/smbdirect_helper \
	$(SAMBA_CPPFLAGS) $(SAMBA_INCLUDES)

# Every shared library the samba packages install (of a library shipped
# under several SONAMEs, such as libndr, only the newest). --as-needed keeps only
# those really used; -z defs makes a symbol nobody provides an error now,
# not when smbd loads the module.
SAMBA_LIBS := $(shell for p in samba-libs samba libwbclient0 libsmbclient; do \
		dpkg -L $$p 2>/dev/null; done | \
	grep -E '^$(LIBDIR)/(samba/)?lib[^/]*\.so\.[0-9]+$$' | sort -V | \
	awk '{ b = $$0; sub(/\.so\.[0-9]+$$/, "", b); last[b] = $$0 } \
		END { for (b in last) print last[b] }' | sort)
LDFLAGS_COMMON := -Wl,--as-needed -Wl,-z,defs -Wl,-z,relro -Wl,-z,now

# The module: the VFS glue (vfs_smbdirect.c, the only file that knows
# smbd's internals), its helper pool and its end of the zero-copy link.
MODULE_SRC := source3/modules/vfs_smbdirect.c \
	source3/modules/vfs_smbdirect_helper_pool.c \
	source3/modules/vfs_smbdirect_helper_child.c \
	source3/modules/vfs_smbdirect_io.c \
	source3/modules/vfs_smbdirect_zerocopy.c
# The zero-copy agreement (the table layout in proto/ and the options
# both read) is linked into both.
ZC_SRC := source3/modules/smbdirect_helper/proto/smbdirect_zerocopy.c \
	source3/modules/smbdirect_helper/smbdirect_zerocopy_config.c
# The daemon, and the [MS-SMBD] protocol core it drives (proto/: no
# verbs, sockets or tevent; unit-tested and fuzzed on their own).
PROTO_SRC := $(addprefix source3/modules/smbdirect_helper/proto/, \
	smbdirect_pdu.c smbdirect_credits.c smbdirect_fragment.c \
	smbdirect_proto.c)
DAEMON_SRC := $(addprefix source3/modules/smbdirect_helper/, \
	smbdirectd.c smbdirectd_counters.c smbdirectd_profile.c \
	smbdirectd_devices.c \
	smbdirectd_config.c smbdirectd_listen.c smbdirectd_conn.c \
	smbdirectd_conn_close.c smbdirectd_transport.c smbdirectd_relay.c \
	smbdirectd_offload.c smbdirectd_offload_sign.c smbdirectd_offload_zc.c \
	smbdirectd_rdma_rw.c \
	smbdirectd_smb2.c smbdirectd_smb2_rewrite.c smbdirectd_pool.c \
	smbdirectd_dev.c \
	smbdirectd_status.c smbdirectd_procnet.c smbdirectd_privs.c \
	smbdirectd_zerocopy.c smbdirectd_session_keys.c \
	smbdirectd_smb2_sign.c) \
	$(PROTO_SRC) $(ZC_SRC)
# Samba links the CMDLINE_S3 subsystem statically into each daemon; so do we.
SAMBA_SUBSYS_SRC := $(SAMBA_SRC)/lib/cmdline/cmdline_s3.c

OBJDIR := $(OUT)/obj
MODULE_OBJ := $(patsubst source3/modules/%.c,$(OBJDIR)/%.o,$(MODULE_SRC)) \
	$(addprefix $(OBJDIR)/,$(notdir $(ZC_SRC:.c=.o)))
DAEMON_OBJ := $(addprefix $(OBJDIR)/,$(notdir $(DAEMON_SRC:.c=.o))) \
	$(OBJDIR)/cmdline_s3.o
HEADERS := $(wildcard source3/modules/*.h source3/modules/smbdirect_helper/*.h \
	source3/modules/smbdirect_helper/proto/*.h)

# "make V=1" shows the full command lines.
ifeq ($(V),1)
Q_CC :=
Q_LD :=
else
Q_CC = @echo "  CC      $<";
Q_LD = @echo "  LD      $@";
endif

.PHONY: all
all: $(OUT)/smbdirect.so $(OUT)/smbdirectd

$(OBJDIR):
	mkdir -p $@

$(OBJDIR)/vfs_smbdirect.o: source3/modules/vfs_smbdirect.c $(HEADERS) | $(OBJDIR)
	$(Q_CC)$(CC) $(ALL_CFLAGS) -Dvfs_smbdirect_init=samba_init_module -c $< -o $@

$(OBJDIR)/vfs_smbdirect_%.o: source3/modules/vfs_smbdirect_%.c $(HEADERS) | $(OBJDIR)
	$(Q_CC)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(OBJDIR)/%.o: source3/modules/smbdirect_helper/%.c $(HEADERS) | $(OBJDIR)
	$(Q_CC)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(OBJDIR)/%.o: source3/modules/smbdirect_helper/proto/%.c $(HEADERS) | $(OBJDIR)
	$(Q_CC)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(OBJDIR)/cmdline_s3.o: $(SAMBA_SUBSYS_SRC) | $(OBJDIR)
	$(Q_CC)$(CC) $(ALL_CFLAGS) -Wno-error -c $< -o $@

$(OUT)/smbdirect.so: $(MODULE_OBJ)
	$(Q_LD)$(CC) -shared -o $@ $^ $(LDFLAGS_COMMON) $(SAMBA_LIBS) -ltalloc -ltevent

$(OUT)/smbdirectd: $(DAEMON_OBJ)
	$(Q_LD)$(CC) -o $@ $^ $(LDFLAGS_COMMON) -pie -Wl,-rpath,$(PRIVATELIBDIR) \
		$(SAMBA_LIBS) -ltalloc -ltevent -lpopt -libverbs -lrdmacm -lcap

# ---------------------------------------------------------------------
# A deliberately wrong smbdirectd for one test only: every memory
# registration also grants remote read, write and atomic access (and
# local write, which verbs require alongside remote write)
# (SMBDIRECTD_TEST_EXTRA_MR_ACCESS, smbdirectd_dev.h).
# selftest/tests/test_mr_access.sh runs its probes against it to show
# that they notice remote access; never install it.
MR_REMOTE := $(OUT)/test/smbdirectd-mr-remote
MR_REMOTE_OBJDIR := $(OUT)/obj-mr-remote
MR_REMOTE_SRC := smbdirectd_dev.c smbdirectd_transport.c
MR_REMOTE_FLAGS := '-DSMBDIRECTD_TEST_EXTRA_MR_ACCESS=(IBV_ACCESS_LOCAL_WRITE|IBV_ACCESS_REMOTE_READ|IBV_ACCESS_REMOTE_WRITE|IBV_ACCESS_REMOTE_ATOMIC)'
MR_REMOTE_OBJ := $(addprefix $(MR_REMOTE_OBJDIR)/,$(MR_REMOTE_SRC:.c=.o)) \
	$(filter-out $(addprefix $(OBJDIR)/,$(MR_REMOTE_SRC:.c=.o)),$(DAEMON_OBJ))

all: $(MR_REMOTE)

$(MR_REMOTE_OBJDIR) $(OUT)/test:
	mkdir -p $@

$(MR_REMOTE_OBJDIR)/%.o: source3/modules/smbdirect_helper/%.c $(HEADERS) \
		| $(MR_REMOTE_OBJDIR)
	$(Q_CC)$(CC) $(ALL_CFLAGS) $(MR_REMOTE_FLAGS) -c $< -o $@

$(MR_REMOTE): $(MR_REMOTE_OBJ) | $(OUT)/test
	$(Q_LD)$(CC) -o $@ $^ $(LDFLAGS_COMMON) -pie -Wl,-rpath,$(PRIVATELIBDIR) \
		$(SAMBA_LIBS) -ltalloc -ltevent -lpopt -libverbs -lrdmacm -lcap

# ---------------------------------------------------------------------
# selftest/tools/smbdirect_badclient: an SMB Direct client that sends
# malformed traffic on purpose (selftest/tests/test_malformed.sh).
# Plain C on librdmacm, libibverbs and talloc, linked with the protocol
# core's encoders; no Samba library and no config.h, so its objects are
# kept apart from the daemon's.
BADCLIENT := $(OUT)/smbdirect_badclient
BADCLIENT_OBJDIR := $(OUT)/obj-badclient
BADCLIENT_OBJ := $(addprefix $(BADCLIENT_OBJDIR)/, \
	smbdirect_badclient.o smbdirect_pdu.o smbdirect_fragment.o)
BADCLIENT_CFLAGS := $(CFLAGS) -std=gnu99 -fstack-protector-strong $(WARN) \
	-D_GNU_SOURCE -I source3/modules/smbdirect_helper -I $(SAMBA_SRC)

all: $(BADCLIENT)

$(BADCLIENT_OBJDIR):
	mkdir -p $@

$(BADCLIENT_OBJDIR)/%.o: selftest/tools/%.c $(HEADERS) | $(BADCLIENT_OBJDIR)
	$(Q_CC)$(CC) $(BADCLIENT_CFLAGS) -c $< -o $@

$(BADCLIENT_OBJDIR)/%.o: source3/modules/smbdirect_helper/proto/%.c $(HEADERS) \
		| $(BADCLIENT_OBJDIR)
	$(Q_CC)$(CC) $(BADCLIENT_CFLAGS) -c $< -o $@

$(BADCLIENT): $(BADCLIENT_OBJ)
	$(Q_LD)$(CC) -o $@ $^ -Wl,--as-needed -Wl,-z,relro -Wl,-z,now \
		-ltalloc -lrdmacm -libverbs
