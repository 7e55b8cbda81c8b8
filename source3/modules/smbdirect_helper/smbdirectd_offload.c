/*
 * smbdirectd: RDMA READ/WRITE offload of SMB2 READ and WRITE
 *
 * smbd 4.17 ignores the Channel of READ and WRITE requests. For a WRITE
 * with an RDMA channel, smbdirectd RDMA-reads the payload from the
 * client's buffers into the registered pool and hands smbd an inline
 * WRITE; smbd's answer goes back unchanged, so nothing is acknowledged
 * before it reached the file. For a READ, smbd gets an inline READ; its
 * payload is RDMA-written into the client's buffers and the response the
 * client sees carries DataLength 0 and DataRemaining = bytes written.
 *
 * Requests reach smbd in the order the client sent them: an offloaded
 * WRITE waits in conn->to_smbd for its RDMA READ, and what arrived after
 * it waits behind it.
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
#include "smbdirectd.h"
#include "smbdirectd_config.h"
#include "smbdirectd_conn_private.h"
#include "smbdirectd_dev.h"
#include "smbdirectd_pool.h"
#include "smbdirectd_smb2.h"

/* A request on its way to smbd. */
struct offload_item {
	struct offload_item *prev, *next;
	struct smbdirectd_conn *conn;
	uint8_t *pdu;
	size_t len;
	struct smbdirectd_smb2_rdma_req *reqs;
	size_t num_reqs;
	struct smbdirectd_smb2_write_data *writes; /* one per req */
	struct offload_rw **rws;		   /* one per req */
	/* all WRITE payloads: one reservation, never part of them */
	struct smbdirectd_pool_chunk *chunk;
	size_t chunk_len;
	size_t pending; /* WRITE payloads still being RDMA-read */
	bool ready;
};

/* An offloaded request whose response smbd has not sent yet. */
struct offload_record {
	struct offload_record *prev, *next;
	uint64_t message_id;
	uint16_t command;
	uint32_t channel;
	struct smbdirect_buffer_desc_v1 *descs;
	size_t num_descs;
	uint64_t descs_total;
};

/* One payload moved by RDMA READ (client to pool) or WRITE (pool to client). */
struct offload_rw {
	struct offload_rw *prev, *next; /* conn->rw_wait */
	struct smbdirectd_conn *conn;
	bool is_read;
	bool waiting;
	struct smbdirectd_pool_chunk *chunk;
	size_t len;
	const struct smbdirect_buffer_desc_v1 *descs;
	size_t num_descs;
	/* progress over the descriptors */
	size_t next_desc;
	size_t next_pos; /* bytes of the payload already posted */
	uint32_t wrs_posted;
	uint32_t wrs_done;
	uint32_t slot;
	bool has_slot;
	void (*done)(struct offload_rw *rw);
	void *private_data;
	size_t req_index;
};

/* The response from smbd being rewritten; reading from smbd waits. */
struct offload_rsp {
	uint8_t *pdu;
	size_t len;
	bool invalidate;
	uint32_t rkey;
	struct offload_record *rec;
	struct smbdirectd_smb2_read_rsp r;
};

static void offload_rw_kick(struct smbdirectd_conn *conn);

bool offload_setup(struct smbdirectd_conn *conn)
{
	conn->num_rw_slots = RW_MAX_WRS;
	conn->rw_slots = talloc_zero_array(conn,
					   struct offload_rw *,
					   conn->num_rw_slots);
	return conn->rw_slots != NULL;
}

/* ------------------------------------------------------------------ */
/* RDMA READ / WRITE of one payload                                    */

static int offload_rw_destructor(struct offload_rw *rw)
{
	struct smbdirectd_conn *conn = rw->conn;

	if (rw->waiting) {
		DLIST_REMOVE(conn->rw_wait, rw);
	}
	/*
	 * Work requests still in flight would complete into a freed op:
	 * only the connection's teardown (QP destroyed first) frees those.
	 */
	if (rw->has_slot) {
		conn->rw_slots[rw->slot] = NULL;
	}
	return 0;
}

static bool offload_rw_get_slot(struct offload_rw *rw)
{
	struct smbdirectd_conn *conn = rw->conn;
	uint32_t i;

	if (rw->has_slot) {
		return true;
	}
	for (i = 0; i < conn->num_rw_slots; i++) {
		if (conn->rw_slots[i] == NULL) {
			conn->rw_slots[i] = rw;
			rw->slot = i;
			rw->has_slot = true;
			return true;
		}
	}
	return false;
}

