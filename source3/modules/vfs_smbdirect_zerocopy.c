/*
 * vfs_smbdirect: the module's side of the zero-copy link with smbdirectd
 *
 * See smbdirect_helper/proto/smbdirect_zerocopy.h for the agreement. For
 * sendfile and recvfile the file I/O happens here, in smbd: smbd calls
 * them synchronously, so a helper would only add a round trip. For
 * smbd's asynchronous READ and WRITE (pread_send, pwrite_send) it
 * happens in vfs_smbdirect's forked helpers, which map the pool through
 * the descriptor kept here (smbdirect_zc_pool_fd).
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
#include "lib/util/samba_util.h"
#include "lib/util/byteorder.h"
#include "proto/smbdirect_zerocopy.h"
#include "vfs_smbdirect_zerocopy.h"
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#undef DBGC_CLASS
#define DBGC_CLASS DBGC_VFS

/* How long a peer that should send at once may take: never forever. */
#define ZC_IO_TIMEOUT_MS (60 * 1000)
#define ZC_ATTACH_TIMEOUT_SEC 5

struct smbdirect_zc_claim_token {
	struct smbdirect_zc_link *link;
	int idx;
};

struct smbdirect_zc_link {
	uint8_t *pool;
	size_t pool_size;
	int pool_fd;
	/* the guard's write end: smbdirect_zerocopy.h */
	int guard_fd;
	struct smbdirect_zc_table *table;
	size_t table_size;
	struct smbdirect_zc_claim_token tokens[SMBDIRECT_ZC_ENTRIES];
};

static int zc_link_destructor(struct smbdirect_zc_link *l)
{
	if (l->pool_fd != -1) {
		close(l->pool_fd);
	}
	if (l->guard_fd != -1) {
		close(l->guard_fd);
	}
	if (l->pool != NULL) {
		munmap(l->pool, l->pool_size);
	}
	if (l->table != NULL) {
		munmap(l->table, l->table_size);
	}
	return 0;
}

/* smbdirectd connects from loopback: its port names the connection. */
bool smbdirect_zc_peer_port(int fd, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0) {
		return false;
	}
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		if ((ntohl(in->sin_addr.s_addr) >> 24) != 127) {
			return false;
		}
		*port = ntohs(in->sin_port);
		return true;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		const struct in6_addr *a = &in6->sin6_addr;

		if (!IN6_IS_ADDR_LOOPBACK(a) &&
		    !(IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127)) {
			return false;
		}
		*port = ntohs(in6->sin6_port);
		return true;
	}
	return false;
}

/*
 * One request, one answer with two descriptors. Returns 0 or errno,
 * and in *what the step that failed.
 */
static int zc_ask(const char *socket_path,
		  uint16_t port,
		  int guard_rfd,
		  struct smbdirect_zc_attach_rsp *rsp,
		  int fds[2],
		  const char **what)
{
	struct iovec req_iov;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ru;
	struct msghdr req_msg = {
		.msg_iov = &req_iov,
		.msg_iovlen = 1,
		.msg_control = ru.buf,
		.msg_controllen = sizeof(ru.buf),
	};
	struct cmsghdr *rcm = NULL;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct smbdirect_zc_attach_req req = {
		.magic = SMBDIRECT_ZC_MAGIC,
		.version = SMBDIRECT_ZC_VERSION,
		.smbdirectd_port = port,
	};
	struct timeval tv = {.tv_sec = ZC_ATTACH_TIMEOUT_SEC};
	struct iovec iov = {.iov_base = rsp, .iov_len = sizeof(*rsp)};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} u;
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm = NULL;
	ssize_t n;
	int err = 0;
	int s;

	*what = "socket";
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s == -1) {
		return errno;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", socket_path);
	if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
		err = errno;
		close(s);
		return err;
	}
	*what = "connect";
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		err = errno;
		close(s);
		return err;
	}
	*what = "sending the request";
	req_iov = (struct iovec) {.iov_base = &req, .iov_len = sizeof(req)};
	memset(&ru, 0, sizeof(ru));
	rcm = CMSG_FIRSTHDR(&req_msg);
	rcm->cmsg_level = SOL_SOCKET;
	rcm->cmsg_type = SCM_RIGHTS;
	rcm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(rcm), &guard_rfd, sizeof(int));
	if (sendmsg(s, &req_msg, MSG_NOSIGNAL) != sizeof(req)) {
		err = errno;
		close(s);
		return err;
	}
	*what = "receiving the answer";
	n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC);
	err = (n == -1) ? errno : 0;
	close(s);
	if (n != sizeof(*rsp)) {
		return n == -1 ? err : EPROTO;
	}
	cm = CMSG_FIRSTHDR(&msg);
	if (rsp->magic != SMBDIRECT_ZC_MAGIC ||
	    rsp->version != SMBDIRECT_ZC_VERSION) {
		*what = "the answer's version";
		err = EPROTO;
	} else if (rsp->status != 0) {
		*what = "smbdirectd's answer";
		err = rsp->status;
	} else if (cm == NULL || cm->cmsg_level != SOL_SOCKET ||
		   cm->cmsg_type != SCM_RIGHTS ||
		   cm->cmsg_len != CMSG_LEN(2 * sizeof(int))) {
		*what = "the answer's descriptors";
		err = EPROTO;
	}
	if (cm != NULL && cm->cmsg_level == SOL_SOCKET &&
	    cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(2 * sizeof(int))) {
		memcpy(fds, CMSG_DATA(cm), 2 * sizeof(int));
		if (err != 0) {
			close(fds[0]);
			close(fds[1]);
		}
	}
	return err;
}

