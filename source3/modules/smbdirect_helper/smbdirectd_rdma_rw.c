/*
 * smbdirectd: the RDMA READs and WRITEs of the offload
 *
 * One payload moves between the registered pool and the client's
 * buffers (its buffer descriptors): RDMA READ for an offloaded WRITE
 * (client to pool), RDMA WRITE for an offloaded READ (pool to client).
 * This file posts their work requests on the connection's queue pair,
 * no more than RW_MAX_WRS at once and no more RDMA READs than the
 * negotiated initiator depth, keeps those that wait in order, and
 * handles their completions (WR_RDMA, from smbdirectd_conn.c).
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
#include "smbdirectd_dev.h"
#include "smbdirectd_pool.h"
#include "smbdirectd_rdma_rw.h"
#include "smbdirectd_transport.h"

static void offload_rw_kick(struct smbdirectd_conn *conn);

bool offload_rw_setup(struct smbdirectd_conn *conn)
{
	conn->num_rw_slots = RW_MAX_WRS;
	conn->rw_slots = talloc_zero_array(conn,
					   struct offload_rw *,
					   conn->num_rw_slots);
	return conn->rw_slots != NULL;
}

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
		struct ibv_sge sge;
		size_t n;

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
		if (!conn_post_send_wr(conn, &wr)) {
			return false; /* closing */
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

void offload_rw_start(struct offload_rw *rw)
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

struct offload_rw *offload_rw_new(
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
