/*
 * vfs_smbdirect: a pool of forked I/O helper processes
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

/*
 * How it works
 *
 * smbd (the parent) forks a helper when a request finds no idle one and
 * the pool holds fewer than max_helpers; otherwise the request waits in
 * a FIFO. Parent and helper talk over a SOCK_SEQPACKET socketpair: one
 * request message (struct sdio_wire_req, with the file's descriptor and
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
 * user.
 *
 * Completions are delivered through tevent_req_defer_callback(), so no
 * caller's callback runs inside the pool's own event handlers.
 */

#include "replace.h"
#include "system/filesys.h"
#include "system/network.h"
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <talloc.h>
#include <tevent.h>
#include "lib/util/attr.h"
#include "lib/util/debug.h"
#include "lib/util/dlinklist.h"
#include "lib/util/msghdr.h"
#include "lib/util/sys_rw.h"
#include "lib/util/tevent_unix.h"
#include "vfs_smbdirect_helpers.h"

#undef DBGC_CLASS
#define DBGC_CLASS DBGC_VFS

#define SDIO_MAGIC_REQ 0x51494453	/* "SDIQ" */
#define SDIO_MAGIC_REP 0x52494453	/* "SDIR" */

/* The request carries a buffer's descriptor after the file's. */
#define SDIO_F_BUF_FD 0x0001

#define SDIO_NUM_BUFS (1 + SMBDIRECT_IO_MAX_EXT_BUFFERS)

/* Smallest own buffer; sizes go up in powers of two from here. */
#define SDIO_BUF_MIN (64 * 1024)

/* Requests looked at before a helper's buffer shrinks. */
#define SDIO_SHRINK_WINDOW 8

/* A request whose helper was discarded under it is tried this often. */
#define SDIO_MAX_ATTEMPTS 3

/* The wire format: both sides are the same binary, so host order. */
struct sdio_wire_req {
	uint32_t magic;
	uint16_t op;		/* enum smbdirect_io_op */
	uint16_t flags;		/* SDIO_F_* */
	uint32_t buf_id;	/* 0: own buffer, else a registered one */
	uint32_t delay_ms;	/* testing only */
	uint64_t buf_size;	/* size of the buffer object to map */
	uint64_t buf_offset;	/* where the data starts in it */
	uint64_t length;
	int64_t offset;		/* in the file */
	uint64_t seqnum;
};

struct sdio_wire_rep {
	uint32_t magic;
	int32_t error;		/* errno when result == -1 */
	int64_t result;
	uint64_t duration_ns;
	uint64_t seqnum;
};

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

	struct timeval idle_since;
	size_t window_max;
	unsigned window_count;
};

struct sdio_ext_buf {
	int fd;			/* -1: slot free */
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

	ssize_t result;
	int error;
	uint64_t duration_ns;
};

/*
 * ------------------------------------------------------------------
 * The helper process. After fork it runs only this code and leaves with
 * _exit(): no talloc, no tevent, no DEBUG (the log file's descriptor is
 * closed, and its number may be reused by a file sent to us).
 * ------------------------------------------------------------------
 */

struct sdio_child_buf {
	int fd;
	uint8_t *ptr;
	size_t mapped;
};

static bool sdio_child_map(struct sdio_child_buf *b, uint64_t size)
{
	void *p;

	if (b->mapped == size && (size == 0 || b->ptr != NULL)) {
		return true;
	}
	if (b->ptr != NULL) {
		munmap(b->ptr, b->mapped);
		b->ptr = NULL;
		b->mapped = 0;
	}
	if (size == 0) {
		return true;
	}
	if (b->fd == -1 || size > SIZE_MAX) {
		errno = EINVAL;
		return false;
	}
	p = mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_SHARED, b->fd, 0);
	if (p == MAP_FAILED) {
		return false;
	}
	b->ptr = p;
	b->mapped = size;
	return true;
}

static void sdio_child_do(const struct sdio_wire_req *rq,
			  struct sdio_wire_rep *rp,
			  int fd,
			  struct sdio_child_buf *bufs)
{
	struct timespec t0, t1;
	uint8_t *p = NULL;
	ssize_t ret;
	int err = 0;

