/*
 * vfs_smbdirect: requests to the helper pool: the tevent_req API of
 * vfs_smbdirect_helpers.h, the queue of waiting requests and its dispatch
 * to idle helpers, the request message out and the answer back
 * (vfs_smbdirect_helpers_wire.h). The helper processes themselves are
 * in vfs_smbdirect_helper_pool.c.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 *
 * This program is distributed in the hope that it will be useful,
 * but WITHOUT ANY WARRANTY; without even the implied warranty of
 * MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
 * GNU General Public License for more details.
 *
 * You should have received a copy of the GNU General Public License
 * along with this program.  If not, see <http://www.gnu.org/licenses/>.
 */

#include "replace.h"
#include "system/network.h"
#include <talloc.h>
#include <tevent.h>
#include "lib/util/debug.h"
#include "lib/util/dlinklist.h"
#include "lib/util/msghdr.h"
#include "lib/util/tevent_unix.h"
#include "vfs_smbdirect_helpers.h"
#include "vfs_smbdirect_helpers_wire.h"
#include "vfs_smbdirect_helper_pool.h"

#undef DBGC_CLASS
#define DBGC_CLASS DBGC_VFS

/* A request whose helper was discarded under it is tried this often. */
#define SDIO_MAX_ATTEMPTS 3

static void sdio_pool_dispatch(struct smbdirect_io_pool *pool);

static const char *sdio_op_name(enum smbdirect_io_op op)
{
	switch (op) {
	case SMBDIRECT_IO_PREAD:
		return "pread";
	case SMBDIRECT_IO_PWRITE:
		return "pwrite";
	case SMBDIRECT_IO_FSYNC:
		return "fsync";
	}
	return "?";
}

/* 0, or an errno; *pretry says whether another helper may succeed. */
static int sdio_helper_start(struct sdio_helper *h,
			     struct sdio_state *state,
			     bool *pretry)
{
	struct smbdirect_io_pool *pool = h->pool;
	const struct smbdirect_io_args *a = &state->args;
	struct sdio_wire_req rq = {
		.magic = SDIO_MAGIC_REQ,
		.op = a->op,
		.buf_id = a->ext_id,
		.delay_ms = a->test_delay_ms,
		.length = a->n,
		.offset = a->offset,
		.seqnum = ++pool->next_seqnum,
	};
	struct iovec iov = { .iov_base = &rq, .iov_len = sizeof(rq) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(3 * sizeof(int))];
	} cbuf;
	int fds[3] = { a->fd, -1, -1 };
	size_t nfds = 1;
	ssize_t sent;
	int ret;

	*pretry = false;

	if (a->op == SMBDIRECT_IO_FSYNC) {
		/* No buffer. */
	} else if (a->ext_id == 0) {
		if (a->n > h->buf_size) {
			size_t size = sdio_buf_round(a->n);

			if (size == 0) {
				return ENOMEM;
			}
			ret = sdio_helper_buf_resize(h, size);
			if (ret != 0) {
				return ret;
			}
		}
		if (h->buf_fd != -1 && !h->buf_fd_sent) {
			rq.flags |= SDIO_F_BUF_FD;
			fds[1] = h->buf_fd;
			nfds = 2;
		}
		rq.buf_size = h->buf_size;
		if (a->op == SMBDIRECT_IO_PWRITE && a->n != 0) {
			memcpy(h->buf, a->data, a->n);
		}
	} else {
		struct sdio_ext_buf *e = &pool->ext[a->ext_id];

		if (e->fd == -1) {
			return EBADF;
		}
		if (h->ext_gen[a->ext_id] != e->gen) {
			rq.flags |= SDIO_F_BUF_FD;
			fds[1] = e->fd;
			nfds = 2;
			if (e->guard_fd != -1) {
				rq.flags |= SDIO_F_GUARD_FD;
				fds[2] = e->guard_fd;
				nfds = 3;
			}
		}
		rq.buf_size = e->size;
		rq.buf_offset = a->ext_offset;
	}

	if (msghdr_prep_fds(&msg, cbuf.buf, sizeof(cbuf.buf),
			    fds, nfds) == -1) {
		return EINVAL;
	}

	/*
	 * An idle helper has read everything we sent it, so this small
	 * message never blocks.
	 */
	do {
		sent = sendmsg(h->sock, &msg, MSG_DONTWAIT|MSG_NOSIGNAL);
	} while (sent == -1 && errno == EINTR);
	if (sent == -1 && errno == EBADF) {
		/* The caller's descriptor, not ours: the helper is fine. */
		return EBADF;
	}
	if (sent != sizeof(rq)) {
		ret = (sent == -1) ? errno : EIO;
		DBG_WARNING("helper %d is gone (%s): replacing it\n",
			    (int)h->pid, strerror(ret));
		sdio_helper_discard(h, EIO);
		*pretry = true;
		return EIO;
	}

	if (rq.flags & SDIO_F_BUF_FD) {
		if (a->ext_id == 0) {
			h->buf_fd_sent = true;
		} else {
			h->ext_gen[a->ext_id] = pool->ext[a->ext_id].gen;
		}
	}

	h->busy = true;
	h->ext_busy = (a->op != SMBDIRECT_IO_FSYNC && a->ext_id != 0);
	h->req = state;
	h->seqnum = rq.seqnum;
	h->cur_len = (a->ext_id == 0) ? a->n : 0;
	state->helper = h;

	DBG_DEBUG("helper %d: %s of %zu bytes at %jd\n",
		  (int)h->pid, sdio_op_name(a->op), a->n,
		  (intmax_t)a->offset);
	return 0;
}

