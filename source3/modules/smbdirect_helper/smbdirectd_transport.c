/*
 * smbdirectd: the verbs resources of a connection and what it posts
 *
 * Each accepted RDMA connection owns one completion queue (with its
 * completion channel watched by tevent), a reliable connected queue
 * pair on the device's protection domain (smbdirectd_dev.c), a
 * registered array of receive buffers (one per receive credit) and one
 * of send buffers. This file sets them up and frees them, posts the
 * receives and the sends, and sends the PDUs smbd answered (queued
 * here) as far as [MS-SMBD]'s credits allow (smbdirect_proto decides).
 * The RDMA READs and WRITEs of the offload are built by
 * smbdirectd_rdma_rw.c; every send-queue work request, theirs and the
 * SENDs, goes through conn_post_send_wr(), which posts what an event
 * handler queued in one call when it returns. The completions are
 * dispatched by smbdirectd_conn.c.
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
#include "smbdirectd_conn_close.h"
#include "smbdirectd_dev.h"
#include "smbdirectd_transport.h"
#include "proto/smbdirect_proto.h"

#include <rdma/rdma_cma.h>
#include <infiniband/verbs.h>

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

bool smbdirectd_transport_setup(struct smbdirectd_conn *conn,
				tevent_fd_handler_t cq_handler)
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
	conn->sq_flush = tevent_create_immediate(conn);
	if (conn->sq_flush == NULL) {
		DBG_ERR("%s: out of memory\n", conn->peer);
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
				     cq_handler,
				     conn);
	return conn->cq_fde != NULL;
}

void smbdirectd_transport_free(struct smbdirectd_conn *conn)
{
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
}

/* ------------------------------------------------------------------ */
/* posting work requests                                               */

bool conn_post_recvs(struct smbdirectd_conn *conn)
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

static bool conn_sq_open(const struct smbdirectd_conn *conn)
{
	return conn->state != CONN_CLOSING && conn->state != CONN_DONE;
}

static void conn_flush_send_wrs(struct smbdirectd_conn *conn)
{
	struct ibv_send_wr *bad = NULL;
	size_t n = conn->sq_n;
	int ret;

	conn->sq_n = 0;
	if (n == 0 || !conn_sq_open(conn)) {
		return; /* closing: the queue pair is flushed anyway */
	}
	ret = ibv_post_send(conn->cm_id->qp, &conn->sq_wrs[0], &bad);
	if (ret != 0) {
		conn->counters.errors += 1;
		conn_close(conn,
			   "ibv_post_send of %zu work request(s) failed at "
			   "number %zu: %s",
			   n,
			   bad != NULL ? (size_t)(bad - conn->sq_wrs) + 1 : 0,
			   strerror(ret));
	}
}

static void conn_sq_flush_handler(struct tevent_context *ev,
				  struct tevent_immediate *im,
				  void *private_data)
{
	struct smbdirectd_conn *conn = talloc_get_type_abort(
		private_data, struct smbdirectd_conn);

	conn_flush_send_wrs(conn);
}

bool conn_post_send_wr(struct smbdirectd_conn *conn,
		       const struct ibv_send_wr *wr)
{
	size_t i;

	if (conn->sq_n == SQ_BATCH_MAX) {
		conn_flush_send_wrs(conn);
	}
	if (!conn_sq_open(conn)) {
		return false;
	}
	SMB_ASSERT(wr->num_sge == 1);
	i = conn->sq_n++;
	conn->sq_wrs[i] = *wr;
	conn->sq_sges[i] = wr->sg_list[0];
	conn->sq_wrs[i].sg_list = &conn->sq_sges[i];
	conn->sq_wrs[i].next = NULL;
	if (i > 0) {
		conn->sq_wrs[i - 1].next = &conn->sq_wrs[i];
		return true;
	}
	tevent_schedule_immediate(conn->sq_flush,
				  conn->ctx->ev,
				  conn_sq_flush_handler,
				  conn);
	return true;
}

static bool post_send(struct smbdirectd_conn *conn,
		      uint32_t idx,
		      size_t len,
		      const struct out_pdu *inv)
{
	struct ibv_send_wr wr = {0};
	struct ibv_sge sge;

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
		/*
		 * rdma-core's Soft-iWARP provider (libsiw, 44.0) takes the
		 * STag to invalidate from wr.rdma.rkey, not invalidate_rkey:
		 * without this the client gets "cannot invalidate STag"
		 * and terminates the connection. Other providers ignore
		 * wr.rdma on a SEND.
		 */
		wr.wr.rdma.rkey = inv->invalidate_rkey;
		DBG_DEBUG("connection %" PRIu64 ": send with invalidate of "
			  "rkey 0x%x\n",
			  conn->id,
			  inv->invalidate_rkey);
	}
	if (!conn_post_send_wr(conn, &wr)) {
		buf_put(&conn->send, idx);
		return false;
	}
	conn->counters.rdma_sends += 1;
	return true;
}

bool conn_send_raw(struct smbdirectd_conn *conn,
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
	if (!conn_post_recvs(conn)) {
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

	/*
	 * Reading from smbd paused above the high water mark: resume (a
	 * read already under way is left as it is).
	 */
	if (was_above && conn->out_bytes <= RELAY_HIGH_WATER &&
	    conn->smbd != NULL && conn->rsp == NULL) {
		conn->smbd_read_resume(conn);
	}
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
