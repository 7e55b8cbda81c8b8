/*
 * smbdirectd: one SMB Direct connection and its relay to smbd
 *
 * Each accepted RDMA connection owns a protection domain, one completion
 * queue (with its completion channel watched by tevent), a reliable
 * connected queue pair, a registered array of receive buffers (one per
 * receive credit) and one of send buffers. [MS-SMBD] itself (negotiate,
 * credits, fragmentation) is decided by smbdirect_proto; this file only
 * moves bytes between verbs and the loopback TCP connection to smbd.
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
#include "lib/util/dlinklist.h"
#include "lib/util/access.h"
#include "lib/tsocket/tsocket.h"
#include "smbdirectd.h"
#include "smbdirectd_config.h"
#include "smbdirectd_conn.h"
#include "smbdirectd_conn_private.h"
#include "smbdirectd_zerocopy.h"
#include "smbdirectd_dev.h"
#include "smbdirectd_smb2.h"
#include "smbdirectd_status.h"
#include "smbdirectd_procnet.h"
#include "smbdirect_proto.h"

#include <rdma/rdma_cma.h>
#include <infiniband/verbs.h>


void smbdirectd_counters_add(struct smbdirectd_counters *sum,
			     const struct smbdirectd_counters *c)
{
	sum->pdus_to_smbd += c->pdus_to_smbd;
	sum->bytes_to_smbd += c->bytes_to_smbd;
	sum->pdus_to_client += c->pdus_to_client;
	sum->bytes_to_client += c->bytes_to_client;
	sum->rdma_sends += c->rdma_sends;
	sum->rdma_recvs += c->rdma_recvs;
	sum->errors += c->errors;
	sum->offload_write_ops += c->offload_write_ops;
	sum->offload_write_bytes += c->offload_write_bytes;
	sum->offload_read_ops += c->offload_read_ops;
	sum->offload_read_bytes += c->offload_read_bytes;
	sum->offload_failures += c->offload_failures;
	sum->zero_copy_write_ops += c->zero_copy_write_ops;
	sum->zero_copy_write_bytes += c->zero_copy_write_bytes;
	sum->zero_copy_read_ops += c->zero_copy_read_ops;
	sum->zero_copy_read_bytes += c->zero_copy_read_bytes;
}

/* ------------------------------------------------------------------ */
/* registered buffers                                                  */

static bool buf_array_init(struct smbdirectd_conn *conn,
			   struct buf_array *b,
			   uint32_t count,
			   uint32_t size,
			   int access)
{
	uint32_t i;

	b->count = count;
	b->size = size;
	b->mem = talloc_zero_array(conn, uint8_t, (size_t)count * size);
	b->free_stack = talloc_array(conn, uint32_t, count);
	if (b->mem == NULL || b->free_stack == NULL) {
		return false;
	}
	for (i = 0; i < count; i++) {
		b->free_stack[i] = count - 1 - i;
	}
	b->num_free = count;
	b->mr = ibv_reg_mr(conn->dev->pd,
			   b->mem,
			   (size_t)count * size,
			   access | SMBDIRECTD_TEST_EXTRA_MR_ACCESS);
	if (b->mr == NULL) {
		DBG_ERR("%s: ibv_reg_mr of %u x %u bytes failed: %s (is "
			"RLIMIT_MEMLOCK too low?)\n",
			conn->peer,
			count,
			size,
			strerror(errno));
		return false;
	}
	return true;
}

static bool buf_get(struct buf_array *b, uint32_t *idx)
{
	if (b->num_free == 0) {
		return false;
	}
	*idx = b->free_stack[--b->num_free];
	return true;
}

static void buf_put(struct buf_array *b, uint32_t idx)
{
	SMB_ASSERT(idx < b->count && b->num_free < b->count);
	b->free_stack[b->num_free++] = idx;
}

static uint8_t *buf_ptr(struct buf_array *b, uint32_t idx)
{
	return b->mem + (size_t)idx * b->size;
}

/* ------------------------------------------------------------------ */
/* teardown                                                            */

static int conn_destructor(struct smbdirectd_conn *conn)
{
	struct smbdirectd_ctx *ctx = conn->ctx;

	/* tevent handlers first: nothing may call back into a dying conn */
	TALLOC_FREE(conn->cq_fde);
	TALLOC_FREE(conn->negotiate_timer);
	TALLOC_FREE(conn->idle_timer);
	TALLOC_FREE(conn->smbd_read_req);
	TALLOC_FREE(conn->smbd);

	if (conn->qp_created) {
		rdma_destroy_qp(conn->cm_id);
		conn->qp_created = false;
	}
	if (conn->recv.mr != NULL) {
		ibv_dereg_mr(conn->recv.mr);
	}
	if (conn->send.mr != NULL) {
		ibv_dereg_mr(conn->send.mr);
	}
	if (conn->cq != NULL) {
		ibv_destroy_cq(conn->cq);
	}
	if (conn->comp_ch != NULL) {
		ibv_destroy_comp_channel(conn->comp_ch);
	}
	/* the pool registration, which the QP used, may go now */
	smbdirectd_dev_put(ctx, conn->dev);
	conn->dev = NULL;
	if (conn->cm_id != NULL) {
		rdma_destroy_id(conn->cm_id);
	}

	smbdirectd_counters_add(&ctx->totals, &conn->counters);
	DLIST_REMOVE(ctx->conns, conn);
	ctx->num_conns -= 1;
	return 0;
}

