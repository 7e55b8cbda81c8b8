/*
 * Unit tests for vfs_smbdirect's helper pool (vfs_smbdirect_helpers.h:
 * source3/modules/vfs_smbdirect_io.c, vfs_smbdirect_helper_pool.c and
 * vfs_smbdirect_helper_child.c), without smbd: sizes from 0
 * to 16 MiB with checksums, many requests in flight, a helper killed
 * mid-request, requests freed in flight, idle reaping, the buffer given
 * back, the registered-buffer hook, and what a helper keeps open.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <talloc.h>
#include <tevent.h>

#include "vfs_smbdirect_helpers.h"

#define KiB (1024)
#define MiB (1024 * 1024)

struct fixture {
	TALLOC_CTX *mem;
	struct tevent_context *ev;
	char path[64];
	int fd;
};

static int setup(void **pstate)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	f->mem = talloc_new(NULL);
	assert_non_null(f->mem);
	f->ev = tevent_context_init(f->mem);
	assert_non_null(f->ev);
	snprintf(f->path, sizeof(f->path), "%s/sdio-test.XXXXXX",
		 (tmp != NULL && strlen(tmp) < 40) ? tmp : "/tmp");
	f->fd = mkstemp(f->path);
	assert_true(f->fd != -1);
	*pstate = f;
	return 0;
}

static int teardown(void **pstate)
{
	struct fixture *f = *pstate;

	talloc_free(f->mem);
	close(f->fd);
	unlink(f->path);
	free(f);
	/* Helpers of freed pools: do not leave zombies to the next test. */
	while (waitpid(-1, NULL, WNOHANG) > 0) {
		;
	}
	return 0;
}

static struct smbdirect_io_pool *new_pool(struct fixture *f,
					  unsigned max_helpers,
					  unsigned idle_timeout_ms)
{
	struct smbdirect_io_pool_config cfg = {
		.max_helpers = max_helpers,
		.idle_timeout_ms = idle_timeout_ms,
	};
	struct smbdirect_io_pool *pool;

	pool = smbdirect_io_pool_create(f->mem, f->ev, &cfg);
	assert_non_null(pool);
	return pool;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

static void wake(struct tevent_context *ev, struct tevent_timer *te,
		 struct timeval now, void *private_data)
{
	(void)ev;
	(void)te;
	(void)now;
	(void)private_data;
}

/* Run the event loop for about ms milliseconds. */
static void spin(struct fixture *f, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end) {
		/* A fired timer frees itself: free its parent instead. */
		TALLOC_CTX *tmp = talloc_new(f->mem);

		assert_non_null(tevent_add_timer(
			f->ev, tmp, tevent_timeval_current_ofs(0, 10000),
			wake, NULL));
		tevent_loop_once(f->ev);
		talloc_free(tmp);
	}
}

/* Wait for a request, return its result and free it. */
static ssize_t finish(struct fixture *f, struct tevent_req *req, int *perr)
{
	uint64_t duration;
	ssize_t ret;
	int err = 0;

	assert_non_null(req);
	assert_true(tevent_req_poll(req, f->ev));
	ret = smbdirect_io_recv(req, &err, &duration);
	talloc_free(req);
	if (perr != NULL) {
		*perr = err;
	}
	return ret;
}

static ssize_t do_pwrite(struct fixture *f, struct smbdirect_io_pool *pool,
			 const void *data, size_t n, off_t off, int *perr)
{
	return finish(f, smbdirect_io_pwrite_send(f->mem, f->ev, pool, f->fd,
						  data, n, off),
		      perr);
}

static ssize_t do_pread(struct fixture *f, struct smbdirect_io_pool *pool,
			void *data, size_t n, off_t off, int *perr)
{
	return finish(f, smbdirect_io_pread_send(f->mem, f->ev, pool, f->fd,
						 data, n, off),
		      perr);
}

static bool pid_gone(pid_t pid)
{
	return kill(pid, 0) == -1 && errno == ESRCH;
}

/* ---------------------------------------------------------------- */

