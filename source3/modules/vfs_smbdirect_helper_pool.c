/*
 * vfs_smbdirect: the parent's pool of forked I/O helpers: starting,
 * discarding, reaping and idling out the helper processes, their own
 * buffers and the registered ones. What a request does with a helper is
 * in vfs_smbdirect_io.c; what both files share, and how it all works, in
 * vfs_smbdirect_helper_pool.h.
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
#include "system/filesys.h"
#include "system/network.h"
#include <sys/mman.h>
#include <poll.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <talloc.h>
#include <tevent.h>
#include "lib/util/debug.h"
#include "lib/util/dlinklist.h"
#include "vfs_smbdirect_helpers.h"
#include "vfs_smbdirect_helpers_wire.h"
#include "vfs_smbdirect_helper_child.h"
#include "vfs_smbdirect_helper_pool.h"

#undef DBGC_CLASS
#define DBGC_CLASS DBGC_VFS

/* How long the pool's destructor waits for a killed helper to exit. */
#define SDIO_EXIT_WAIT_MS 10000

/* Smallest own buffer; sizes go up in powers of two from here. */
#define SDIO_BUF_MIN (64 * 1024)

/* Requests looked at before a helper's buffer shrinks. */
#define SDIO_SHRINK_WINDOW 8

static void sdio_pool_add_zombie(struct smbdirect_io_pool *pool, pid_t pid);
static void sdio_pool_arm_idle_timer(struct smbdirect_io_pool *pool,
				     struct timeval at);

/*
 * ------------------------------------------------------------------
 * The parent: helpers
 * ------------------------------------------------------------------
 */

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

int sdio_helper_spawn(struct smbdirect_io_pool *pool,
		      tevent_fd_handler_t readable,
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
			       readable, h);
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
void sdio_helper_gone(struct sdio_helper *h)
{
	struct sdio_state *state = h->req;
	void (*release)(void *data) = h->ext_release;
	void *release_data = h->ext_release_data;

	h->ext_release = NULL;
	if (state != NULL) {
		h->req = NULL;
		state->helper = NULL;
		tevent_req_error(state->req, h->dying ? h->dying_err : EIO);
	}
	TALLOC_FREE(h);
	if (release != NULL) {
		release(release_data);
	}
}

void sdio_helper_discard(struct sdio_helper *h, int err)
{
	struct sdio_state *state = h->req;

	if (h->dying) {
		return; /* sdio_helper_readable sees it exit */
	}
	if (h->busy && h->ext_busy && sdio_helper_alive(h)) {
		/*
		 * It may be writing into a registered buffer right now:
		 * kill it, and say nothing of that buffer until its end of
		 * the socket closes (sdio_helper_readable), which happens
		 * only after its memory is gone.
		 */
		DBG_INFO("helper %d: waiting for it to exit\n", (int)h->pid);
		h->dying = true;
		h->dying_err = err;
		TALLOC_FREE(h->orphan_timer);
		kill(h->pid, SIGKILL);
		return;
	}
	if (h->busy && h->ext_busy) {
		/* Seen to be gone: the buffer is free. */
		h->dying = true;
		h->dying_err = err;
		sdio_helper_gone(h);
		return;
	}
	if (state != NULL) {
		h->req = NULL;
		state->helper = NULL;
		tevent_req_error(state->req, err);
	}
	h->kill_it = true;
	TALLOC_FREE(h);
}

size_t sdio_buf_round(size_t n)
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
int sdio_helper_buf_resize(struct sdio_helper *h, size_t size)
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
void sdio_helper_now_idle(struct sdio_helper *h, size_t len)
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

void sdio_state_unqueue(struct sdio_state *state)
{
	if (!state->queued) {
		return;
	}
	DLIST_REMOVE(state->pool->waiting, state);
	state->queued = false;
}

/*
 * Kill a helper and wait, at most SDIO_EXIT_WAIT_MS, until its end of
 * the socket closes (after its memory is gone). True when it did.
 */
static bool sdio_helper_wait_exit(struct sdio_helper *h)
{
	struct pollfd pfd = { .fd = h->sock, .events = POLLIN };
	struct timespec t0, t;
	int ms = SDIO_EXIT_WAIT_MS;

	if (!sdio_helper_alive(h)) {
		return true;
	}
	kill(h->pid, SIGKILL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms > 0) {
		uint8_t c[sizeof(struct sdio_wire_rep)];
		int ret = poll(&pfd, 1, ms);

		if (ret == 1 &&
		    recv(h->sock, c, sizeof(c), MSG_DONTWAIT) <= 0 &&
		    !sdio_helper_alive(h)) {
			return true;
		}
		if (ret == -1 && errno != EINTR) {
			return false;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		ms = SDIO_EXIT_WAIT_MS -
		     (int)((t.tv_sec - t0.tv_sec) * 1000 +
			   (t.tv_nsec - t0.tv_nsec) / 1000000);
	}
	return false;
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
		if (h->busy && h->ext_busy && !sdio_helper_wait_exit(h)) {
			/*
			 * It may still write into a registered buffer: leave
			 * its request (if any) pending for ever and call no
			 * release. The buffer's owner keeps that memory.
			 */
			DBG_ERR("helper %d does not exit: a registered "
				"buffer stays reserved\n", (int)h->pid);
			if (state != NULL) {
				state->ext_pending = false;
				state->helper = NULL;
				state->pool = NULL;
				h->req = NULL;
			}
			h->ext_release = NULL;
			TALLOC_FREE(h);
			continue;
		}
		if (state != NULL) {
			h->req = NULL;
			state->helper = NULL;
			state->pool = NULL;
			tevent_req_error(state->req, EIO);
		}
		if (h->ext_release != NULL) {
			void (*release)(void *data) = h->ext_release;

			h->ext_release = NULL;
			release(h->ext_release_data);
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
		(void)smbdirect_io_pool_remove_buffer(pool, i);
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
		pool->ext[i].guard_fd = -1;
	}
	talloc_set_destructor(pool, sdio_pool_destructor);
	return pool;
}

int smbdirect_io_pool_add_buffer(struct smbdirect_io_pool *pool,
				 int fd,
				 uint64_t size,
				 uint32_t *pid)
{
	return smbdirect_io_pool_add_guarded_buffer(pool, fd, size, -1, pid);
}

int smbdirect_io_pool_add_guarded_buffer(struct smbdirect_io_pool *pool,
					 int fd,
					 uint64_t size,
					 int guard_fd,
					 uint32_t *pid)
{
	uint32_t i;
	int dupfd;
	int dupguard = -1;

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
	if (guard_fd != -1) {
		dupguard = fcntl(guard_fd, F_DUPFD_CLOEXEC, 0);
		if (dupguard == -1) {
			int err = errno;

			close(dupfd);
			return err;
		}
	}
	/* A new generation: helpers that mapped an older one re-map. */
	pool->ext[i] = (struct sdio_ext_buf) {
		.fd = dupfd,
		.guard_fd = dupguard,
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
	if (pool->ext[id].guard_fd != -1) {
		close(pool->ext[id].guard_fd);
		pool->ext[id].guard_fd = -1;
	}
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