static void conn_reap_now(struct tevent_context *ev,
			  struct tevent_immediate *im,
			  void *private_data)
{
	struct smbdirectd_conn *conn = talloc_get_type_abort(
		private_data, struct smbdirectd_conn);

	TALLOC_FREE(conn);
}

/*
 * No DISCONNECTED event will come (the peer never got established, or
 * rdma_disconnect failed): free the connection from the event loop,
 * outside whatever callback noticed it.
 */
static void conn_reap(struct smbdirectd_conn *conn)
{
	struct tevent_immediate *im = tevent_create_immediate(conn);

	conn->state = CONN_DONE;
	if (im == NULL) {
		return; /* freed with the daemon at exit */
	}
	tevent_schedule_immediate(im, conn->ctx->ev, conn_reap_now, conn);
}

static void conn_close_va(struct smbdirectd_conn *conn,
			  bool peer_gone,
			  const char *fmt,
			  va_list ap) PRINTF_ATTRIBUTE(3, 0);

/*
 * peer_gone: the peer disconnected first; its DREQ was answered by the
 * CM already and a disconnect of ours would only add a second one.
 */
static void conn_close_va(struct smbdirectd_conn *conn,
			  bool peer_gone,
			  const char *fmt,
			  va_list ap)
{
	if (conn->state == CONN_CLOSING || conn->state == CONN_DONE) {
		return;
	}
	conn->close_reason = talloc_vasprintf(conn, fmt, ap);

	DBG_ERR("connection %" PRIu64 " from %s: disconnecting: %s\n",
		conn->id,
		conn->peer,
		conn->close_reason != NULL ? conn->close_reason : "?");
	smbdirectd_conn_log_status(conn, DBGLVL_NOTICE);

	TALLOC_FREE(conn->negotiate_timer);
	TALLOC_FREE(conn->idle_timer);
	TALLOC_FREE(conn->smbd_read_req);
	/*
	 * The writes still queued for smbd go with their queue: left
	 * there, the next would start on the freed stream (a failed write
	 * to a killed smbd closes the connection from its callback, and
	 * the queue then triggers the next one).
	 */
	TALLOC_FREE(conn->smbd_queue);
	TALLOC_FREE(conn->smbd);

	conn->state = CONN_CLOSING;
	/*
	 * rdma_disconnect moves the QP to the error state: outstanding work
	 * requests complete with IBV_WC_WR_FLUSH_ERR and rdma_cm reports
	 * DISCONNECTED, after which the resources are released.
	 */
	if (rdma_disconnect(conn->cm_id) != 0) {
		DBG_INFO("connection %" PRIu64 ": rdma_disconnect: %s\n",
			 conn->id,
			 strerror(errno));
		conn_reap(conn);
	}
}

void conn_close(struct smbdirectd_conn *conn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conn_close_va(conn, false, fmt, ap);
	va_end(ap);
}

static void conn_peer_closed(struct smbdirectd_conn *conn,
			     const char *fmt,
			     ...) PRINTF_ATTRIBUTE(2, 3);
static void conn_peer_closed(struct smbdirectd_conn *conn,
			     const char *fmt,
			     ...)
{
	va_list ap;

	va_start(ap, fmt);
	conn_close_va(conn, true, fmt, ap);
	va_end(ap);
}

void smbdirectd_conn_shutdown(struct smbdirectd_conn *conn,
			      const char *reason)
{
	conn_close(conn, "%s", reason);
}

void smbdirectd_conn_shutdown_all(struct smbdirectd_ctx *ctx,
				  const char *reason)
{
	struct smbdirectd_conn *conn = NULL;
	struct smbdirectd_conn *next = NULL;

	for (conn = ctx->conns; conn != NULL; conn = next) {
		next = conn->next;
		conn_close(conn, "%s", reason);
	}
}

void smbdirectd_conn_free_all(struct smbdirectd_ctx *ctx)
{
	struct smbdirectd_conn *conn = NULL;

	while ((conn = ctx->conns) != NULL) {
		TALLOC_FREE(conn);
	}
}

void smbdirectd_conn_sum_counters(struct smbdirectd_ctx *ctx,
				  struct smbdirectd_counters *sum)
{
	struct smbdirectd_conn *conn = NULL;

	for (conn = ctx->conns; conn != NULL; conn = conn->next) {
		smbdirectd_counters_add(sum, &conn->counters);
	}
}

static const char *conn_state_name(enum conn_state s)
{
	switch (s) {
	case CONN_ACCEPTING:
		return "accepting";
	case CONN_NEGOTIATE:
		return "negotiating";
	case CONN_RUNNING:
		return "running";
	case CONN_CLOSING:
		return "closing";
	case CONN_DONE:
		return "done";
	}
	return "?";
}