/*
 * Post as many work requests of rw as the send queue and, for RDMA
 * READ, the negotiated initiator depth allow. Returns false when the
 * connection failed.
 */
static bool offload_rw_post_some(struct offload_rw *rw)
{
	struct smbdirectd_conn *conn = rw->conn;

	if (!offload_rw_get_slot(rw)) {
		return true; /* wait for a slot */
	}

	while (rw->next_pos < rw->len) {
		const struct smbdirect_buffer_desc_v1 *d = NULL;
		struct ibv_send_wr wr = {0};
		struct ibv_send_wr *bad = NULL;
		struct ibv_sge sge;
		size_t n;
		int ret;

		if (conn->rw_wrs_in_flight >= RW_MAX_WRS) {
			return true;
		}
		if (rw->is_read &&
		    conn->rdma_reads_in_flight >= conn->initiator_depth) {
			return true;
		}
		if (rw->next_desc >= rw->num_descs) {
			/* validated before: the descriptors cover len */
			conn_close(conn, "offload: descriptors exhausted");
			return false;
		}
		d = &rw->descs[rw->next_desc];
		n = MIN((uint64_t)d->length, rw->len - rw->next_pos);

		sge.addr = (uintptr_t)(rw->chunk->ptr + rw->next_pos);
		sge.length = n;
		sge.lkey = conn->dev->pool_mr->lkey;
		wr.wr_id = WR_ID(WR_RDMA, rw->slot);
		wr.sg_list = &sge;
		wr.num_sge = 1;
		wr.opcode = rw->is_read ? IBV_WR_RDMA_READ : IBV_WR_RDMA_WRITE;
		wr.send_flags = IBV_SEND_SIGNALED;
		wr.wr.rdma.remote_addr = d->offset;
		wr.wr.rdma.rkey = d->token;
		ret = ibv_post_send(conn->cm_id->qp, &wr, &bad);
		if (ret != 0) {
			conn->counters.offload_failures += 1;
			conn_close(conn, "offload: posting RDMA %s failed: %s",
				   rw->is_read ? "READ" : "WRITE",
				   strerror(ret));
			return false;
		}
		conn->rw_wrs_in_flight += 1;
		if (rw->is_read) {
			conn->rdma_reads_in_flight += 1;
		}
		rw->wrs_posted += 1;
		rw->next_pos += n;
		rw->next_desc += 1;
	}
	return true;
}

static void offload_rw_start(struct offload_rw *rw)
{
	struct smbdirectd_conn *conn = rw->conn;

	if (rw->is_read && conn->initiator_depth == 0) {
		conn->counters.offload_failures += 1;
		conn_close(conn, "offload: the client allows no RDMA READ "
			   "(responder resources 0) but sent an RDMA WRITE "
			   "request");
		return;
	}
	/* Behind others that wait: keep the order. */
	if (conn->rw_wait != NULL) {
		rw->waiting = true;
		DLIST_ADD_END(conn->rw_wait, rw);
		return;
	}
	if (!offload_rw_post_some(rw)) {
		return;
	}
	if (rw->next_pos < rw->len) {
		rw->waiting = true;
		DLIST_ADD_END(conn->rw_wait, rw);
	}
}

/* Room appeared on the send queue: continue the waiting operations. */
static void offload_rw_kick(struct smbdirectd_conn *conn)
{
	struct offload_rw *rw = NULL;

	while ((rw = conn->rw_wait) != NULL) {
		if (!offload_rw_post_some(rw)) {
			return;
		}
		if (rw->next_pos < rw->len) {
			return;
		}
		DLIST_REMOVE(conn->rw_wait, rw);
		rw->waiting = false;
	}
}