static void sdio_state_finish(struct sdio_state *state,
			      struct sdio_helper *h,
			      const struct sdio_wire_rep *rp)
{
	const struct smbdirect_io_args *a = &state->args;

	state->result = rp->result;
	state->error = rp->error;
	state->duration_ns = rp->duration_ns;

	if (state->result < -1 ||
	    (state->result >= 0 && (uint64_t)state->result > a->n &&
	     a->op != SMBDIRECT_IO_FSYNC)) {
		DBG_ERR("helper %d answered %jd for a %s of %zu bytes\n",
			(int)h->pid, (intmax_t)state->result,
			sdio_op_name(a->op), a->n);
		tevent_req_error(state->req, EIO);
		return;
	}
	if (state->result == -1 && state->error == 0) {
		state->error = EIO;
	}
	if (a->op == SMBDIRECT_IO_PREAD && a->ext_id == 0 &&
	    state->result > 0) {
		memcpy(a->data, h->buf, state->result);
	}
	tevent_req_done(state->req);
}

static void sdio_helper_readable(struct tevent_context *ev,
				 struct tevent_fd *fde,
				 uint16_t flags,
				 void *private_data)
{
	struct sdio_helper *h = talloc_get_type_abort(
		private_data, struct sdio_helper);
	struct smbdirect_io_pool *pool = h->pool;
	struct sdio_state *state = NULL;
	struct sdio_wire_rep rp;
	ssize_t n;

	n = recv(h->sock, &rp, sizeof(rp), MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		return;
	}
	if (h->dying) {
		if (n > 0) {
			return; /* killed after all; wait for its exit */
		}
		DBG_INFO("helper %d has exited\n", (int)h->pid);
		sdio_helper_gone(h);
		sdio_pool_dispatch(pool);
		return;
	}
	if (n != sizeof(rp) || rp.magic != SDIO_MAGIC_REP || !h->busy ||
	    rp.seqnum != h->seqnum) {
		if (h->req != NULL) {
			DBG_ERR("helper %d failed during a %s of %zu bytes "
				"(%s): the request fails with EIO\n",
				(int)h->pid,
				sdio_op_name(h->req->args.op),
				h->req->args.n,
				n == 0 ? "it exited" :
				n == -1 ? strerror(errno) : "bad answer");
		} else {
			DBG_NOTICE("helper %d exited or failed while %s\n",
				   (int)h->pid,
				   h->busy ? "draining" : "idle");
		}
		sdio_helper_discard(h, EIO);
		sdio_pool_dispatch(pool);
		return;
	}

	state = h->req;
	h->req = NULL;
	h->busy = false;
	h->ext_busy = false;
	TALLOC_FREE(h->orphan_timer);
	if (state != NULL) {
		state->helper = NULL;
		sdio_state_finish(state, h, &rp);
	} else {
		DBG_DEBUG("helper %d: drained the answer to a freed "
			  "request\n", (int)h->pid);
	}
	if (h->ext_release != NULL) {
		void (*release)(void *data) = h->ext_release;

		h->ext_release = NULL;
		release(h->ext_release_data);
	}
	sdio_helper_now_idle(h, h->cur_len);
	sdio_pool_dispatch(pool);
}