char *smbdirectd_conn_status_lines(struct smbdirectd_ctx *ctx,
				   TALLOC_CTX *mem_ctx,
				   char *text)
{
	struct smbdirectd_conn *conn = NULL;

	for (conn = ctx->conns; conn != NULL && text != NULL;
	     conn = conn->next) {
		const struct smbdirect_proto *p = conn->proto;

		text = talloc_asprintf_append(
			text,
			"conn id=%" PRIu64 " peer=%s smbd_port=%u smbd_pid=%d "
			"state=%s zero_copy=%s "
			"max_send=%u max_receive=%u max_read_write=%u "
			"send_credits=%u receive_credits=%u %s\n",
			conn->id,
			conn->peer,
			conn->smbd_local_port,
			(int)conn->smbd_pid,
			conn_state_name(conn->state),
			conn->zc != NULL ? "attached" : "no",
			p != NULL ? p->max_send_size : 0,
			p != NULL ? p->max_receive_size : 0,
			p != NULL ? p->max_read_write_size : 0,
			p != NULL ? p->credits.send_credits : 0,
			p != NULL ? p->credits.recv_granted : 0,
			smbdirectd_counters_string(mem_ctx, &conn->counters));
	}
	return text;
}

void smbdirectd_conn_log_status(const struct smbdirectd_conn *conn,
				int level)
{
	const struct smbdirectd_counters *c = &conn->counters;
	const struct smbdirect_proto *p = conn->proto;

	DEBUG(level,
	      ("connection %" PRIu64 " from %s (smbd via 127.0.0.1:%u): "
	       "to smbd %" PRIu64 " PDUs / %" PRIu64 " bytes, to client "
	       "%" PRIu64 " PDUs / %" PRIu64 " bytes, RDMA sends %" PRIu64
	       ", receives %" PRIu64 ", errors %" PRIu64
	       "; offloaded WRITE %" PRIu64 " ops / %" PRIu64 " bytes, READ "
	       "%" PRIu64 " ops / %" PRIu64 " bytes, offload failures %" PRIu64
	       "; zero copy WRITE %" PRIu64 " / READ %" PRIu64 " bytes"
	       "; send credits %u, receive credits granted %u, max send "
	       "%u, max receive %u\n",
	       conn->id,
	       conn->peer,
	       conn->smbd_local_port,
	       c->pdus_to_smbd,
	       c->bytes_to_smbd,
	       c->pdus_to_client,
	       c->bytes_to_client,
	       c->rdma_sends,
	       c->rdma_recvs,
	       c->errors,
	       c->offload_write_ops,
	       c->offload_write_bytes,
	       c->offload_read_ops,
	       c->offload_read_bytes,
	       c->offload_failures,
	       c->zero_copy_write_bytes,
	       c->zero_copy_read_bytes,
	       p != NULL ? p->credits.send_credits : 0,
	       p != NULL ? p->credits.recv_granted : 0,
	       p != NULL ? p->max_send_size : 0,
	       p != NULL ? p->max_receive_size : 0));
}

/* ------------------------------------------------------------------ */
/* posting work requests                                               */

static bool post_recvs(struct smbdirectd_conn *conn)
{
	struct smbdirect_err err = {0};
	uint32_t want = smbdirect_proto_recv_to_post(conn->proto);
	uint32_t posted = 0;

	/* Back-pressure: smbd is not keeping up, grant no new credits. */
	if (conn->state == CONN_RUNNING &&
	    conn->to_smbd_bytes > RELAY_HIGH_WATER) {
		return true;
	}

	while (posted < want) {
		struct ibv_recv_wr wr = {0};
		struct ibv_recv_wr *bad = NULL;
		struct ibv_sge sge;
		uint32_t idx;
		int ret;

		if (!buf_get(&conn->recv, &idx)) {
			break;
		}
		sge.addr = (uintptr_t)buf_ptr(&conn->recv, idx);
		sge.length = conn->recv.size;
		sge.lkey = conn->recv.mr->lkey;
		wr.wr_id = WR_ID(WR_RECV, idx);
		wr.sg_list = &sge;
		wr.num_sge = 1;
		ret = ibv_post_recv(conn->cm_id->qp, &wr, &bad);
		if (ret != 0) {
			buf_put(&conn->recv, idx);
			conn_close(conn, "ibv_post_recv failed: %s",
				   strerror(ret));
			return false;
		}
		posted += 1;
	}
	if (posted == 0) {
		return true;
	}
	if (smbdirect_proto_recv_posted(conn->proto, posted, &err) != 0) {
		conn_close(conn, "%s", err.reason);
		return false;
	}
	return true;
}

static bool post_send(struct smbdirectd_conn *conn,
		      uint32_t idx,
		      size_t len,
		      const struct out_pdu *inv)
{
	struct ibv_send_wr wr = {0};
	struct ibv_send_wr *bad = NULL;
	struct ibv_sge sge;
	int ret;

	sge.addr = (uintptr_t)buf_ptr(&conn->send, idx);
	sge.length = len;
	sge.lkey = conn->send.mr->lkey;
	wr.wr_id = WR_ID(WR_SEND, idx);
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_SEND;
	wr.send_flags = IBV_SEND_SIGNALED;
	if (inv != NULL) {
		/* the client's memory region dies with this message */
		wr.opcode = IBV_WR_SEND_WITH_INV;
		wr.invalidate_rkey = inv->invalidate_rkey;
		DBG_DEBUG("connection %" PRIu64 ": send with invalidate of "
			  "rkey 0x%x\n",
			  conn->id,
			  inv->invalidate_rkey);
	}
	ret = ibv_post_send(conn->cm_id->qp, &wr, &bad);
	if (ret != 0) {
		buf_put(&conn->send, idx);
		conn_close(conn, "ibv_post_send failed: %s", strerror(ret));
		return false;
	}
	conn->counters.rdma_sends += 1;
	return true;
}

