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
#include "smbdirectd_zerocopy.h"

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
	/*
	 * A PDU that is one offloaded WRITE alone goes to smbd as its
	 * 112-byte head (pdu) followed by the payload straight from the
	 * pool: no copy into a new PDU.
	 */
	struct smbdirectd_pool_chunk *payload;
	size_t payload_len; /* of len, the bytes not in pdu */
	bool zc_candidate; /* smbd may hand it to vfs_smbdirect's recvfile */
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
	/*
	 * Published for the zero-copy link: the entry in conn->zc's table
	 * (-1: not published) and the pool slot the module reads or fills.
	 */
	struct smbdirectd_conn *conn;
	int zc_idx;
	struct smbdirectd_pool_chunk *zc_chunk;
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
	/* every work request completed (NULL: just free the operation) */
	void (*done)(struct offload_rw *rw);
	/* RDMA WRITE only: every work request posted (may be NULL) */
	void (*posted)(struct offload_rw *rw);
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
	/* a READ whose payload vfs_smbdirect put in its slot: header only */
	struct offload_record *zc_rec;
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

/*
 * An RC queue pair executes its work requests in order: a SEND posted
 * after the last RDMA WRITE of a payload reaches the client only after
 * that payload is in place, and if the RDMA WRITE fails the queue pair
 * goes to the error state and the SEND is never delivered. So the
 * response may follow as soon as the transfer is posted; the slot goes
 * back to the pool when the transfer completes.
 */
static void offload_rw_all_posted(struct offload_rw *rw)
{
	void (*posted)(struct offload_rw *rw) = rw->posted;

	if (posted != NULL) {
		rw->posted = NULL;
		posted(rw);
	}
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
		return;
	}
	offload_rw_all_posted(rw);
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
		offload_rw_all_posted(rw);
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
		if (rw->done != NULL) {
			rw->done(rw);
		} else {
			TALLOC_FREE(rw);
		}
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

static int offload_record_destructor(struct offload_record *rec)
{
	struct smbdirectd_zc *zc = rec->conn->zc;

	if (rec->zc_idx < 0 || zc == NULL) {
		return 0;
	}
	smbdirect_zc_retire(zc->table, rec->zc_idx);
	if (rec->command == SMB2_OP_READ) {
		zc->reads -= MIN(zc->reads, 1);
	} else {
		zc->writes -= MIN(zc->writes, 1);
	}
	return 0;
}

static struct offload_record *offload_add_record(
	struct smbdirectd_conn *conn,
	const struct smbdirectd_smb2_rdma_req *req)
{
	struct offload_record *rec = talloc_zero(conn, struct offload_record);

	if (rec == NULL) {
		conn_close(conn, "out of memory");
		return NULL;
	}
	rec->conn = conn;
	rec->zc_idx = -1;
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
		return NULL;
	}
	talloc_set_destructor(rec, offload_record_destructor);
	DLIST_ADD_END(conn->records, rec);
	return rec;
}