static void sdio_helper_orphan_timeout(struct tevent_context *ev,
				       struct tevent_timer *te,
				       struct timeval now,
				       void *private_data)
{
	struct sdio_helper *h = talloc_get_type_abort(
		private_data, struct sdio_helper);
	struct smbdirect_io_pool *pool = h->pool;

	h->orphan_timer = NULL;
	DBG_WARNING("helper %d still busy %u ms after its request was "
		    "freed: killing it\n",
		    (int)h->pid, pool->idle_timeout_ms);
	sdio_helper_discard(h, EIO);
	sdio_pool_dispatch(pool);
}

static struct sdio_helper *sdio_pool_pick_idle(
	struct smbdirect_io_pool *pool, size_t need)
{
	struct sdio_helper *h, *fit = NULL, *largest = NULL;

	/*
	 * The smallest buffer that fits, so that small requests do not
	 * keep large buffers busy; else grow the largest one.
	 */
	for (h = pool->helpers; h != NULL; h = h->next) {
		if (h->busy) {
			continue;
		}
		if (h->buf_size >= need) {
			if (fit == NULL || h->buf_size < fit->buf_size) {
				fit = h;
			}
		} else if (largest == NULL ||
			   h->buf_size > largest->buf_size) {
			largest = h;
		}
	}
	return (fit != NULL) ? fit : largest;
}

static void sdio_pool_dispatch(struct smbdirect_io_pool *pool)
{
	while (pool->waiting != NULL) {
		struct sdio_state *state = pool->waiting;
		const struct smbdirect_io_args *a = &state->args;
		size_t need = 0;
		struct sdio_helper *h;
		bool spawned = false;
		bool retry;
		int ret;

		if (a->ext_id == 0 && a->op != SMBDIRECT_IO_FSYNC) {
			need = a->n;
		}

		h = sdio_pool_pick_idle(pool, need);
		if (h == NULL) {
			spawned = true;
			if (pool->num_helpers >= pool->max_helpers) {
				/* The next helper to finish calls us. */
				return;
			}
			ret = sdio_helper_spawn(pool, sdio_helper_readable, &h);
			if (ret != 0 && pool->num_helpers > 0) {
				/* Wait for one of those instead. */
				return;
			}
			if (ret != 0) {
				sdio_state_unqueue(state);
				tevent_req_error(state->req, ret);
				continue;
			}
		}

		sdio_state_unqueue(state);
		state->attempts += 1;
		ret = sdio_helper_start(h, state, &retry);
		if (ret == 0) {
			continue;
		}
		if (retry && !spawned) {
			/*
			 * An idle helper that had died (killed, say) before
			 * we noticed: it is discarded now, so this cannot
			 * repeat for ever; only new helpers count.
			 */
			state->attempts -= 1;
		}
		if (retry && state->attempts < SDIO_MAX_ATTEMPTS) {
			/* Nothing reached a helper: safe to try again. */
			DLIST_ADD(pool->waiting, state);
			state->queued = true;
			continue;
		}
		tevent_req_error(state->req, ret);
	}
}

/*
 * ------------------------------------------------------------------
 * Requests
 * ------------------------------------------------------------------
 */

static void sdio_req_cleanup(struct tevent_req *req,
			     enum tevent_req_state req_state)
{
	struct sdio_state *state = tevent_req_data(req, struct sdio_state);
	struct sdio_helper *h = state->helper;
	struct smbdirect_io_pool *pool;

	sdio_state_unqueue(state);
	if (h == NULL) {
		if (req_state == TEVENT_REQ_RECEIVED && state->ext_pending &&
		    state->args.ext_release != NULL) {
			/* no helper has (or will have) it for us */
			state->ext_pending = false;
			state->args.ext_release(state->args.ext_release_data);
		}
		return;
	}

	/* Freed while a helper works on it. */
	pool = h->pool;
	state->helper = NULL;
	h->req = NULL;

	if (state->args.ext_id != 0) {
		DBG_NOTICE("request freed while helper %d works on a "
			   "registered buffer: killing it\n", (int)h->pid);
		if (state->ext_pending) {
			state->ext_pending = false;
			h->ext_release = state->args.ext_release;
			h->ext_release_data = state->args.ext_release_data;
		}
		sdio_helper_discard(h, EIO);
		sdio_pool_dispatch(pool);
		return;
	}