static void test_sizes(void **pstate)
{
	struct fixture *f = *pstate;
	struct smbdirect_io_pool *pool = new_pool(f, 2, 0);
	static const size_t sizes[] = {
		0, 1, 4095, 4096, 65535, 65536, 65537, 128 * KiB,
		128 * KiB + 1, MiB, 3000000, 8 * MiB, 8 * MiB + 1, 16 * MiB,
	};
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		uint8_t *in = malloc(n + 1);
		uint8_t *out = malloc(n + 8192);
		uint8_t *disk = malloc(n + 1);
		uint64_t sum;
		ssize_t ret;
		int err;

		assert_non_null(in);
		assert_non_null(out);
		assert_non_null(disk);
		fill(in, n, n);
		sum = fnv1a(in, n);
		assert_int_equal(ftruncate(f->fd, 0), 0);

		ret = do_pwrite(f, pool, in, n, 0, &err);
		assert_int_equal(ret, n);

		/* On disk, as written. */
		assert_int_equal(pread(f->fd, disk, n, 0), n);
		assert_true(fnv1a(disk, n) == sum);

		/* Asking for more than there is: a short read at EOF. */
		memset(out, 0xaa, n + 8192);
		ret = do_pread(f, pool, out, n + 8192, 0, &err);
		assert_int_equal(ret, n);
		assert_true(fnv1a(out, n) == sum);
		assert_int_equal(out[n], 0xaa);

		/* At EOF: 0. */
		ret = do_pread(f, pool, out, 4096, n, &err);
		assert_int_equal(ret, 0);

		ret = finish(f, smbdirect_io_fsync_send(f->mem, f->ev, pool,
							f->fd),
			     &err);
		assert_int_equal(ret, 0);

		free(in);
		free(out);
		free(disk);
	}
	/* Never more helpers than allowed. */
	assert_true(smbdirect_io_pool_num_helpers(pool) <= 2);
	talloc_free(pool);
}

static void test_offsets_and_duration(void **pstate)
{
	struct fixture *f = *pstate;
	struct smbdirect_io_pool *pool = new_pool(f, 1, 0);
	size_t n = 16 * MiB;
	uint8_t *buf = malloc(n);
	struct tevent_req *req;
	uint64_t duration = 0;
	uint8_t b[3];
	ssize_t ret;
	int err;

	assert_non_null(buf);
	fill(buf, n, 7);
	assert_int_equal(ftruncate(f->fd, 0), 0);

	/* pwrite at a given offset leaves a hole before it, as POSIX. */
	req = smbdirect_io_pwrite_send(f->mem, f->ev, pool, f->fd, buf, n,
				       1000);
	assert_true(tevent_req_poll(req, f->ev));
	ret = smbdirect_io_recv(req, &err, &duration);
	talloc_free(req);
	assert_int_equal(ret, n);
	/* The time spent in the system call is reported. */
	assert_true(duration > 0);

	assert_int_equal(pread(f->fd, b, 1, 999), 1);
	assert_int_equal(b[0], 0);
	assert_int_equal(do_pread(f, pool, b, 3, 1000 + n - 2, &err), 2);
	assert_int_equal(b[0], buf[n - 2]);
	assert_int_equal(b[1], buf[n - 1]);

	/* Past the end of the file: 0 bytes, no error. */
	assert_int_equal(do_pread(f, pool, b, 3, 1 << 30, &err), 0);

	free(buf);
	talloc_free(pool);
}

struct conc {
	struct fixture *f;
	struct smbdirect_io_pool *pool;
	unsigned done;
	unsigned failed;
	unsigned max_helpers_seen;
};

struct conc_req {
	struct conc *c;
	size_t want;
};

static void conc_done(struct tevent_req *req)
{
	struct conc_req *cr = tevent_req_callback_data(req, struct conc_req);
	uint64_t duration;
	ssize_t ret;
	int err;

	ret = smbdirect_io_recv(req, &err, &duration);
	talloc_free(req);
	if (ret < 0 || (size_t)ret != cr->want) {
		cr->c->failed += 1;
	}
	cr->c->done += 1;
	talloc_free(cr);
}

