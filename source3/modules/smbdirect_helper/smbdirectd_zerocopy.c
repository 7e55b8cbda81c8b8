/*
 * smbdirectd: the control socket of the zero-copy link
 *
 * vfs_smbdirect, inside the smbd serving a relayed connection, connects
 * here once per tree connect and names smbdirectd's end of its loopback
 * connection. It gets back the pool's memfd and the connection's table
 * (smbdirect_zerocopy.h), made on the first attach. Only root may
 * connect: smbd runs as root, and the pool holds every client's data.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include "includes.h"
#include "lib/util/dlinklist.h"
#include "smbdirectd_ctx.h"
#include "smbdirectd_config.h"
#include "smbdirectd_conn_private.h"
#include "smbdirectd_pool.h"
#include "smbdirectd_zerocopy.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/un.h>

struct smbdirectd_zc_listener {
	struct smbdirectd_ctx *ctx;
	int fd;
	char *path;
	struct tevent_fd *fde;
};

/* An accepted control connection: one request, one answer. */
struct zc_client {
	struct smbdirectd_zc_listener *l;
	int fd;
	int guard; /* received, not yet the table's */
	struct tevent_fd *fde;
};

/* Checking parked slots: the module's helpers take milliseconds. */
#define ZC_PARK_POLL_MS 20

struct smbdirectd_zc_parked {
	struct smbdirectd_zc_parked *prev, *next;
	int idx;
	struct smbdirectd_pool_chunk *chunk;
};

static int zc_destructor(struct smbdirectd_zc *zc)
{
	size_t i;

	TALLOC_FREE(zc->park_timer);
	for (i = 0; i < talloc_array_length(zc->guard_fdes); i++) {
		TALLOC_FREE(zc->guard_fdes[i]);
	}
	for (i = 0; i < talloc_array_length(zc->guards); i++) {
		if (zc->guards[i] != -1) {
			close(zc->guards[i]);
		}
	}
	/* parked chunks go with zc: only at the daemon's exit */
	if (zc->table != NULL) {
		munmap(zc->table, zc->size);
	}
	if (zc->fd != -1) {
		close(zc->fd);
	}
	return 0;
}

static struct smbdirectd_zc *zc_table_new(struct smbdirectd_conn *conn)
{
	struct smbdirectd_zc *zc = talloc_zero(conn, struct smbdirectd_zc);
	long page = sysconf(_SC_PAGESIZE);
	void *p = NULL;

	if (zc == NULL) {
		return NULL;
	}
	zc->fd = -1;
	zc->ctx = conn->ctx;
	zc->conn_id = conn->id;
	talloc_set_destructor(zc, zc_destructor);
	zc->size = sizeof(struct smbdirect_zc_table);
	if (page > 0) {
		zc->size = (zc->size + page - 1) / page * page;
	}
	zc->fd = memfd_create("smbdirectd-zc", MFD_CLOEXEC);
	if (zc->fd == -1 || ftruncate(zc->fd, zc->size) != 0) {
		DBG_ERR("connection %" PRIu64 ": zero-copy table: %s\n",
			conn->id, strerror(errno));
		TALLOC_FREE(zc);
		return NULL;
	}
	p = mmap(NULL, zc->size, PROT_READ | PROT_WRITE, MAP_SHARED, zc->fd,
		 0);
	if (p == MAP_FAILED) {
		DBG_ERR("connection %" PRIu64 ": mapping the zero-copy table: "
			"%s\n", conn->id, strerror(errno));
		TALLOC_FREE(zc);
		return NULL;
	}
	zc->table = p;
	smbdirect_zc_table_init(zc->table,
				smbdirectd_pool_size(conn->ctx->pool));
	return zc;
}

static void zc_park_check(struct smbdirectd_zc *zc);

static void zc_park_timer(struct tevent_context *ev,
			  struct tevent_timer *te,
			  struct timeval now,
			  void *private_data)
{
	struct smbdirectd_zc *zc = talloc_get_type_abort(
		private_data, struct smbdirectd_zc);

	zc->park_timer = NULL;
	zc_park_check(zc);
}

/* Every guard hung up: nobody on the module's side runs any more. */
static bool zc_guards_gone(const struct smbdirectd_zc *zc)
{
	size_t i;

	for (i = 0; i < talloc_array_length(zc->guards); i++) {
		if (zc->guards[i] != -1) {
			return false;
		}
	}
	return talloc_array_length(zc->guards) > 0;
}