/* The negotiate response: raw bytes, outside the data transfer format. */
static bool send_raw(struct smbdirectd_conn *conn,
		     uint32_t idx,
		     const uint8_t *data,
		     size_t len)
{
	SMB_ASSERT(len <= conn->send.size);
	memcpy(buf_ptr(&conn->send, idx), data, len);
	return post_send(conn, idx, len, NULL);
}

/* Copy one message (header and a slice of the PDU) into a buffer, post. */
static bool send_msg(struct smbdirectd_conn *conn,
		     uint32_t idx,
		     const struct smbdirect_send_msg *msg,
		     const struct out_pdu *o)
{
	const uint8_t *pdu = o != NULL ? o->data : NULL;
	const struct out_pdu *inv = NULL;

	uint8_t *b = buf_ptr(&conn->send, idx);

	SMB_ASSERT(msg->hdr_len + msg->payload_len <= conn->send.size);
	memcpy(b, msg->hdr, msg->hdr_len);
	if (msg->payload_len > 0) {
		memcpy(b + msg->hdr_len, pdu + msg->payload_ofs,
		       msg->payload_len);
	}
	if (o != NULL && o->invalidate && msg->last) {
		inv = o;
	}
	return post_send(conn, idx, msg->hdr_len + msg->payload_len, inv);
}

/*
 * Send what may be sent: first re-post receives (so that the credits
 * we grant are backed by posted buffers), then the queued PDUs from
 * smbd as far as send credits and buffers allow, else an empty message
 * when the protocol wants one (credit grant, RESPONSE_REQUESTED answer,
 * keepalive).
 */
void conn_pump(struct smbdirectd_conn *conn)
{
	struct smbdirect_err err = {0};
	bool was_above;

	if (conn->state != CONN_RUNNING) {
		return;
	}
	if (!post_recvs(conn)) {
		return;
	}

	was_above = conn->out_bytes > RELAY_HIGH_WATER;

	while (conn->state == CONN_RUNNING) {
		struct smbdirect_send_msg msg;
		struct out_pdu *o = conn->out_queue;
		uint32_t idx = 0;
		int ret;

		if (conn->send.num_free == 0) {
			break;
		}
		if (o == NULL) {
			if (!smbdirect_proto_want_send_now(conn->proto)) {
				break;
			}
			ret = smbdirect_proto_send_empty(conn->proto, &msg,
							 &err);
			if (ret == EAGAIN) {
				break;
			}
			if (ret != 0) {
				conn_close(conn, "%s", err.reason);
				return;
			}
			buf_get(&conn->send, &idx);
			if (!send_msg(conn, idx, &msg, NULL)) {
				return;
			}
			continue;
		}

		if (!o->started) {
			ret = smbdirect_proto_send_init(conn->proto, &o->tx,
							o->len, &err);
			if (ret != 0) {
				conn_close(conn,
					   "response of %zu bytes from smbd: "
					   "%s",
					   o->len,
					   err.reason);
				return;
			}
			o->started = true;
		}
		ret = smbdirect_proto_send_next(conn->proto, &o->tx, &msg,
						&err);
		if (ret == EAGAIN) {
			break;
		}
		if (ret != 0) {
			conn_close(conn, "%s", err.reason);
			return;
		}
		buf_get(&conn->send, &idx);
		if (!send_msg(conn, idx, &msg, o)) {
			return;
		}
		if (msg.last) {
			conn->counters.pdus_to_client += 1;
			conn->counters.bytes_to_client += o->len;
			conn->out_bytes -= o->len;
			DLIST_REMOVE(conn->out_queue, o);
			TALLOC_FREE(o);
		}
	}

	/* Reading from smbd paused above the high water mark: resume. */
	if (was_above && conn->out_bytes <= RELAY_HIGH_WATER &&
	    conn->smbd_read_req == NULL && conn->smbd != NULL &&
	    conn->rsp == NULL) {
		conn_smbd_read_next(conn);
	}
}

/* ------------------------------------------------------------------ */
/* the loopback TCP side: smbd                                         */

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

