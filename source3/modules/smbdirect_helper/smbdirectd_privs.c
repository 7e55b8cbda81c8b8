/*
 * smbdirectd: give up the privileges start-up needed
 *
 * smbdirectd starts as root: it reads smb.conf and opens its log file.
 * Then, for as long as it runs, it binds rdma_cm listeners (a port below
 * 1024, such as 445, needs CAP_NET_BIND_SERVICE), registers memory with
 * the RDMA device for every connection (locked memory: within
 * RLIMIT_MEMLOCK, or beyond it with CAP_IPC_LOCK), connects to smbd over
 * loopback TCP, looks up the smbd process behind that connection in
 * /proc, and writes its status file, pid file and log, all owned by
 * root. None of that needs a capability but those two, and CAP_IPC_LOCK
 * only when RLIMIT_MEMLOCK is not unlimited (the systemd unit sets
 * LimitMEMLOCK=infinity).
 *
 * When: once, after smb.conf is read and before the first RDMA file is
 * opened, never later. The kernel's rdma_cm (and the write() interface
 * of uverbs) refuses a write() from a process whose credentials changed
 * since it opened the file (ib_safe_file_access(): EACCES), and a
 * capset() is such a change: dropping after the listeners exist breaks
 * every later rdma_get_cm_event(). So CAP_NET_BIND_SERVICE, needed only
 * for the bind, stays when the port is below 1024.
 *
 * Every other capability goes: from the effective, permitted and
 * inheritable sets and from the bounding set, and no_new_privs is set,
 * so that nothing smbdirectd might execute later (Samba's "panic
 * action") can get them back. The process stays uid 0: it keeps owner
 * access to root's files.
 *
 * Looking up the smbd process behind a connection (/proc/PID/fd of
 * smbd's processes) needs CAP_SYS_PTRACE once smbdirectd has fewer
 * capabilities than smbd: a separate resolver process, forked just
 * before the drop, keeps that one capability and nothing else, and does
 * only that (smbdirectd_procnet.c).
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include "replace.h"
#include "lib/util/debug.h"
#include "smbdirectd_privs.h"
#include "smbdirectd_procnet.h"

#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>

/* Does this process still need CAP_IPC_LOCK for later registrations? */
static bool need_ipc_lock(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0) {
		DBG_WARNING("getrlimit(RLIMIT_MEMLOCK): %s: keeping "
			    "CAP_IPC_LOCK\n",
			    strerror(errno));
		return true;
	}
	return rl.rlim_cur != RLIM_INFINITY;
}

static bool cap_in_effective(cap_value_t cap)
{
	cap_t now = cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;

	if (now == NULL) {
		return false;
	}
	if (cap_get_flag(now, cap, CAP_EFFECTIVE, &v) != 0) {
		v = CAP_CLEAR;
	}
	cap_free(now);
	return v == CAP_SET;
}

static bool keep_only(const cap_value_t *keep, int nkeep)
{
	bool can_setpcap = cap_in_effective(CAP_SETPCAP);
	cap_t caps = NULL;
	cap_value_t c;
	int i;

	/* The bounding set first: dropping from it needs CAP_SETPCAP. */
	for (c = 0; can_setpcap && c <= CAP_LAST_CAP; c++) {
		bool kept = false;

		for (i = 0; i < nkeep; i++) {
			kept = kept || (keep[i] == c);
		}
		if (kept) {
			continue;
		}
		if (cap_drop_bound(c) != 0 && errno != EINVAL) {
			DBG_WARNING("cannot drop capability %d from the "
				    "bounding set: %s\n",
				    (int)c,
				    strerror(errno));
		}
	}
	if (!can_setpcap) {
		DBG_NOTICE("no CAP_SETPCAP: the capability bounding set "
			   "stays as it is\n");
	}

	caps = cap_init();
	if (caps == NULL) {
		DBG_ERR("cap_init: %s\n", strerror(errno));
		return false;
	}
	if (nkeep > 0 &&
	    (cap_set_flag(caps, CAP_EFFECTIVE, nkeep, keep, CAP_SET) != 0 ||
	     cap_set_flag(caps, CAP_PERMITTED, nkeep, keep, CAP_SET) != 0)) {
		DBG_ERR("cap_set_flag: %s\n", strerror(errno));
		cap_free(caps);
		return false;
	}
	if (cap_set_proc(caps) != 0) {
		DBG_ERR("cap_set_proc: %s\n", strerror(errno));
		cap_free(caps);
		return false;
	}
	cap_free(caps);

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		DBG_ERR("prctl(PR_SET_NO_NEW_PRIVS): %s\n", strerror(errno));
		return false;
	}
	return true;
}

/* For the smbd pid resolver: CAP_SYS_PTRACE only, and no_new_privs. */
static bool smbdirectd_privs_keep_only_ptrace(void)
{
	cap_value_t keep[] = {CAP_SYS_PTRACE};

	return keep_only(keep, ARRAY_SIZE(keep));
}

bool smbdirectd_privs_drop(bool keep_net_bind)
{
	cap_value_t keep[2];
	int nkeep = 0;
	cap_t caps = NULL;
	char *text = NULL;

	if (cap_in_effective(CAP_SYS_PTRACE) &&
	    !smbdirectd_procnet_resolver_start(
		    smbdirectd_privs_keep_only_ptrace)) {
		DBG_WARNING("no smbd pid resolver: --status will show smbd "
			    "pid 0\n");
	}

	if (need_ipc_lock() && cap_in_effective(CAP_IPC_LOCK)) {
		keep[nkeep++] = CAP_IPC_LOCK;
	}
	if (keep_net_bind && cap_in_effective(CAP_NET_BIND_SERVICE)) {
		keep[nkeep++] = CAP_NET_BIND_SERVICE;
	}
	if (!keep_only(keep, nkeep)) {
		return false;
	}

	caps = cap_get_proc();
	text = (caps != NULL) ? cap_to_text(caps, NULL) : NULL;
	DBG_NOTICE("privileges dropped: capabilities now \"%s\" (%s; %s)\n",
		   text != NULL ? text : "?",
		   need_ipc_lock() ? "CAP_IPC_LOCK kept: RLIMIT_MEMLOCK is "
				     "limited and connections register memory"
				   : "RLIMIT_MEMLOCK unlimited",
		   keep_net_bind ? "CAP_NET_BIND_SERVICE kept: port below "
				   "1024 (445 on InfiniBand/RoCE by default)"
				 : "no port below 1024");
	cap_free(text);
	cap_free(caps);
	return true;
}
