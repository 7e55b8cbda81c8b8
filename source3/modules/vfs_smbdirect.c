/*
 * vfs_smbdirect: the smbd side of SMB Direct for an unmodified Samba
 *
 * Stackable VFS module. Asynchronous pread, pwrite and fsync run in
 * helper processes forked from smbd (vfs_smbdirect_helpers.h), in the
 * manner of vfs_aio_fork but for any request size, bounded in number,
 * and without letting a helper's failure take smbd down. Everything
 * else passes to the next module. With smbdirectd, offloaded READ/WRITE
 * payloads move straight between the file and smbdirectd's registered
 * pool (the zero-copy link, smbdirect_helper/proto/smbdirect_zerocopy.h):
 * in the helpers for smbd's asynchronous reads and writes, in smbd for
 * sendfile and recvfile.
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
#include "proto/smbdirect_zerocopy.h"
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

/* A link's pool, registered with this share's helper pool. */
struct smbdirect_zc_buf {
	struct smbdirect_zc_link *link;
	uint32_t ext_id;
};

/*
 * Who does the share's asynchronous pread, pwrite and fsync
 * ("smbdirect:async io"): our forked helpers, or smbd's own thread pool
 * (the next module), into smbdirectd's pool slot for offloaded
 * READ/WRITE either way.
 */
enum smbdirect_async_io {
	SMBDIRECT_ASYNC_HELPERS,
	SMBDIRECT_ASYNC_SMBD,
};

static const struct enum_list smbdirect_async_io_values[] = {
	{SMBDIRECT_ASYNC_HELPERS, "helpers"},
	{SMBDIRECT_ASYNC_SMBD, "smbd"},
	{-1, NULL},
};

struct smbdirect_config {
	enum smbdirect_async_io async_io;
	struct smbdirect_io_pool_config pool_config;
	/* Made with the first asynchronous request of the share. */
	struct smbdirect_io_pool *pool;
	struct smbdirect_zc_buf zc_bufs[SMBDIRECT_IO_MAX_EXT_BUFFERS];
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
 * The link of an smbd connection, remembered on the connection: a
 * talloc child of xconn that goes with it (its destructor takes it off
 * the list), so that the hot path (every asynchronous READ and WRITE)
 * needs no getpeername() to find it.
 */
struct smbdirect_zc_memo {
	struct smbdirect_zc_memo *prev, *next;
	const struct smbXsrv_connection *xconn;
	struct smbdirect_zc_link *link; /* NULL: no link for it */
};

static struct smbdirect_zc_memo *zc_memos;

static int smbdirect_zc_memo_destructor(struct smbdirect_zc_memo *m)
{
	DLIST_REMOVE(zc_memos, m);
	return 0;
}

static struct smbdirect_zc_link *smbdirect_zc_link_for_xconn(
	struct smbXsrv_connection *xconn)
{
	struct smbdirect_zc_memo *m = NULL;
	struct smbdirect_zc_link *link = NULL;

	for (m = zc_memos; m != NULL; m = m->next) {
		if (m->xconn == xconn) {
			return m->link;
		}
	}
	link = smbdirect_zc_link_for(xconn->transport.sock);
	m = talloc_zero(xconn, struct smbdirect_zc_memo);
	if (m == NULL) {
		return link;
	}
	m->xconn = xconn;
	m->link = link;
	DLIST_ADD(zc_memos, m);
	talloc_set_destructor(m, smbdirect_zc_memo_destructor);
	return link;
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
		linked |= smbdirect_zc_link_for_xconn(xconn) != NULL;
	}
	if (!linked) {
		return;
	}
	/*
	 * smbd tries asynchronous I/O first (the helpers' zero copy), and
	 * sendfile (smbd's synchronous one) only after.
	 */
	if (lp_aio_read_size(snum) == 0 && !lp__use_sendfile(snum)) {
		DBG_NOTICE("share %d: \"aio read size = 0\" without \"use "
			   "sendfile\": offloaded READs are copied through "
			   "smbd\n", snum);
	}
	if (lp_aio_write_size(snum) == 0 && lp_min_receive_file_size() == 0) {
		DBG_NOTICE("share %d: \"aio write size = 0\" without \"min "
			   "receivefile size\": offloaded WRITEs are copied "
			   "through smbd\n", snum);
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
	config->async_io = lp_parm_enum(snum, PARM, "async io",
					smbdirect_async_io_values,
					SMBDIRECT_ASYNC_HELPERS);

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
	if (config->async_io == SMBDIRECT_ASYNC_SMBD) {
		DBG_INFO("asynchronous I/O by smbd's own thread pool\n");
	} else {
		DBG_INFO("at most %d I/O helpers, idle ones stop after %d "
			 "s\n", max_helpers, idle_timeout);
	}
	smbdirect_zc_connect(handle);
	return 0;
}

/*
 * The helper pool of this share, or NULL when the request is better
 * left to the next module: a stream (its data may not be the file's),
 * or an fsp without a descriptor of its own.
 */
static struct smbdirect_io_pool *smbdirect_pool(
	struct smbdirect_config *config,
	struct tevent_context *ev,
	struct files_struct *fsp)
{
	if (fsp_get_io_fd(fsp) == -1 || fsp_is_alternate_stream(fsp)) {
		return NULL;
	}

