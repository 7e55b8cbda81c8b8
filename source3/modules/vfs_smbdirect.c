/*
 * vfs_smbdirect: the smbd side of SMB Direct for an unmodified Samba
 *
 * Stackable VFS module. Asynchronous pread, pwrite and fsync run in
 * helper processes forked from smbd (vfs_smbdirect_helpers.c), in the
 * manner of vfs_aio_fork but for any request size, bounded in number,
 * and without letting a helper's failure take smbd down. Everything
 * else passes to the next module. With smbdirectd, sendfile and
 * recvfile move offloaded READ/WRITE payloads straight between the file
 * and smbdirectd's registered pool (the zero-copy link,
 * smbdirect_helper/smbdirect_zerocopy.h).
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

#include "includes.h"
#include "smbd/smbd.h"
#include "smbd/globals.h"
#include "lib/util/tevent_unix.h"
#include "vfs_smbdirect_helpers.h"
#include "vfs_smbdirect_zerocopy.h"
#include "smbdirect_zerocopy_config.h"

#undef DBGC_CLASS
#define DBGC_CLASS DBGC_VFS

/*
 * The module is written against one VFS interface. Building it against
 * another would produce a module smbd refuses or, worse, misreads.
 */
#if SMB_VFS_INTERFACE_VERSION != 47
#error "vfs_smbdirect is written for SMB_VFS_INTERFACE_VERSION 47 (Samba 4.17)"
#endif

/* The prefix of our parametric options: "smbdirect:NAME". */
#define PARM "smbdirect"

struct smbdirect_config {
	struct smbdirect_io_pool_config pool_config;
	/* Made with the first asynchronous request of the share. */
	struct smbdirect_io_pool *pool;
};

/*
 * The zero-copy links of this smbd process, by transport socket. smbd
 * serves one client per process (with multichannel, over several
 * sockets); a socket that got no link (a TCP client, smbdirectd not
 * running) is remembered too, so it is asked only once. A descriptor
 * number can come back for another connection: the peer port tells.
 */
struct smbdirect_zc_known {
	int fd;
	uint16_t port;
	struct smbdirect_zc_link *link; /* NULL: no link for it */
};

static struct smbdirect_zc_known *zc_known;

static struct smbdirect_zc_link *smbdirect_zc_link_for(int fd)
{
	struct smbdirect_zc_link *link = NULL;
	struct smbdirect_zc_known *k = NULL;
	const char *what = NULL;
	char *path = NULL;
	uint16_t port = 0;
	size_t i, n;
	int err;

	if (!smbdirect_zc_enabled() || !smbdirect_zc_peer_port(fd, &port)) {
		return NULL;
	}
	n = talloc_array_length(zc_known);
	for (i = 0; i < n; i++) {
		if (zc_known[i].fd == fd && zc_known[i].port == port) {
			return zc_known[i].link;
		}
	}

	path = smbdirect_zc_socket_path(talloc_tos());
	if (path == NULL) {
		return NULL;
	}
	/* the control socket is root's alone */
	become_root();
	link = smbdirect_zc_attach(NULL, path, fd, &what);
	err = errno;
	unbecome_root();
	if (link == NULL && err != EAFNOSUPPORT) {
		DBG_WARNING("no zero-copy link with smbdirectd through %s "
			    "(%s: %s): offloaded payloads are copied through "
			    "smbd\n", path, what, strerror(err));
	} else if (link != NULL) {
		DBG_NOTICE("zero-copy link with smbdirectd for the connection "
			   "from 127.0.0.1:%u\n", port);
	}
	TALLOC_FREE(path);

	k = talloc_realloc(NULL, zc_known, struct smbdirect_zc_known, n + 1);
	if (k == NULL) {
		TALLOC_FREE(link);
		return NULL;
	}
	zc_known = k;
	zc_known[n] = (struct smbdirect_zc_known) {
		.fd = fd,
		.port = port,
		.link = talloc_move(zc_known, &link),
	};
	return zc_known[n].link;
}

/*
 * At tree connect: attach the client's connections, so that smbdirectd
 * publishes their offloaded READ/WRITE from now on, and say what the
 * share lacks for smbd to take the zero-copy way.
 */