static void test_concurrency(void **pstate)
{
	struct fixture *f = *pstate;
	const unsigned max = 4, num = 64;
	struct conc c = {
		.f = f,
		.pool = new_pool(f, max, 0),
	};
	uint8_t *bufs[64];
	uint64_t sums[64];
	unsigned i;

	assert_int_equal(ftruncate(f->fd, 0), 0);

	for (i = 0; i < num; i++) {
		size_t n = 200 * KiB + i * 4099;
		struct conc_req *cr = talloc(f->mem, struct conc_req);
		struct smbdirect_io_args args = {
			.op = SMBDIRECT_IO_PWRITE,
			.fd = f->fd,
			.n = n,
			.offset = (off_t)i * MiB,
			/* Some slow ones, so that the rest overtake them. */
			.test_delay_ms = (i % 7 == 0) ? 30 : 0,
		};
		struct tevent_req *req;

		bufs[i] = malloc(n);
		assert_non_null(bufs[i]);
		fill(bufs[i], n, 1000 + i);
		sums[i] = fnv1a(bufs[i], n);
		args.data = bufs[i];
		*cr = (struct conc_req) { .c = &c, .want = n };
		req = smbdirect_io_send(f->mem, f->ev, c.pool, &args);
		assert_non_null(req);
		tevent_req_set_callback(req, conc_done, cr);
	}
	/* All queued or running; never more than max helpers. */
	assert_true(smbdirect_io_pool_num_helpers(c.pool) <= max);

	while (c.done < num) {
		unsigned h = smbdirect_io_pool_num_helpers(c.pool);

		c.max_helpers_seen = h > c.max_helpers_seen ?
			h : c.max_helpers_seen;
		assert_int_equal(tevent_loop_once(f->ev), 0);
	}
	assert_int_equal(c.failed, 0);
	assert_int_equal(c.max_helpers_seen, max);

	/* Read them all back at once, into zeroed buffers. */
	c.done = 0;
	for (i = 0; i < num; i++) {
		size_t n = 200 * KiB + i * 4099;
		struct conc_req *cr = talloc(f->mem, struct conc_req);
		struct tevent_req *req;

		memset(bufs[i], 0, n);
		*cr = (struct conc_req) { .c = &c, .want = n };
		req = smbdirect_io_pread_send(f->mem, f->ev, c.pool, f->fd,
					      bufs[i], n, (off_t)i * MiB);
		assert_non_null(req);
		tevent_req_set_callback(req, conc_done, cr);
	}
	while (c.done < num) {
		assert_true(smbdirect_io_pool_num_helpers(c.pool) <= max);
		assert_int_equal(tevent_loop_once(f->ev), 0);
	}
	assert_int_equal(c.failed, 0);
	for (i = 0; i < num; i++) {
		assert_true(fnv1a(bufs[i], 200 * KiB + i * 4099) == sums[i]);
		free(bufs[i]);
	}
	talloc_free(c.pool);
}

static void test_helper_killed(void **pstate)
{
	struct fixture *f = *pstate;
	struct smbdirect_io_pool *pool = new_pool(f, 4, 0);
	uint8_t in[64 * KiB], out[64 * KiB];
	struct smbdirect_io_args slow = {
		.op = SMBDIRECT_IO_PREAD,
		.fd = f->fd,
		.data = out,
		.n = sizeof(out),
		.test_delay_ms = 5000,
	};
	struct smbdirect_io_args other = slow;
	struct tevent_req *a, *b;
	pid_t pids[8], victim;
	uint64_t t0;
	size_t np, i;
	ssize_t ret;
	int err;

	fill(in, sizeof(in), 3);
	assert_int_equal(pwrite(f->fd, in, sizeof(in), 0), sizeof(in));

	/* A is stuck in its helper; B runs next to it. */
	a = smbdirect_io_send(f->mem, f->ev, pool, &slow);
	other.test_delay_ms = 300;
	other.data = talloc_size(f->mem, sizeof(out));
	b = smbdirect_io_send(f->mem, f->ev, pool, &other);
	victim = smbdirect_io_req_helper_pid(a);
	assert_true(victim > 0);
	assert_true(smbdirect_io_req_helper_pid(b) > 0);
	assert_true(smbdirect_io_req_helper_pid(b) != victim);

	t0 = now_ms();
	assert_int_equal(kill(victim, SIGKILL), 0);

	/* Only A fails, with an errno, and at once. */
	ret = finish(f, a, &err);
	assert_int_equal(ret, -1);
	assert_int_equal(err, EIO);
	assert_true(now_ms() - t0 < 2000);

	ret = finish(f, b, &err);
	assert_int_equal(ret, sizeof(out));
	assert_memory_equal(other.data, in, sizeof(in));

	/* The next request works, on a helper of its own. */
	memset(out, 0, sizeof(out));
	assert_int_equal(do_pread(f, pool, out, sizeof(out), 0, &err),
			 sizeof(out));
	assert_memory_equal(out, in, sizeof(in));

	/* The dead one was waited for. */
	for (i = 0; i < 100 && !pid_gone(victim); i++) {
		spin(f, 20);
	}
	assert_true(pid_gone(victim));

	/* An idle helper killed: noticed, replaced when needed. */
	np = smbdirect_io_pool_helper_pids(pool, pids, 8);
	assert_true(np >= 1);
	assert_int_equal(kill(pids[0], SIGKILL), 0);
	for (i = 0; i < 100 && smbdirect_io_pool_num_helpers(pool) == np;
	     i++) {
		spin(f, 20);
	}
	assert_int_equal(smbdirect_io_pool_num_helpers(pool), np - 1);
	memset(out, 0, sizeof(out));
	assert_int_equal(do_pread(f, pool, out, sizeof(out), 0, &err),
			 sizeof(out));
	assert_memory_equal(out, in, sizeof(in));

	/* Kill them all, while idle; the pool recovers. */
	np = smbdirect_io_pool_helper_pids(pool, pids, 8);
	for (i = 0; i < np; i++) {
		kill(pids[i], SIGKILL);
	}
	for (i = 0; i < 100 && smbdirect_io_pool_num_helpers(pool) != 0;
	     i++) {
		spin(f, 20);
	}
	assert_int_equal(smbdirect_io_pool_num_helpers(pool), 0);
	assert_int_equal(do_pread(f, pool, out, sizeof(out), 0, &err),
			 sizeof(out));
	talloc_free(pool);
}

