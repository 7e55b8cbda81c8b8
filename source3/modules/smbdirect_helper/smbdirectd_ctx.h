/*
 * smbdirectd: state shared by the listener and the connections (the
 * daemon's context; structures only, so that every layer may include it)
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_CTX_H_
#define _SMBDIRECTD_CTX_H_

#include "replace.h"
#include <talloc.h>
#include <tevent.h>
#include "smbdirectd_counters.h"
#include "smbdirectd_profile.h"

struct smbdirectd_config;
struct smbdirectd_listener;
struct smbdirectd_conn;
struct smbdirectd_dev;
struct smbdirectd_pool;
struct smbdirectd_zc_listener;

struct smbdirect_proto;

/*
 * A live connection as the status file shows it. The connection
 * publishes it on ctx->conn_status for as long as it lives: the
 * counters and the [MS-SMBD] sizes and credits it points to are the
 * connection's own, the rest the connection sets where it changes.
 * smbdirectd_status.c only reads the list, so that the status file
 * needs no function of the connections.
 */
struct smbdirectd_conn_status {
	struct smbdirectd_conn_status *prev, *next;
	uint64_t id;
	const char *peer;
	uint16_t smbd_port; /* our end of the loopback connection */
	pid_t smbd_pid;
	const char *state;
	bool zero_copy; /* vfs_smbdirect attached */
	const struct smbdirect_proto *proto; /* NULL until created */
	const struct smbdirectd_counters *counters;
};

struct smbdirectd_ctx {
	struct tevent_context *ev;
	struct smbdirectd_config *cfg;
	struct smbdirectd_listener *listener;
	struct smbdirectd_pool *pool;	/* registered memory for offload */
	struct smbdirectd_dev *devs;	/* DLIST: PD + pool MR per device */

	struct smbdirectd_conn *conns; /* DLIST */
	uint32_t num_conns;
	/* what the live connections publish for the status file (DLIST) */
	struct smbdirectd_conn_status *conn_status;
	uint64_t next_conn_id;

	/* Connections ever accepted and refused, and closed ones' sums. */
	uint64_t accepted;
	uint64_t refused;
	struct smbdirectd_counters totals;
	/* the spans of every offloaded request so far (smbdirectd_profile) */
	struct smbdirectd_profile profile;

	/*
	 * The devices of every listening address were removed: nothing can
	 * connect any more, the daemon stops (with status 1, so that a
	 * service manager starts it again once a device is back).
	 */
	bool nothing_to_listen_on;

	/* The control socket of the zero-copy link (smbdirectd_zerocopy.c) */
	struct smbdirectd_zc_listener *zc_listener;
};

#endif
