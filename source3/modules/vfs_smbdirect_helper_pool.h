/*
 * vfs_smbdirect: the inside of the helper pool, shared by
 * vfs_smbdirect_helper_pool.c (the helper processes and their buffers)
 * and vfs_smbdirect_io.c (the requests and their dispatch)
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _VFS_SMBDIRECT_HELPER_POOL_H_
#define _VFS_SMBDIRECT_HELPER_POOL_H_

/*
 * How it works
 *
 * smbd (the parent) forks a helper when a request finds no idle one and
 * the pool holds fewer than max_helpers; otherwise the request waits in
 * a FIFO. Parent and helper (vfs_smbdirect_helper_child.c) talk over a
 * SOCK_SEQPACKET socketpair: one request message (struct sdio_wire_req
 * in vfs_smbdirect_helpers_wire.h, with the file's descriptor and
 * sometimes a buffer's descriptor as SCM_RIGHTS), one reply message
 * (struct sdio_wire_rep). A helper serves one request at a time.
 *
 * Buffers. A request names a buffer by id. Id 0 is the helper's own
 * buffer: a memfd the parent creates on first use, sizes to the request
 * (powers of two from 64 KiB, no upper limit), hands to the helper once
 * (SDIO_F_BUF_FD) and resizes with ftruncate. Every request carries the
 * buffer's current size; the helper re-maps whenever that changed. Ids
 * 1..SMBDIRECT_IO_MAX_EXT_BUFFERS are shared-memory files registered
 * with the pool (the hook for the zero-copy link to smbdirectd): same
 * wire format, the helper reads or writes at buf_offset in them and the
 * parent copies nothing.
 *
 * Giving memory back: a helper whose last SDIO_SHRINK_WINDOW requests
 * all fitted in a smaller power of two shrinks to it (ftruncate frees
 * the pages in both processes at once), and idle helpers exit after
 * idle_timeout, taking their buffer with them. The parent's mappings
 * are MADV_DONTFORK so that a new helper does not pin the buffers of
 * the others.
 *
 * Failures. A helper that dies, sends garbage or cannot be written to
 * is discarded: only the request it was serving fails (EIO), and the
 * next request forks a new one. Nothing here asserts on a helper's
 * state. A request freed while a helper works on it leaves the helper
 * to finish and its answer is drained; if the helper does not answer
 * within idle_timeout it is killed. A freed request that used a
 * registered buffer kills its helper at once: that buffer's memory may
 * be handed out again, and a late write into it would corrupt the next
 * user. Nothing is said about such a buffer's memory before the helper
 * is seen to be gone (its end of the socket closes only after its
 * memory is unmapped): a failed request on a registered buffer
 * completes, and a freed one calls its ext_release, only then. A
 * registered buffer may come with a guard descriptor, which each helper
 * keeps open from its first request on that buffer until it exits.
 *
 * Completions are delivered through tevent_req_defer_callback(), so no
 * caller's callback runs inside the pool's own event handlers.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>
#include <tevent.h>
#include "vfs_smbdirect_helpers.h"
#include "vfs_smbdirect_helpers_wire.h"

struct sdio_state;

struct sdio_helper {
	struct sdio_helper *prev, *next;
	struct smbdirect_io_pool *pool;
	pid_t pid;
	int sock;
	struct tevent_fd *fde;

	/* The own buffer: a memfd, mapped here with MADV_DONTFORK. */
	int buf_fd;
	uint8_t *buf;
	size_t buf_size;
	bool buf_fd_sent;

	/* Generation of each registered buffer this helper has. */
	uint64_t ext_gen[SDIO_NUM_BUFS];

	bool busy;
	/* NULL while idle, or busy with a request that was freed. */
	struct sdio_state *req;
	uint64_t seqnum;
	size_t cur_len;
	struct tevent_timer *orphan_timer;

	/* Kill instead of letting it exit on end of file. */
	bool kill_it;

	/* Busy with a request on a registered buffer. */
	bool ext_busy;
	/* That request was freed: call this once the helper is done. */
	void (*ext_release)(void *ext_release_data);
	void *ext_release_data;
	/* Killed with such a request: waiting to see it exit. */
	bool dying;
	int dying_err;

	struct timeval idle_since;
	size_t window_max;
	unsigned window_count;
};

struct sdio_ext_buf {
	int fd;			/* -1: slot free */
	int guard_fd;		/* -1: none */
	uint64_t size;
	uint64_t gen;
};

struct smbdirect_io_pool {
	struct tevent_context *ev;
	unsigned max_helpers;
	unsigned idle_timeout_ms;
	pid_t parent_pid;

	struct sdio_helper *helpers;
	unsigned num_helpers;
	struct sdio_state *waiting;	/* FIFO */
	struct tevent_timer *idle_timer;
	uint64_t next_seqnum;

	struct sdio_ext_buf ext[SDIO_NUM_BUFS];
	uint64_t next_ext_gen;

	/* Helpers gone but not yet waited for (smbd may reap them first). */
	pid_t *zombies;
	size_t num_zombies;
	struct tevent_timer *reap_timer;
	unsigned reap_delay_ms;

	bool destroying;
};

struct sdio_state {
	struct sdio_state *prev, *next;	/* in pool->waiting */
	struct tevent_req *req;
	struct smbdirect_io_pool *pool;
	struct smbdirect_io_args args;
	bool queued;
	unsigned attempts;
	struct sdio_helper *helper;
	/* A registered buffer whose fate the caller has not taken yet. */
	bool ext_pending;

	ssize_t result;
	int error;
	uint64_t duration_ns;
};

/*
 * The helper processes (vfs_smbdirect_helper_pool.c). readable handles
 * what arrives on a new helper's socket: the answers, which only the
 * requests' side knows what to do with.
 */
int sdio_helper_spawn(struct smbdirect_io_pool *pool,
		      tevent_fd_handler_t readable,
		      struct sdio_helper **ph);
void sdio_helper_gone(struct sdio_helper *h);
void sdio_helper_discard(struct sdio_helper *h, int err);
size_t sdio_buf_round(size_t n);
int sdio_helper_buf_resize(struct sdio_helper *h, size_t size);
void sdio_helper_now_idle(struct sdio_helper *h, size_t len);
void sdio_state_unqueue(struct sdio_state *state);

#endif
