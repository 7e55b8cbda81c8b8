/*
 * smbdirectd: the relay to smbd, one loopback TCP connection per RDMA
 * connection
 *
 * Connects to smbd's own port, writes the requests (with the 4-byte
 * stream header smbd expects, through a tevent queue), and reads smbd's
 * PDUs one at a time. What it read goes up through conn->smbd_received
 * (the offload rewrites it, then it is queued for the client); a
 * zero-copy READ response, whose payload vfs_smbdirect already put in
 * the pool, is recognised by its first bytes (conn->smbd_probe) and its
 * relayed copy dropped unread. Both directions are bounded by
 * RELAY_HIGH_WATER.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include "includes.h"
#include "lib/tsocket/tsocket.h"
#include "lib/util/tevent_unix.h"
#include "libcli/smb/smb2_constants.h"
#include "smbdirectd_ctx.h"
#include "smbdirectd_config.h"
#include "smbdirectd_conn_private.h"
#include "smbdirectd_conn_close.h"
#include "smbdirectd_procnet.h"
#include "smbdirectd_relay.h"
#include "smbdirectd_transport.h"
#include "smbdirectd_zerocopy.h"

#include <dirent.h>
#include <netinet/tcp.h>

static void conn_smbd_connected(struct tevent_req *subreq);

void conn_connect_smbd(struct smbdirectd_conn *conn)
{
	struct smbdirectd_config *cfg = conn->ctx->cfg;
	struct tsocket_address *local = NULL;
	struct tsocket_address *remote = NULL;
	struct tevent_req *subreq = NULL;
	int ret;

	ret = tsocket_address_inet_from_strings(conn, "ip", NULL, 0, &local);
	if (ret == 0) {
		ret = tsocket_address_inet_from_strings(conn,
							"ip",
							cfg->smbd_address,
							cfg->smbd_port,
							&remote);
	}
	if (ret != 0) {
		conn_close(conn, "bad smbd address %s", cfg->smbd_address);
		return;
	}
	subreq = tstream_inet_tcp_connect_send(conn, conn->ctx->ev, local,
					       remote);
	if (subreq == NULL) {
		conn_close(conn, "out of memory");
		return;
	}
	tevent_req_set_callback(subreq, conn_smbd_connected, conn);
}

/* The port of an AF_INET/AF_INET6 address, 0 for anything else. */
static uint16_t conn_sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	}
	if (ss->ss_family == AF_INET6) {
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	}
	return 0;
}

/*
 * tstream does not tell its descriptor: find the TCP socket whose local
 * port is ours (unique on the host while it is bound) and whose peer
 * port is smbd's.
 */
static int conn_find_tcp_socket(uint16_t local_port, uint16_t peer_port)
{
	struct dirent *de = NULL;
	DIR *d = opendir("/proc/self/fd");
	int found = -1;

	if (d == NULL) {
		return -1;
	}
	while (found == -1 && (de = readdir(d)) != NULL) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char *end = NULL;
		long fd = strtol(de->d_name, &end, 10);

		if (end == de->d_name || *end != '\0' || fd < 0 ||
		    fd == dirfd(d)) {
			continue;
		}
		if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
		    conn_sockaddr_port(&ss) != local_port) {
			continue;
		}
		len = sizeof(ss);
		if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0 ||
		    conn_sockaddr_port(&ss) != peer_port) {
			continue;
		}
		found = (int)fd;
	}
	closedir(d);
	return found;
}

/*
 * Every relayed PDU is one writev. With Nagle's algorithm a small request
 * written while the previous one is not yet acknowledged waits for that
 * ACK, which smbd may delay: requests in flight would queue behind each
 * other on the loopback hop. smbd sets TCP_NODELAY on its side (its
 * "socket options" default) for the same reason.
 */
static void conn_smbd_nodelay(struct smbdirectd_conn *conn)
{
	int one = 1;

	if (setsockopt(conn->smbd_fd, IPPROTO_TCP, TCP_NODELAY, &one,
		       sizeof(one)) != 0) {
		DBG_NOTICE("connection %" PRIu64 ": TCP_NODELAY on the "
			   "connection to smbd: %s\n",
			   conn->id,
			   strerror(errno));
	}
}