	rp->result = -1;

	if (rq->op == SMBDIRECT_IO_PREAD || rq->op == SMBDIRECT_IO_PWRITE) {
		struct sdio_child_buf *b = &bufs[rq->buf_id];

		/* Nothing to map for zero bytes: keep the mapping we have. */
		if (rq->length != 0) {
			if (!sdio_child_map(b, rq->buf_size)) {
				rp->error = errno;
				return;
			}
			if (rq->buf_offset > b->mapped ||
			    rq->length > b->mapped - rq->buf_offset) {
				rp->error = EINVAL;
				return;
			}
			p = b->ptr + rq->buf_offset;
		}
	}

	if (rq->delay_ms != 0) {
		struct timespec d = {
			.tv_sec = rq->delay_ms / 1000,
			.tv_nsec = (rq->delay_ms % 1000) * 1000000L,
		};
		while (nanosleep(&d, &d) == -1 && errno == EINTR) {
			;
		}
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	switch (rq->op) {
	case SMBDIRECT_IO_PREAD:
		ret = sys_pread_full(fd, p, rq->length, rq->offset);
		break;
	case SMBDIRECT_IO_PWRITE:
		ret = sys_pwrite_full(fd, p, rq->length, rq->offset);
		break;
	case SMBDIRECT_IO_FSYNC:
		ret = fsync(fd);
		break;
	default:
		ret = -1;
		errno = EINVAL;
		break;
	}
	if (ret == -1) {
		err = errno;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	rp->result = ret;
	rp->error = err;
	rp->duration_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ULL +
			  (uint64_t)(t1.tv_nsec - t0.tv_nsec);
}

static void sdio_child_serve(int sock) _NORETURN_;
static void sdio_child_serve(int sock)
{
	struct sdio_child_buf bufs[SDIO_NUM_BUFS];
	size_t i;

	for (i = 0; i < SDIO_NUM_BUFS; i++) {
		bufs[i] = (struct sdio_child_buf) { .fd = -1 };
	}

	for (;;) {
		struct sdio_wire_req rq;
		struct sdio_wire_rep rp = { .magic = SDIO_MAGIC_REP };
		struct iovec iov = { .iov_base = &rq, .iov_len = sizeof(rq) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		union {
			struct cmsghdr align;
			uint8_t buf[CMSG_SPACE(2 * sizeof(int))];
		} cbuf;
		int fds[2] = { -1, -1 };
		size_t nfds, want;
		ssize_t nread, nsent;

		msghdr_prep_recv_fds(&msg, cbuf.buf, sizeof(cbuf.buf), 2);
		nread = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (nread == -1 && errno == EINTR) {
			continue;
		}
		if (nread <= 0) {
			/* The parent closed its end, or is gone. */
			_exit(0);
		}

		nfds = msghdr_extract_fds(&msg, NULL, 0);
		if (nfds > 2) {
			_exit(2);
		}
		msghdr_extract_fds(&msg, fds, 2);

		want = 1;
		if (nread == sizeof(rq) && (rq.flags & SDIO_F_BUF_FD)) {
			want = 2;
		}
		/*
		 * Only our own parent writes to this socket: anything odd
		 * is a bug, and exiting makes the parent fail the request
		 * and start afresh.
		 */
		if (nread != sizeof(rq) || rq.magic != SDIO_MAGIC_REQ ||
		    (msg.msg_flags & (MSG_TRUNC|MSG_CTRUNC)) ||
		    nfds != want || rq.buf_id >= SDIO_NUM_BUFS) {
			_exit(2);
		}

		if (rq.flags & SDIO_F_BUF_FD) {
			struct sdio_child_buf *b = &bufs[rq.buf_id];

			if (b->ptr != NULL) {
				munmap(b->ptr, b->mapped);
			}
			if (b->fd != -1) {
				close(b->fd);
			}
			*b = (struct sdio_child_buf) { .fd = fds[1] };
		}

		sdio_child_do(&rq, &rp, fds[0], bufs);

		/*
		 * Close the file before answering: smbd may close and
		 * reopen it as soon as it has the answer, and a copy open
		 * here must not get in the way (share modes, leases, file
		 * systems that lock on open).
		 */
		close(fds[0]);

		rp.seqnum = rq.seqnum;
		do {
			nsent = send(sock, &rp, sizeof(rp), MSG_NOSIGNAL);
		} while (nsent == -1 && errno == EINTR);
		if (nsent != sizeof(rp)) {
			_exit(3);
		}
	}
}

static void sdio_child_main(int sock, pid_t parent) _NORETURN_;
static void sdio_child_main(int sock, pid_t parent)
{
	sigset_t none;
	int sig, nul, i;

	(void)prctl(PR_SET_NAME, SMBDIRECT_IO_HELPER_NAME, 0, 0, 0);
	/* Do not outlive smbd, even if it dies without closing our socket. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent) {
		_exit(0);
	}

	/*
	 * smbd's signal handlers write to tevent's signal pipe, which is
	 * smbd's: a signal to a helper must not look like one to smbd.
	 * The parent blocked every signal around fork(), so none of its
	 * handlers can have run here yet.
	 */
	for (sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP) {
			continue;
		}
		(void)signal(sig, SIG_DFL);
	}
	(void)signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	/*
	 * Keep nothing of smbd's open: not the client's socket, not a file
	 * (a copy open here would hold share modes and leases and keep
	 * deleted files alive), not the messaging sockets, not the other
	 * helpers' sockets and buffers. Our socket moves to 3; 0-2 become
	 * /dev/null (in inetd mode they are the client's socket).
	 */
	if (sock != 3) {
		if (dup2(sock, 3) == -1) {
			_exit(1);
		}
		sock = 3;
	}
	nul = open("/dev/null", O_RDWR);
	if (nul != -1) {
		for (i = 0; i < 3; i++) {
			if (nul != i) {
				(void)dup2(nul, i);
			}
		}
	}
	closefrom(4);

	sdio_child_serve(sock);
}

/*
 * ------------------------------------------------------------------
 * The parent: helpers
 * ------------------------------------------------------------------
 */

static void sdio_pool_dispatch(struct smbdirect_io_pool *pool);
static void sdio_pool_add_zombie(struct smbdirect_io_pool *pool, pid_t pid);
static void sdio_pool_arm_idle_timer(struct smbdirect_io_pool *pool,
				     struct timeval at);
static void sdio_helper_readable(struct tevent_context *ev,
				 struct tevent_fd *fde,
				 uint16_t flags,
				 void *private_data);

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

/*
 * Whether the helper still holds its end of the socket, that is, still
 * runs. Asked before kill(): a helper that has exited may already be
 * reaped by smbd's SIGCHLD handler, and its pid may be someone else's.
 */
static bool sdio_helper_alive(struct sdio_helper *h)
{
	uint8_t c;
	ssize_t n;

	n = recv(h->sock, &c, sizeof(c), MSG_PEEK|MSG_DONTWAIT);
	if (n > 0) {
		return true;
	}
	if (n == 0) {
		return false;
	}
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

static int sdio_helper_destructor(struct sdio_helper *h)
{
	struct smbdirect_io_pool *pool = h->pool;

	DLIST_REMOVE(pool->helpers, h);
	pool->num_helpers -= 1;

	if (h->req != NULL) {
		h->req->helper = NULL;
		h->req = NULL;
	}

	/* Before close(): tevent must not see a closed descriptor. */
	TALLOC_FREE(h->fde);
	if (h->sock != -1) {
		if (h->kill_it && sdio_helper_alive(h)) {
			kill(h->pid, SIGKILL);
		}
		/* Otherwise the helper reads end of file and exits. */
		close(h->sock);
		h->sock = -1;
	}
	if (h->buf != NULL) {
		munmap(h->buf, h->buf_size);
		h->buf = NULL;
	}
	if (h->buf_fd != -1) {
		close(h->buf_fd);
		h->buf_fd = -1;
	}
	sdio_pool_add_zombie(pool, h->pid);
	return 0;
}

static int sdio_helper_spawn(struct smbdirect_io_pool *pool,
			     struct sdio_helper **ph)
{
	struct sdio_helper *h = NULL;
	sigset_t all, old;
	int sv[2];
	pid_t pid;
	int err;

	h = talloc_zero(pool, struct sdio_helper);
	if (h == NULL) {
		return ENOMEM;
	}

	if (socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0, sv) == -1) {
		err = errno;
		DBG_ERR("socketpair failed: %s\n", strerror(err));
		TALLOC_FREE(h);
		return err;
	}

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		sdio_child_main(sv[1], pool->parent_pid);
	}
	err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(sv[1]);

	if (pid == -1) {
		DBG_ERR("fork failed: %s\n", strerror(err));
		close(sv[0]);
		TALLOC_FREE(h);
		return err;
	}

	h->pool = pool;
	h->pid = pid;
	h->sock = sv[0];
	h->buf_fd = -1;
	DLIST_ADD(pool->helpers, h);
	pool->num_helpers += 1;
	talloc_set_destructor(h, sdio_helper_destructor);

	h->fde = tevent_add_fd(pool->ev, h, h->sock, TEVENT_FD_READ,
			       sdio_helper_readable, h);
	if (h->fde == NULL) {
		h->kill_it = true;
		TALLOC_FREE(h);
		return ENOMEM;
	}

	DBG_INFO("started helper %d (%u of at most %u)\n",
		 (int)pid, pool->num_helpers, pool->max_helpers);
	*ph = h;
	return 0;
}

/*
 * Discard a helper: fail the request it serves, if any, with err, kill
 * it and forget it. Only the pool's own state is touched; the request's
 * callback is deferred (see smbdirect_io_send).
 */
static void sdio_helper_discard(struct sdio_helper *h, int err)
{
	struct sdio_state *state = h->req;

	if (state != NULL) {
		h->req = NULL;
		state->helper = NULL;
		tevent_req_error(state->req, err);
	}
	h->kill_it = true;
	TALLOC_FREE(h);
}

static size_t sdio_buf_round(size_t n)
{
	size_t s = SDIO_BUF_MIN;

	while (s < n) {
		if (s > SIZE_MAX / 2) {
			return 0;
		}
		s *= 2;
	}
	return s;
}

/* Give the own buffer exactly size bytes (0: none); contents are lost. */
static int sdio_helper_buf_resize(struct sdio_helper *h, size_t size)
{
	void *p;
	int err;

	if (h->buf != NULL) {
		munmap(h->buf, h->buf_size);
		h->buf = NULL;
	}
	if (h->buf_fd == -1) {
		if (size == 0) {
			h->buf_size = 0;
			return 0;
		}
		h->buf_fd = memfd_create(SMBDIRECT_IO_HELPER_NAME,
					 MFD_CLOEXEC);
		if (h->buf_fd == -1) {
			err = errno;
			DBG_ERR("memfd_create failed: %s\n", strerror(err));
			h->buf_size = 0;
			return err;
		}
		h->buf_fd_sent = false;
	}

	/* Shrinking frees the pages, in the helper's mapping too. */
	if (ftruncate(h->buf_fd, size) == -1) {
		err = errno;
		goto fail;
	}
	h->buf_size = size;
	if (size == 0) {
		return 0;
	}

	p = mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_SHARED, h->buf_fd, 0);
	if (p == MAP_FAILED) {
		err = errno;
		goto fail;
	}
	/* Helpers forked later must not pin this memory. */
	(void)madvise(p, size, MADV_DONTFORK);
	h->buf = p;
	return 0;

fail:
	DBG_WARNING("cannot size the buffer of helper %d to %zu bytes: %s\n",
		    (int)h->pid, size, strerror(err));
	(void)ftruncate(h->buf_fd, 0);
	h->buf_size = 0;
	return err;
}