static void test_cancel(void **pstate)
{
	struct fixture *f = *pstate;
	struct smbdirect_io_pool *pool = new_pool(f, 1, 10000);
	uint8_t in[64 * KiB], out[64 * KiB];
	struct smbdirect_io_args slow = {
		.op = SMBDIRECT_IO_PREAD,
		.fd = f->fd,
		.n = sizeof(out),
		.test_delay_ms = 400,
	};
	struct tevent_req *a, *b, *c;
	pid_t pid;
	uint64_t t0;
	ssize_t ret;
	int err;

	fill(in, sizeof(in), 4);
	assert_int_equal(pwrite(f->fd, in, sizeof(in), 0), sizeof(in));

	/*
	 * Freed in flight: the helper finishes into its own buffer, its
	 * answer is drained, and the same helper serves the next request.
	 */
	slow.data = talloc_size(f->mem, sizeof(out));
	a = smbdirect_io_send(f->mem, f->ev, pool, &slow);
	pid = smbdirect_io_req_helper_pid(a);
	assert_true(pid > 0);
	t0 = now_ms();
	talloc_free(a);
	talloc_free(slow.data);	/* the caller's buffer is gone too */
	b = smbdirect_io_pread_send(f->mem, f->ev, pool, f->fd, out,
				    sizeof(out), 0);
	assert_int_equal(smbdirect_io_req_helper_pid(b), -1);
	memset(out, 0, sizeof(out));
	ret = finish(f, b, &err);
	assert_int_equal(ret, sizeof(out));
	assert_memory_equal(out, in, sizeof(in));
	assert_true(now_ms() - t0 >= 300);
	assert_int_equal(smbdirect_io_pool_num_helpers(pool), 1);
	assert_int_equal(smbdirect_io_pool_helper_pids(pool, &pid, 1), 1);
	assert_false(pid_gone(pid));

	/* Freed while still waiting for a helper: simply dropped. */
	slow.data = out;
	a = smbdirect_io_send(f->mem, f->ev, pool, &slow);
	b = smbdirect_io_pread_send(f->mem, f->ev, pool, f->fd, out,
				    sizeof(out), 0);
	c = smbdirect_io_pread_send(f->mem, f->ev, pool, f->fd, out,
				    sizeof(out), 0);
	talloc_free(b);
	assert_int_equal(finish(f, a, &err), sizeof(out));
	assert_int_equal(finish(f, c, &err), sizeof(out));
	assert_int_equal(smbdirect_io_pool_num_busy(pool), 0);
	talloc_free(pool);
}

static void test_cancel_stuck(void **pstate)
{
	struct fixture *f = *pstate;
	/* Short idle timeout: it also bounds how long an orphan may take. */
	struct smbdirect_io_pool *pool = new_pool(f, 1, 300);
	uint8_t out[4 * KiB];
	struct smbdirect_io_args stuck = {
		.op = SMBDIRECT_IO_PREAD,
		.fd = f->fd,
		.data = out,
		.n = sizeof(out),
		.test_delay_ms = 60000,
	};
	struct tevent_req *a, *b;
	pid_t pid, pid2;
	uint64_t t0;
	int err, i;

	a = smbdirect_io_send(f->mem, f->ev, pool, &stuck);
	pid = smbdirect_io_req_helper_pid(a);
	assert_true(pid > 0);
	talloc_free(a);

	/* The only helper is stuck: b waits until it is killed. */
	t0 = now_ms();
	b = smbdirect_io_pread_send(f->mem, f->ev, pool, f->fd, out,
				    sizeof(out), 0);
	assert_true(finish(f, b, &err) >= 0);
	assert_true(now_ms() - t0 >= 250);
	assert_true(now_ms() - t0 < 5000);
	assert_int_equal(smbdirect_io_pool_helper_pids(pool, &pid2, 1), 1);
	assert_true(pid2 != pid);
	for (i = 0; i < 100 && !pid_gone(pid); i++) {
		spin(f, 20);
	}
	assert_true(pid_gone(pid));
	talloc_free(pool);
}