struct smbdirect_zc_link *smbdirect_zc_attach(TALLOC_CTX *mem_ctx,
					      const char *socket_path,
					      int transport_fd,
					      const char **what)
{
	struct smbdirect_zc_attach_rsp rsp = {0};
	struct smbdirect_zc_link *l = NULL;
	int fds[2] = {-1, -1};
	int guard[2] = {-1, -1};
	uint16_t port = 0;
	void *p = NULL;
	int err;
	size_t i;

	*what = "not a loopback TCP connection";
	if (!smbdirect_zc_peer_port(transport_fd, &port)) {
		errno = EAFNOSUPPORT;
		return NULL;
	}
	*what = "the guard pipe";
	if (pipe2(guard, O_CLOEXEC) != 0) {
		return NULL;
	}
	err = zc_ask(socket_path, port, guard[0], &rsp, fds, what);
	close(guard[0]);
	if (err != 0) {
		close(guard[1]);
		errno = err;
		return NULL;
	}
	l = talloc_zero(mem_ctx, struct smbdirect_zc_link);
	if (l == NULL) {
		close(fds[0]);
		close(fds[1]);
		close(guard[1]);
		errno = ENOMEM;
		return NULL;
	}
	l->pool_fd = -1;
	l->guard_fd = guard[1];
	talloc_set_destructor(l, zc_link_destructor);
	for (i = 0; i < SMBDIRECT_ZC_ENTRIES; i++) {
		l->tokens[i] = (struct smbdirect_zc_claim_token) {
			.link = l,
			.idx = (int)i,
		};
	}

	*what = "mapping the pool and the table";
	p = mmap(NULL, rsp.pool_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fds[0], 0);
	if (p != MAP_FAILED) {
		l->pool = p;
		l->pool_size = rsp.pool_size;
		/* helpers forked later map it themselves, when needed */
		(void)madvise(p, rsp.pool_size, MADV_DONTFORK);
		p = mmap(NULL, rsp.table_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fds[1], 0);
	}
	err = errno;
	l->pool_fd = fds[0];
	close(fds[1]);
	if (p == MAP_FAILED) {
		TALLOC_FREE(l);
		errno = err;
		return NULL;
	}
	l->table = p;
	l->table_size = rsp.table_size;
	*what = "checking the table";
	if (!smbdirect_zc_table_valid(l->table, l->table_size,
				      l->pool_size)) {
		TALLOC_FREE(l);
		errno = EPROTO;
		return NULL;
	}
	return l;
}

/* Wait until fd is ready for events, at most ZC_IO_TIMEOUT_MS. */
static bool zc_wait(int fd, short events)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int ret;

	do {
		ret = poll(&pfd, 1, ZC_IO_TIMEOUT_MS);
	} while (ret == -1 && errno == EINTR);
	if (ret == 0) {
		errno = ETIMEDOUT;
	}
	return ret == 1;
}

/* smbd keeps its socket non-blocking; write all of buf anyway. */
static bool zc_write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (!zc_wait(fd, POLLOUT)) {
				return false;
			}
			continue;
		}
		if (n <= 0) {
			return false;
		}
		buf += n;
		len -= n;
	}
	return true;
}

/*
 * Consume len bytes from a TCP socket: MSG_TRUNC makes the kernel drop
 * them without copying. buf (len bytes) is only there to keep the call
 * well-formed: the slot the bytes came from, already written to the
 * file, so nothing is lost even where a kernel would copy.
 */
static bool zc_discard(int fd, uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = recv(fd, buf, len, MSG_TRUNC | MSG_DONTWAIT);

		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (!zc_wait(fd, POLLIN)) {
				return false;
			}
			continue;
		}
		if (n <= 0) {
			if (n == 0) {
				errno = ECONNRESET;
			}
			return false;
		}
		n = MIN((size_t)n, len);
		buf += n;
		len -= n;
	}
	return true;
}