/*
 * Give back the parked slots the module is done with (or all of them
 * once the guards say nobody is left); free zc when its connection is
 * gone and nothing is parked any more.
 */
static void zc_park_check(struct smbdirectd_zc *zc)
{
	struct smbdirectd_zc_parked *p = NULL, *next = NULL;
	bool all = zc->conn_gone && zc_guards_gone(zc);

	for (p = zc->parked; p != NULL; p = next) {
		next = p->next;
		if (!smbdirect_zc_retire(zc->table, p->idx) && !all) {
			continue;
		}
		DBG_INFO("connection %" PRIu64 ": parked slot of entry %d "
			 "given back%s\n", zc->conn_id, p->idx,
			 all ? " (the module's processes are gone)" : "");
		DLIST_REMOVE(zc->parked, p);
		TALLOC_FREE(p);
	}
	if (zc->parked == NULL) {
		TALLOC_FREE(zc->park_timer);
		if (zc->conn_gone) {
			TALLOC_FREE(zc);
		}
		return;
	}
	if (zc->park_timer == NULL) {
		zc->park_timer = tevent_add_timer(
			zc->ctx->ev, zc,
			tevent_timeval_current_ofs(0, ZC_PARK_POLL_MS * 1000),
			zc_park_timer, zc);
	}
}

void smbdirectd_zc_park(struct smbdirectd_zc *zc,
			int idx,
			struct smbdirectd_pool_chunk *chunk)
{
	struct smbdirectd_zc_parked *p = NULL;

	p = talloc_zero(zc, struct smbdirectd_zc_parked);
	if (p == NULL) {
		/* never give a claimed slot back: lose it instead */
		DBG_ERR("connection %" PRIu64 ": out of memory parking the "
			"slot of entry %d: it stays reserved\n",
			zc->conn_id, idx);
		talloc_steal(zc->ctx, chunk);
		return;
	}
	p->idx = idx;
	p->chunk = talloc_move(p, &chunk);
	DLIST_ADD_END(zc->parked, p);
	DBG_INFO("connection %" PRIu64 ": entry %d still claimed by "
		 "vfs_smbdirect: its slot is kept\n", zc->conn_id, idx);
	zc_park_check(zc);
}

static void zc_guard_readable(struct tevent_context *ev,
			      struct tevent_fd *fde,
			      uint16_t flags,
			      void *private_data)
{
	struct smbdirectd_zc *zc = talloc_get_type_abort(
		private_data, struct smbdirectd_zc);
	size_t i;

	for (i = 0; i < talloc_array_length(zc->guard_fdes); i++) {
		char c;

		if (zc->guard_fdes[i] != fde) {
			continue;
		}
		/* nobody writes to it: anything but EAGAIN is the end */
		if (read(zc->guards[i], &c, 1) == -1 && errno == EAGAIN) {
			return;
		}
		TALLOC_FREE(zc->guard_fdes[i]);
		close(zc->guards[i]);
		zc->guards[i] = -1;
	}
	zc_park_check(zc);
}

void smbdirectd_zc_conn_gone(struct smbdirectd_zc *zc)
{
	size_t i;

	if (zc->parked == NULL) {
		TALLOC_FREE(zc);
		return;
	}
	DBG_NOTICE("connection %" PRIu64 ": gone with slots still claimed "
		   "by vfs_smbdirect: kept until it gives them up or its "
		   "processes are gone\n", zc->conn_id);
	zc->conn_gone = true;
	talloc_steal(zc->ctx, zc);
	for (i = 0; i < talloc_array_length(zc->guards); i++) {
		if (zc->guards[i] == -1) {
			continue;
		}
		zc->guard_fdes[i] = tevent_add_fd(zc->ctx->ev, zc,
						  zc->guards[i],
						  TEVENT_FD_READ,
						  zc_guard_readable, zc);
	}
	zc_park_check(zc);
}