void conn_write_to_smbd(struct smbdirectd_conn *conn,
			uint8_t *pdu,
			size_t len)
{
	conn_write_to_smbd_payload(conn, pdu, len, NULL, 0);
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
		ret = offload_zc_read_done(st->conn, st->pdu, st->len, &rec);
		if (ret == -1) {
			errno = EPROTO;
			return false;
		}
		if (ret == 1) {
			st->zc_rec = rec;
			st->len = SMBD_READ_PROBE_LEN;
			st->step = SMBD_READ_DONE;
			return true;
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
	TALLOC_FREE(st);

	/*
	 * By its first answer (to NEGOTIATE) smbd has made its multichannel
	 * hand-off, if any: now the process holding the socket is the one
	 * serving this client.
	 */
	if (conn->smbd_pid == 0) {
		conn->smbd_pid = smbdirectd_procnet_smbd_pid(
			conn->smbd_local_port, conn->ctx->cfg->smbd_port);
		DBG_WARNING("connection %" PRIu64 ": RDMA peer %s <-> "
			    "127.0.0.1:%u <-> smbd pid %d\n",
			    conn->id,
			    conn->peer,
			    conn->smbd_local_port,
			    (int)conn->smbd_pid);
	}
	/*
	 * offload_response() rewrites responses to offloaded READs (which
	 * may wait for pool memory), queues the result with
	 * conn_queue_response() and resumes reading with
	 * conn_smbd_read_next().
	 */
	offload_response(conn, pdu, len, zc_rec);
}

void conn_queue_response(struct smbdirectd_conn *conn,
			 uint8_t *pdu,
			 size_t len,
			 bool invalidate,
			 uint32_t rkey)
{
	struct out_pdu *o = talloc_zero(conn, struct out_pdu);

	if (o == NULL) {
		conn_close(conn, "out of memory");
		return;
	}
	o->data = talloc_move(o, &pdu);
	o->len = len;
	o->invalidate = invalidate;
	o->invalidate_rkey = rkey;
	DLIST_ADD_END(conn->out_queue, o);
	conn->out_bytes += o->len;
	conn_pump(conn);
}

static void conn_smbd_connected(struct tevent_req *subreq);

static void conn_connect_smbd(struct smbdirectd_conn *conn)
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
	TALLOC_FREE(local);
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

	offload_flush(conn);
	if (conn->state != CONN_RUNNING) {
		return;
	}
	conn_smbd_read_next(conn);
}

/* ------------------------------------------------------------------ */
/* completions                                                         */

static void conn_negotiate_timeout(struct tevent_context *ev,
				   struct tevent_timer *te,
				   struct timeval now,
				   void *private_data)
{
	struct smbdirectd_conn *conn = talloc_get_type_abort(
		private_data, struct smbdirectd_conn);

	conn->negotiate_timer = NULL;
	conn_close(conn, "no SMB Direct negotiate request within %u s",
		   conn->ctx->cfg->negotiate_timeout_sec);
}

static void conn_idle_timer(struct tevent_context *ev,
			    struct tevent_timer *te,
			    struct timeval now,
			    void *private_data);

static void conn_arm_idle_timer(struct smbdirectd_conn *conn)
{
	uint32_t interval = conn->proto->params.keepalive_interval_sec;

	TALLOC_FREE(conn->idle_timer);
	if (interval == 0) {
		return;
	}
	if (smbdirect_proto_keepalive_outstanding(conn->proto)) {
		interval = conn->proto->params.keepalive_timeout_sec;
	}
	conn->idle_timer = tevent_add_timer(conn->ctx->ev,
					    conn,
					    timeval_current_ofs(interval, 0),
					    conn_idle_timer,
					    conn);
}

/*
 * [MS-SMBD] 3.1.6.2 / 3.1.6.3: when the peer was idle for the keepalive
 * interval, ask it for a response; if nothing arrives within the
 * timeout, the connection is dead.
 */
static void conn_idle_timer(struct tevent_context *ev,
			    struct tevent_timer *te,
			    struct timeval now,
			    void *private_data)
{
	struct smbdirectd_conn *conn = talloc_get_type_abort(
		private_data, struct smbdirectd_conn);

	conn->idle_timer = NULL;
	if (smbdirect_proto_keepalive_outstanding(conn->proto)) {
		conn_close(conn, "keepalive not answered within %u s",
			   conn->proto->params.keepalive_timeout_sec);
		return;
	}
	smbdirect_proto_keepalive_request(conn->proto);
	conn_pump(conn);
	conn_arm_idle_timer(conn);
}

static void conn_handle_negotiate(struct smbdirectd_conn *conn,
				  const uint8_t *buf,
				  size_t len)
{
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE];
	struct smbdirect_err err = {0};
	enum smbdirect_negotiate_action action;
	uint32_t idx;

	TALLOC_FREE(conn->negotiate_timer);
	action = smbdirect_proto_negotiate(conn->proto, buf, len, resp, &err);
	if (action == SMBDIRECT_NEGOTIATE_DISCONNECT) {
		conn->counters.errors += 1;
		conn_close(conn, "%s", err.reason);
		return;
	}

	/* The one message that needs no send credit. */
	if (!buf_get(&conn->send, &idx)) {
		conn_close(conn, "negotiate: no send buffer");
		return;
	}
	if (action == SMBDIRECT_NEGOTIATE_REJECT) {
		conn->counters.errors += 1;
		DBG_ERR("connection %" PRIu64 " from %s: negotiate refused: "
			"%s\n",
			conn->id,
			conn->peer,
			err.reason);
		conn->close_after_send = true;
		send_raw(conn, idx, resp, sizeof(resp));
		return;
	}
	if (!send_raw(conn, idx, resp, sizeof(resp))) {
		return;
	}

	DBG_NOTICE("connection %" PRIu64 " from %s: negotiated: max send "
		   "%u, max receive %u, max fragmented send %u / receive "
		   "%u, max read/write %u, credits granted %u\n",
		   conn->id,
		   conn->peer,
		   conn->proto->max_send_size,
		   conn->proto->max_receive_size,
		   conn->proto->max_fragmented_send_size,
		   conn->proto->max_fragmented_recv_size,
		   conn->proto->max_read_write_size,
		   conn->proto->credits.recv_granted);
	conn->state = CONN_RUNNING;
	conn_arm_idle_timer(conn);
	conn_connect_smbd(conn);
	conn_pump(conn);
}