static void test_pool_freed_in_flight(void **pstate)
{
	struct fixture *f = *pstate;
	struct smbdirect_io_pool *pool = new_pool(f, 2, 0);
	uint8_t out[4 * KiB];
	struct smbdirect_io_args slow = {
		.op = SMBDIRECT_IO_PREAD,
		.fd = f->fd,
		.data = out,
		.n = sizeof(out),
		.test_delay_ms = 200,
	};
	struct tevent_req *a, *b, *c;
	pid_t pid;
	int err;

	/* smbd frees the share (and the pool) before the requests. */
	a = smbdirect_io_send(f->mem, f->ev, pool, &slow);
	b = smbdirect_io_send(f->mem, f->ev, pool, &slow);
	c = smbdirect_io_send(f->mem, f->ev, pool, &slow);
	pid = smbdirect_io_req_helper_pid(a);
	assert_true(pid > 0);
	talloc_free(pool);
	assert_int_equal(finish(f, a, &err), -1);
	assert_int_equal(err, EIO);
	assert_int_equal(finish(f, b, &err), -1);
	assert_int_equal(finish(f, c, &err), -1);
	/* The helper finishes, finds the socket closed and exits. */
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static void test_idle_reaping(void **pstate)
{
	struct fixture *f = *pstate;
	struct smbdirect_io_pool *pool = new_pool(f, 4, 200);
	struct tevent_req *reqs[4];
	uint8_t out[4][4 * KiB];
	pid_t pids[4];
	size_t i, np;
	int err;

	for (i = 0; i < 4; i++) {
		struct smbdirect_io_args args = {
			.op = SMBDIRECT_IO_PREAD,
			.fd = f->fd,
			.data = out[i],
			.n = sizeof(out[i]),
			.test_delay_ms = 100,
		};
		reqs[i] = smbdirect_io_send(f->mem, f->ev, pool, &args);
	}
	for (i = 0; i < 4; i++) {
		assert_true(finish(f, reqs[i], &err) >= 0);
	}
	np = smbdirect_io_pool_helper_pids(pool, pids, 4);
	assert_int_equal(np, 4);
	assert_true(smbdirect_io_pool_buffer_bytes(pool) > 0);

	/* Not before their time... */
	spin(f, 50);
	assert_int_equal(smbdirect_io_pool_num_helpers(pool), 4);

	/* ...but soon after. */
	for (i = 0; i < 150 && smbdirect_io_pool_num_helpers(pool) != 0; i++) {
		spin(f, 20);
	}
	assert_int_equal(smbdirect_io_pool_num_helpers(pool), 0);
	assert_int_equal(smbdirect_io_pool_buffer_bytes(pool), 0);
	for (i = 0; i < np; i++) {
		int j;

		for (j = 0; j < 100 && !pid_gone(pids[i]); j++) {
			spin(f, 20);
		}
		assert_true(pid_gone(pids[i]));
	}

	/* And the pool starts afresh. */
	assert_true(do_pread(f, pool, out[0], 16, 0, &err) >= 0);
	assert_int_equal(smbdirect_io_pool_num_helpers(pool), 1);
	talloc_free(pool);
}

static void test_buffer_shrinks(void **pstate)
{
	struct fixture *f = *pstate;
	struct smbdirect_io_pool *pool = new_pool(f, 1, 0);
	size_t n = 16 * MiB;
	uint8_t *buf = malloc(n);
	int err, i;

	assert_non_null(buf);
	fill(buf, n, 11);
	assert_int_equal(do_pwrite(f, pool, buf, n, 0, &err), n);
	assert_int_equal(smbdirect_io_pool_buffer_bytes(pool), n);

	/*
	 * A run of small requests gives the memory back: at the latest
	 * after two windows of 8 (the first still saw the large one).
	 */
	for (i = 0; i < 16; i++) {
		assert_int_equal(do_pread(f, pool, buf, 4096, i * 4096, &err),
				 4096);
	}
	assert_int_equal(smbdirect_io_pool_buffer_bytes(pool), 64 * KiB);

	/* And it grows again when needed, data intact. */
	memset(buf, 0, n);
	assert_int_equal(do_pread(f, pool, buf, n, 0, &err), n);
	assert_int_equal(smbdirect_io_pool_buffer_bytes(pool), n);
	{
		uint8_t *want = malloc(n);

		assert_non_null(want);
		fill(want, n, 11);
		assert_true(fnv1a(buf, n) == fnv1a(want, n));
		free(want);
	}
	free(buf);
	talloc_free(pool);
}

static void test_registered_buffer(void **pstate)
{
	struct fixture *f = *pstate;
	struct smbdirect_io_pool *pool = new_pool(f, 2, 0);
	size_t size = MiB;
	int mfd = memfd_create("sdio-test", MFD_CLOEXEC);
	uint8_t *map, disk[64 * KiB];
	struct smbdirect_io_args args = {
		.op = SMBDIRECT_IO_PWRITE,
		.fd = f->fd,
		.n = 64 * KiB,
		.offset = 0,
		.ext_offset = 4096,
	};
	struct tevent_req *req;
	uint32_t id;
	pid_t pid;
	int err, i;

	assert_true(mfd != -1);
	assert_int_equal(ftruncate(mfd, size), 0);
	map = mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_SHARED, mfd, 0);
	assert_true(map != MAP_FAILED);
	fill(map + 4096, 64 * KiB, 21);

	assert_int_equal(smbdirect_io_pool_add_buffer(pool, mfd, size, &id),
			 0);
	assert_true(id >= 1);
	args.ext_id = id;
	assert_int_equal(ftruncate(f->fd, 0), 0);

	/* File <- registered buffer, no copy through the caller. */
	assert_int_equal(finish(f, smbdirect_io_send(f->mem, f->ev, pool,
						     &args), &err),
			 64 * KiB);
	assert_int_equal(pread(f->fd, disk, sizeof(disk), 0), sizeof(disk));
	assert_memory_equal(disk, map + 4096, sizeof(disk));

	/* Registered buffer <- file, at another offset; twice in a row. */
	for (i = 0; i < 2; i++) {
		args.op = SMBDIRECT_IO_PREAD;
		args.ext_offset = 512 * KiB;
		memset(map + 512 * KiB, 0, 64 * KiB);
		assert_int_equal(finish(f, smbdirect_io_send(f->mem, f->ev,
							     pool, &args),
					&err),
				 64 * KiB);
		assert_memory_equal(map + 512 * KiB, disk, sizeof(disk));
	}

	/* Outside the buffer: refused by the helper. */
	args.ext_offset = size - 100;
	assert_int_equal(finish(f, smbdirect_io_send(f->mem, f->ev, pool,
						     &args), &err),
			 -1);
	assert_int_equal(err, EINVAL);

	/*
	 * Freed in flight: the helper is killed at once, it must not
	 * write into memory that may already serve someone else.
	 */
	args.ext_offset = 0;
	args.test_delay_ms = 5000;
	req = smbdirect_io_send(f->mem, f->ev, pool, &args);
	pid = smbdirect_io_req_helper_pid(req);
	assert_true(pid > 0);
	talloc_free(req);
	for (i = 0; i < 100 && !pid_gone(pid); i++) {
		spin(f, 20);
	}
	assert_true(pid_gone(pid));

	assert_int_equal(smbdirect_io_pool_remove_buffer(pool, id), 0);
	args.test_delay_ms = 0;
	assert_int_equal(finish(f, smbdirect_io_send(f->mem, f->ev, pool,
						     &args), &err),
			 -1);
	assert_int_equal(err, EBADF);

	munmap(map, size);
	close(mfd);
	talloc_free(pool);
}