static void conn_smbd_connected(struct tevent_req *subreq)
{
	struct smbdirectd_conn *conn =
		tevent_req_callback_data(subreq, struct smbdirectd_conn);
	struct smbdirectd_config *cfg = conn->ctx->cfg;
	struct tsocket_address *local = NULL;
	int sys_errno = 0;
	int ret;

	ret = tstream_inet_tcp_connect_recv(subreq, &sys_errno, conn,
					    &conn->smbd, &local);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		conn_close(conn,
			   "cannot connect to smbd at %s port %u: %s (is smbd "
			   "running and listening there? see smbdirect:smbd "
			   "address)",
			   cfg->smbd_address,
			   cfg->smbd_port,
			   strerror(sys_errno));
		return;
	}
	conn->smbd_local_port = tsocket_address_inet_port(local);
	conn->status.smbd_port = conn->smbd_local_port;
	/* how smbd names this channel (channels[].remote_address) */
	conn->smbd_local_address = tsocket_address_string(local, conn);
	TALLOC_FREE(local);
	if (conn->smbd_local_address == NULL) {
		conn_close(conn, "out of memory");
		return;
	}
	conn->smbd_fd = conn_find_tcp_socket(conn->smbd_local_port,
					     cfg->smbd_port);
	if (conn->smbd_fd == -1) {
		DBG_NOTICE("connection %" PRIu64 ": no descriptor found for "
			   "the connection to smbd: relayed READ payloads of "
			   "zero-copy READs are read and dropped\n",
			   conn->id);
	} else {
		conn_smbd_nodelay(conn);
	}
	conn->smbd_queue = tevent_queue_create(conn, "to smbd");
	if (conn->smbd_queue == NULL) {
		conn_close(conn, "out of memory");
		return;
	}
	DBG_WARNING("connection %" PRIu64 ": RDMA peer %s is relayed to "
		    "smbd at %s:%u from local port %u\n",
		    conn->id,
		    conn->peer,
		    cfg->smbd_address,
		    cfg->smbd_port,
		    conn->smbd_local_port);

	/* what the client sent meanwhile (offload_flush()) */
	conn->smbd_connected(conn);
	if (conn->state != CONN_RUNNING) {
		return;
	}
	conn_smbd_read_next(conn);
}

/* One write to smbd; a talloc child of the PDU it writes. */
struct smbd_write {
	struct smbdirectd_conn *conn;
	size_t len;
	uint8_t hdr[NBT_HDR_SIZE];
	struct iovec iov[3];
};

static void conn_smbd_written(struct tevent_req *subreq);

/*
 * Write a PDU of len bytes to smbd: the first len - payload_len are in
 * pdu, the rest at payload (which the caller keeps alive until the PDU
 * is freed: after the write, or with the connection). pdu is ours.
 */
void conn_write_to_smbd_payload(struct smbdirectd_conn *conn,
				uint8_t *pdu,
				size_t len,
				const uint8_t *payload,
				size_t payload_len)
{
	struct tevent_req *subreq = NULL;
	struct smbd_write *w = NULL;
	size_t count = 2;

	if (len > NBT_MAX_LEN) {
		TALLOC_FREE(pdu);
		conn_close(conn, "request of %zu bytes is larger than the "
			   "SMB2 stream framing allows", len);
		return;
	}
	/*
	 * The vector lives in w, a child of the PDU: all stay until written
	 * (tstream_writev_queue_send keeps the vector itself, not a copy,
	 * while the request waits in the queue).
	 */
	w = talloc_zero(pdu, struct smbd_write);
	if (w == NULL) {
		TALLOC_FREE(pdu);
		conn_close(conn, "out of memory");
		return;
	}
	w->conn = conn;
	w->len = len;
	PUSH_BE_U32(w->hdr, 0, len);
	w->iov[0].iov_base = w->hdr;
	w->iov[0].iov_len = NBT_HDR_SIZE;
	w->iov[1].iov_base = pdu;
	w->iov[1].iov_len = len - payload_len;
	if (payload_len > 0) {
		w->iov[2].iov_base = discard_const_p(uint8_t, payload);
		w->iov[2].iov_len = payload_len;
		count = 3;
	}

	subreq = tstream_writev_queue_send(w,
					   conn->ctx->ev,
					   conn->smbd,
					   conn->smbd_queue,
					   w->iov,
					   count);
	if (subreq == NULL) {
		TALLOC_FREE(pdu);
		conn_close(conn, "out of memory");
		return;
	}
	tevent_req_set_callback(subreq, conn_smbd_written, w);
	conn->to_smbd_bytes += len;
	conn->counters.pdus_to_smbd += 1;
	conn->counters.bytes_to_smbd += len;
}