void offload_rw_completion(struct smbdirectd_conn *conn,
			   const struct ibv_wc *wc)
{
	uint32_t slot = WR_IDX(wc->wr_id);
	struct offload_rw *rw = NULL;
	enum ibv_wc_opcode want;

	if (slot >= conn->num_rw_slots || conn->rw_slots[slot] == NULL) {
		if (conn->state != CONN_CLOSING) {
			conn_close(conn, "offload: completion for unknown "
				   "slot %u", slot);
		}
		return;
	}
	rw = conn->rw_slots[slot];
	conn->rw_wrs_in_flight -= MIN(conn->rw_wrs_in_flight, 1);
	if (rw->is_read) {
		conn->rdma_reads_in_flight -=
			MIN(conn->rdma_reads_in_flight, 1);
	}

	if (wc->status != IBV_WC_SUCCESS) {
		if (conn->state != CONN_CLOSING) {
			conn->counters.offload_failures += 1;
			conn_close(conn,
				   "RDMA %s of %zu bytes %s the client failed: "
				   "%s (the client's buffer descriptor is "
				   "wrong or its memory is gone)",
				   rw->is_read ? "READ" : "WRITE",
				   rw->len,
				   rw->is_read ? "from" : "to",
				   ibv_wc_status_str(wc->status));
		}
		return;
	}
	want = rw->is_read ? IBV_WC_RDMA_READ : IBV_WC_RDMA_WRITE;
	if (wc->opcode != want) {
		conn_close(conn, "offload: completion opcode %d, expected %d",
			   (int)wc->opcode, (int)want);
		return;
	}

	rw->wrs_done += 1;
	if (rw->next_pos == rw->len && rw->wrs_done == rw->wrs_posted) {
		conn->rw_slots[rw->slot] = NULL;
		rw->has_slot = false;
		rw->done(rw);
	}
	if (conn->state == CONN_RUNNING) {
		offload_rw_kick(conn);
	}
}

static struct offload_rw *offload_rw_new(
	TALLOC_CTX *mem_ctx,
	struct smbdirectd_conn *conn,
	bool is_read,
	const struct smbdirect_buffer_desc_v1 *descs,
	size_t num_descs,
	size_t len,
	void (*done)(struct offload_rw *rw),
	void *private_data)
{
	struct offload_rw *rw = talloc_zero(mem_ctx, struct offload_rw);

	if (rw == NULL) {
		return NULL;
	}
	rw->conn = conn;
	rw->is_read = is_read;
	rw->descs = descs;
	rw->num_descs = num_descs;
	rw->len = len;
	rw->done = done;
	rw->private_data = private_data;
	talloc_set_destructor(rw, offload_rw_destructor);
	return rw;
}

/* ------------------------------------------------------------------ */
/* client to smbd                                                      */

static void offload_add_record(struct smbdirectd_conn *conn,
			       const struct smbdirectd_smb2_rdma_req *req)
{
	struct offload_record *rec = talloc_zero(conn, struct offload_record);

	if (rec == NULL) {
		conn_close(conn, "out of memory");
		return;
	}
	rec->message_id = req->message_id;
	rec->command = req->command;
	rec->channel = req->channel;
	rec->num_descs = req->num_descs;
	rec->descs_total = req->descs_total;
	rec->descs = talloc_memdup(rec, req->descs,
				   req->num_descs * sizeof(req->descs[0]));
	if (rec->descs == NULL) {
		TALLOC_FREE(rec);
		conn_close(conn, "out of memory");
		return;
	}
	DLIST_ADD_END(conn->records, rec);
}

void offload_flush(struct smbdirectd_conn *conn)
{
	struct offload_item *item = NULL;

	if (conn->smbd == NULL) {
		return; /* the TCP connect to smbd is still going on */
	}
	while ((item = conn->to_smbd) != NULL && item->ready) {
		DLIST_REMOVE(conn->to_smbd, item);
		conn_write_to_smbd(conn, talloc_move(conn, &item->pdu),
				   item->len);
		TALLOC_FREE(item);
		if (conn->state != CONN_RUNNING) {
			return;
		}
	}
}

static void offload_item_build(struct offload_item *item)
{
	struct smbdirectd_conn *conn = item->conn;
	struct smbdirect_err err = {0};
	uint8_t *pdu = NULL;
	size_t len = 0;
	size_t i;

	pdu = smbdirectd_smb2_inline_request(item, item->pdu, item->len,
					     item->reqs, item->num_reqs,
					     item->writes, &len, &err);
	if (pdu == NULL) {
		conn->counters.offload_failures += 1;
		conn_close(conn, "offload: %s", err.reason);
		return;
	}
	for (i = 0; i < item->num_reqs; i++) {
		if (item->reqs[i].command == SMB2_OP_WRITE) {
			conn->counters.offload_write_ops += 1;
			conn->counters.offload_write_bytes +=
				item->reqs[i].length;
		}
		TALLOC_FREE(item->rws[i]);
	}
	/* the payloads are in the new PDU: pool memory goes back */
	TALLOC_FREE(item->chunk);
	TALLOC_FREE(item->pdu);
	item->pdu = pdu;
	item->len = len;
	item->ready = true;
	offload_flush(conn);
}