/*
 * Is pid's memory gone? An exiting process drops its address space
 * before its descriptors; from then on its maps read empty.
 */
static bool pid_exited(pid_t pid)
{
	char path[64], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd == -1) {
		return true;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n <= 0;
}

/* A zombie: every descriptor of it closed (its sockets included). */
static bool pid_zombie(pid_t pid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd == -1) {
		return true;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		return true;
	}
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

struct release_probe {
	unsigned calls;
	pid_t pid;		/* the helper that had the buffer, or -1 */
	bool exited_then;	/* had it exited when release was called? */
};

static void probe_release(void *data)
{
	struct release_probe *r = data;

	r->calls += 1;
	r->exited_then = (r->pid == -1) || pid_exited(r->pid);
}

/*
 * A registered buffer (the zero-copy pool) is never said to be free
 * while a helper may still write into it: a request freed in flight
 * calls its release only after its helper has exited; one freed before
 * any helper had it, or after its answer, releases at once; one whose
 * result was received releases nothing (the caller knows). Each helper
 * keeps the buffer's guard open until it exits.
 */
static void test_registered_buffer_release(void **pstate)
{
	struct fixture *f = *pstate;
	struct smbdirect_io_pool *pool = new_pool(f, 1, 0);
	size_t size = MiB;
	int mfd = memfd_create("sdio-test", MFD_CLOEXEC);
	struct release_probe ra = { .pid = -1 }, rb = { .pid = -1 };
	struct release_probe rc = { .pid = -1 }, rd = { .pid = -1 };
	struct smbdirect_io_args args = {
		.op = SMBDIRECT_IO_PREAD,
		.fd = f->fd,
		.n = 64 * KiB,
		.ext_release = probe_release,
	};
	struct tevent_req *a, *b;
	struct pollfd pfd;
	uint8_t data[64 * KiB];
	int guard[2];
	uint32_t id;
	pid_t pid;
	int err, i;

	assert_true(mfd != -1);
	assert_int_equal(ftruncate(mfd, size), 0);
	assert_int_equal(pipe2(guard, O_CLOEXEC), 0);
	fill(data, sizeof(data), 5);
	assert_int_equal(pwrite(f->fd, data, sizeof(data), 0), sizeof(data));
	assert_int_equal(smbdirect_io_pool_add_guarded_buffer(
				 pool, mfd, size, guard[1], &id), 0);
	close(guard[1]); /* the pool and its helpers hold it now */
	args.ext_id = id;

	/* a: freed while its helper sleeps; b: waits behind it, freed */
	args.test_delay_ms = 3000;
	args.ext_release_data = &ra;
	a = smbdirect_io_send(f->mem, f->ev, pool, &args);
	assert_non_null(a);
	pid = smbdirect_io_req_helper_pid(a);
	assert_true(pid > 0);
	ra.pid = pid;
	args.test_delay_ms = 0;
	args.ext_release_data = &rb;
	b = smbdirect_io_send(f->mem, f->ev, pool, &args);
	assert_non_null(b);
	assert_int_equal(smbdirect_io_req_helper_pid(b), -1);

	talloc_free(b);
	assert_int_equal(rb.calls, 1); /* no helper ever had it */

	talloc_free(a);
	assert_int_equal(ra.calls, 0); /* killed, but not seen gone yet */
	for (i = 0; i < 200 && ra.calls == 0; i++) {
		spin(f, 10);
	}
	assert_int_equal(ra.calls, 1);
	assert_true(ra.exited_then);

	/* c: completed, freed without its result: released */
	args.ext_release_data = &rc;
	a = smbdirect_io_send(f->mem, f->ev, pool, &args);
	assert_true(tevent_req_poll(a, f->ev));
	rc.pid = -1;
	talloc_free(a);
	assert_int_equal(rc.calls, 1);

	/* d: result received: the caller owns the outcome, no release */
	args.ext_release_data = &rd;
	assert_int_equal(finish(f, smbdirect_io_send(f->mem, f->ev, pool,
						     &args), &err),
			 64 * KiB);
	assert_int_equal(rd.calls, 0);
	pid = smbdirect_io_pool_helper_pids(pool, &pid, 1) == 1 ? pid : -1;
	assert_true(pid > 0);

	/* The guard: open while a helper that mapped the buffer runs. */
	pfd = (struct pollfd) { .fd = guard[0], .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 100), 0);
	talloc_free(pool);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_true(pid_exited(pid));
	close(guard[0]);
	close(mfd);
}

