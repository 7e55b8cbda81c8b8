/*
 * smbdirectd: the registered memory pool for RDMA READ/WRITE offload
 *
 * One shared-memory file (memfd) mapped once and registered once per
 * RDMA device. RDMA READs of offloaded WRITEs land in it and RDMA WRITEs
 * of offloaded READs are sent from it. vfs_smbdirect will map the same
 * memfd for the zero-copy path, hence a memfd and not malloc.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_POOL_H_
#define _SMBDIRECTD_POOL_H_

#include "replace.h"
#include <talloc.h>
#include <tevent.h>

/* Allocation granularity: RDMA I/O is at least 4 KiB, usually 1 MiB. */
#define SMBDIRECTD_POOL_UNIT (64 * 1024)

struct smbdirectd_pool;

struct smbdirectd_pool_chunk {
	struct smbdirectd_pool *pool;
	uint8_t *ptr;
	size_t ofs; /* from the pool's base */
	size_t len; /* as asked for; the reservation is rounded up */
};

/* size is rounded up to SMBDIRECTD_POOL_UNIT. NULL with errno. */
struct smbdirectd_pool *smbdirectd_pool_create(TALLOC_CTX *mem_ctx,
					       size_t size);

uint8_t *smbdirectd_pool_base(const struct smbdirectd_pool *pool);
size_t smbdirectd_pool_size(const struct smbdirectd_pool *pool);
int smbdirectd_pool_fd(const struct smbdirectd_pool *pool);
size_t smbdirectd_pool_in_use(const struct smbdirectd_pool *pool);
size_t smbdirectd_pool_waiters(const struct smbdirectd_pool *pool);
/* How many allocations had to wait since the pool was created. */
uint64_t smbdirectd_pool_waits(const struct smbdirectd_pool *pool);

/*
 * Reserve len contiguous bytes. When the pool is exhausted the request
 * waits (first come, first served) until enough is given back: this is
 * the back-pressure of the offload path, memory never grows. EMSGSIZE
 * when len can never fit. Freeing the chunk (talloc) gives it back.
 */
struct tevent_req *smbdirectd_pool_alloc_send(TALLOC_CTX *mem_ctx,
					      struct tevent_context *ev,
					      struct smbdirectd_pool *pool,
					      size_t len);
/*
 * Reserve len bytes only if that is possible at once and nobody waits:
 * for optional uses (the zero-copy slot of a READ) that must not queue.
 * NULL otherwise.
 */
struct smbdirectd_pool_chunk *smbdirectd_pool_alloc_now(
	TALLOC_CTX *mem_ctx,
	struct smbdirectd_pool *pool,
	size_t len);

int smbdirectd_pool_alloc_recv(struct tevent_req *req,
			       TALLOC_CTX *mem_ctx,
			       struct smbdirectd_pool_chunk **chunk);

#endif
