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

#include "replace.h"
#include "lib/util/debug.h"
#include "lib/util/dlinklist.h"
#include "smbdirectd_ctx.h"
#include "smbdirectd_dev.h"
#include "smbdirectd_pool.h"

static int dev_destructor(struct smbdirectd_dev *dev)
{
	if (dev->pool_mr != NULL) {
		ibv_dereg_mr(dev->pool_mr);
	}
	if (dev->pd != NULL) {
		ibv_dealloc_pd(dev->pd);
	}
	return 0;
}

struct smbdirectd_dev *smbdirectd_dev_get(struct smbdirectd_ctx *ctx,
					  struct ibv_context *verbs)
{
	struct smbdirectd_dev *dev = NULL;
	const char *name = ibv_get_device_name(verbs->device);
	int access = IBV_ACCESS_LOCAL_WRITE | SMBDIRECTD_TEST_EXTRA_MR_ACCESS;
	int ret;

	for (dev = ctx->devs; dev != NULL; dev = dev->next) {
		if (dev->verbs == verbs && !dev->removed) {
			dev->users += 1;
			return dev;
		}
	}

	dev = talloc_zero(ctx, struct smbdirectd_dev);
	if (dev == NULL) {
		return NULL;
	}
	dev->verbs = verbs;
	talloc_set_destructor(dev, dev_destructor);

	ret = ibv_query_device(verbs, &dev->attr);
	if (ret != 0) {
		DBG_ERR("ibv_query_device(%s): %s\n", name, strerror(ret));
		TALLOC_FREE(dev);
		return NULL;
	}
	dev->iwarp = (verbs->device->transport_type == IBV_TRANSPORT_IWARP);
	dev->pd = ibv_alloc_pd(verbs);
	if (dev->pd == NULL) {
		DBG_ERR("ibv_alloc_pd(%s): %s\n", name, strerror(errno));
		TALLOC_FREE(dev);
		return NULL;
	}

	/*
	 * On InfiniBand and RoCE the pool is only ever the local side of
	 * our own RDMA READ/WRITE: no remote access. iWARP requires the sink
	 * of an RDMA READ to be remotely writable.
	 */
	if (dev->iwarp) {
		access |= IBV_ACCESS_REMOTE_WRITE;
	}
	dev->pool_mr = ibv_reg_mr(dev->pd,
				  smbdirectd_pool_base(ctx->pool),
				  smbdirectd_pool_size(ctx->pool),
				  access);
	if (dev->pool_mr == NULL) {
		/*
		 * Soft-iWARP (siw) checks RLIMIT_MEMLOCK itself and
		 * ignores CAP_IPC_LOCK: only the limit helps there.
		 */
		DBG_ERR("registering the %zu MiB offload pool on %s failed: "
			"%s (RLIMIT_MEMLOCK too low? smbdirectd needs a "
			"memlock limit above smbdirect:pool size, as the "
			"systemd unit's LimitMEMLOCK=infinity; CAP_IPC_LOCK "
			"is enough on most devices, not on %s)\n",
			smbdirectd_pool_size(ctx->pool) >> 20,
			name,
			strerror(errno),
			dev->iwarp ? "this iWARP one" : "all");
		TALLOC_FREE(dev);
		return NULL;
	}
	DLIST_ADD_END(ctx->devs, dev);
	dev->users = 1;
	DBG_NOTICE("%s: offload pool of %zu MiB registered (%s)\n",
		   name,
		   smbdirectd_pool_size(ctx->pool) >> 20,
		   dev->iwarp ? "iWARP: remote write for RDMA READ sinks"
			      : "local access only");
	return dev;
}

static void dev_free(struct smbdirectd_ctx *ctx, struct smbdirectd_dev *dev)
{
	DBG_WARNING("%s: removed, its pool registration is released\n",
		    ibv_get_device_name(dev->verbs->device));
	DLIST_REMOVE(ctx->devs, dev);
	TALLOC_FREE(dev);
}

void smbdirectd_dev_put(struct smbdirectd_ctx *ctx, struct smbdirectd_dev *dev)
{
	if (dev == NULL) {
		return;
	}
	dev->users -= MIN(dev->users, 1);
	if (dev->removed && dev->users == 0) {
		dev_free(ctx, dev);
	}
}

void smbdirectd_dev_removed(struct smbdirectd_ctx *ctx,
			    struct ibv_context *verbs)
{
	struct smbdirectd_dev *dev = NULL;

	for (dev = ctx->devs; dev != NULL; dev = dev->next) {
		if (dev->verbs != verbs || dev->removed) {
			continue;
		}
		dev->removed = true;
		if (dev->users == 0) {
			dev_free(ctx, dev);
		}
		return;
	}
}

void smbdirectd_dev_free_all(struct smbdirectd_ctx *ctx)
{
	struct smbdirectd_dev *dev = NULL;

	while ((dev = ctx->devs) != NULL) {
		DLIST_REMOVE(ctx->devs, dev);
		TALLOC_FREE(dev);
	}
}