static void offload_item_payload_read(struct offload_rw *rw)
{
	struct offload_item *item = talloc_get_type_abort(
		rw->private_data, struct offload_item);

	item->writes[rw->req_index].data = rw->chunk->ptr;
	item->writes[rw->req_index].len = rw->len;
	item->pending -= 1;
	if (item->pending == 0) {
		offload_item_build(item);
	}
}

/*
 * The pool memory for every WRITE payload of the item came: each RDMA
 * READ gets its part of it (a view; the item's chunk owns the memory).
 */
static void offload_item_chunk_done(struct tevent_req *subreq)
{
	struct offload_item *item =
		tevent_req_callback_data(subreq, struct offload_item);
	struct smbdirectd_conn *conn = item->conn;
	size_t ofs = 0;
	size_t i;
	int ret;

	ret = smbdirectd_pool_alloc_recv(subreq, item, &item->chunk);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		conn->counters.offload_failures += 1;
		conn_close(conn, "offload: no pool memory for %zu bytes of "
			   "WRITE payloads: %s", item->chunk_len,
			   strerror(ret));
		return;
	}
	for (i = 0; i < item->num_reqs; i++) {
		struct offload_rw *rw = item->rws[i];

		if (rw == NULL) {
			continue;
		}
		rw->chunk = talloc_zero(rw, struct smbdirectd_pool_chunk);
		if (rw->chunk == NULL) {
			conn_close(conn, "out of memory");
			return;
		}
		rw->chunk->pool = item->chunk->pool;
		rw->chunk->ptr = item->chunk->ptr + ofs;
		rw->chunk->ofs = item->chunk->ofs + ofs;
		rw->chunk->len = rw->len;
		ofs += rw->len;
	}
	for (i = 0; i < item->num_reqs && conn->state == CONN_RUNNING; i++) {
		if (item->rws[i] != NULL) {
			offload_rw_start(item->rws[i]);
		}
	}
}

void offload_request(struct smbdirectd_conn *conn, uint8_t *pdu, size_t len)
{
	struct smbdirect_err err = {0};
	struct offload_item *item = NULL;
	struct tevent_req *subreq = NULL;
	size_t i;
	int ret;

	item = talloc_zero(conn, struct offload_item);
	if (item == NULL) {
		TALLOC_FREE(pdu);
		conn_close(conn, "out of memory");
		return;
	}
	item->conn = conn;
	item->pdu = talloc_move(item, &pdu);
	item->len = len;
	DLIST_ADD_END(conn->to_smbd, item);

	ret = smbdirectd_smb2_parse_rdma(item,
					 item->pdu,
					 item->len,
					 conn->proto->max_read_write_size,
					 SMBDIRECTD_MAX_DESCRIPTORS,
					 &item->reqs,
					 &item->num_reqs,
					 &err);
	if (ret != 0) {
		conn->counters.offload_failures += 1;
		conn_close(conn, "bad RDMA channel request: %s", err.reason);
		return;
	}
	if (item->num_reqs == 0) {
		item->ready = true;
		offload_flush(conn);
		return;
	}

	for (i = 0; i < item->num_reqs; i++) {
		if (item->reqs[i].is_signed) {
			/*
			 * Rewriting would break the signature, and smbd
			 * would reject the request. Signed offload needs the
			 * channel's signing key: not built yet.
			 */
			conn->counters.offload_failures += 1;
			conn_close(conn,
				   "signed SMB2 %s (MessageId %" PRIu64 ") "
				   "asks for an RDMA channel: signed RDMA "
				   "offload is not implemented; the client must "
				   "not offload on signed sessions",
				   item->reqs[i].command == SMB2_OP_READ
					   ? "READ"
					   : "WRITE",
				   item->reqs[i].message_id);
			return;
		}
	}

	item->writes = talloc_zero_array(item,
					 struct smbdirectd_smb2_write_data,
					 item->num_reqs);
	item->rws = talloc_zero_array(item, struct offload_rw *,
				      item->num_reqs);
	if (item->writes == NULL || item->rws == NULL) {
		conn_close(conn, "out of memory");
		return;
	}

	for (i = 0; i < item->num_reqs; i++) {
		const struct smbdirectd_smb2_rdma_req *req = &item->reqs[i];
		struct offload_rw *rw = NULL;

		if (req->command == SMB2_OP_READ ||
		    req->channel == SMB2_CHANNEL_RDMA_V1_INVALIDATE) {
			offload_add_record(conn, req);
		}
		if (req->command != SMB2_OP_WRITE) {
			continue;
		}
		rw = offload_rw_new(item, conn, true, req->descs,
				    req->num_descs, req->length,
				    offload_item_payload_read, item);
		if (rw == NULL) {
			conn_close(conn, "out of memory");
			return;
		}
		rw->req_index = i;
		item->rws[i] = rw;
		item->pending += 1;
		item->chunk_len += req->length;
	}
	if (item->pending == 0) {
		offload_item_build(item);
		return;
	}
	/*
	 * One reservation for all the payloads of a compound: taking them
	 * one by one, two compounds could each hold part of the pool and
	 * wait for the rest forever, and one larger than the pool would
	 * wait for ever (EMSGSIZE now); either way, at the head of the
	 * pool's queue, they would stall every other connection's offload.
	 */
	subreq = smbdirectd_pool_alloc_send(item, conn->ctx->ev,
					    conn->ctx->pool, item->chunk_len);
	if (subreq == NULL) {
		conn_close(conn, "out of memory");
		return;
	}
	tevent_req_set_callback(subreq, offload_item_chunk_done, item);
}

