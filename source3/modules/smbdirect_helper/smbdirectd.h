/*
 * smbdirectd: state shared by the listener and the connections
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_H_
#define _SMBDIRECTD_H_

#include "replace.h"
#include <talloc.h>
#include <tevent.h>

struct smbdirectd_config;
struct smbdirectd_listener;
struct smbdirectd_conn;
struct smbdirectd_dev;
struct smbdirectd_pool;
struct smbdirectd_zc_listener;

/* Bytes and messages moved, per connection and for the whole daemon. */
struct smbdirectd_counters {
	uint64_t pdus_to_smbd;
	uint64_t bytes_to_smbd;
	uint64_t pdus_to_client;
	uint64_t bytes_to_client;
	uint64_t rdma_sends;
	uint64_t rdma_recvs;
	uint64_t errors;

	/* SMB2 WRITE whose data came by RDMA READ from the client */
	uint64_t offload_write_ops;
	uint64_t offload_write_bytes;
	/* SMB2 READ whose data went by RDMA WRITE to the client */
	uint64_t offload_read_ops;
	uint64_t offload_read_bytes;
	/* offloaded requests that failed (RDMA error, bad descriptors) */
	uint64_t offload_failures;
	/*
	 * Of the offloaded ones: those vfs_smbdirect moved between the file
	 * and the pool itself (the zero-copy link); the rest were copied
	 * through the loopback connection and smbd.
	 */
	uint64_t zero_copy_write_ops;
	uint64_t zero_copy_write_bytes;
	uint64_t zero_copy_read_ops;
	uint64_t zero_copy_read_bytes;
};

struct smbdirectd_ctx {
	struct tevent_context *ev;
	struct smbdirectd_config *cfg;
	struct smbdirectd_listener *listener;
	struct smbdirectd_pool *pool;	/* registered memory for offload */
	struct smbdirectd_dev *devs;	/* DLIST: PD + pool MR per device */

	struct smbdirectd_conn *conns; /* DLIST */
	uint32_t num_conns;
	uint64_t next_conn_id;

	/* Connections ever accepted and refused, and closed ones' sums. */
	uint64_t accepted;
	uint64_t refused;
	struct smbdirectd_counters totals;

	/*
	 * The devices of every listening address were removed: nothing can
	 * connect any more, the daemon stops (with status 1, so that a
	 * service manager starts it again once a device is back).
	 */
	bool nothing_to_listen_on;

	/* The control socket of the zero-copy link (smbdirectd_zerocopy.c) */
	struct smbdirectd_zc_listener *zc_listener;
};

void smbdirectd_counters_add(struct smbdirectd_counters *sum,
			     const struct smbdirectd_counters *c);

#endif