static struct offload_record *offload_find_record(
	struct smbdirectd_conn *conn,
	uint64_t message_id)
{
	struct offload_record *rec = NULL;

	for (rec = conn->records; rec != NULL; rec = rec->next) {
		if (rec->message_id == message_id) {
			return rec;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* the zero-copy link (smbdirect_zerocopy.h)                           */

static bool offload_zc_publish(struct smbdirectd_conn *conn,
			       struct offload_record *rec,
			       const struct smbdirectd_smb2_rdma_req *req,
			       struct smbdirectd_pool_chunk *chunk)
{
	struct smbdirect_zc_entry e = {
		.op = req->command == SMB2_OP_READ ? SMBDIRECT_ZC_OP_READ
						   : SMBDIRECT_ZC_OP_WRITE,
		.message_id = req->message_id,
		.file_id_persistent = req->file_id_persistent,
		.file_id_volatile = req->file_id_volatile,
		.offset = req->offset,
		.pool_offset = chunk->ofs,
		.length = req->length,
	};
	int idx = smbdirect_zc_publish(conn->zc->table, &e);

	if (idx < 0) {
		return false; /* table full: this one is copied */
	}
	rec->zc_idx = idx;
	rec->zc_chunk = talloc_move(rec, &chunk);
	if (req->command == SMB2_OP_READ) {
		conn->zc->reads += 1;
	} else {
		conn->zc->writes += 1;
	}
	return true;
}

/*
 * A READ smbd may answer through vfs_smbdirect's sendfile: publish it
 * with a slot for the module to fill. smbd only uses sendfile for a
 * READ alone in its PDU and unsigned; a slot must be free at once (a
 * READ never waits for one, it is copied instead).
 */
static void offload_zc_publish_read(struct smbdirectd_conn *conn,
				    struct offload_record *rec,
				    const struct smbdirectd_smb2_rdma_req *req)
{
	struct smbdirectd_pool_chunk *chunk = NULL;

	if (conn->zc == NULL || !req->only_element || req->is_signed) {
		return;
	}
	chunk = smbdirectd_pool_alloc_now(conn, conn->ctx->pool, req->length);
	if (chunk == NULL) {
		return;
	}
	if (!offload_zc_publish(conn, rec, req, chunk)) {
		TALLOC_FREE(chunk);
	}
}

static bool offload_zc_key_busy(const struct smbdirectd_smb2_write_key *key,
				void *private_data)
{
	struct smbdirectd_conn *conn = private_data;

	return smbdirect_zc_write_key_busy(conn->zc->table,
					   key->file_id_persistent,
					   key->file_id_volatile,
					   key->offset,
					   key->length);
}

/*
 * vfs_smbdirect claims a WRITE by its key (recvfile does not see the
 * MessageId): while a published WRITE with a key is not retired, no
 * other WRITE with that key may reach smbd.
 */
static bool offload_zc_write_blocked(struct smbdirectd_conn *conn,
				     const struct offload_item *item)
{
	if (conn->zc == NULL || conn->zc->writes == 0) {
		return false;
	}
	return smbdirectd_smb2_any_write(item->pdu,
					 item->len - item->payload_len,
					 offload_zc_key_busy, conn);
}

/*
 * Publish a WRITE that smbd will hand to SMB_VFS_RECVFILE: alone in its
 * PDU, unsigned, and larger than smbd's "min receivefile size". The
 * record keeps the payload's slot until smbd answers.
 */
static void offload_zc_publish_write(struct smbdirectd_conn *conn,
				     struct offload_item *item)
{
	const struct smbdirectd_smb2_rdma_req *req = &item->reqs[0];
	struct offload_record *rec = NULL;

	if (!item->zc_candidate || conn->zc == NULL) {
		return;
	}
	rec = offload_find_record(conn, req->message_id);
	if (rec == NULL) {
		rec = offload_add_record(conn, req);
		if (rec == NULL) {
			return;
		}
	}
	if (offload_zc_publish(conn, rec, req, item->payload)) {
		item->payload = NULL; /* the record owns it now */
	}
}

/*
 * The reader of smbd's stream asks, with the first 80 bytes of a PDU of
 * pdu_len bytes: is this the response to a READ whose payload
 * vfs_smbdirect put in the slot (so the stream holds only these 80)?
 * Returns 1 and the record when it is, 0 when the payload follows on
 * the stream, -1 when smbd and the table disagree (the stream cannot be
 * followed: the caller drops the connection).
 */
int offload_zc_read_done(struct smbdirectd_conn *conn,
			 const uint8_t *hdr,
			 size_t pdu_len,
			 struct offload_record **_rec)
{
	const uint8_t *body = hdr + SMB2_HDR_BODY;
	struct offload_record *rec = NULL;
	const struct smbdirect_zc_entry *e = NULL;
	uint32_t data_len;

	*_rec = NULL;
	if (conn->zc == NULL || conn->zc->reads == 0 ||
	    PULL_LE_U32(hdr, 0) != SMB2_MAGIC ||
	    PULL_LE_U16(hdr, SMB2_HDR_OPCODE) != SMB2_OP_READ ||
	    PULL_LE_U32(hdr, SMB2_HDR_NEXT_COMMAND) != 0) {
		return 0;
	}
	rec = offload_find_record(conn, PULL_LE_U64(hdr, SMB2_HDR_MESSAGE_ID));
	if (rec == NULL || rec->zc_idx < 0 ||
	    smbdirect_zc_state(conn->zc->table, rec->zc_idx) !=
		    SMBDIRECT_ZC_DONE) {
		return 0;
	}
	e = &conn->zc->table->entries[rec->zc_idx];
	data_len = PULL_LE_U32(body, 0x04);
	if (PULL_LE_U32(hdr, SMB2_HDR_STATUS) != 0 ||
	    PULL_LE_U8(body, 0x02) != SMB2_HDR_BODY + 0x10 ||
	    data_len != e->result || e->result > e->length ||
	    pdu_len != (size_t)SMB2_HDR_BODY + 0x10 + data_len) {
		DBG_ERR("connection %" PRIu64 ": vfs_smbdirect filled %u "
			"bytes for READ MessageId %" PRIu64 " but smbd's "
			"response announces %u in a %zu byte PDU\n",
			conn->id, e->result, rec->message_id, data_len,
			pdu_len);
		return -1;
	}
	*_rec = rec;
	return 1;
}

void offload_flush(struct smbdirectd_conn *conn)
{
	struct offload_item *item = NULL;

	if (conn->smbd == NULL) {
		return; /* the TCP connect to smbd is still going on */
	}
	while ((item = conn->to_smbd) != NULL && item->ready) {
		const uint8_t *payload = NULL;
		size_t payload_len = 0;

		if (offload_zc_write_blocked(conn, item)) {
			return; /* flushed again when that WRITE is answered */
		}
		offload_zc_publish_write(conn, item);
		DLIST_REMOVE(conn->to_smbd, item);
		if (item->payload != NULL) {
			/* not published: it lives until it is written */
			payload = item->payload->ptr;
			payload_len = item->payload->len;
			talloc_steal(item->pdu, item->payload);
		} else if (item->zc_candidate) {
			const struct offload_record *rec = offload_find_record(
				conn, item->reqs[0].message_id);

			payload = rec->zc_chunk->ptr;
			payload_len = rec->zc_chunk->len;
		}
		conn_write_to_smbd_payload(conn,
					   talloc_move(conn, &item->pdu),
					   item->len,
					   payload,
					   payload_len);
		TALLOC_FREE(item);
		if (conn->state != CONN_RUNNING) {
			return;
		}
	}
}

/*
 * A PDU that is one offloaded WRITE alone: smbd gets the rewritten head
 * and the payload from the pool slot as it is.
 */
static bool offload_item_build_single(struct offload_item *item)
{
	struct smbdirectd_conn *conn = item->conn;
	const struct smbdirectd_smb2_rdma_req *req = &item->reqs[0];
	uint32_t min_recv = conn->ctx->cfg->min_receivefile_size;
	struct smbdirect_err err = {0};
	uint8_t *head = NULL;
	size_t head_len = 0;

	head = smbdirectd_smb2_inline_write_head(item, item->pdu, item->len,
						 req, &head_len, &err);
	if (head == NULL) {
		conn->counters.offload_failures += 1;
		conn_close(conn, "offload: %s", err.reason);
		return false;
	}
	TALLOC_FREE(item->pdu);
	item->pdu = head;
	item->len = head_len + req->length;
	item->payload_len = req->length;
	/* the item's one reservation holds exactly this payload */
	item->payload = talloc_move(item, &item->chunk);
	TALLOC_FREE(item->rws[0]);
	/* smbd's recvfile condition (smbd_smb2_request_next_incoming) */
	item->zc_candidate = min_recv != 0 && req->length > min_recv;
	return true;
}

static void offload_item_build(struct offload_item *item)
{
	struct smbdirectd_conn *conn = item->conn;
	struct smbdirect_err err = {0};
	uint8_t *pdu = NULL;
	size_t len = 0;
	size_t i;

	for (i = 0; i < item->num_reqs; i++) {
		if (item->reqs[i].command == SMB2_OP_WRITE) {
			conn->counters.offload_write_ops += 1;
			conn->counters.offload_write_bytes +=
				item->reqs[i].length;
		}
	}
	if (item->num_reqs == 1 && item->reqs[0].only_element &&
	    item->reqs[0].command == SMB2_OP_WRITE) {
		if (!offload_item_build_single(item)) {
			return;
		}
		item->ready = true;
		offload_flush(conn);
		return;
	}

	pdu = smbdirectd_smb2_inline_request(item, item->pdu, item->len,
					     item->reqs, item->num_reqs,
					     item->writes, &len, &err);
	if (pdu == NULL) {
		conn->counters.offload_failures += 1;
		conn_close(conn, "offload: %s", err.reason);
		return;
	}
	for (i = 0; i < item->num_reqs; i++) {
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
			struct offload_record *rec =
				offload_add_record(conn, req);

			if (rec == NULL) {
				return;
			}
			if (req->command == SMB2_OP_READ) {
				offload_zc_publish_read(conn, rec, req);
			}
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

static void offload_zc_count_write(struct smbdirectd_conn *conn,
				   const struct offload_record *rec)
{
	const struct smbdirect_zc_entry *e = NULL;

	if (conn->zc == NULL ||
	    smbdirect_zc_state(conn->zc->table, rec->zc_idx) !=
		    SMBDIRECT_ZC_DONE) {
		return; /* smbd took the copying way */
	}
	e = &conn->zc->table->entries[rec->zc_idx];
	conn->counters.zero_copy_write_ops += 1;
	conn->counters.zero_copy_write_bytes += e->result;
}

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
 * The payload of an offloaded READ is on its way (every RDMA WRITE
 * posted; see offload_rw_all_posted() for why that is enough): the
 * response may follow, and smbd's next response may be read. The
 * operation, and the pool slot with it, is freed on completion.
 */
static void offload_rsp_payload_posted(struct offload_rw *rw)
{
	struct smbdirectd_conn *conn = rw->conn;
	struct offload_rsp *rsp = conn->rsp;
	struct offload_record *rec = rsp->rec;
	struct smbdirect_err err = {0};
	uint8_t *pdu = NULL;
	size_t len = 0;

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

/*
 * RDMA-write rsp->r.data_len bytes of chunk into the client's buffers
 * of rsp->rec; with copy, smbd's payload (rsp->r.data) goes into chunk
 * first.
 */
static void offload_rsp_write_payload(struct smbdirectd_conn *conn,
				      struct offload_rsp *rsp,
				      struct smbdirectd_pool_chunk *chunk,
				      bool copy)
{
	struct offload_record *rec = rsp->rec;
	struct offload_rw *rw = NULL;

	rw = offload_rw_new(conn, conn, false, rec->descs, rec->num_descs,
			    rsp->r.data_len, NULL, NULL);
	if (rw == NULL) {
		TALLOC_FREE(chunk);
		conn_close(conn, "out of memory");
		return;
	}
	rw->chunk = talloc_move(rw, &chunk);
	rw->posted = offload_rsp_payload_posted;
	if (copy) {
		memcpy(rw->chunk->ptr, rsp->r.data, rsp->r.data_len);
	}
	offload_rw_start(rw);
}

static void offload_rsp_chunk_done(struct tevent_req *subreq)
{
	struct smbdirectd_conn *conn =
		tevent_req_callback_data(subreq, struct smbdirectd_conn);
	struct offload_rsp *rsp = conn->rsp;
	struct smbdirectd_pool_chunk *chunk = NULL;
	int ret;

	ret = smbdirectd_pool_alloc_recv(subreq, conn, &chunk);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		conn->counters.offload_failures += 1;
		conn_close(conn, "offload: no pool memory for a %u byte READ: "
			   "%s", rsp->r.data_len, strerror(ret));
		return;
	}
	offload_rsp_write_payload(conn, rsp, chunk, true);
}

/*
 * vfs_smbdirect read the file into the record's slot: RDMA-write it
 * from there (offload_zc_read_done() checked the sizes).
 */
static void offload_rsp_zero_copy(struct smbdirectd_conn *conn,
				  struct offload_rsp *rsp,
				  struct offload_record *rec)
{
	const struct smbdirect_zc_entry *e =
		&conn->zc->table->entries[rec->zc_idx];

	rsp->r = (struct smbdirectd_smb2_read_rsp) {
		.index = 0,
		.message_id = rec->message_id,
		.data_len = e->result,
	};
	if (rsp->r.data_len > rec->descs_total) {
		conn->counters.offload_failures += 1;
		conn_close(conn, "smbd returned %u bytes for a READ whose "
			   "client buffers hold %" PRIu64,
			   rsp->r.data_len, rec->descs_total);
		return;
	}
	rsp->rec = rec;
	conn->counters.zero_copy_read_ops += 1;
	conn->counters.zero_copy_read_bytes += rsp->r.data_len;
	offload_rsp_write_payload(conn, rsp,
				  talloc_move(conn, &rec->zc_chunk), false);
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
		if (rec == rsp->zc_rec) {
			offload_rsp_zero_copy(conn, rsp, rec);
			return;
		}
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
			bool was_zc_write = rec->command == SMB2_OP_WRITE &&
					    rec->zc_idx >= 0;

			if (rec->channel == SMB2_CHANNEL_RDMA_V1_INVALIDATE) {
				offload_rsp_invalidate(conn, rsp, rec);
			}
			if (was_zc_write) {
				offload_zc_count_write(conn, rec);
			}
			DLIST_REMOVE(conn->records, rec);
			TALLOC_FREE(rec);
			if (was_zc_write) {
				offload_flush(conn); /* its key is free */
				if (conn->state != CONN_RUNNING) {
					return;
				}
			}
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
		if (rec->zc_chunk != NULL &&
		    rec->zc_chunk->len >= rsp->r.data_len) {
			/* published, not claimed: copy into its slot */
			offload_rsp_write_payload(conn, rsp,
						  talloc_move(conn,
							      &rec->zc_chunk),
						  true);
			return;
		}
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

void offload_response(struct smbdirectd_conn *conn,
		      uint8_t *pdu,
		      size_t len,
		      struct offload_record *zc_rec)
{
	struct offload_rsp *rsp = talloc_zero(conn, struct offload_rsp);

	if (rsp == NULL) {
		TALLOC_FREE(pdu);
		conn_close(conn, "out of memory");
		return;
	}
	rsp->pdu = talloc_move(rsp, &pdu);
	rsp->len = len;
	rsp->zc_rec = zc_rec;
	conn->rsp = rsp;
	offload_rsp_continue(conn);
}
