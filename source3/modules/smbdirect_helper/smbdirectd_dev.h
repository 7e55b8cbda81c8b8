/*
 * smbdirectd: per RDMA device resources shared by its connections
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_DEV_H_
#define _SMBDIRECTD_DEV_H_

#include "smbdirectd_ctx.h"
#include <infiniband/verbs.h>

/*
 * No memory registration of smbdirectd grants remote access on
 * InfiniBand and RoCE: clients never read or write server memory, only
 * the server issues RDMA READ and WRITE.  (iWARP is the exception: the
 * sink of an RDMA READ must be remotely writable there.)
 *
 * SMBDIRECTD_TEST_EXTRA_MR_ACCESS is added to every registration's flags
 * and is 0 except in the test build out/test/smbdirectd-mr-remote
 * (build/compile.mk), which grants remote read, write and atomics so that
 * selftest/tests/test_mr_access.sh can show that its probes notice.
 */
#ifndef SMBDIRECTD_TEST_EXTRA_MR_ACCESS
#define SMBDIRECTD_TEST_EXTRA_MR_ACCESS 0
#endif

struct smbdirectd_dev {
	struct smbdirectd_dev *prev, *next;
	struct ibv_context *verbs;
	struct ibv_pd *pd;
	struct ibv_mr *pool_mr; /* the whole offload pool */
	bool iwarp;
	struct ibv_device_attr attr;
	uint32_t users;	/* connections holding it (smbdirectd_dev_put) */
	bool removed;	/* the device went away: freed with its last user */
};

/*
 * The protection domain and pool registration of the device behind a
 * connection, created on first use. One registration per device instead
 * of one per connection: pinning the pool once is what keeps many
 * connections affordable.
 */
struct smbdirectd_dev *smbdirectd_dev_get(struct smbdirectd_ctx *ctx,
					  struct ibv_context *verbs);

/* A connection that got dev from smbdirectd_dev_get() is gone. */
void smbdirectd_dev_put(struct smbdirectd_ctx *ctx, struct smbdirectd_dev *dev);

/*
 * rdma_cm reported the device behind verbs removed: free its PD and
 * pool registration as soon as no connection holds them, so that the
 * kernel can finish the removal (it waits for every user).
 */
void smbdirectd_dev_removed(struct smbdirectd_ctx *ctx,
			    struct ibv_context *verbs);

/* At exit, after every connection is gone. */
void smbdirectd_dev_free_all(struct smbdirectd_ctx *ctx);

#endif