/* ------------------------------------------------------------------ */
/* smbd to client                                                      */

static void offload_rsp_continue(struct smbdirectd_conn *conn);

/*
 * One Send with Invalidate per message: a compound answering two
 * RDMA_V1_INVALIDATE requests can invalidate only the first region (the
 * client then finds the second still valid and must recover it).
 */
static void offload_rsp_invalidate(struct smbdirectd_conn *conn,
				   struct offload_rsp *rsp,
				   const struct offload_record *rec)
{
	if (rsp->invalidate) {
		DBG_WARNING("connection %" PRIu64 ": response invalidates "
			    "rkey 0x%x already; MessageId %" PRIu64 "'s "
			    "rkey 0x%x stays valid\n",
			    conn->id,
			    rsp->rkey,
			    rec->message_id,
			    rec->descs[0].token);
		return;
	}
	rsp->invalidate = true;
	rsp->rkey = rec->descs[0].token;
}

/*
 * The client has the payload of an offloaded READ: now the response may
 * go. Like ksmbd, the response waits for the RDMA WRITE's completion, so
 * that a failed transfer fails the connection before any answer claims
 * the data arrived.
 */
static void offload_rsp_payload_written(struct offload_rw *rw)
{
	struct smbdirectd_conn *conn = rw->conn;
	struct offload_rsp *rsp = conn->rsp;
	struct offload_record *rec = rsp->rec;
	struct smbdirect_err err = {0};
	uint8_t *pdu = NULL;
	size_t len = 0;

	TALLOC_FREE(rw); /* the pool chunk goes back */

	pdu = smbdirectd_smb2_rdma_read_response(rsp, rsp->pdu, rsp->len,
						 &rsp->r, rsp->r.data_len,
						 &len, &err);
	if (pdu == NULL) {
		conn->counters.offload_failures += 1;
		conn_close(conn, "offload: %s", err.reason);
		return;
	}
	TALLOC_FREE(rsp->pdu);
	rsp->pdu = pdu;
	rsp->len = len;
	if (rec->channel == SMB2_CHANNEL_RDMA_V1_INVALIDATE) {
		offload_rsp_invalidate(conn, rsp, rec);
	}
	conn->counters.offload_read_ops += 1;
	conn->counters.offload_read_bytes += rsp->r.data_len;

	DLIST_REMOVE(conn->records, rec);
	TALLOC_FREE(rec);
	rsp->rec = NULL;
	offload_rsp_continue(conn);
}

