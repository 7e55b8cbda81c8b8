/*
 * smbdirectd: the registered memory pool for RDMA READ/WRITE offload
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include "replace.h"
#include "system/filesys.h"
#include "lib/util/debug.h"
#include "lib/util/dlinklist.h"
#include "lib/util/tevent_unix.h"
#include "smbdirectd_pool.h"

#include <sys/mman.h>

struct pool_waiter;

struct smbdirectd_pool {
	int fd;
	uint8_t *base;
	size_t size;
	size_t num_units;
	uint8_t *used; /* one byte per unit: 1 = reserved */
	size_t units_in_use;
	struct pool_waiter *waiters; /* FIFO */
	size_t num_waiters;
	uint64_t num_waits; /* allocations that ever had to wait */
};

struct pool_waiter {
	struct pool_waiter *prev, *next;
	struct tevent_req *req;
};

struct pool_alloc_state {
	struct tevent_context *ev;
	struct smbdirectd_pool *pool;
	size_t len;
	struct pool_waiter *waiter;
	struct smbdirectd_pool_chunk *chunk;
};

static size_t units_for(size_t len)
{
	return (len + SMBDIRECTD_POOL_UNIT - 1) / SMBDIRECTD_POOL_UNIT;
}

static int pool_destructor(struct smbdirectd_pool *pool)
{
	if (pool->base != NULL) {
		munmap(pool->base, pool->size);
	}
	if (pool->fd != -1) {
		close(pool->fd);
	}
	return 0;
}

