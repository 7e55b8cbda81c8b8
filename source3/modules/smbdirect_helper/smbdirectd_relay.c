/*
 * smbdirectd: the relay to smbd, one loopback TCP connection per RDMA
 * connection
 *
 * Connects to smbd's own port, writes the requests (with the 4-byte
 * stream header smbd expects, through a tevent queue), and reads what
 * smbd sends with one recv() per readable event into a buffer of its
 * own, from which smbd's PDUs go up one at a time, when the consumer
 * asks, through conn->smbd_received (the offload rewrites it, then it
 * is queued for the client). A zero-copy READ response, whose payload
 * vfs_smbdirect already put in the pool, is recognised by its first
 * bytes (conn->smbd_probe) and its relayed copy dropped (from the
 * buffer, or unread with MSG_TRUNC). Both directions are bounded by
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
static struct smbd_input *smbd_input_create(struct smbdirectd_conn *conn);

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
			   "the connection to smbd: its PDUs are read one at "
			   "a time, relayed READ payloads of zero-copy READs "
			   "read and dropped\n",
			   conn->id);
	} else {
		conn_smbd_nodelay(conn);
	}
	conn->smbd_queue = tevent_queue_create(conn, "to smbd");
	conn->smbd_in = smbd_input_create(conn);
	if (conn->smbd_queue == NULL || conn->smbd_in == NULL) {
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
 * What smbd sends, read in bulk: one recv() per readable event into a
 * buffer of our own, from which the PDUs are taken one at a time, when
 * the consumer asks for the next (conn_smbd_read_next()). Reading each
 * piece of a PDU (header, probe, rest) through tstream took a readv of
 * its own, and the bytes to drop a recv(MSG_TRUNC): three calls for a
 * 4 KiB READ's response, two for a WRITE's, where one does.
 *
 * While vfs_smbdirect may have put READ payloads in the pool, the first
 * SMBD_READ_PROBE_LEN bytes of a PDU tell whether it is such a READ
 * response, whose payload smbd relays from a buffer nobody filled
 * (smbdirect_zerocopy.h): only those 80 bytes go up, the rest is
 * dropped.
 *
 * The buffer only ever waits for a header and a probe: once those are
 * in, the PDU gets its own array, takes what the buffer holds of it and
 * the rest is received straight into it (a large PDU is not copied
 * twice), or dropped unread with MSG_TRUNC. The buffer has a fixed size,
 * whatever the lengths smbd announces.
 *
 * It needs the socket's descriptor (conn->smbd_fd); without it the PDUs
 * are read through tstream as before (smbd_read_state below).
 */
#define SMBD_READ_PROBE_LEN (SMB2_HDR_BODY + 0x10)
#define SMBD_IN_BUF_SIZE (64 * 1024)

struct smbd_input {
	struct smbdirectd_conn *conn;
	/*
	 * On conn->smbd_fd, READ while the consumer waits for a PDU the
	 * buffer cannot give; switched off when it fires while nobody
	 * waits (one epoll_ctl then, none per PDU in the usual case).
	 */
	struct tevent_fd *fde;
	/* a PDU the buffer holds is handed up from here, never nested */
	struct tevent_immediate *im;
	bool wanted; /* conn_smbd_read_next() since the last PDU went up */
	uint8_t *buf; /* SMBD_IN_BUF_SIZE bytes; [ofs, end) not yet taken */
	size_t ofs;
	size_t end;
	/*
	 * The PDU being completed (NULL: none): pdu[0, have) of len, then
	 * drop bytes smbd relays after it, before it goes up with zc_rec.
	 */
	uint8_t *pdu;
	size_t len;
	size_t have;
	size_t drop;
	struct offload_record *zc_rec;
};

static void smbd_in_readable(struct tevent_context *ev,
			     struct tevent_fd *fde,
			     uint16_t flags,
			     void *private_data);

static struct smbd_input *smbd_input_create(struct smbdirectd_conn *conn)
{
	struct smbd_input *in = talloc_zero(conn, struct smbd_input);

	if (in == NULL) {
		return NULL;
	}
	in->conn = conn;
	if (conn->smbd_fd == -1) {
		return in; /* tstream reads: nothing more needed */
	}
	in->buf = talloc_array(in, uint8_t, SMBD_IN_BUF_SIZE);
	in->im = tevent_create_immediate(in);
	/* off until the first conn_smbd_read_next() */
	in->fde = tevent_add_fd(conn->ctx->ev, in, conn->smbd_fd, 0,
				smbd_in_readable, in);
	if (in->buf == NULL || in->im == NULL || in->fde == NULL) {
		TALLOC_FREE(in);
	}
	return in;
}