	if (config->pool == NULL) {
		config->pool = smbdirect_io_pool_create(config, ev,
						       &config->pool_config);
		if (config->pool == NULL) {
			DBG_ERR("no memory for the helper pool\n");
		}
	}
	return config->pool;
}

/* The helper pool's id for link's pool memfd (registered on first use). */
static uint32_t smbdirect_zc_ext_id(struct smbdirect_config *config,
				    struct smbdirect_zc_link *link)
{
	struct smbdirect_zc_buf *free_buf = NULL;
	uint32_t id = 0;
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(config->zc_bufs); i++) {
		struct smbdirect_zc_buf *b = &config->zc_bufs[i];

		if (b->link == link) {
			return b->ext_id;
		}
		if (b->link == NULL && free_buf == NULL) {
			free_buf = b;
		}
	}
	if (free_buf == NULL) {
		return 0; /* more links than ids: copied */
	}
	ret = smbdirect_io_pool_add_guarded_buffer(
		config->pool, smbdirect_zc_pool_fd(link),
		smbdirect_zc_pool_size(link), smbdirect_zc_guard_fd(link),
		&id);
	if (ret != 0) {
		DBG_WARNING("cannot hand smbdirectd's pool to the helpers: "
			    "%s\n", strerror(ret));
		return 0;
	}
	*free_buf = (struct smbdirect_zc_buf) {.link = link, .ext_id = id};
	return id;
}

/*
 * The smbd request behind an asynchronous read or write. smbd 4.17
 * (smb2_aio.c) passes its aio_extra, a child of the SMB2 request, to
 * SMB_VFS_PREAD_SEND; for a WRITE the state of pwrite_fsync_send(),
 * whose tevent_req is the aio_extra's child. smb_vfs_call_*_send()
 * (vfs.c) hands the module the state of a tevent_req of its own below
 * that. So the SMB2 request is mem_ctx's third (READ) or fifth (WRITE)
 * ancestor, a few more with modules stacked above this one. Anything
 * else (no such ancestor, another opcode) is not claimed.
 */
#define SMBDIRECT_SMB2REQ_DEPTH 12

static struct smbd_smb2_request *smbdirect_smb2req(TALLOC_CTX *mem_ctx,
						   uint16_t opcode)
{
	struct smbd_smb2_request *smb2req = NULL;
	const uint8_t *inhdr = NULL;
	TALLOC_CTX *p = mem_ctx;
	int depth;

	for (depth = 0; depth < SMBDIRECT_SMB2REQ_DEPTH && p != NULL;
	     depth++) {
		p = talloc_parent(p);
		smb2req = talloc_get_type(p, struct smbd_smb2_request);
		if (smb2req != NULL) {
			break;
		}
	}
	if (smb2req == NULL || smb2req->xconn == NULL ||
	    smb2req->current_idx < 1 ||
	    smb2req->current_idx + SMBD_SMB2_NUM_IOV_PER_REQ >
		    smb2req->in.vector_count) {
		return NULL;
	}
	if (SMBD_SMB2_IN_HDR_IOV(smb2req)->iov_len < SMB2_HDR_BODY) {
		return NULL;
	}
	inhdr = SMBD_SMB2_IN_HDR_PTR(smb2req);
	if (SVAL(inhdr, SMB2_HDR_OPCODE) != opcode) {
		return NULL;
	}
	return smb2req;
}