static void conn_handle_recv(struct smbdirectd_conn *conn,
			     const struct ibv_wc *wc)
{
	uint32_t idx = WR_IDX(wc->wr_id);
	struct smbdirect_err err = {0};
	uint8_t *pdu = NULL;
	size_t pdu_len = 0;
	const uint8_t *buf = NULL;
	int ret;

	if (idx >= conn->recv.count) {
		conn_close(conn, "receive completion for unknown buffer %u",
			   idx);
		return;
	}
	buf = buf_ptr(&conn->recv, idx);
	conn->counters.rdma_recvs += 1;

	/* byte_len comes from the peer: never beyond our buffer */
	if (wc->byte_len > conn->recv.size) {
		buf_put(&conn->recv, idx);
		conn_close(conn, "received %u bytes into a %u byte buffer",
			   wc->byte_len, conn->recv.size);
		return;
	}

	if (conn->state == CONN_ACCEPTING && !conn->early_negotiate) {
		/*
		 * Answering before ESTABLISHED was seen, or disconnecting,
		 * can be lost on the peer's side: handle it then.
		 */
		conn->early_negotiate = true;
		conn->early_idx = idx;
		conn->early_len = wc->byte_len;
		return;
	}
	if (conn->state == CONN_NEGOTIATE) {
		conn_handle_negotiate(conn, buf, wc->byte_len);
		buf_put(&conn->recv, idx);
		return;
	}
	if (conn->state != CONN_RUNNING) {
		buf_put(&conn->recv, idx);
		return;
	}

	ret = smbdirect_proto_recv(conn->proto, buf, wc->byte_len, conn,
				   &pdu, &pdu_len, &err);
	/* reassembly copied what it needs: the buffer may be re-posted */
	buf_put(&conn->recv, idx);
	if (ret != 0) {
		conn->counters.errors += 1;
		conn_close(conn, "%s", err.reason);
		return;
	}
	conn_arm_idle_timer(conn);
	if (pdu != NULL) {
		/* to smbd, through the offload's ordered queue */
		offload_request(conn, pdu, pdu_len);
	}
}

static void conn_handle_wc(struct smbdirectd_conn *conn,
			   const struct ibv_wc *wc)
{
	uint64_t kind = WR_KIND(wc->wr_id);
	uint32_t idx = WR_IDX(wc->wr_id);

	if (kind == WR_SEND) {
		if (idx < conn->send.count) {
			buf_put(&conn->send, idx);
		}
	}

	if (kind == WR_RDMA) {
		offload_rw_completion(conn, wc);
		return;
	}

	if (wc->status != IBV_WC_SUCCESS) {
		if (kind == WR_RECV && idx < conn->recv.count) {
			buf_put(&conn->recv, idx);
		}
		/* Flushes are expected once we are disconnecting. */
		if (conn->state != CONN_CLOSING) {
			conn->counters.errors += 1;
			conn_close(conn, "%s work request failed: %s",
				   kind == WR_RECV ? "receive" : "send",
				   ibv_wc_status_str(wc->status));
		}
		return;
	}

	if (kind == WR_RECV) {
		if (wc->opcode != IBV_WC_RECV) {
			conn_close(conn, "unexpected completion opcode %d",
				   (int)wc->opcode);
			return;
		}
		conn_handle_recv(conn, wc);
		return;
	}
	if (kind == WR_SEND) {
		if (conn->close_after_send) {
			conn_close(conn, "negotiate refused");
		}
		return;
	}
	conn_close(conn, "completion with unknown wr_id 0x%" PRIx64,
		   (uint64_t)wc->wr_id);
}

static void conn_cq_handler(struct tevent_context *ev,
			    struct tevent_fd *fde,
			    uint16_t flags,
			    void *private_data)
{
	struct smbdirectd_conn *conn = talloc_get_type_abort(
		private_data, struct smbdirectd_conn);
	struct ibv_cq *cq = NULL;
	void *cq_ctx = NULL;
	struct ibv_wc wc[16];
	int n;
	int i;

	if (ibv_get_cq_event(conn->comp_ch, &cq, &cq_ctx) != 0) {
		return; /* spurious wakeup: the fd is non-blocking */
	}
	ibv_ack_cq_events(cq, 1);
	if (ibv_req_notify_cq(cq, 0) != 0) {
		conn_close(conn, "ibv_req_notify_cq failed");
		return;
	}

	/*
	 * Poll after re-arming, so that no completion that arrived in
	 * between is missed.
	 */
	do {
		n = ibv_poll_cq(cq, ARRAY_SIZE(wc), wc);
		if (n < 0) {
			conn_close(conn, "ibv_poll_cq failed");
			return;
		}
		for (i = 0; i < n; i++) {
			conn_handle_wc(conn, &wc[i]);
		}
	} while (n > 0);

	conn_pump(conn);
}

