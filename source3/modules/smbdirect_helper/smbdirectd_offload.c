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
 * The RDMA transfers themselves are posted by smbdirectd_rdma_rw.c, the
 * records and the zero-copy link are in smbdirectd_offload_zc.c.
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
#include "smbdirectd_offload.h"
#include "smbdirectd_offload_sign.h"
#include "smbdirectd_offload_private.h"
#include "smbdirectd_offload_zc.h"
#include "smbdirectd_pool.h"
#include "smbdirectd_rdma_rw.h"
#include "smbdirectd_relay.h"
#include "smbdirectd_smb2.h"
#include "smbdirectd_smb2_sign.h"
#include "smbdirectd_transport.h"
#include "smbdirectd_zerocopy.h"

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
	struct timespec answered; /* read from smbd */
};

/*
 * The moment each offloaded request of item goes to smbd (before the
 * write, which may close the connection and free the records).
 */
static void offload_profile_relayed(struct smbdirectd_conn *conn,
				    const struct offload_item *item)
{
	struct timespec now;
	size_t i;

	if (item->num_reqs == 0) {
		return;
	}
	clock_gettime_mono(&now);
	for (i = 0; i < item->num_reqs; i++) {
		struct offload_record *rec =
			offload_find_record(conn, item->reqs[i].message_id);

		if (rec != NULL) {
			rec->prof.relayed = now;
		}
	}
}

/* rec's response is about to be queued: its spans go into the profile. */
static void offload_profile_done(struct smbdirectd_conn *conn,
				 const struct offload_rsp *rsp,
				 struct offload_record *rec)
{
	struct timespec now;

	rec->prof.answered = rsp->answered;
	clock_gettime_mono(&now);
	smbdirectd_profile_request_done(&conn->ctx->profile,
					rec->command == SMB2_OP_READ
						? SMBDIRECTD_PROFILE_READ
						: SMBDIRECTD_PROFILE_WRITE,
					&rec->prof,
					&now);
}

/* ------------------------------------------------------------------ */
/* client to smbd                                                      */

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
		offload_profile_relayed(conn, item);
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
	/*
	 * smbd hands it to SMB_VFS_RECVFILE (smbd_smb2_request_next_incoming:
	 * "min receivefile size" set, the WRITE larger) or, with smbd's
	 * defaults, to SMB_VFS_PWRITE_SEND: either way vfs_smbdirect may
	 * take the payload from the slot. A signed WRITE never: smbd must
	 * check its signature over the payload it received.
	 */
	item->zc_candidate = !req->is_signed;
	if (item->resign &&
	    !offload_resign(conn, item->pdu, head_len,
			    item->payload->ptr, req->length, "WRITE")) {
		return false;
	}
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
	if (item->resign &&
	    !offload_resign(conn, pdu, len, NULL, 0, "request")) {
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
	clock_gettime_mono(&item->received);
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

	/*
	 * Rewriting breaks the signatures (NextCommand and padding of a
	 * chain change too): verify every signed element now, sign again
	 * once rewritten. A transform (encrypted) PDU never gets here:
	 * smbdirectd_smb2_parse_rdma() leaves it alone.
	 */
	if (smbdirectd_smb2_any_signed(item->pdu, item->len)) {
		if (!offload_verify_request(conn, item->pdu, item->len)) {
			return;
		}
		item->resign = true;
		conn->counters.signed_offload_ops += item->num_reqs;
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
 * posted; see offload_rw_all_posted() in smbdirectd_rdma_rw.c for why
 * that is enough): the
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
	/*
	 * smbd signed the READ response (and a compound's other elements,
	 * whose NextCommand or padding may have changed): sign the
	 * rewritten response again with the same channel key.
	 */
	if (rsp->r.is_signed || smbdirectd_smb2_any_signed(pdu, len)) {
		if (!offload_resign(conn, pdu, len, NULL, 0, "READ response")) {
			TALLOC_FREE(pdu);
			return;
		}
	}
	TALLOC_FREE(rsp->pdu);
	rsp->pdu = pdu;
	rsp->len = len;
	if (rec->channel == SMB2_CHANNEL_RDMA_V1_INVALIDATE) {
		offload_rsp_invalidate(conn, rsp, rec);
	}
	conn->counters.offload_read_ops += 1;
	conn->counters.offload_read_bytes += rsp->r.data_len;

	offload_profile_done(conn, rsp, rec);
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
			offload_profile_done(conn, rsp, rec);
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
		if (rsp->r.data_len > rec->descs_total) {
			conn->counters.offload_failures += 1;
			conn_close(conn, "smbd returned %u bytes for a READ "
				   "whose client buffers hold %" PRIu64,
				   rsp->r.data_len, rec->descs_total);
			return;
		}
		rsp->rec = rec;
		if (rec->zc_chunk != NULL &&
		    rec->zc_chunk->len >= rsp->r.data_len &&
		    offload_zc_take_back(rec)) {
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
	if (conn->state == CONN_RUNNING) {
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
	clock_gettime_mono(&rsp->answered);
	conn->rsp = rsp;
	offload_rsp_continue(conn);
}