static void smbdirect_zc_connect(struct vfs_handle_struct *handle)
{
	struct smbXsrv_connection *xconn = NULL;
	int snum = SNUM(handle->conn);
	bool linked = false;

	for (xconn = handle->conn->sconn->client->connections; xconn != NULL;
	     xconn = xconn->next) {
		linked |= smbdirect_zc_link_for(xconn->transport.sock) != NULL;
	}
	if (!linked) {
		return;
	}
	/* smbd tries asynchronous reads first, and sendfile only after */
	if (!lp__use_sendfile(snum) || lp_aio_read_size(snum) != 0) {
		DBG_NOTICE("share %d: offloaded READs are copied through smbd "
			   "(zero copy needs \"use sendfile = yes\" and \"aio "
			   "read size = 0\")\n", snum);
	}
	if (lp_min_receive_file_size() == 0) {
		DBG_NOTICE("\"min receivefile size = 0\": offloaded WRITEs are "
			   "copied through smbd\n");
	}
}

/* The SMB2 FileId and the file range of fsp's I/O, or false. */
static bool smbdirect_zc_io_for(struct files_struct *fsp,
				off_t offset,
				size_t count,
				struct smbdirect_zc_io *io)
{
	if (fsp->op == NULL || fsp->op->global == NULL ||
	    fsp_get_io_fd(fsp) == -1 || fsp_is_alternate_stream(fsp)) {
		return false;
	}
	*io = (struct smbdirect_zc_io) {
		.file_id_persistent = fsp->op->global->open_persistent_id,
		.file_id_volatile = fsp->op->global->open_volatile_id,
		.file_fd = fsp_get_io_fd(fsp),
		.offset = offset,
		.count = count,
	};
	return true;
}

static ssize_t smbdirect_sendfile(struct vfs_handle_struct *handle,
				  int tofd,
				  files_struct *fromfsp,
				  const DATA_BLOB *hdr,
				  off_t offset,
				  size_t count)
{
	struct smbdirect_zc_link *link = NULL;
	struct smbdirect_zc_io io;
	bool claimed = false;
	ssize_t ret;

	if (hdr != NULL && smbdirect_zc_io_for(fromfsp, offset, count, &io)) {
		link = smbdirect_zc_link_for(tofd);
	}
	if (link != NULL) {
		ret = smbdirect_zc_sendfile(link, tofd, hdr->data, hdr->length,
					    &io, &claimed);
		if (claimed) {
			return ret;
		}
	}
	return SMB_VFS_NEXT_SENDFILE(handle, tofd, fromfsp, hdr, offset,
				     count);
}

static ssize_t smbdirect_recvfile(struct vfs_handle_struct *handle,
				  int fromfd,
				  files_struct *tofsp,
				  off_t offset,
				  size_t count)
{
	struct smbdirect_zc_link *link = NULL;
	struct smbdirect_zc_io io;
	bool claimed = false;
	ssize_t ret;

	if (smbdirect_zc_io_for(tofsp, offset, count, &io)) {
		link = smbdirect_zc_link_for(fromfd);
	}
	if (link != NULL) {
		ret = smbdirect_zc_recvfile(link, fromfd, &io, &claimed);
		if (claimed) {
			return ret;
		}
	}
	return SMB_VFS_NEXT_RECVFILE(handle, fromfd, tofsp, offset, count);
}

static int smbdirect_connect(struct vfs_handle_struct *handle,
			     const char *service,
			     const char *user)
{
	struct smbdirect_config *config = NULL;
	int snum = SNUM(handle->conn);
	int max_helpers, idle_timeout;
	int ret;

	ret = SMB_VFS_NEXT_CONNECT(handle, service, user);
	if (ret < 0) {
		return ret;
	}

	max_helpers = lp_parm_int(snum, PARM, "max helpers",
				  SMBDIRECT_IO_DEFAULT_MAX_HELPERS);
	if (max_helpers < 1) {
		DBG_WARNING("smbdirect:max helpers = %d is too small: "
			    "using 1\n", max_helpers);
		max_helpers = 1;
	}
	idle_timeout = lp_parm_int(snum, PARM, "idle timeout",
				   SMBDIRECT_IO_DEFAULT_IDLE_TIMEOUT_MS / 1000);
	if (idle_timeout < 1 || idle_timeout > INT_MAX / 1000) {
		DBG_WARNING("smbdirect:idle timeout = %d is out of range: "
			    "using %d seconds\n", idle_timeout,
			    SMBDIRECT_IO_DEFAULT_IDLE_TIMEOUT_MS / 1000);
		idle_timeout = SMBDIRECT_IO_DEFAULT_IDLE_TIMEOUT_MS / 1000;
	}

	config = talloc_zero(handle->conn, struct smbdirect_config);
	if (config == NULL) {
		DBG_ERR("talloc_zero failed\n");
		SMB_VFS_NEXT_DISCONNECT(handle);
		errno = ENOMEM;
		return -1;
	}
	config->pool_config = (struct smbdirect_io_pool_config) {
		.max_helpers = max_helpers,
		.idle_timeout_ms = idle_timeout * 1000,
	};

	/*
	 * Freeing the config (at disconnect, with the connection) frees
	 * the pool, which ends its helpers.
	 */
	SMB_VFS_HANDLE_SET_DATA(handle, config, NULL,
				struct smbdirect_config,
				return -1);

	/*
	 * Logged at NOTICE so that "log level = 3" (or vfs:3) shows which
	 * shares run through the module; the selftest relies on this line.
	 */
	DBG_NOTICE("connected to share [%s] as [%s]\n",
		   service,
		   user);
	DBG_INFO("at most %d I/O helpers, idle ones stop after %d s\n",
		 max_helpers, idle_timeout);
	smbdirect_zc_connect(handle);
	return 0;
}