ssize_t smbdirect_zc_sendfile(struct smbdirect_zc_link *link,
			      int sock,
			      const uint8_t *hdr,
			      size_t hdr_len,
			      const struct smbdirect_zc_io *io,
			      bool *claimed)
{
	const struct smbdirect_zc_entry *e = NULL;
	uint64_t message_id;
	uint8_t *slot = NULL;
	size_t done = 0;
	int idx;

	*claimed = false;
	/* the stream header, then the SMB2 header: MessageId at 24 */
	if (hdr_len < 4 + 64 || io->count == 0 || io->count > UINT32_MAX) {
		return 0;
	}
	message_id = PULL_LE_U64(hdr, 4 + 24);
	idx = smbdirect_zc_claim_read(link->table, message_id,
				      io->file_id_persistent,
				      io->file_id_volatile, io->offset,
				      io->count);
	if (idx < 0) {
		return 0;
	}
	e = &link->table->entries[idx];
	slot = link->pool + e->pool_offset;

	while (done < io->count) {
		ssize_t n = pread(io->file_fd, slot + done, io->count - done,
				  io->offset + done);

		if (n == -1 && errno == EINTR) {
			continue;
		}
		if (n == -1) {
			DBG_NOTICE("pread for READ MessageId %" PRIu64
				   " failed (%s): copying it instead\n",
				   message_id, strerror(errno));
			smbdirect_zc_decline(link->table, idx);
			return 0;
		}
		if (n == 0) {
			/* shrunk since smbd looked: zeros, as smbd pads */
			memset(slot + done, 0, io->count - done);
			break;
		}
		done += n;
	}
	smbdirect_zc_finish(link->table, idx, io->count);
	*claimed = true;

	/* Only now: smbdirectd reads the header after the entry is DONE. */
	if (!zc_write_all(sock, hdr, hdr_len)) {
		DBG_ERR("sending the READ response header failed: %s\n",
			strerror(errno));
		return -1;
	}
	return io->count;
}

ssize_t smbdirect_zc_recvfile(struct smbdirect_zc_link *link,
			      int sock,
			      const struct smbdirect_zc_io *io,
			      bool *claimed)
{
	const struct smbdirect_zc_entry *e = NULL;
	uint8_t *slot = NULL;
	size_t done = 0;
	int err = 0;
	int idx;

	*claimed = false;
	if (io->count == 0 || io->count > UINT32_MAX) {
		return 0;
	}
	idx = smbdirect_zc_claim_write(link->table, io->file_id_persistent,
				       io->file_id_volatile, io->offset,
				       io->count);
	if (idx < 0) {
		return 0;
	}
	*claimed = true;
	e = &link->table->entries[idx];
	slot = link->pool + e->pool_offset;

	while (done < io->count) {
		ssize_t n = pwrite(io->file_fd, slot + done, io->count - done,
				   io->offset + done);

		if (n == -1 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			err = (n == 0) ? ENOSPC : errno;
			break;
		}
		done += n;
	}
	/* smbd needs the stream in step whatever happened to the file */
	if (!zc_discard(sock, slot, io->count)) {
		err = errno;
		smbdirect_zc_decline(link->table, idx);
		DBG_ERR("discarding %zu payload bytes from smbdirectd "
			"failed: %s\n",
			io->count, strerror(err));
		errno = err;
		return -1;
	}
	if (err != 0) {
		smbdirect_zc_decline(link->table, idx);
		errno = err;
		return -1;
	}
	smbdirect_zc_finish(link->table, idx, io->count);
	return io->count;
}

int smbdirect_zc_async_claim(struct smbdirect_zc_link *link,
			     uint32_t op,
			     uint64_t message_id,
			     const struct smbdirect_zc_io *io,
			     uint64_t *pool_offset)
{
	int idx;

	if (io->count == 0 || io->count > UINT32_MAX || io->offset < 0) {
		return -1;
	}
	idx = smbdirect_zc_claim(link->table, op, message_id,
				 io->file_id_persistent, io->file_id_volatile,
				 io->offset, io->count);
	if (idx < 0) {
		return -1;
	}
	*pool_offset = link->table->entries[idx].pool_offset;
	return idx;
}

void smbdirect_zc_async_done(struct smbdirect_zc_link *link,
			     int idx,
			     ssize_t result)
{
	const struct smbdirect_zc_entry *e = &link->table->entries[idx];

	if (result < 0 || (uint64_t)result > e->length) {
		smbdirect_zc_decline(link->table, idx);
		return;
	}
	if (e->op == SMBDIRECT_ZC_OP_READ) {
		smbdirect_zc_finish_relayed(link->table, idx,
					    (uint32_t)result);
		return;
	}
	if ((uint64_t)result != e->length) {
		smbdirect_zc_decline(link->table, idx);
		return;
	}
	smbdirect_zc_finish(link->table, idx, (uint32_t)result);
}

void *smbdirect_zc_async_token(struct smbdirect_zc_link *link, int idx)
{
	return &link->tokens[idx];
}

void smbdirect_zc_async_release(void *token)
{
	struct smbdirect_zc_claim_token *t = token;

	DBG_INFO("entry %d: request gone, slot given back\n", t->idx);
	smbdirect_zc_decline(t->link->table, t->idx);
}

int smbdirect_zc_pool_fd(const struct smbdirect_zc_link *link)
{
	return link->pool_fd;
}

uint8_t *smbdirect_zc_pool_base(const struct smbdirect_zc_link *link)
{
	return link->pool;
}

uint64_t smbdirect_zc_pool_size(const struct smbdirect_zc_link *link)
{
	return link->pool_size;
}

int smbdirect_zc_guard_fd(const struct smbdirect_zc_link *link)
{
	return link->guard_fd;
}