/*
 * Idle helpers killed before the pool noticed: a request must not fail
 * because it tried them first (they are discarded one by one, and only
 * a new helper's failure counts as an attempt).
 */
static void test_dead_idle_helpers(void **pstate)
{
	struct fixture *f = *pstate;
	struct smbdirect_io_pool *pool = new_pool(f, 4, 0);
	struct smbdirect_io_args slow = {
		.op = SMBDIRECT_IO_PWRITE,
		.fd = f->fd,
		.n = 4096,
		.test_delay_ms = 200,
	};
	uint8_t buf[4096];
	struct tevent_req *reqs[4];
	pid_t pids[4];
	size_t n, i, j;
	int err;

	fill(buf, sizeof(buf), 9);
	slow.data = buf;
	for (i = 0; i < 4; i++) {
		slow.offset = i * 4096;
		reqs[i] = smbdirect_io_send(f->mem, f->ev, pool, &slow);
		assert_non_null(reqs[i]);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(finish(f, reqs[i], &err), 4096);
	}
	n = smbdirect_io_pool_helper_pids(pool, pids, 4);
	assert_int_equal(n, 4);
	for (i = 0; i < n; i++) {
		assert_int_equal(kill(pids[i], SIGKILL), 0);
	}
	/* gone, but the event loop has not run: the pool does not know */
	for (i = 0; i < n; i++) {
		for (j = 0; j < 500 && !pid_zombie(pids[i]); j++) {
			usleep(10000);
		}
		assert_true(pid_zombie(pids[i]));
	}
	assert_int_equal(smbdirect_io_pool_num_helpers(pool), 4);
	assert_int_equal(do_pwrite(f, pool, buf, sizeof(buf), 0, &err),
			 sizeof(buf));
	talloc_free(pool);
}