struct smbdirectd_pool *smbdirectd_pool_create(TALLOC_CTX *mem_ctx,
					       size_t size)
{
	struct smbdirectd_pool *pool = NULL;
	void *p = NULL;

	pool = talloc_zero(mem_ctx, struct smbdirectd_pool);
	if (pool == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	pool->fd = -1;
	talloc_set_destructor(pool, pool_destructor);

	pool->num_units = units_for(size);
	pool->size = pool->num_units * SMBDIRECTD_POOL_UNIT;
	pool->used = talloc_zero_array(pool, uint8_t, pool->num_units);
	if (pool->used == NULL) {
		TALLOC_FREE(pool);
		errno = ENOMEM;
		return NULL;
	}

	pool->fd = memfd_create("smbdirectd-pool", MFD_CLOEXEC);
	if (pool->fd == -1) {
		goto fail;
	}
	if (ftruncate(pool->fd, pool->size) != 0) {
		goto fail;
	}
	p = mmap(NULL, pool->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 pool->fd, 0);
	if (p == MAP_FAILED) {
		goto fail;
	}
	pool->base = p;
	return pool;
fail:
	{
		int err = errno;
		TALLOC_FREE(pool);
		errno = err;
	}
	return NULL;
}

uint8_t *smbdirectd_pool_base(const struct smbdirectd_pool *pool)
{
	return pool->base;
}

size_t smbdirectd_pool_size(const struct smbdirectd_pool *pool)
{
	return pool->size;
}

int smbdirectd_pool_fd(const struct smbdirectd_pool *pool)
{
	return pool->fd;
}

size_t smbdirectd_pool_in_use(const struct smbdirectd_pool *pool)
{
	return pool->units_in_use * SMBDIRECTD_POOL_UNIT;
}

size_t smbdirectd_pool_waiters(const struct smbdirectd_pool *pool)
{
	return pool->num_waiters;
}

uint64_t smbdirectd_pool_waits(const struct smbdirectd_pool *pool)
{
	return pool->num_waits;
}

/* First fit over the unit map; false when no run of n units is free. */
static bool pool_reserve(struct smbdirectd_pool *pool, size_t n, size_t *first)
{
	size_t i;
	size_t run = 0;

	for (i = 0; i < pool->num_units; i++) {
		if (pool->used[i]) {
			run = 0;
			continue;
		}
		run += 1;
		if (run == n) {
			size_t start = i + 1 - n;

			memset(pool->used + start, 1, n);
			pool->units_in_use += n;
			*first = start;
			return true;
		}
	}
	return false;
}

static void pool_wake_waiters(struct smbdirectd_pool *pool);

static int chunk_destructor(struct smbdirectd_pool_chunk *c)
{
	struct smbdirectd_pool *pool = c->pool;
	size_t first = c->ofs / SMBDIRECTD_POOL_UNIT;
	size_t n = units_for(c->len);

	memset(pool->used + first, 0, n);
	pool->units_in_use -= n;
	pool_wake_waiters(pool);
	return 0;
}

static struct smbdirectd_pool_chunk *pool_chunk_new(
	TALLOC_CTX *mem_ctx,
	struct smbdirectd_pool *pool,
	size_t len)
{
	struct smbdirectd_pool_chunk *c = NULL;
	size_t first;

	c = talloc_zero(mem_ctx, struct smbdirectd_pool_chunk);
	if (c == NULL) {
		return NULL;
	}
	if (!pool_reserve(pool, units_for(len), &first)) {
		TALLOC_FREE(c);
		return NULL;
	}
	c->pool = pool;
	c->ofs = first * SMBDIRECTD_POOL_UNIT;
	c->ptr = pool->base + c->ofs;
	c->len = len;
	talloc_set_destructor(c, chunk_destructor);
	return c;
}

static bool pool_try_alloc(struct pool_alloc_state *state)
{
	state->chunk = pool_chunk_new(state, state->pool, state->len);
	return state->chunk != NULL;
}

struct smbdirectd_pool_chunk *smbdirectd_pool_alloc_now(
	TALLOC_CTX *mem_ctx,
	struct smbdirectd_pool *pool,
	size_t len)
{
	if (len == 0 || pool->waiters != NULL) {
		return NULL; /* never overtake those already waiting */
	}
	return pool_chunk_new(mem_ctx, pool, len);
}

static int waiter_destructor(struct pool_waiter *w)
{
	struct pool_alloc_state *state =
		tevent_req_data(w->req, struct pool_alloc_state);

	DLIST_REMOVE(state->pool->waiters, w);
	state->pool->num_waiters -= 1;
	return 0;
}

/*
 * Memory came back: serve waiters in order. The first that still does
 * not fit stops the scan, so a large request is not starved by a stream
 * of small ones.
 */
static void pool_wake_waiters(struct smbdirectd_pool *pool)
{
	struct pool_waiter *w = NULL;

	while ((w = pool->waiters) != NULL) {
		struct tevent_req *req = w->req;
		struct pool_alloc_state *state =
			tevent_req_data(req, struct pool_alloc_state);

		if (!pool_try_alloc(state)) {
			return;
		}
		TALLOC_FREE(state->waiter);
		/* do not run the caller inside a chunk's destructor */
		tevent_req_defer_callback(req, state->ev);
		tevent_req_done(req);
	}
}

struct tevent_req *smbdirectd_pool_alloc_send(TALLOC_CTX *mem_ctx,
					      struct tevent_context *ev,
					      struct smbdirectd_pool *pool,
					      size_t len)
{
	struct tevent_req *req = NULL;
	struct pool_alloc_state *state = NULL;

	req = tevent_req_create(mem_ctx, &state, struct pool_alloc_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->pool = pool;
	state->len = len;

	if (len == 0 || units_for(len) > pool->num_units) {
		tevent_req_error(req, EMSGSIZE);
		return tevent_req_post(req, ev);
	}
	/* Behind others already waiting: keep the order. */
	if (pool->waiters == NULL && pool_try_alloc(state)) {
		tevent_req_done(req);
		return tevent_req_post(req, ev);
	}

	state->waiter = talloc_zero(state, struct pool_waiter);
	if (tevent_req_nomem(state->waiter, req)) {
		return tevent_req_post(req, ev);
	}
	state->waiter->req = req;
	DLIST_ADD_END(pool->waiters, state->waiter);
	pool->num_waiters += 1;
	pool->num_waits += 1;
	talloc_set_destructor(state->waiter, waiter_destructor);
	DBG_DEBUG("pool exhausted (%zu of %zu bytes in use): %zu bytes wait\n",
		  smbdirectd_pool_in_use(pool),
		  pool->size,
		  len);
	return req;
}

int smbdirectd_pool_alloc_recv(struct tevent_req *req,
			       TALLOC_CTX *mem_ctx,
			       struct smbdirectd_pool_chunk **chunk)
{
	struct pool_alloc_state *state =
		tevent_req_data(req, struct pool_alloc_state);
	int err;

	if (tevent_req_is_unix_error(req, &err)) {
		return err;
	}
	*chunk = talloc_move(mem_ctx, &state->chunk);
	return 0;
}