/*
 * The helper just finished a request of len bytes. Shrink its buffer
 * when a window of requests all fitted in a smaller one: a switch from
 * large to small I/O gives the memory back after a few requests, while
 * a mix of sizes does not re-map on every request.
 */
static void sdio_helper_now_idle(struct sdio_helper *h, size_t len)
{
	struct smbdirect_io_pool *pool = h->pool;

	h->idle_since = tevent_timeval_current();

	h->window_max = MAX(h->window_max, len);
	h->window_count += 1;
	if (h->window_count >= SDIO_SHRINK_WINDOW) {
		size_t want = sdio_buf_round(h->window_max);

		if (want != 0 && h->buf_size > want) {
			DBG_DEBUG("helper %d: buffer %zu -> %zu bytes\n",
				  (int)h->pid, h->buf_size, want);
			(void)sdio_helper_buf_resize(h, want);
		}
		h->window_max = 0;
		h->window_count = 0;
	}

	sdio_pool_arm_idle_timer(
		pool,
		tevent_timeval_add(&h->idle_since,
				   pool->idle_timeout_ms / 1000,
				   (pool->idle_timeout_ms % 1000) * 1000));
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
		uint8_t buf[CMSG_SPACE(2 * sizeof(int))];
	} cbuf;
	int fds[2] = { a->fd, -1 };
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
	TALLOC_FREE(h->orphan_timer);
	if (state != NULL) {
		state->helper = NULL;
		sdio_state_finish(state, h, &rp);
	} else {
		DBG_DEBUG("helper %d: drained the answer to a freed "
			  "request\n", (int)h->pid);
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

/*
 * ------------------------------------------------------------------
 * The parent: the pool
 * ------------------------------------------------------------------
 */

static void sdio_pool_reap(struct smbdirect_io_pool *pool);

static void sdio_pool_reap_timer(struct tevent_context *ev,
				 struct tevent_timer *te,
				 struct timeval now,
				 void *private_data)
{
	struct smbdirect_io_pool *pool = talloc_get_type_abort(
		private_data, struct smbdirect_io_pool);

	pool->reap_timer = NULL;
	sdio_pool_reap(pool);
}

/*
 * Wait for helpers that are gone. smbd's own SIGCHLD handler usually
 * reaps them first (then waitpid says ECHILD); elsewhere, such as in the
 * unit tests, nobody else would.
 */
static void sdio_pool_reap(struct smbdirect_io_pool *pool)
{
	size_t i = 0;

	while (i < pool->num_zombies) {
		int status;
		pid_t ret = waitpid(pool->zombies[i], &status, WNOHANG);

		if (ret == 0 || (ret == -1 && errno == EINTR)) {
			i += 1;
			continue;
		}
		if (ret > 0 && WIFSIGNALED(status)) {
			DBG_INFO("helper %d ended by signal %d\n",
				 (int)ret, WTERMSIG(status));
		}
		pool->num_zombies -= 1;
		pool->zombies[i] = pool->zombies[pool->num_zombies];
	}

	if (pool->num_zombies == 0) {
		TALLOC_FREE(pool->zombies);
		pool->reap_delay_ms = 0;
		return;
	}
	if (pool->destroying || pool->reap_timer != NULL) {
		return;
	}
	/* Most are gone within milliseconds; back off for the slow ones. */
	pool->reap_delay_ms = pool->reap_delay_ms == 0 ?
		10 : MIN(pool->reap_delay_ms * 2, 1000);
	pool->reap_timer = tevent_add_timer(
		pool->ev, pool,
		tevent_timeval_current_ofs(0, pool->reap_delay_ms * 1000),
		sdio_pool_reap_timer, pool);
}

static void sdio_pool_add_zombie(struct smbdirect_io_pool *pool, pid_t pid)
{
	pid_t *tmp;

	if (pid <= 0) {
		return;
	}
	if (pool->destroying) {
		/* Last chance; smbd's SIGCHLD handler does the rest. */
		(void)waitpid(pid, NULL, WNOHANG);
		return;
	}
	if (pool->num_zombies == talloc_array_length(pool->zombies)) {
		tmp = talloc_realloc(pool, pool->zombies, pid_t,
				     pool->num_zombies + 8);
		if (tmp == NULL) {
			(void)waitpid(pid, NULL, WNOHANG);
			return;
		}
		pool->zombies = tmp;
	}
	pool->zombies[pool->num_zombies++] = pid;
	sdio_pool_reap(pool);
}

static void sdio_pool_idle_timer(struct tevent_context *ev,
				 struct tevent_timer *te,
				 struct timeval now,
				 void *private_data)
{
	struct smbdirect_io_pool *pool = talloc_get_type_abort(
		private_data, struct smbdirect_io_pool);
	struct sdio_helper *h, *next;
	struct timeval first = { 0 };
	bool have_first = false;

	pool->idle_timer = NULL;
	now = tevent_timeval_current();

	for (h = pool->helpers; h != NULL; h = next) {
		struct timeval expiry;

		next = h->next;
		if (h->busy) {
			continue;
		}
		expiry = tevent_timeval_add(
			&h->idle_since,
			pool->idle_timeout_ms / 1000,
			(pool->idle_timeout_ms % 1000) * 1000);
		if (tevent_timeval_compare(&expiry, &now) <= 0) {
			DBG_INFO("helper %d idle for %u ms: stopping it\n",
				 (int)h->pid, pool->idle_timeout_ms);
			TALLOC_FREE(h);
			continue;
		}
		if (!have_first ||
		    tevent_timeval_compare(&expiry, &first) < 0) {
			first = expiry;
			have_first = true;
		}
	}

	if (have_first) {
		sdio_pool_arm_idle_timer(pool, first);
	}
}

/* One timer for the pool, at the earliest time an idle helper expires. */
static void sdio_pool_arm_idle_timer(struct smbdirect_io_pool *pool,
				     struct timeval at)
{
	if (pool->idle_timer != NULL) {
		/* Set for an earlier helper; it re-arms for the later ones. */
		return;
	}
	pool->idle_timer = tevent_add_timer(pool->ev, pool, at,
					    sdio_pool_idle_timer, pool);
	if (pool->idle_timer == NULL) {
		DBG_WARNING("no memory for the idle timer: idle helpers "
			    "stay until the next request\n");
	}
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

static void sdio_state_unqueue(struct sdio_state *state)
{
	if (!state->queued) {
		return;
	}
	DLIST_REMOVE(state->pool->waiting, state);
	state->queued = false;
}

static void sdio_pool_dispatch(struct smbdirect_io_pool *pool)
{
	while (pool->waiting != NULL) {
		struct sdio_state *state = pool->waiting;
		const struct smbdirect_io_args *a = &state->args;
		size_t need = 0;
		struct sdio_helper *h;
		bool retry;
		int ret;

		if (a->ext_id == 0 && a->op != SMBDIRECT_IO_FSYNC) {
			need = a->n;
		}

		h = sdio_pool_pick_idle(pool, need);
		if (h == NULL) {
			if (pool->num_helpers >= pool->max_helpers) {
				/* The next helper to finish calls us. */
				return;
			}
			ret = sdio_helper_spawn(pool, &h);
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
		if (retry && state->attempts < SDIO_MAX_ATTEMPTS) {
			/* Nothing reached a helper: safe to try again. */
			DLIST_ADD(pool->waiting, state);
			state->queued = true;
			continue;
		}
		tevent_req_error(state->req, ret);
	}
}

static int sdio_pool_destructor(struct smbdirect_io_pool *pool)
{
	struct sdio_state *state;
	size_t i;

	pool->destroying = true;

	/*
	 * Requests may outlive the pool (smbd frees the share's data on
	 * disconnect): fail them and cut their links to us.
	 */
	while ((state = pool->waiting) != NULL) {
		sdio_state_unqueue(state);
		state->pool = NULL;
		tevent_req_error(state->req, EIO);
	}
	while (pool->helpers != NULL) {
		struct sdio_helper *h = pool->helpers;

		state = h->req;
		if (state != NULL) {
			h->req = NULL;
			state->helper = NULL;
			state->pool = NULL;
			tevent_req_error(state->req, EIO);
		}
		/*
		 * No kill: a helper in the middle of a write finishes it,
		 * then finds our end closed and exits.
		 */
		TALLOC_FREE(h);
	}
	for (i = 0; i < pool->num_zombies; i++) {
		(void)waitpid(pool->zombies[i], NULL, WNOHANG);
	}
	for (i = 1; i < SDIO_NUM_BUFS; i++) {
		if (pool->ext[i].fd != -1) {
			close(pool->ext[i].fd);
			pool->ext[i].fd = -1;
		}
	}
	return 0;
}

struct smbdirect_io_pool *smbdirect_io_pool_create(
	TALLOC_CTX *mem_ctx,
	struct tevent_context *ev,
	const struct smbdirect_io_pool_config *config)
{
	struct smbdirect_io_pool *pool;
	size_t i;

	pool = talloc_zero(mem_ctx, struct smbdirect_io_pool);
	if (pool == NULL) {
		return NULL;
	}
	pool->ev = ev;
	pool->max_helpers = config->max_helpers;
	if (pool->max_helpers == 0) {
		pool->max_helpers = SMBDIRECT_IO_DEFAULT_MAX_HELPERS;
	}
	pool->idle_timeout_ms = config->idle_timeout_ms;
	if (pool->idle_timeout_ms == 0) {
		pool->idle_timeout_ms = SMBDIRECT_IO_DEFAULT_IDLE_TIMEOUT_MS;
	}
	pool->parent_pid = getpid();
	for (i = 0; i < SDIO_NUM_BUFS; i++) {
		pool->ext[i].fd = -1;
	}
	talloc_set_destructor(pool, sdio_pool_destructor);
	return pool;
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
		return;
	}

	/* Freed while a helper works on it. */
	pool = h->pool;
	state->helper = NULL;
	h->req = NULL;

	if (state->args.ext_id != 0) {
		DBG_NOTICE("request freed while helper %d works on a "
			   "registered buffer: killing it\n", (int)h->pid);
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

int smbdirect_io_pool_add_buffer(struct smbdirect_io_pool *pool,
				 int fd,
				 uint64_t size,
				 uint32_t *pid)
{
	uint32_t i;
	int dupfd;

	if (size == 0 || size > SIZE_MAX) {
		return EINVAL;
	}
	for (i = 1; i < SDIO_NUM_BUFS; i++) {
		if (pool->ext[i].fd == -1) {
			break;
		}
	}
	if (i == SDIO_NUM_BUFS) {
		return ENOSPC;
	}
	dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dupfd == -1) {
		return errno;
	}
	/* A new generation: helpers that mapped an older one re-map. */
	pool->ext[i] = (struct sdio_ext_buf) {
		.fd = dupfd,
		.size = size,
		.gen = ++pool->next_ext_gen,
	};
	*pid = i;
	return 0;
}

int smbdirect_io_pool_remove_buffer(struct smbdirect_io_pool *pool,
				    uint32_t id)
{
	if (id == 0 || id >= SDIO_NUM_BUFS || pool->ext[id].fd == -1) {
		return EINVAL;
	}
	/*
	 * Helpers keep their mapping until they re-use the slot or exit;
	 * requests in flight on it stay valid.
	 */
	close(pool->ext[id].fd);
	pool->ext[id].fd = -1;
	return 0;
}

unsigned smbdirect_io_pool_num_helpers(struct smbdirect_io_pool *pool)
{
	return pool->num_helpers;
}

unsigned smbdirect_io_pool_num_busy(struct smbdirect_io_pool *pool)
{
	struct sdio_helper *h;
	unsigned n = 0;

	for (h = pool->helpers; h != NULL; h = h->next) {
		n += h->busy ? 1 : 0;
	}
	return n;
}

size_t smbdirect_io_pool_buffer_bytes(struct smbdirect_io_pool *pool)
{
	struct sdio_helper *h;
	size_t n = 0;

	for (h = pool->helpers; h != NULL; h = h->next) {
		n += h->buf_size;
	}
	return n;
}

size_t smbdirect_io_pool_helper_pids(struct smbdirect_io_pool *pool,
				     pid_t *pids,
				     size_t max_pids)
{
	struct sdio_helper *h;
	size_t n = 0;

	for (h = pool->helpers; h != NULL; h = h->next) {
		if (n < max_pids) {
			pids[n] = h->pid;
		}
		n += 1;
	}
	return n;
}

pid_t smbdirect_io_req_helper_pid(struct tevent_req *req)
{
	struct sdio_state *state = tevent_req_data(req, struct sdio_state);

	return (state->helper != NULL) ? state->helper->pid : -1;
}