static bool zc_add_guard(struct smbdirectd_zc *zc, int fd)
{
	size_t n = talloc_array_length(zc->guards);
	struct tevent_fd **fdes = NULL;
	int *guards = NULL;

	guards = talloc_realloc(zc, zc->guards, int, n + 1);
	if (guards == NULL) {
		return false;
	}
	zc->guards = guards;
	fdes = talloc_realloc(zc, zc->guard_fdes, struct tevent_fd *, n + 1);
	if (fdes == NULL) {
		zc->guards = talloc_realloc(zc, zc->guards, int, n);
		return false;
	}
	zc->guard_fdes = fdes;
	zc->guards[n] = fd;
	zc->guard_fdes[n] = NULL;
	(void)fcntl(fd, F_SETFL, O_NONBLOCK);
	return true;
}

static struct smbdirectd_conn *zc_find_conn(struct smbdirectd_ctx *ctx,
					    uint32_t port)
{
	struct smbdirectd_conn *conn = NULL;

	for (conn = ctx->conns; conn != NULL; conn = conn->next) {
		if (conn->smbd != NULL && conn->smbd_local_port == port &&
		    conn->state == CONN_RUNNING) {
			return conn;
		}
	}
	return NULL;
}

static void zc_answer(struct zc_client *c,
		      int status,
		      const struct smbdirectd_zc *zc)
{
	struct smbdirectd_ctx *ctx = c->l->ctx;
	struct smbdirect_zc_attach_rsp rsp = {
		.magic = SMBDIRECT_ZC_MAGIC,
		.version = SMBDIRECT_ZC_VERSION,
		.status = status,
	};
	struct iovec iov = {.iov_base = &rsp, .iov_len = sizeof(rsp)};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} u;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (status == 0) {
		struct cmsghdr *cm = NULL;
		int fds[2] = {smbdirectd_pool_fd(ctx->pool), zc->fd};

		rsp.pool_size = smbdirectd_pool_size(ctx->pool);
		rsp.table_size = zc->size;
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(fds));
		memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	}
	n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n != (ssize_t)sizeof(rsp)) {
		DBG_NOTICE("zero-copy control: answering failed: %s\n",
			   n == -1 ? strerror(errno) : "short write");
	}
}

static void zc_client_readable(struct tevent_context *ev,
			       struct tevent_fd *fde,
			       uint16_t flags,
			       void *private_data)
{
	struct zc_client *c = talloc_get_type_abort(private_data,
						    struct zc_client);
	struct smbdirectd_ctx *ctx = c->l->ctx;
	struct smbdirect_zc_attach_req req;
	struct smbdirectd_conn *conn = NULL;
	struct ucred cred;
	socklen_t cred_len = sizeof(cred);
	struct iovec iov = {.iov_base = &req, .iov_len = sizeof(req)};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm = NULL;
	int guard = -1;
	ssize_t n;

	n = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		return;
	}
	for (cm = CMSG_FIRSTHDR(&msg); n >= 0 && cm != NULL;
	     cm = CMSG_NXTHDR(&msg, cm)) {
		size_t i, nfds;

		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS) {
			continue;
		}
		nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int),
			       sizeof(int));
			if (guard == -1) {
				guard = fd;
			} else {
				close(fd);
			}
		}
	}
	/* c's destructor closes it unless it was taken */
	c->guard = guard;
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) != 0 ||
	    cred.uid != 0) {
		DBG_WARNING("zero-copy control: refusing a process that is "
			    "not root\n");
		TALLOC_FREE(c);
		return;
	}
	if (n != (ssize_t)sizeof(req) || req.magic != SMBDIRECT_ZC_MAGIC) {
		DBG_WARNING("zero-copy control: pid %d sent no attach request\n",
			    (int)cred.pid);
		TALLOC_FREE(c);
		return;
	}
	if (req.version == SMBDIRECT_ZC_VERSION &&
	    (guard == -1 || (msg.msg_flags & MSG_CTRUNC))) {
		DBG_WARNING("zero-copy control: pid %d sent no guard\n",
			    (int)cred.pid);
		zc_answer(c, EPROTO, NULL);
		TALLOC_FREE(c);
		return;
	}
	if (req.version != SMBDIRECT_ZC_VERSION) {
		DBG_ERR("zero-copy control: vfs_smbdirect in smbd pid %d "
			"speaks version %u, smbdirectd %u: install module and "
			"daemon from the same build\n",
			(int)cred.pid, req.version, SMBDIRECT_ZC_VERSION);
		zc_answer(c, EPROTO, NULL);
		TALLOC_FREE(c);
		return;
	}
	conn = zc_find_conn(ctx, req.smbdirectd_port);
	if (conn == NULL) {
		/* a TCP client of smbd, not one of ours: nothing to link */
		zc_answer(c, ENOENT, NULL);
		TALLOC_FREE(c);
		return;
	}
	if (conn->zc == NULL) {
		conn->zc = zc_table_new(conn);
		if (conn->zc == NULL) {
			zc_answer(c, ENOMEM, NULL);
			TALLOC_FREE(c);
			return;
		}
		conn->status.zero_copy = true;
		DBG_NOTICE("connection %" PRIu64 ": vfs_smbdirect in smbd pid "
			   "%d attached, zero copy on\n",
			   conn->id, (int)cred.pid);
	}
	if (!zc_add_guard(conn->zc, guard)) {
		zc_answer(c, ENOMEM, NULL);
		TALLOC_FREE(c);
		return;
	}
	c->guard = -1;
	zc_answer(c, 0, conn->zc);
	TALLOC_FREE(c);
}

