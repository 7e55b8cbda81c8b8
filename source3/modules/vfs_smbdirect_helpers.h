/*
 * vfs_smbdirect: a pool of forked I/O helper processes
 *
 * The asynchronous pread, pwrite and fsync of vfs_smbdirect run in helper
 * processes forked from smbd, one request per helper at a time: the
 * file descriptor goes to the helper with SCM_RIGHTS, the data through a
 * shared-memory buffer sized to the request. This file knows nothing of
 * smbd (no files_struct, no connection_struct) so that the unit tests
 * can drive it on its own; vfs_smbdirect.c is the glue.
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

#ifndef __VFS_SMBDIRECT_HELPERS_H__
#define __VFS_SMBDIRECT_HELPERS_H__

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <talloc.h>
#include <tevent.h>

/* The helpers' process name (comm), for ps, pgrep and the tests. */
#define SMBDIRECT_IO_HELPER_NAME "smbdirect-io"

/*
 * At most this many helpers per pool (one pool per share and smbd
 * process, that is per client). A Linux or Windows client keeps a few to
 * a few dozen large reads and writes in flight; beyond 32 parallel
 * pread/pwrite calls per client a disk gains nothing, while each helper
 * is a process and, at worst, a buffer of the largest request (8 MiB by
 * default). Requests beyond the limit wait for a free helper.
 */
#define SMBDIRECT_IO_DEFAULT_MAX_HELPERS 32

/* Idle helpers exit after this long, as vfs_aio_fork's do. */
#define SMBDIRECT_IO_DEFAULT_IDLE_TIMEOUT_MS 30000

/*
 * Buffers registered with smbdirect_io_pool_add_buffer() have the ids
 * 1 .. SMBDIRECT_IO_MAX_EXT_BUFFERS; 0 is each helper's own buffer.
 */
#define SMBDIRECT_IO_MAX_EXT_BUFFERS 7

struct smbdirect_io_pool;

struct smbdirect_io_pool_config {
	/* 0: SMBDIRECT_IO_DEFAULT_MAX_HELPERS */
	unsigned max_helpers;
	/* 0: SMBDIRECT_IO_DEFAULT_IDLE_TIMEOUT_MS */
	unsigned idle_timeout_ms;
};

enum smbdirect_io_op {
	SMBDIRECT_IO_PREAD = 1,
	SMBDIRECT_IO_PWRITE = 2,
	SMBDIRECT_IO_FSYNC = 3,
};

struct smbdirect_io_args {
	enum smbdirect_io_op op;
	/*
	 * Must stay open until the request completes or is freed: it is
	 * sent to the helper when a helper is free, which may be later.
	 */
	int fd;
	/*
	 * With ext_id == 0 the data goes through the helper's own buffer
	 * and is copied from data (pwrite) or into data (pread).
	 */
	void *data;
	size_t n;
	off_t offset;
	/*
	 * The zero-copy hook: ext_id != 0 names a buffer registered with
	 * smbdirect_io_pool_add_buffer(). The helper then reads into or
	 * writes from bytes [ext_offset, ext_offset + n) of that buffer
	 * directly and data is not used: nothing is copied in smbd.
	 */
	uint32_t ext_id;
	uint64_t ext_offset;
	/*
	 * With ext_id != 0: a request freed before smbdirect_io_recv()
	 * took its result calls ext_release(ext_release_data) once no
	 * helper can touch the buffer for it any more (at once if none
	 * had it, else after its helper answered or was seen to exit;
	 * never when it cannot be made to exit). A request that names a
	 * registered buffer also completes only once its helper is done
	 * with it: when the helper fails, the EIO waits for its exit.
	 */
	void (*ext_release)(void *ext_release_data);
	void *ext_release_data;
	/* Testing only: the helper sleeps this long before the call. */
	uint32_t test_delay_ms;
};

struct smbdirect_io_pool *smbdirect_io_pool_create(
	TALLOC_CTX *mem_ctx,
	struct tevent_context *ev,
	const struct smbdirect_io_pool_config *config);

/*
 * One request. Completes with the result of pread/pwrite (a short count
 * only at end of file), or fsync (0), or -1 and an errno: the system
 * call's, EIO when the helper died or failed, ENOMEM and the like when
 * no helper or buffer could be had. Freeing the request at any time is
 * allowed; a helper still busy with it finishes (or is killed) on its
 * own.
 */
struct tevent_req *smbdirect_io_send(TALLOC_CTX *mem_ctx,
				     struct tevent_context *ev,
				     struct smbdirect_io_pool *pool,
				     const struct smbdirect_io_args *args);
ssize_t smbdirect_io_recv(struct tevent_req *req,
			  int *perrno,
			  uint64_t *pduration_ns);

struct tevent_req *smbdirect_io_pread_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   struct smbdirect_io_pool *pool,
					   int fd,
					   void *data,
					   size_t n,
					   off_t offset);
struct tevent_req *smbdirect_io_pwrite_send(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct smbdirect_io_pool *pool,
					    int fd,
					    const void *data,
					    size_t n,
					    off_t offset);
struct tevent_req *smbdirect_io_fsync_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   struct smbdirect_io_pool *pool,
					   int fd);

/*
 * The zero-copy hook: make a shared-memory file (a memfd, say) of size
 * bytes available to the helpers as buffer *pid. The pool keeps its own
 * duplicate of fd; each helper receives it with its first request that
 * names the id, and maps it once.
 */
int smbdirect_io_pool_add_buffer(struct smbdirect_io_pool *pool,
				 int fd,
				 uint64_t size,
				 uint32_t *pid);
/*
 * The same with a guard: a descriptor (a pipe's write end) that each
 * helper keeps open from its first request naming the buffer until it
 * exits. Whoever holds the pipe's read end sees end of file only when
 * no helper that mapped the buffer runs any more.
 */
int smbdirect_io_pool_add_guarded_buffer(struct smbdirect_io_pool *pool,
					 int fd,
					 uint64_t size,
					 int guard_fd,
					 uint32_t *pid);
int smbdirect_io_pool_remove_buffer(struct smbdirect_io_pool *pool,
				    uint32_t id);

/* For the tests and for debug output. */
unsigned smbdirect_io_pool_num_helpers(struct smbdirect_io_pool *pool);
unsigned smbdirect_io_pool_num_busy(struct smbdirect_io_pool *pool);
size_t smbdirect_io_pool_buffer_bytes(struct smbdirect_io_pool *pool);
size_t smbdirect_io_pool_helper_pids(struct smbdirect_io_pool *pool,
				     pid_t *pids,
				     size_t max_pids);
/* The helper serving req, or -1 while it waits for one. */
pid_t smbdirect_io_req_helper_pid(struct tevent_req *req);

#endif