/*
 * The zero-copy claim of an asynchronous READ or WRITE (op is
 * SMBDIRECT_IO_PREAD or _PWRITE): the entry's index, its link in
 * *plink and where its slot starts in the pool in *pool_offset; -1
 * when it is not one smbdirectd published. With config (the helpers'
 * way) only when the helpers can map the link's pool, *ext_id then
 * its id with them.
 */
static int smbdirect_zc_claim_for(struct smbdirect_config *config,
				  TALLOC_CTX *mem_ctx,
				  struct files_struct *fsp,
				  enum smbdirect_io_op io_op,
				  size_t n,
				  off_t offset,
				  struct smbdirect_zc_link **plink,
				  uint64_t *pool_offset,
				  uint32_t *ext_id)
{
	struct smbd_smb2_request *smb2req = NULL;
	struct smbdirect_zc_link *link = NULL;
	struct smbdirect_zc_io io;
	uint64_t message_id;
	uint32_t op;
	int idx;

	if (io_op == SMBDIRECT_IO_PREAD) {
		op = SMBDIRECT_ZC_OP_READ;
	} else if (io_op == SMBDIRECT_IO_PWRITE) {
		op = SMBDIRECT_ZC_OP_WRITE;
	} else {
		return -1;
	}
	smb2req = smbdirect_smb2req(mem_ctx, op);
	if (smb2req == NULL || !smbdirect_zc_io_for(fsp, offset, n, &io)) {
		return -1;
	}
	link = smbdirect_zc_link_for_xconn(smb2req->xconn);
	if (link == NULL) {
		return -1;
	}
	message_id = BVAL(SMBD_SMB2_IN_HDR_PTR(smb2req), SMB2_HDR_MESSAGE_ID);
	if (config != NULL) {
		*ext_id = smbdirect_zc_ext_id(config, link);
		if (*ext_id == 0) {
			return -1;
		}
	}
	idx = smbdirect_zc_async_claim(link, op, message_id, &io,
				       pool_offset);
	if (idx < 0) {
		return -1;
	}
	*plink = link;
	DBG_DEBUG("%s MessageId %" PRIu64 ": %zu bytes at %jd by zero copy "
		  "(entry %d)\n", op == SMBDIRECT_ZC_OP_READ ? "READ" : "WRITE",
		  message_id, n, (intmax_t)offset, idx);
	return idx;
}

/*
 * The helpers' way: on success *args names the slot of smbdirectd's
 * pool instead of smbd's buffer, and the entry's index is returned; -1
 * leaves args alone.
 */
static int smbdirect_zc_async_for(struct smbdirect_config *config,
				  TALLOC_CTX *mem_ctx,
				  struct files_struct *fsp,
				  struct smbdirect_io_args *args,
				  struct smbdirect_zc_link **plink)
{
	uint64_t pool_offset = 0;
	uint32_t ext_id = 0;
	int idx;

	idx = smbdirect_zc_claim_for(config, mem_ctx, fsp, args->op, args->n,
				     args->offset, plink, &pool_offset,
				     &ext_id);
	if (idx < 0) {
		return -1;
	}
	args->ext_id = ext_id;
	args->ext_offset = pool_offset;
	args->ext_release = smbdirect_zc_async_release;
	args->ext_release_data = smbdirect_zc_async_token(*plink, idx);
	return idx;
}

/*
 * One state for the three calls: the request runs either in our
 * helpers or in the next module (smbdirect_pool() says so, or
 * "smbdirect:async io = smbd").
 */
struct smbdirect_aio_state {
	enum smbdirect_io_op op;
	bool next;
	ssize_t ret;
	struct vfs_aio_state vfs_aio_state;
	/* claimed for zero copy: the link and its entry (-1: not) */
	struct smbdirect_zc_link *zc_link;
	int zc_idx;
};