static int zc_client_destructor(struct zc_client *c)
{
	TALLOC_FREE(c->fde);
	if (c->guard != -1) {
		close(c->guard);
	}
	close(c->fd);
	return 0;
}

static void zc_accept(struct tevent_context *ev,
		      struct tevent_fd *fde,
		      uint16_t flags,
		      void *private_data)
{
	struct smbdirectd_zc_listener *l = talloc_get_type_abort(
		private_data, struct smbdirectd_zc_listener);
	struct zc_client *c = NULL;
	int fd;

	fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd == -1) {
		return;
	}
	c = talloc_zero(l, struct zc_client);
	if (c == NULL) {
		close(fd);
		return;
	}
	c->l = l;
	c->fd = fd;
	c->guard = -1;
	talloc_set_destructor(c, zc_client_destructor);
	c->fde = tevent_add_fd(ev, c, fd, TEVENT_FD_READ, zc_client_readable,
			       c);
	if (c->fde == NULL) {
		TALLOC_FREE(c);
	}
}

static int zc_listener_destructor(struct smbdirectd_zc_listener *l)
{
	TALLOC_FREE(l->fde);
	if (l->fd != -1) {
		close(l->fd);
		unlink(l->path);
	}
	return 0;
}

bool smbdirectd_zc_listen(struct smbdirectd_ctx *ctx)
{
	const struct smbdirectd_config *cfg = ctx->cfg;
	struct smbdirectd_zc_listener *l = NULL;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	mode_t old_umask;
	int ret;

	if (!cfg->zero_copy) {
		DBG_NOTICE("smbdirect:zero copy = no: payloads are copied "
			   "through smbd\n");
		return true;
	}
	l = talloc_zero(ctx, struct smbdirectd_zc_listener);
	if (l == NULL) {
		return false;
	}
	l->ctx = ctx;
	l->path = talloc_strdup(l, cfg->control_socket);
	l->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
		       0);
	if (l->path == NULL || l->fd == -1) {
		DBG_ERR("zero-copy control socket: %s\n", strerror(errno));
		TALLOC_FREE(l);
		return false;
	}
	talloc_set_destructor(l, zc_listener_destructor);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", l->path);

	/* A stale socket of an earlier run: the pid file guards the rest. */
	unlink(l->path);
	old_umask = umask(0077);
	ret = bind(l->fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_umask);
	if (ret != 0 || listen(l->fd, 64) != 0) {
		DBG_ERR("zero-copy control socket %s: %s (check the lock "
			"directory, or set smbdirect:control socket)\n",
			l->path, strerror(errno));
		close(l->fd);
		l->fd = -1;
		TALLOC_FREE(l);
		return false;
	}
	l->fde = tevent_add_fd(ctx->ev, l, l->fd, TEVENT_FD_READ, zc_accept,
			       l);
	if (l->fde == NULL) {
		TALLOC_FREE(l);
		return false;
	}
	ctx->zc_listener = l;
	DBG_NOTICE("zero-copy control socket %s\n", l->path);
	return true;
}

void smbdirectd_zc_stop(struct smbdirectd_ctx *ctx)
{
	TALLOC_FREE(ctx->zc_listener);
}
