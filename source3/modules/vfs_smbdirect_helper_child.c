/*
 * vfs_smbdirect: the forked I/O helper process
 *
 * After fork it runs only this code and leaves with _exit(): no talloc,
 * no tevent, no DEBUG (the log file's descriptor is closed, and its
 * number may be reused by a file sent to us).
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
#include <sys/prctl.h>
#include <signal.h>
#include <time.h>
#include "lib/util/msghdr.h"
#include "lib/util/sys_rw.h"
#include "vfs_smbdirect_helpers.h"
#include "vfs_smbdirect_helpers_wire.h"
#include "vfs_smbdirect_helper_child.h"

struct sdio_child_buf {
	int fd;
	int guard_fd; /* kept open, never used: see SDIO_F_GUARD_FD */
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
		bufs[i] = (struct sdio_child_buf) { .fd = -1, .guard_fd = -1 };
	}

	for (;;) {
		struct sdio_wire_req rq;
		struct sdio_wire_rep rp = { .magic = SDIO_MAGIC_REP };
		struct iovec iov = { .iov_base = &rq, .iov_len = sizeof(rq) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		union {
			struct cmsghdr align;
			uint8_t buf[CMSG_SPACE(3 * sizeof(int))];
		} cbuf;
		int fds[3] = { -1, -1, -1 };
		size_t nfds, want;
		ssize_t nread, nsent;

		msghdr_prep_recv_fds(&msg, cbuf.buf, sizeof(cbuf.buf), 3);
		nread = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (nread == -1 && errno == EINTR) {
			continue;
		}
		if (nread <= 0) {
			/* The parent closed its end, or is gone. */
			_exit(0);
		}

		nfds = msghdr_extract_fds(&msg, NULL, 0);
		if (nfds > 3) {
			_exit(2);
		}
		msghdr_extract_fds(&msg, fds, 3);

		want = 1;
		if (nread == sizeof(rq) && (rq.flags & SDIO_F_BUF_FD)) {
			want = (rq.flags & SDIO_F_GUARD_FD) ? 3 : 2;
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
			/* The new guard is open before the old one closes. */
			if (b->guard_fd != -1) {
				close(b->guard_fd);
			}
			*b = (struct sdio_child_buf) {
				.fd = fds[1],
				.guard_fd = fds[2],
			};
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

void sdio_child_main(int sock, pid_t parent)
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