/* ------------------------------------------------------------------ */
/* setup                                                               */

static void format_peer(struct rdma_cm_id *id, char *buf, size_t len)
{
	struct sockaddr *sa = rdma_get_peer_addr(id);
	char host[INET6_ADDRSTRLEN] = "?";
	uint16_t port = ntohs(rdma_get_dst_port(id));

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr,
			  host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr,
			  host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, port);
	} else {
		snprintf(buf, len, "(family %d)", sa->sa_family);
	}
}

static bool peer_allowed(struct rdma_cm_id *id, const char *peer)
{
	struct sockaddr *sa = rdma_get_peer_addr(id);
	char host[INET6_ADDRSTRLEN] = "";
	const void *a = NULL;

	if (sa->sa_family == AF_INET) {
		a = &((struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		a = &((struct sockaddr_in6 *)sa)->sin6_addr;
	} else {
		return false;
	}
	if (inet_ntop(sa->sa_family, a, host, sizeof(host)) == NULL) {
		return false;
	}
	/*
	 * smbd sees every relayed connection as coming from loopback,
	 * which "hosts allow" always admits: the real peer is checked here,
	 * against the same [global] lists. allow_access logs refusals.
	 */
	return allow_access(lp_hosts_deny(-1), lp_hosts_allow(-1), host,
			    host);
}

static bool conn_setup_verbs(struct smbdirectd_conn *conn,
			     const struct rdma_conn_param *peer_param)
{
	const struct smbdirect_params *p = &conn->ctx->cfg->proto;
	struct ibv_qp_init_attr qp_attr = {0};
	struct ibv_device_attr dev_attr;
	/* one send for every credit, plus the negotiate response */
	uint32_t num_send = p->send_credit_target + 1;
	uint32_t num_recv = p->receive_credit_max;
	int ret;

	ret = ibv_query_device(conn->cm_id->verbs, &dev_attr);
	if (ret != 0) {
		DBG_ERR("%s: ibv_query_device: %s\n", conn->peer,
			strerror(ret));
		return false;
	}
	num_send = MIN(num_send, (uint32_t)dev_attr.max_qp_wr);
	num_recv = MIN(num_recv, (uint32_t)dev_attr.max_qp_wr);

	conn->dev = smbdirectd_dev_get(conn->ctx, conn->cm_id->verbs);
	if (conn->dev == NULL) {
		return false;
	}
	conn->comp_ch = ibv_create_comp_channel(conn->cm_id->verbs);
	if (conn->comp_ch == NULL) {
		DBG_ERR("%s: ibv_create_comp_channel: %s\n", conn->peer,
			strerror(errno));
		return false;
	}
	if (set_blocking(conn->comp_ch->fd, false) != 0) {
		return false;
	}
	conn->cq = ibv_create_cq(conn->cm_id->verbs,
				 num_send + num_recv + RW_MAX_WRS,
				 conn,
				 conn->comp_ch,
				 0);
	if (conn->cq == NULL) {
		DBG_ERR("%s: ibv_create_cq: %s\n", conn->peer,
			strerror(errno));
		return false;
	}
	if (ibv_req_notify_cq(conn->cq, 0) != 0) {
		return false;
	}

	qp_attr.send_cq = conn->cq;
	qp_attr.recv_cq = conn->cq;
	qp_attr.qp_type = IBV_QPT_RC;
	qp_attr.cap.max_send_wr = num_send + RW_MAX_WRS;
	qp_attr.cap.max_recv_wr = num_recv;
	qp_attr.cap.max_send_sge = 1;
	qp_attr.cap.max_recv_sge = 1;
	if (rdma_create_qp(conn->cm_id, conn->dev->pd, &qp_attr) != 0) {
		DBG_ERR("%s: rdma_create_qp: %s\n", conn->peer,
			strerror(errno));
		return false;
	}
	conn->qp_created = true;

	/* Receives take what the peer sends: local write access only. */
	if (!buf_array_init(conn, &conn->recv, num_recv,
			    p->max_receive_size, IBV_ACCESS_LOCAL_WRITE)) {
		return false;
	}
	if (!buf_array_init(conn, &conn->send, num_send, p->max_send_size,
			    0)) {
		return false;
	}

	conn->cq_fde = tevent_add_fd(conn->ctx->ev,
				     conn,
				     conn->comp_ch->fd,
				     TEVENT_FD_READ,
				     conn_cq_handler,
				     conn);
	if (conn->cq_fde == NULL) {
		return false;
	}
	if (!offload_setup(conn)) {
		return false;
	}
	/* The negotiate request must find a posted receive. */
	return post_recvs(conn);
}

bool smbdirectd_conn_accept(struct smbdirectd_ctx *ctx,
			    struct rdma_cm_event *event)
{
	struct rdma_cm_id *id = event->id;
	const struct rdma_conn_param *peer = &event->param.conn;
	struct smbdirectd_conn *conn = NULL;
	struct rdma_conn_param param = {0};
	struct ibv_device_attr dev_attr;
	struct smbdirect_err err = {0};
	char peer_name[sizeof(conn->peer)];

	format_peer(id, peer_name, sizeof(peer_name));

	if (!peer_allowed(id, peer_name)) {
		DBG_ERR("refusing SMB Direct connection from %s: denied by "
			"hosts allow / hosts deny\n",
			peer_name);
		ctx->refused += 1;
		rdma_reject(id, NULL, 0);
		return false;
	}
	if (ctx->num_conns >= ctx->cfg->max_connections) {
		DBG_ERR("refusing SMB Direct connection from %s: %u "
			"connections open (smbdirect:max connections)\n",
			peer_name,
			ctx->num_conns);
		ctx->refused += 1;
		rdma_reject(id, NULL, 0);
		return false;
	}

	conn = talloc_zero(ctx, struct smbdirectd_conn);
	if (conn == NULL) {
		rdma_reject(id, NULL, 0);
		return false;
	}
	conn->ctx = ctx;
	conn->id = ++ctx->next_conn_id;
	conn->cm_id = id;
	conn->state = CONN_ACCEPTING;
	snprintf(conn->peer, sizeof(conn->peer), "%s", peer_name);
	DLIST_ADD_END(ctx->conns, conn);
	ctx->num_conns += 1;
	talloc_set_destructor(conn, conn_destructor);
	id->context = conn;

	conn->proto = smbdirect_proto_create(conn, &ctx->cfg->proto, &err);
	if (conn->proto == NULL) {
		DBG_ERR("%s: %s\n", peer_name, err.reason);
		goto fail;
	}
	if (!conn_setup_verbs(conn, peer)) {
		goto fail;
	}

	/*
	 * RDMA read/write depth. rdma_cm reports a connect request's values
	 * already from our side (ready for rdma_accept): initiator_depth is
	 * how many RDMA READs the client lets us have outstanding (its
	 * responder resources, 32 for cifs.ko), responder_resources how
	 * many it wants to issue to us (0: clients never read our memory).
	 * Neither may exceed what this device supports.
	 */
	if (ibv_query_device(id->verbs, &dev_attr) != 0) {
		goto fail;
	}
	param.responder_resources =
		MIN(peer->responder_resources, dev_attr.max_qp_rd_atom);
	param.initiator_depth =
		MIN(peer->initiator_depth, dev_attr.max_qp_init_rd_atom);
	param.rnr_retry_count = 7;
	conn->initiator_depth = param.initiator_depth;

	if (rdma_accept(id, &param) != 0) {
		DBG_ERR("%s: rdma_accept: %s\n", peer_name, strerror(errno));
		goto fail;
	}
	ctx->accepted += 1;
	DBG_NOTICE("connection %" PRIu64 " from %s accepted (initiator "
		   "depth %u, responder resources %u)\n",
		   conn->id,
		   conn->peer,
		   param.initiator_depth,
		   param.responder_resources);

	conn->negotiate_timer = tevent_add_timer(
		ctx->ev,
		conn,
		timeval_current_ofs(ctx->cfg->negotiate_timeout_sec, 0),
		conn_negotiate_timeout,
		conn);
	if (conn->negotiate_timer == NULL) {
		goto fail;
	}
	return true;

fail:
	rdma_reject(id, NULL, 0);
	/* the caller destroys the cm_id: do not let the destructor */
	conn->cm_id = NULL;
	if (conn->qp_created) {
		rdma_destroy_qp(id);
		conn->qp_created = false;
	}
	TALLOC_FREE(conn);
	return false;
}

bool smbdirectd_conn_cm_event(struct smbdirectd_conn *conn,
			      struct rdma_cm_event *event)
{
	switch (event->event) {
	case RDMA_CM_EVENT_ESTABLISHED:
		if (conn->state == CONN_ACCEPTING) {
			conn->state = CONN_NEGOTIATE;
		}
		if (conn->early_negotiate) {
			conn->early_negotiate = false;
			conn_handle_negotiate(conn,
					      buf_ptr(&conn->recv,
						      conn->early_idx),
					      conn->early_len);
			buf_put(&conn->recv, conn->early_idx);
			conn_pump(conn);
		}
		DBG_INFO("connection %" PRIu64 " from %s established\n",
			 conn->id,
			 conn->peer);
		return false;
	case RDMA_CM_EVENT_DISCONNECTED:
		conn_peer_closed(conn, "the peer disconnected");
		conn->state = CONN_DONE;
		break;
	case RDMA_CM_EVENT_TIMEWAIT_EXIT:
		return false;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		conn_close(conn, "the RDMA device was removed");
		conn->state = CONN_DONE;
		smbdirectd_dev_removed(conn->ctx, conn->cm_id->verbs);
		break;
	default:
		/* CONNECT_ERROR, UNREACHABLE, REJECTED, ...: it is over */
		conn_close(conn, "rdma_cm event %s (status %d)",
			   rdma_event_str(event->event),
			   event->status);
		conn->state = CONN_DONE;
		break;
	}
	DBG_NOTICE("connection %" PRIu64 " from %s closed: %s\n",
		   conn->id,
		   conn->peer,
		   conn->close_reason != NULL ? conn->close_reason : "?");
	return true;
}