/*
 * What both readers (the buffer's and tstream's) do with a PDU from
 * smbd, decided by its stream header and, while zero-copy READs are
 * published, by smbd_probe() on its first SMBD_READ_PROBE_LEN bytes.
 */
enum smbd_pdu_way {
	SMBD_PDU_WHOLE, /* not claimed: up as smbd sent it */
	SMBD_PDU_PROBE_ONLY, /* claimed; smbd sent no payload after it */
	SMBD_PDU_PROBE_DROP, /* claimed; the payload smbd relays is unused */
	SMBD_PDU_MISMATCH, /* at odds with the zero-copy entry (logged) */
};

/* The length a stream header announces, 0 for a bad header. */
static size_t smbd_pdu_len(const uint8_t *hdr)
{
	/* smbd sends session messages only (type 0), never empty */
	if (hdr[0] != 0) {
		return 0;
	}
	return PULL_BE_U32(hdr, 0) & NBT_MAX_LEN;
}

/* Whether smbd_probe() must see the PDU's first bytes before the rest. */
static bool smbd_pdu_wants_probe(const struct smbdirectd_conn *conn,
				 size_t len)
{
	return len > SMBD_READ_PROBE_LEN && conn->zc != NULL &&
	       conn->zc->reads > 0;
}

static enum smbd_pdu_way smbd_pdu_probe(struct smbdirectd_conn *conn,
					const uint8_t *probe,
					size_t len,
					struct offload_record **rec)
{
	*rec = NULL;
	switch (conn->smbd_probe(conn, probe, len, rec)) {
	case -1:
		return SMBD_PDU_MISMATCH;
	case 1:
		return SMBD_PDU_PROBE_ONLY;
	case 2:
		return SMBD_PDU_PROBE_DROP;
	default:
		*rec = NULL;
		return SMBD_PDU_WHOLE;
	}
}

/* Start the PDU of len bytes that follows the stream header at ofs. */
static int smbd_in_start(struct smbd_input *in,
			 size_t len,
			 struct offload_record *zc_rec)
{
	in->pdu = talloc_array(in, uint8_t, len);
	if (in->pdu == NULL) {
		return ENOMEM;
	}
	in->ofs += NBT_HDR_SIZE;
	in->len = len;
	in->have = 0;
	in->zc_rec = zc_rec;
	return 0;
}

/*
 * The stream header (and the probe) of the next PDU from the buffer: 0
 * with in->pdu started, EAGAIN when the buffer does not hold them yet,
 * EPROTO for a bad header, EBADMSG when smbd_probe() finds the response
 * at odds with the zero-copy entry, ENOMEM. smbd_probe() is called once
 * per PDU, once the buffer holds the probe.
 */
static int smbd_in_parse(struct smbd_input *in)
{
	struct smbdirectd_conn *conn = in->conn;
	const uint8_t *p = in->buf + in->ofs;
	size_t avail = in->end - in->ofs;
	struct offload_record *rec = NULL;
	size_t len;

	if (avail < NBT_HDR_SIZE) {
		return EAGAIN;
	}
	len = smbd_pdu_len(p);
	if (len == 0) {
		return EPROTO;
	}
	if (!smbd_pdu_wants_probe(conn, len)) {
		return smbd_in_start(in, len, NULL);
	}
	if (avail < NBT_HDR_SIZE + SMBD_READ_PROBE_LEN) {
		return EAGAIN;
	}
	switch (smbd_pdu_probe(conn, p + NBT_HDR_SIZE, len, &rec)) {
	case SMBD_PDU_MISMATCH:
		return EBADMSG;
	case SMBD_PDU_WHOLE:
		return smbd_in_start(in, len, NULL);
	case SMBD_PDU_PROBE_ONLY:
		in->drop = 0;
		break;
	case SMBD_PDU_PROBE_DROP:
		/* this way always has the descriptor to drop them unread */
		in->drop = len - SMBD_READ_PROBE_LEN;
		break;
	}
	return smbd_in_start(in, SMBD_READ_PROBE_LEN, rec);
}

/* Move what the buffer holds of the current PDU into it, or drop it. */
static void smbd_in_take(struct smbd_input *in)
{
	size_t n = MIN(in->end - in->ofs, in->len - in->have);

	memcpy(in->pdu + in->have, in->buf + in->ofs, n);
	in->have += n;
	in->ofs += n;
	n = MIN(in->end - in->ofs, in->drop);
	in->drop -= n;
	in->ofs += n;
	if (in->ofs == in->end) {
		in->ofs = 0;
		in->end = 0;
	}
}

