/*
 * vfs_smbdirect: the smbd side of SMB Direct for an unmodified Samba
 *
 * Stackable VFS module. Asynchronous pread, pwrite and fsync run in
 * helper processes forked from smbd (vfs_smbdirect_helpers.c), in the
 * manner of vfs_aio_fork but for any request size, bounded in number,
 * and without letting a helper's failure take smbd down. Everything
 * else passes to the next module. The zero-copy link to smbdirectd
 * builds on the helpers' registered buffers (smbdirect_io_args.ext_id).
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
#include "lib/util/tevent_unix.h"
#include "vfs_smbdirect_helpers.h"

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