static void conn_smbd_written(struct tevent_req *subreq)
{
	struct smbd_write *w =
		tevent_req_callback_data(subreq, struct smbd_write);
	struct smbdirectd_conn *conn = w->conn;
	/* w is a child of the PDU: freeing the PDU frees all */
	uint8_t *pdu = talloc_parent(w);
	size_t len = w->len;
	bool was_above = conn->to_smbd_bytes > RELAY_HIGH_WATER;
	int sys_errno = 0;
	int ret;

	ret = tstream_writev_queue_recv(subreq, &sys_errno);
	TALLOC_FREE(pdu);
	conn->to_smbd_bytes -= MIN(len, conn->to_smbd_bytes);
	if (ret == -1) {
		conn_close(conn, "writing to smbd failed: %s",
			   strerror(sys_errno));
		return;
	}
	if (was_above && conn->to_smbd_bytes <= RELAY_HIGH_WATER) {
		conn_pump(conn);
	}
}

/*
 * tstream_readv_pdu: 4 bytes of stream header, then the PDU. While
 * vfs_smbdirect may have put READ payloads in the pool, a PDU is read
 * in two steps: its first 80 bytes tell whether it is such a READ
 * response, whose payload is not on the stream (smbdirect_zerocopy.h).
 */
enum smbd_read_step {
	SMBD_READ_NBT,
	SMBD_READ_PROBE,
	SMBD_READ_REST,
	SMBD_READ_DONE,
};

#define SMBD_READ_PROBE_LEN (SMB2_HDR_BODY + 0x10)

struct smbd_read_state {
	struct smbdirectd_conn *conn;
	bool started;
	enum smbd_read_step step;
	uint8_t hdr[NBT_HDR_SIZE];
	uint8_t *pdu;
	size_t len;
	struct iovec iov;
	struct offload_record *zc_rec;
	size_t discard; /* bytes smbd relays after it, to drop unread */
};

/* The next step's vector, or false with errno. */
static bool smbd_read_step(struct smbd_read_state *st)
{
	struct offload_record *rec = NULL;
	int ret;

	switch (st->step) {
	case SMBD_READ_NBT:
		st->len = PULL_BE_U32(st->hdr, 0) & NBT_MAX_LEN;
		if (st->hdr[0] != 0 || st->len == 0) {
			errno = EPROTO;
			return false;
		}
		if (st->len > SMBD_READ_PROBE_LEN && st->conn->zc != NULL &&
		    st->conn->zc->reads > 0) {
			st->pdu = talloc_array(st, uint8_t,
					       SMBD_READ_PROBE_LEN);
			st->iov.iov_len = SMBD_READ_PROBE_LEN;
			st->step = SMBD_READ_PROBE;
		} else {
			st->pdu = talloc_array(st, uint8_t, st->len);
			st->iov.iov_len = st->len;
			st->step = SMBD_READ_REST;
		}
		if (st->pdu == NULL) {
			errno = ENOMEM;
			return false;
		}
		st->iov.iov_base = st->pdu;
		return true;
	case SMBD_READ_PROBE:
		ret = st->conn->smbd_probe(st->conn, st->pdu, st->len, &rec);
		if (ret == -1) {
			errno = EPROTO;
			return false;
		}
		if (ret == 1 || (ret == 2 && st->conn->smbd_fd != -1)) {
			st->zc_rec = rec;
			st->discard = st->len - SMBD_READ_PROBE_LEN;
			if (ret == 1) {
				st->discard = 0;
			}
			st->len = SMBD_READ_PROBE_LEN;
			st->step = SMBD_READ_DONE;
			return true;
		}
		if (ret == 2) {
			/* no descriptor to drop them: read them, unused */
			st->zc_rec = rec;
		}
		st->pdu = talloc_realloc(st, st->pdu, uint8_t, st->len);
		if (st->pdu == NULL) {
			errno = ENOMEM;
			return false;
		}
		st->iov.iov_base = st->pdu + SMBD_READ_PROBE_LEN;
		st->iov.iov_len = st->len - SMBD_READ_PROBE_LEN;
		st->step = SMBD_READ_REST;
		return true;
	case SMBD_READ_REST:
		st->step = SMBD_READ_DONE;
		return true;
	case SMBD_READ_DONE:
		break;
	}
	return true;
}

