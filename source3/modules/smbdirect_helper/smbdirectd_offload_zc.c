/*
 * smbdirectd: the records of offloaded requests, and the zero-copy link
 *
 * An offloaded READ (and a WRITE with RDMA_V1_INVALIDATE) keeps a record
 * by MessageId until smbd answers it. While vfs_smbdirect is attached
 * (smbdirectd_zerocopy.c), a record may also be published in the
 * connection's zero-copy table with a pool slot, for the module to read
 * the file into or write it from (smbdirect_zerocopy.h); this file
 * publishes, takes back and checks those entries for smbdirectd_offload.c
 * and for the relay's look at smbd's READ responses.
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
#include "smbdirectd_conn_private.h"
#include "smbdirectd_conn_close.h"
#include "smbdirectd_offload_private.h"
#include "smbdirectd_offload_zc.h"
#include "smbdirectd_pool.h"
#include "smbdirectd_smb2.h"
#include "smbdirectd_zerocopy.h"

/* ------------------------------------------------------------------ */
/* the records of offloaded requests                                   */

/*
 * Take the record's entry back from the table. False when vfs_smbdirect
 * has it CLAIMED: then the slot is the module's and must not be used.
 */
bool offload_zc_take_back(struct offload_record *rec)
{
	struct smbdirectd_zc *zc = rec->conn->zc;

	if (rec->zc_idx < 0 || zc == NULL) {
		return true;
	}
	if (!smbdirect_zc_retire(zc->table, rec->zc_idx)) {
		return false;
	}
	rec->zc_idx = -1;
	if (rec->command == SMB2_OP_READ) {
		zc->reads -= MIN(zc->reads, 1);
	} else {
		zc->writes -= MIN(zc->writes, 1);
	}
	return true;
}

static int offload_record_destructor(struct offload_record *rec)
{
	struct smbdirectd_zc *zc = rec->conn->zc;
	int idx = rec->zc_idx;

	if (offload_zc_take_back(rec)) {
		return 0;
	}
	/* the module still works on the slot: it stays reserved */
	if (rec->command == SMB2_OP_READ) {
		zc->reads -= MIN(zc->reads, 1);
	} else {
		zc->writes -= MIN(zc->writes, 1);
	}
	smbdirectd_zc_park(zc, idx, talloc_move(zc, &rec->zc_chunk));
	return 0;
}

void offload_teardown(struct smbdirectd_conn *conn)
{
	struct offload_record *rec = NULL;

	while ((rec = conn->records) != NULL) {
		DLIST_REMOVE(conn->records, rec);
		TALLOC_FREE(rec);
	}
	if (conn->zc != NULL) {
		smbdirectd_zc_conn_gone(conn->zc);
		conn->zc = NULL;
		conn->status.zero_copy = false;
	}
}

struct offload_record *offload_add_record(
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
	clock_gettime_mono(&rec->prof.received);
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

struct offload_record *offload_find_record(
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
void offload_zc_publish_read(struct smbdirectd_conn *conn,
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
bool offload_zc_write_blocked(struct smbdirectd_conn *conn,
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
void offload_zc_publish_write(struct smbdirectd_conn *conn,
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
		rec->prof.received = item->received;
	}
	if (offload_zc_publish(conn, rec, req, item->payload)) {
		item->payload = NULL; /* the record owns it now */
	}
}

/*
 * The reader of smbd's stream asks, with the first 80 bytes of a PDU of
 * pdu_len bytes: is this the response to a READ whose payload
 * vfs_smbdirect put in the slot? Returns 1 and the record when it is
 * and the stream holds only these 80 (sendfile), 2 and the record when
 * smbd relays bytes of its own buffer after them, which the caller
 * drops unread (the asynchronous path), 0 when the payload on the
 * stream is the data, -1 when smbd and the table disagree (the stream
 * cannot be followed: the caller drops the connection).
 */
int offload_zc_read_done(struct smbdirectd_conn *conn,
			 const uint8_t *hdr,
			 size_t pdu_len,
			 struct offload_record **_rec)
{
	const uint8_t *body = hdr + SMB2_HDR_BODY;
	struct offload_record *rec = NULL;
	const struct smbdirect_zc_entry *e = NULL;
	enum smbdirect_zc_state state;
	uint32_t data_len;

	*_rec = NULL;
	if (conn->zc == NULL || conn->zc->reads == 0 ||
	    PULL_LE_U32(hdr, 0) != SMB2_MAGIC ||
	    PULL_LE_U16(hdr, SMB2_HDR_OPCODE) != SMB2_OP_READ ||
	    PULL_LE_U32(hdr, SMB2_HDR_NEXT_COMMAND) != 0) {
		return 0;
	}
	rec = offload_find_record(conn, PULL_LE_U64(hdr, SMB2_HDR_MESSAGE_ID));
	if (rec == NULL || rec->zc_idx < 0) {
		return 0;
	}
	state = smbdirect_zc_state(conn->zc->table, rec->zc_idx);
	if (state != SMBDIRECT_ZC_DONE && state != SMBDIRECT_ZC_DONE_RELAYED) {
		return 0;
	}
	if (state == SMBDIRECT_ZC_DONE_RELAYED &&
	    PULL_LE_U32(hdr, SMB2_HDR_STATUS) != 0) {
		/* an error response (end of file): nothing to drop */
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
	return state == SMBDIRECT_ZC_DONE_RELAYED ? 2 : 1;
}

/* A zero-copy WRITE smbd answered: count it if the module did it. */
void offload_zc_count_write(struct smbdirectd_conn *conn,
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