/*
 * As far as the buffer goes with the next PDU: 0 when it is complete
 * (in->pdu), EAGAIN when the socket must give more, else the error.
 */
static int smbd_in_step(struct smbd_input *in)
{
	int ret;

	if (in->pdu == NULL) {
		ret = smbd_in_parse(in);
		if (ret != 0) {
			return ret;
		}
	}
	smbd_in_take(in);
	if (in->have < in->len || in->drop > 0) {
		return EAGAIN;
	}
	return 0;
}

/* Never written by TCP with MSG_TRUNC; the size only bounds each call. */
static uint8_t smbd_discard_sink[256 * 1024];

/*
 * Drop the bytes smbd relays after a zero-copy READ response: TCP
 * discards them for recv(MSG_TRUNC) without copying. 0: all dropped,
 * EAGAIN: wait for more, -1 at the end of the stream, else the error.
 */
static int smbd_discard_some(struct smbd_input *in)
{
	while (in->drop > 0) {
		size_t n = MIN(in->drop, sizeof(smbd_discard_sink));
		ssize_t got = recv(in->conn->smbd_fd, smbd_discard_sink, n,
				   MSG_TRUNC | MSG_DONTWAIT);

		if (got == -1 && errno == EINTR) {
			continue;
		}
		if (got == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return EAGAIN;
		}
		if (got <= 0) {
			return got == 0 ? -1 : errno;
		}
		in->drop -= MIN((size_t)got, in->drop);
	}
	return 0;
}

/*
 * One recv() from the socket: the rest of the current PDU straight into
 * it, or into the buffer. 0 when something came, EAGAIN, -1 at the end
 * of the stream, else the error.
 */
static int smbd_in_recv(struct smbd_input *in)
{
	uint8_t *dst = NULL;
	size_t n;
	ssize_t got;

	if (in->pdu != NULL && in->have == in->len) {
		return smbd_discard_some(in);
	}
	if (in->pdu != NULL) {
		dst = in->pdu + in->have;
		n = in->len - in->have;
	} else {
		/*
		 * Only a header or a probe waits in the buffer (smbd_in_step()
		 * ran first): fewer than 84 bytes to move to its start.
		 */
		if (in->ofs > 0) {
			memmove(in->buf, in->buf + in->ofs, in->end - in->ofs);
			in->end -= in->ofs;
			in->ofs = 0;
		}
		dst = in->buf + in->end;
		n = SMBD_IN_BUF_SIZE - in->end;
	}
	got = recv(in->conn->smbd_fd, dst, n, MSG_DONTWAIT);
	if (got == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			return EAGAIN;
		}
		return errno;
	}
	if (got == 0) {
		return -1;
	}
	if (in->pdu != NULL) {
		in->have += got;
	} else {
		in->end += got;
	}
	return 0;
}

/*
 * A PDU goes up: conn->smbd_received owns it. Nothing of the connection
 * may be touched after this (the consumer may close it).
 */