static int smbd_read_next_vector(struct tstream_context *stream,
				 void *private_data,
				 TALLOC_CTX *mem_ctx,
				 struct iovec **_vector,
				 size_t *_count)
{
	struct smbd_read_state *st = talloc_get_type_abort(
		private_data, struct smbd_read_state);
	struct iovec *v = NULL;

	if (!st->started) {
		st->started = true;
		st->iov.iov_base = st->hdr;
		st->iov.iov_len = NBT_HDR_SIZE;
	} else if (!smbd_read_step(st)) {
		return -1;
	}
	if (st->step == SMBD_READ_DONE) {
		*_vector = NULL;
		*_count = 0;
		return 0;
	}
	v = talloc(mem_ctx, struct iovec);
	if (v == NULL) {
		errno = ENOMEM;
		return -1;
	}
	*v = st->iov;
	*_vector = v;
	*_count = 1;
	return 0;
}

/*
 * Dropping the bytes smbd relays after a zero-copy READ response: TCP
 * discards them for recv(MSG_TRUNC) without copying. While this runs it
 * is conn->smbd_read_req, so nothing else reads from smbd.
 */
struct smbd_discard_state {
	struct smbdirectd_conn *conn;
	size_t left;
	struct tevent_fd *fde;
};

/* Never written by TCP with MSG_TRUNC; the size only bounds each call. */
static uint8_t smbd_discard_sink[256 * 1024];

static void smbd_discard_readable(struct tevent_context *ev,
				  struct tevent_fd *fde,
				  uint16_t flags,
				  void *private_data);

/* 0: all dropped, EAGAIN: wait for more, else the error. */
static int smbd_discard_some(struct smbd_discard_state *st)
{
	while (st->left > 0) {
		size_t n = MIN(st->left, sizeof(smbd_discard_sink));
		ssize_t got = recv(st->conn->smbd_fd, smbd_discard_sink, n,
				   MSG_TRUNC | MSG_DONTWAIT);

		if (got == -1 && errno == EINTR) {
			continue;
		}
		if (got == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return EAGAIN;
		}
		if (got <= 0) {
			return got == 0 ? ECONNRESET : errno;
		}
		st->left -= MIN((size_t)got, st->left);
	}
	return 0;
}

static struct tevent_req *smbd_discard_send(TALLOC_CTX *mem_ctx,
					    struct smbdirectd_conn *conn,
					    size_t len)
{
	struct tevent_req *req = NULL;
	struct smbd_discard_state *st = NULL;
	int ret;

	req = tevent_req_create(mem_ctx, &st, struct smbd_discard_state);
	if (req == NULL) {
		return NULL;
	}
	st->conn = conn;
	st->left = len;
	ret = smbd_discard_some(st);
	if (ret != EAGAIN) {
		if (ret == 0) {
			tevent_req_done(req);
		} else {
			tevent_req_error(req, ret);
		}
		return tevent_req_post(req, conn->ctx->ev);
	}
	st->fde = tevent_add_fd(conn->ctx->ev, st, conn->smbd_fd,
				TEVENT_FD_READ, smbd_discard_readable, req);
	if (tevent_req_nomem(st->fde, req)) {
		return tevent_req_post(req, conn->ctx->ev);
	}
	return req;
}

static void smbd_discard_readable(struct tevent_context *ev,
				  struct tevent_fd *fde,
				  uint16_t flags,
				  void *private_data)
{
	struct tevent_req *req = talloc_get_type_abort(
		private_data, struct tevent_req);
	struct smbd_discard_state *st = tevent_req_data(
		req, struct smbd_discard_state);
	int ret;

	ret = smbd_discard_some(st);
	if (ret == EAGAIN) {
		return;
	}
	TALLOC_FREE(st->fde);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	tevent_req_done(req);
}

static int smbd_discard_recv(struct tevent_req *req, int *perr)
{
	if (tevent_req_is_unix_error(req, perr)) {
		return -1;
	}
	return 0;
}

/* A READ response whose relayed payload is being dropped. */
struct smbd_dropped_rsp {
	struct smbdirectd_conn *conn;
	uint8_t *pdu;
	size_t len;
	struct offload_record *zc_rec;
};