	/*
	 * The helper only touches its own buffer: let it finish and drain
	 * its answer, but do not wait for ever.
	 */
	DBG_DEBUG("request freed in flight: helper %d drains it\n",
		  (int)h->pid);
	h->orphan_timer = tevent_add_timer(
		pool->ev, h,
		tevent_timeval_current_ofs(pool->idle_timeout_ms / 1000,
					   (pool->idle_timeout_ms % 1000) *
					   1000),
		sdio_helper_orphan_timeout, h);
	if (h->orphan_timer == NULL) {
		sdio_helper_discard(h, EIO);
		sdio_pool_dispatch(pool);
	}
}

struct tevent_req *smbdirect_io_send(TALLOC_CTX *mem_ctx,
				     struct tevent_context *ev,
				     struct smbdirect_io_pool *pool,
				     const struct smbdirect_io_args *args)
{
	struct tevent_req *req;
	struct sdio_state *state;

	req = tevent_req_create(mem_ctx, &state, struct sdio_state);
	if (req == NULL) {
		return NULL;
	}
	state->req = req;
	state->pool = pool;
	state->args = *args;
	state->result = -1;
	state->ext_pending = (args->ext_id != 0 &&
			      args->op != SMBDIRECT_IO_FSYNC);

	switch (args->op) {
	case SMBDIRECT_IO_PREAD:
	case SMBDIRECT_IO_PWRITE:
		if (args->n > SSIZE_MAX ||
		    (args->ext_id == 0 && args->n != 0 &&
		     args->data == NULL)) {
			tevent_req_error(req, EINVAL);
			return tevent_req_post(req, ev);
		}
		break;
	case SMBDIRECT_IO_FSYNC:
		break;
	default:
		tevent_req_error(req, EINVAL);
		return tevent_req_post(req, ev);
	}
	if (args->ext_id >= SDIO_NUM_BUFS ||
	    (args->ext_id != 0 && pool->ext[args->ext_id].fd == -1)) {
		tevent_req_error(req, EBADF);
		return tevent_req_post(req, ev);
	}

	tevent_req_set_cleanup_fn(req, sdio_req_cleanup);
	/*
	 * The pool completes requests from its own event handlers; a
	 * caller's callback must not run in there (it may free the pool,
	 * or the request of another helper).
	 */
	tevent_req_defer_callback(req, ev);

	DLIST_ADD_END(pool->waiting, state);
	state->queued = true;
	sdio_pool_dispatch(pool);
	return req;
}

ssize_t smbdirect_io_recv(struct tevent_req *req,
			  int *perrno,
			  uint64_t *pduration_ns)
{
	struct sdio_state *state = tevent_req_data(req, struct sdio_state);
	ssize_t result;
	int err;

	*pduration_ns = 0;
	/* Whatever happened, the caller now knows the buffer is free. */
	state->ext_pending = false;
	if (tevent_req_is_unix_error(req, &err)) {
		*perrno = err;
		tevent_req_received(req);
		return -1;
	}
	result = state->result;
	*perrno = state->error;
	*pduration_ns = state->duration_ns;
	tevent_req_received(req);
	return result;
}

struct tevent_req *smbdirect_io_pread_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   struct smbdirect_io_pool *pool,
					   int fd,
					   void *data,
					   size_t n,
					   off_t offset)
{
	struct smbdirect_io_args args = {
		.op = SMBDIRECT_IO_PREAD,
		.fd = fd,
		.data = data,
		.n = n,
		.offset = offset,
	};
	return smbdirect_io_send(mem_ctx, ev, pool, &args);
}

struct tevent_req *smbdirect_io_pwrite_send(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct smbdirect_io_pool *pool,
					    int fd,
					    const void *data,
					    size_t n,
					    off_t offset)
{
	struct smbdirect_io_args args = {
		.op = SMBDIRECT_IO_PWRITE,
		.fd = fd,
		/* Only read from: see sdio_helper_start. */
		.data = discard_const_p(void, data),
		.n = n,
		.offset = offset,
	};
	return smbdirect_io_send(mem_ctx, ev, pool, &args);
}

struct tevent_req *smbdirect_io_fsync_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   struct smbdirect_io_pool *pool,
					   int fd)
{
	struct smbdirect_io_args args = {
		.op = SMBDIRECT_IO_FSYNC,
		.fd = fd,
	};
	return smbdirect_io_send(mem_ctx, ev, pool, &args);
}

pid_t smbdirect_io_req_helper_pid(struct tevent_req *req)
{
	struct sdio_state *state = tevent_req_data(req, struct sdio_state);

	return (state->helper != NULL) ? state->helper->pid : -1;
}