static void test_errors(void **pstate)
{
	struct fixture *f = *pstate;
	struct smbdirect_io_pool *pool = new_pool(f, 2, 0);
	uint8_t buf[4096] = { 1 };
	struct smbdirect_io_args bad = {
		.op = SMBDIRECT_IO_PREAD,
		.fd = f->fd,
		.n = 10,
	};
	int rofd, dirfd, err;
	ssize_t ret;

	/* A descriptor that is not open: the caller's error. */
	ret = finish(f, smbdirect_io_pread_send(f->mem, f->ev, pool, 999,
						buf, 10, 0),
		     &err);
	assert_int_equal(ret, -1);
	assert_int_equal(err, EBADF);

	/* The system call's errno comes back from the helper. */
	rofd = open(f->path, O_RDONLY);
	assert_true(rofd != -1);
	ret = finish(f, smbdirect_io_pwrite_send(f->mem, f->ev, pool, rofd,
						 buf, sizeof(buf), 0),
		     &err);
	assert_int_equal(ret, -1);
	assert_int_equal(err, EBADF);
	close(rofd);

	dirfd = open("/", O_RDONLY|O_DIRECTORY);
	assert_true(dirfd != -1);
	ret = finish(f, smbdirect_io_pread_send(f->mem, f->ev, pool, dirfd,
						buf, sizeof(buf), 0),
		     &err);
	assert_int_equal(ret, -1);
	assert_int_equal(err, EISDIR);
	close(dirfd);

	ret = do_pread(f, pool, buf, 10, -1, &err);
	assert_int_equal(ret, -1);
	assert_int_equal(err, EINVAL);

	/* No data pointer for a non-empty request. */
	ret = finish(f, smbdirect_io_send(f->mem, f->ev, pool, &bad), &err);
	assert_int_equal(ret, -1);
	assert_int_equal(err, EINVAL);

	/* None of that hurt the pool. */
	assert_int_equal(do_pwrite(f, pool, buf, sizeof(buf), 0, &err),
			 sizeof(buf));
	talloc_free(pool);
}

static void test_helper_isolation(void **pstate)
{
	struct fixture *f = *pstate;
	struct smbdirect_io_pool *pool = new_pool(f, 1, 0);
	int extra = open(f->path, O_RDONLY);
	uint8_t buf[100 * KiB];
	char dir[64], link[512], target[256], comm[32];
	struct dirent *de;
	pid_t pid;
	DIR *d;
	FILE *fp;
	int err;

	/* Open files of the parent, as smbd has its clients' files. */
	assert_true(extra != -1);
	assert_int_equal(do_pwrite(f, pool, buf, sizeof(buf), 0, &err),
			 sizeof(buf));
	assert_int_equal(smbdirect_io_pool_helper_pids(pool, &pid, 1), 1);

	snprintf(dir, sizeof(dir), "/proc/%d/comm", (int)pid);
	fp = fopen(dir, "r");
	assert_non_null(fp);
	assert_non_null(fgets(comm, sizeof(comm), fp));
	fclose(fp);
	assert_string_equal(comm, SMBDIRECT_IO_HELPER_NAME "\n");

	/* Between requests: stdio, its socket and its buffer. Nothing else. */
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		ssize_t len;
		int fd;

		if (de->d_name[0] == '.') {
			continue;
		}
		fd = atoi(de->d_name);
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		assert_true(len > 0);
		target[len] = '\0';
		if (fd <= 2) {
			assert_string_equal(target, "/dev/null");
		} else if (fd == 3) {
			assert_true(strncmp(target, "socket:", 7) == 0);
		} else {
			assert_non_null(strstr(
				target, "memfd:" SMBDIRECT_IO_HELPER_NAME));
		}
	}
	closedir(d);
	close(extra);
	talloc_free(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offsets_and_duration,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrency,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_helper_killed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_stuck,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_freed_in_flight,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_reaping,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_shrinks,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_registered_buffer,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_registered_buffer_release,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_idle_helpers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helper_isolation,
						setup, teardown),
	};

	/* A helper that dies must not take the test process with it. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