static void conn_smbd_discard_done(struct tevent_req *subreq)
{
	struct smbd_dropped_rsp *d = tevent_req_callback_data(
		subreq, struct smbd_dropped_rsp);
	struct smbdirectd_conn *conn = d->conn;
	uint8_t *pdu = NULL;
	int err = 0;
	int ret;

	ret = smbd_discard_recv(subreq, &err);
	TALLOC_FREE(subreq);
	conn->smbd_read_req = NULL;
	if (ret != 0) {
		TALLOC_FREE(d);
		conn_close(conn, "dropping a READ payload smbd relayed: %s",
			   strerror(err));
		return;
	}
	pdu = talloc_move(conn, &d->pdu);
	conn->smbd_received(conn, pdu, d->len, d->zc_rec);
	TALLOC_FREE(d);
}

static void conn_smbd_read_done(struct tevent_req *subreq);

void conn_smbd_read_next(struct smbdirectd_conn *conn)
{
	struct smbd_read_state *st = NULL;
	struct tevent_req *subreq = NULL;

	/* Back-pressure: the client is not taking what we have. */
	if (conn->out_bytes > RELAY_HIGH_WATER) {
		return;
	}
	st = talloc_zero(conn, struct smbd_read_state);
	if (st == NULL) {
		conn_close(conn, "out of memory");
		return;
	}
	st->conn = conn;
	subreq = tstream_readv_pdu_send(st,
					conn->ctx->ev,
					conn->smbd,
					smbd_read_next_vector,
					st);
	if (subreq == NULL) {
		TALLOC_FREE(st);
		conn_close(conn, "out of memory");
		return;
	}
	tevent_req_set_callback(subreq, conn_smbd_read_done, conn);
	conn->smbd_read_req = subreq;
}

static void conn_smbd_read_done(struct tevent_req *subreq)
{
	struct smbdirectd_conn *conn =
		tevent_req_callback_data(subreq, struct smbdirectd_conn);
	struct smbd_read_state *st =
		talloc_get_type_abort(talloc_parent(subreq),
				      struct smbd_read_state);
	struct offload_record *zc_rec = NULL;
	uint8_t *pdu = NULL;
	size_t discard;
	size_t len;
	int sys_errno = 0;
	int ret;

	ret = tstream_readv_pdu_recv(subreq, &sys_errno);
	TALLOC_FREE(subreq);
	conn->smbd_read_req = NULL;
	if (ret == -1) {
		TALLOC_FREE(st);
		conn_close(conn, "smbd closed the connection (%s)",
			   sys_errno == 0 ? "end of stream"
					  : strerror(sys_errno));
		return;
	}

	pdu = talloc_move(conn, &st->pdu);
	len = st->len;
	zc_rec = st->zc_rec;
	discard = st->discard;
	TALLOC_FREE(st);

	if (discard > 0) {
		struct smbd_dropped_rsp *d = NULL;

		/* closing frees conn->smbd_read_req; d goes with conn */
		d = talloc_zero(conn, struct smbd_dropped_rsp);
		if (d == NULL) {
			TALLOC_FREE(pdu);
			conn_close(conn, "out of memory");
			return;
		}
		d->conn = conn;
		d->pdu = talloc_move(d, &pdu);
		d->len = len;
		d->zc_rec = zc_rec;
		subreq = smbd_discard_send(d, conn, discard);
		if (subreq == NULL) {
			TALLOC_FREE(d);
			conn_close(conn, "out of memory");
			return;
		}
		tevent_req_set_callback(subreq, conn_smbd_discard_done, d);
		conn->smbd_read_req = subreq;
		return;
	}

	/*
	 * By its first answer (to NEGOTIATE) smbd has made its multichannel
	 * hand-off, if any: now the process holding the socket is the one
	 * serving this client.
	 */
	if (conn->smbd_pid == 0) {
		conn->smbd_pid = smbdirectd_procnet_smbd_pid(
			conn->smbd_local_port, conn->ctx->cfg->smbd_port);
		conn->status.smbd_pid = conn->smbd_pid;
		DBG_WARNING("connection %" PRIu64 ": RDMA peer %s <-> "
			    "127.0.0.1:%u <-> smbd pid %d\n",
			    conn->id,
			    conn->peer,
			    conn->smbd_local_port,
			    (int)conn->smbd_pid);
	}
	/*
	 * Up to the offload (offload_response()): it rewrites responses to
	 * offloaded READs (which may wait for pool memory), queues the
	 * result with conn_queue_response() and resumes reading with
	 * conn_smbd_read_next().
	 */
	conn->smbd_received(conn, pdu, len, zc_rec);
}