static void offload_rsp_chunk_done(struct tevent_req *subreq)
{
	struct smbdirectd_conn *conn =
		tevent_req_callback_data(subreq, struct smbdirectd_conn);
	struct offload_rsp *rsp = conn->rsp;
	struct offload_record *rec = rsp->rec;
	struct smbdirectd_pool_chunk *chunk = NULL;
	struct offload_rw *rw = NULL;
	int ret;

	ret = smbdirectd_pool_alloc_recv(subreq, conn, &chunk);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		conn->counters.offload_failures += 1;
		conn_close(conn, "offload: no pool memory for a %u byte READ: "
			   "%s", rsp->r.data_len, strerror(ret));
		return;
	}

	rw = offload_rw_new(conn, conn, false, rec->descs, rec->num_descs,
			    rsp->r.data_len, offload_rsp_payload_written,
			    NULL);
	if (rw == NULL) {
		conn_close(conn, "out of memory");
		return;
	}
	rw->chunk = talloc_move(rw, &chunk);
	memcpy(rw->chunk->ptr, rsp->r.data, rsp->r.data_len);
	offload_rw_start(rw);
}

/*
 * Look through the waiting records for elements of this response: a
 * final answer to an offloaded WRITE only ends the record (and asks for
 * Send with Invalidate), a successful READ response needs its payload
 * RDMA-written first. When nothing is left, queue the response and read
 * the next one from smbd.
 */
static void offload_rsp_continue(struct smbdirectd_conn *conn)
{
	struct offload_rsp *rsp = conn->rsp;
	struct offload_record *rec = NULL;
	struct offload_record *next = NULL;
	struct tevent_req *subreq = NULL;

	for (rec = conn->records; rec != NULL; rec = next) {
		struct smbdirect_err err = {0};
		bool found;

		next = rec->next;
		found = smbdirectd_smb2_find_read_rsp(rsp->pdu, rsp->len,
						      rec->message_id,
						      &rsp->r, &err);
		if (!found) {
			if (err.code != 0) {
				conn->counters.offload_failures += 1;
				conn_close(conn, "response from smbd: %s",
					   err.reason);
				return;
			}
			continue;
		}
		if (rsp->r.is_async_interim) {
			continue; /* the final response comes later */
		}
		if (rec->command == SMB2_OP_WRITE ||
		    rsp->r.status != 0 || rsp->r.data_len == 0) {
			/*
			 * With RDMA_V1_INVALIDATE the client counts on the
			 * final response, whatever its status (a READ at end
			 * of file included), to invalidate its region: it
			 * reuses it without invalidating it itself.
			 */
			if (rec->channel == SMB2_CHANNEL_RDMA_V1_INVALIDATE) {
				offload_rsp_invalidate(conn, rsp, rec);
			}
			DLIST_REMOVE(conn->records, rec);
			TALLOC_FREE(rec);
			continue;
		}
		if (rsp->r.is_signed) {
			conn->counters.offload_failures += 1;
			conn_close(conn, "smbd signed the response to an "
				   "offloaded READ: it cannot be rewritten");
			return;
		}
		if (rsp->r.data_len > rec->descs_total) {
			conn->counters.offload_failures += 1;
			conn_close(conn, "smbd returned %u bytes for a READ "
				   "whose client buffers hold %" PRIu64,
				   rsp->r.data_len, rec->descs_total);
			return;
		}
		rsp->rec = rec;
		subreq = smbdirectd_pool_alloc_send(rsp, conn->ctx->ev,
						    conn->ctx->pool,
						    rsp->r.data_len);
		if (subreq == NULL) {
			conn_close(conn, "out of memory");
			return;
		}
		tevent_req_set_callback(subreq, offload_rsp_chunk_done, conn);
		return;
	}

	conn->rsp = NULL;
	conn_queue_response(conn, talloc_move(conn, &rsp->pdu), rsp->len,
			    rsp->invalidate, rsp->rkey);
	TALLOC_FREE(rsp);
	if (conn->state == CONN_RUNNING && conn->smbd_read_req == NULL) {
		conn_smbd_read_next(conn);
	}
}

void offload_response(struct smbdirectd_conn *conn, uint8_t *pdu, size_t len)
{
	struct offload_rsp *rsp = talloc_zero(conn, struct offload_rsp);

	if (rsp == NULL) {
		TALLOC_FREE(pdu);
		conn_close(conn, "out of memory");
		return;
	}
	rsp->pdu = talloc_move(rsp, &pdu);
	rsp->len = len;
	conn->rsp = rsp;
	offload_rsp_continue(conn);
}