/*
 * The helper pool of this share, or NULL when the request is better
 * left to the next module: a stream (its data may not be the file's),
 * or an fsp without a descriptor of its own.
 */
static struct smbdirect_io_pool *smbdirect_pool(
	struct vfs_handle_struct *handle,
	struct tevent_context *ev,
	struct files_struct *fsp)
{
	struct smbdirect_config *config = NULL;

	if (fsp_get_io_fd(fsp) == -1 || fsp_is_alternate_stream(fsp)) {
		return NULL;
	}

	SMB_VFS_HANDLE_GET_DATA(handle, config, struct smbdirect_config,
				return NULL);

	if (config->pool == NULL) {
		config->pool = smbdirect_io_pool_create(config, ev,
						       &config->pool_config);
		if (config->pool == NULL) {
			DBG_ERR("no memory for the helper pool\n");
		}
	}
	return config->pool;
}

/*
 * One state for the three calls: the request runs either in our
 * helpers or, when smbdirect_pool() says so, in the next module.
 */
struct smbdirect_aio_state {
	enum smbdirect_io_op op;
	bool next;
	ssize_t ret;
	struct vfs_aio_state vfs_aio_state;
};

static void smbdirect_aio_done(struct tevent_req *subreq);

static struct tevent_req *smbdirect_aio_send(
	struct vfs_handle_struct *handle,
	TALLOC_CTX *mem_ctx,
	struct tevent_context *ev,
	struct files_struct *fsp,
	enum smbdirect_io_op op,
	void *data,
	size_t n,
	off_t offset)
{
	struct tevent_req *req = NULL, *subreq = NULL;
	struct smbdirect_aio_state *state = NULL;
	struct smbdirect_io_pool *pool = NULL;
	struct smbdirect_io_args args = {
		.op = op,
		.fd = fsp_get_io_fd(fsp),
		.data = data,
		.n = n,
		.offset = offset,
	};

	req = tevent_req_create(mem_ctx, &state, struct smbdirect_aio_state);
	if (req == NULL) {
		return NULL;
	}
	state->op = op;

	pool = smbdirect_pool(handle, ev, fsp);
	if (pool != NULL) {
		subreq = smbdirect_io_send(state, ev, pool, &args);
		if (tevent_req_nomem(subreq, req)) {
			return tevent_req_post(req, ev);
		}
		tevent_req_set_callback(subreq, smbdirect_aio_done, req);
		return req;
	}

	state->next = true;
	switch (op) {
	case SMBDIRECT_IO_PREAD:
		subreq = SMB_VFS_NEXT_PREAD_SEND(state, ev, handle, fsp,
						 data, n, offset);
		break;
	case SMBDIRECT_IO_PWRITE:
		subreq = SMB_VFS_NEXT_PWRITE_SEND(state, ev, handle, fsp,
						  data, n, offset);
		break;
	case SMBDIRECT_IO_FSYNC:
		subreq = SMB_VFS_NEXT_FSYNC_SEND(state, ev, handle, fsp);
		break;
	}
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, smbdirect_aio_done, req);
	return req;
}