static void conn_smbd_deliver(struct smbdirectd_conn *conn,
			      uint8_t *pdu,
			      size_t len,
			      struct offload_record *zc_rec)
{
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

/* What smbd_in_step() or smbd_in_recv() came to: a PDU, a wait, an end. */
static void smbd_in_result(struct smbd_input *in, int ret)
{
	struct smbdirectd_conn *conn = in->conn;
	struct offload_record *zc_rec = in->zc_rec;
	size_t len = in->len;
	uint8_t *pdu = NULL;

	switch (ret) {
	case 0:
		break;
	case EAGAIN:
		TEVENT_FD_READABLE(in->fde);
		return;
	case ENOMEM:
		conn_close(conn, "out of memory");
		return;
	case EPROTO:
		conn_close(conn, "smbd sent a PDU with a bad stream header");
		return;
	case EBADMSG:
		/* smbd_probe() logged what did not match */
		conn_close(conn, "smbd's READ response does not match what "
			   "vfs_smbdirect did");
		return;
	case -1:
		conn_close(conn, "smbd closed the connection (end of stream)");
		return;
	default:
		conn_close(conn, "smbd closed the connection (%s)",
			   strerror(ret));
		return;
	}
	pdu = talloc_move(conn, &in->pdu);
	in->len = 0;
	in->have = 0;
	in->zc_rec = NULL;
	in->wanted = false;
	conn_smbd_deliver(conn, pdu, len, zc_rec);
}

static void smbd_in_readable(struct tevent_context *ev,
			     struct tevent_fd *fde,
			     uint16_t flags,
			     void *private_data)
{
	struct smbd_input *in =
		talloc_get_type_abort(private_data, struct smbd_input);
	int ret;

	if (!in->wanted) {
		/* back-pressure: smbd waits until the consumer asks */
		TEVENT_FD_NOT_READABLE(fde);
		return;
	}
	/* what is buffered first, so that the PDUs stay in order */
	ret = smbd_in_step(in);
	if (ret == EAGAIN) {
		ret = smbd_in_recv(in);
		if (ret == 0) {
			ret = smbd_in_step(in);
		}
	}
	smbd_in_result(in, ret);
}

static void smbd_in_buffered(struct tevent_context *ev,
			     struct tevent_immediate *im,
			     void *private_data)
{
	struct smbd_input *in =
		talloc_get_type_abort(private_data, struct smbd_input);

	if (!in->wanted) {
		return;
	}
	smbd_in_result(in, smbd_in_step(in));
}

/*
 * The fallback without the descriptor: tstream_readv_pdu, 4 bytes of
 * stream header, then the PDU; while zero-copy READs are published, its
 * first 80 bytes first. A READ response whose payload smbd relays is
 * read whole (nothing can drop it unread) and goes up with its record.
 */
enum smbd_read_step {
	SMBD_READ_NBT,
	SMBD_READ_PROBE,
	SMBD_READ_REST,
	SMBD_READ_DONE,
};

struct smbd_read_state {
	struct smbdirectd_conn *conn;
	bool started;
	enum smbd_read_step step;
	uint8_t hdr[NBT_HDR_SIZE];
	uint8_t *pdu;
	size_t len;
	struct iovec iov;
	struct offload_record *zc_rec;
};

/* The next step's vector, or false with errno. */
static bool smbd_read_step(struct smbd_read_state *st)
{
	struct offload_record *rec = NULL;

	switch (st->step) {
	case SMBD_READ_NBT:
		st->len = smbd_pdu_len(st->hdr);
		if (st->len == 0) {
			errno = EPROTO;
			return false;
		}
		if (smbd_pdu_wants_probe(st->conn, st->len)) {
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
		switch (smbd_pdu_probe(st->conn, st->pdu, st->len, &rec)) {
		case SMBD_PDU_MISMATCH:
			errno = EPROTO;
			return false;
		case SMBD_PDU_PROBE_ONLY:
			st->zc_rec = rec;
			st->len = SMBD_READ_PROBE_LEN;
			st->step = SMBD_READ_DONE;
			return true;
		case SMBD_PDU_PROBE_DROP:
			/* no descriptor to drop them: read them, unused */
			st->zc_rec = rec;
			break;
		case SMBD_PDU_WHOLE:
			break;
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

static void conn_smbd_read_done(struct tevent_req *subreq);

/* The state is a child of in: closing the connection ends the read. */
static void conn_smbd_read_tstream(struct smbd_input *in)
{
	struct smbdirectd_conn *conn = in->conn;
	struct smbd_read_state *st = NULL;
	struct tevent_req *subreq = NULL;

	st = talloc_zero(in, struct smbd_read_state);
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
	tevent_req_set_callback(subreq, conn_smbd_read_done, in);
}

static void conn_smbd_read_done(struct tevent_req *subreq)
{
	struct smbd_input *in =
		tevent_req_callback_data(subreq, struct smbd_input);
	struct smbdirectd_conn *conn = in->conn;
	struct smbd_read_state *st =
		talloc_get_type_abort(talloc_parent(subreq),
				      struct smbd_read_state);
	struct offload_record *zc_rec = NULL;
	uint8_t *pdu = NULL;
	size_t len;
	int sys_errno = 0;
	int ret;

	ret = tstream_readv_pdu_recv(subreq, &sys_errno);
	TALLOC_FREE(subreq);
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
	TALLOC_FREE(st);
	in->wanted = false;
	conn_smbd_deliver(conn, pdu, len, zc_rec);
}

void conn_smbd_read_next(struct smbdirectd_conn *conn)
{
	struct smbd_input *in = conn->smbd_in;

	/* Back-pressure: the client is not taking what we have. */
	if (conn->out_bytes > RELAY_HIGH_WATER) {
		return;
	}
	if (in == NULL || in->wanted) {
		return; /* not connected yet, or asked already */
	}
	in->wanted = true;
	if (in->fde == NULL) {
		conn_smbd_read_tstream(in);
		return;
	}
	if (in->end > in->ofs) {
		/* later, not from within the consumer's own call */
		tevent_schedule_immediate(in->im, conn->ctx->ev,
					  smbd_in_buffered, in);
		return;
	}
	TEVENT_FD_READABLE(in->fde);
}