static void smbdirect_aio_done(struct tevent_req *subreq);

/*
 * Freed while the next module's request is still in flight (smbd only
 * lets go of an asynchronous read or write when the client's
 * connection ends): its thread may still be using the slot, so the
 * entry stays claimed. smbdirectd keeps such a slot until the
 * connection's guard pipe says every process of ours is gone (this
 * smbd, threads and all), and never hands it to anyone else before.
 */
static int smbdirect_aio_state_destructor(struct smbdirect_aio_state *state)
{
	if (state->next && state->zc_idx >= 0) {
		DBG_NOTICE("entry %d: request gone while in flight: its slot "
			   "stays claimed until this smbd exits\n",
			   state->zc_idx);
	}
	return 0;
}

/*
 * smbd's own asynchronous I/O: the next module's pread_send or
 * pwrite_send, into or from the request's pool slot when smbdirectd
 * published it (data otherwise), or its fsync_send.
 */
static struct tevent_req *smbdirect_aio_next_send(
	struct smbdirect_aio_state *state,
	struct vfs_handle_struct *handle,
	TALLOC_CTX *mem_ctx,
	struct tevent_context *ev,
	struct files_struct *fsp,
	void *data,
	size_t n,
	off_t offset,
	bool zero_copy)
{
	struct tevent_req *subreq = NULL;
	uint64_t pool_offset = 0;

	state->next = true;
	if (zero_copy) {
		state->zc_idx = smbdirect_zc_claim_for(NULL, mem_ctx, fsp,
						       state->op, n, offset,
						       &state->zc_link,
						       &pool_offset, NULL);
	}
	if (state->zc_idx >= 0) {
		data = smbdirect_zc_pool_base(state->zc_link) + pool_offset;
		talloc_set_destructor(state, smbdirect_aio_state_destructor);
	}
	switch (state->op) {
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
	if (subreq == NULL && state->zc_idx >= 0) {
		/* nobody will touch the slot */
		smbdirect_zc_async_release(smbdirect_zc_async_token(
			state->zc_link, state->zc_idx));
		state->zc_idx = -1;
	}
	return subreq;
}

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
	struct smbdirect_config *config = NULL;
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
	state->zc_idx = -1;

	SMB_VFS_HANDLE_GET_DATA(handle, config, struct smbdirect_config,
				tevent_req_error(req, EINVAL);
				return tevent_req_post(req, ev));
	if (config->async_io == SMBDIRECT_ASYNC_SMBD) {
		subreq = smbdirect_aio_next_send(state, handle, mem_ctx, ev,
						 fsp, data, n, offset, true);
		if (tevent_req_nomem(subreq, req)) {
			return tevent_req_post(req, ev);
		}
		tevent_req_set_callback(subreq, smbdirect_aio_done, req);
		return req;
	}

	pool = smbdirect_pool(config, ev, fsp);
	if (pool != NULL) {
		state->zc_idx = smbdirect_zc_async_for(config, mem_ctx, fsp,
						       &args,
						       &state->zc_link);
		subreq = smbdirect_io_send(state, ev, pool, &args);
		if (subreq == NULL && state->zc_idx >= 0) {
			/* no helper will see it */
			smbdirect_zc_async_release(smbdirect_zc_async_token(
				state->zc_link, state->zc_idx));
		}
		if (tevent_req_nomem(subreq, req)) {
			return tevent_req_post(req, ev);
		}
		tevent_req_set_callback(subreq, smbdirect_aio_done, req);
		return req;
	}

	subreq = smbdirect_aio_next_send(state, handle, mem_ctx, ev, fsp,
					 data, n, offset, false);
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
		if (state->zc_idx >= 0) {
			/* the helper is done with the slot: say how it went */
			smbdirect_zc_async_done(state->zc_link, state->zc_idx,
						state->ret);
		}
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
	if (state->zc_idx >= 0) {
		/* smbd's thread is done with the slot */
		smbdirect_zc_async_done(state->zc_link, state->zc_idx,
					state->ret);
		state->zc_idx = -1;
	}
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
	 * The data is only read (vfs_smbdirect_io.c copies it out).
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