static void smbdirect_aio_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct smbdirect_aio_state *state = tevent_req_data(
		req, struct smbdirect_aio_state);
	struct vfs_aio_state *as = &state->vfs_aio_state;

	if (!state->next) {
		/* The helper's result, errno and time in the system call. */
		state->ret = smbdirect_io_recv(subreq, &as->error,
					       &as->duration);
		TALLOC_FREE(subreq);
		tevent_req_done(req);
		return;
	}

	switch (state->op) {
	case SMBDIRECT_IO_PREAD:
		state->ret = SMB_VFS_PREAD_RECV(subreq, as);
		break;
	case SMBDIRECT_IO_PWRITE:
		state->ret = SMB_VFS_PWRITE_RECV(subreq, as);
		break;
	case SMBDIRECT_IO_FSYNC:
		state->ret = SMB_VFS_FSYNC_RECV(subreq, as);
		break;
	}
	TALLOC_FREE(subreq);
	tevent_req_done(req);
}

static ssize_t smbdirect_aio_recv(struct tevent_req *req,
				  struct vfs_aio_state *vfs_aio_state)
{
	struct smbdirect_aio_state *state = tevent_req_data(
		req, struct smbdirect_aio_state);
	ssize_t ret;

	if (tevent_req_is_unix_error(req, &vfs_aio_state->error)) {
		tevent_req_received(req);
		return -1;
	}
	*vfs_aio_state = state->vfs_aio_state;
	ret = state->ret;
	tevent_req_received(req);
	return ret;
}

static struct tevent_req *smbdirect_pread_send(
	struct vfs_handle_struct *handle,
	TALLOC_CTX *mem_ctx,
	struct tevent_context *ev,
	struct files_struct *fsp,
	void *data,
	size_t n,
	off_t offset)
{
	return smbdirect_aio_send(handle, mem_ctx, ev, fsp,
				  SMBDIRECT_IO_PREAD, data, n, offset);
}

static ssize_t smbdirect_pread_recv(struct tevent_req *req,
				    struct vfs_aio_state *vfs_aio_state)
{
	return smbdirect_aio_recv(req, vfs_aio_state);
}

static struct tevent_req *smbdirect_pwrite_send(
	struct vfs_handle_struct *handle,
	TALLOC_CTX *mem_ctx,
	struct tevent_context *ev,
	struct files_struct *fsp,
	const void *data,
	size_t n,
	off_t offset)
{
	/*
	 * The offset is smbd's, as given: the helper calls pwrite() with
	 * it, so what smbd decided about appends and positions stands.
	 * The data is only read (vfs_smbdirect_helpers.c copies it out).
	 */
	return smbdirect_aio_send(handle, mem_ctx, ev, fsp,
				  SMBDIRECT_IO_PWRITE,
				  discard_const_p(void, data), n, offset);
}

static ssize_t smbdirect_pwrite_recv(struct tevent_req *req,
				     struct vfs_aio_state *vfs_aio_state)
{
	return smbdirect_aio_recv(req, vfs_aio_state);
}

/* smbd asks for this after writes with write-through or "sync always". */
static struct tevent_req *smbdirect_fsync_send(
	struct vfs_handle_struct *handle,
	TALLOC_CTX *mem_ctx,
	struct tevent_context *ev,
	struct files_struct *fsp)
{
	return smbdirect_aio_send(handle, mem_ctx, ev, fsp,
				  SMBDIRECT_IO_FSYNC, NULL, 0, 0);
}

static int smbdirect_fsync_recv(struct tevent_req *req,
				struct vfs_aio_state *vfs_aio_state)
{
	return smbdirect_aio_recv(req, vfs_aio_state);
}

static struct vfs_fn_pointers vfs_smbdirect_fns = {
	.connect_fn = smbdirect_connect,
	.sendfile_fn = smbdirect_sendfile,
	.recvfile_fn = smbdirect_recvfile,
	.pread_send_fn = smbdirect_pread_send,
	.pread_recv_fn = smbdirect_pread_recv,
	.pwrite_send_fn = smbdirect_pwrite_send,
	.pwrite_recv_fn = smbdirect_pwrite_recv,
	.fsync_send_fn = smbdirect_fsync_send,
	.fsync_recv_fn = smbdirect_fsync_recv,
};

static_decl_vfs;
NTSTATUS vfs_smbdirect_init(TALLOC_CTX *ctx)
{
	return smb_register_vfs(SMB_VFS_INTERFACE_VERSION,
				"smbdirect",
				&vfs_smbdirect_fns);
}
