/*
 * smbdirectd: the verbs resources of a connection and what it posts
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_TRANSPORT_H_
#define _SMBDIRECTD_TRANSPORT_H_

#include "smbdirectd_ctx.h"
#include "smbdirectd_conn_private.h"

/* A registered buffer set (conn->recv, conn->send): take, give back. */
static inline bool buf_get(struct buf_array *b, uint32_t *idx)
{
	if (b->num_free == 0) {
		return false;
	}
	*idx = b->free_stack[--b->num_free];
	return true;
}

static inline void buf_put(struct buf_array *b, uint32_t idx)
{
	SMB_ASSERT(idx < b->count && b->num_free < b->count);
	b->free_stack[b->num_free++] = idx;
}

static inline uint8_t *buf_ptr(struct buf_array *b, uint32_t idx)
{
	return b->mem + (size_t)idx * b->size;
}

/*
 * The completion queue and its channel (watched by tevent with
 * cq_handler), the queue pair and the receive and send buffers, sized
 * by smbdirect:* and what the device allows. false: the connection
 * cannot be accepted (the reason is logged).
 */
bool smbdirectd_transport_setup(struct smbdirectd_conn *conn,
				tevent_fd_handler_t cq_handler);

/* Release them (the connection's destructor, before the PD goes). */
void smbdirectd_transport_free(struct smbdirectd_conn *conn);

/*
 * Post receives for the credits the protocol wants to grant (none while
 * smbd lags behind by more than RELAY_HIGH_WATER). false: the
 * connection was closed.
 */
bool conn_post_recvs(struct smbdirectd_conn *conn);

/*
 * Send len bytes of data from send buffer idx as they are: the
 * negotiate response, which is outside the data transfer format.
 */
/*
 * Queue one send-queue work request with one SGE (copied; the caller's may
 * go). What is queued while an event is handled goes to the queue pair in
 * one ibv_post_send, in the order queued, once the handler is done: one
 * doorbell, with rxe and siw one system call, for a READ's RDMA WRITEs
 * and its response's SEND, or for the responses of a whole CQ poll. False
 * if the connection is closing.
 */
bool conn_post_send_wr(struct smbdirectd_conn *conn,
		       const struct ibv_send_wr *wr);

bool conn_send_raw(struct smbdirectd_conn *conn,
		   uint32_t idx,
		   const uint8_t *data,
		   size_t len);

/*
 * Send what may be sent: receives first, then the queued PDUs, else
 * the empty message the protocol wants (credits, keepalive).
 */
void conn_pump(struct smbdirectd_conn *conn);

/*
 * Queue a PDU (ours now) for the client and pump; invalidate: its last
 * message is a Send with Invalidate of rkey (RDMA_V1_INVALIDATE).
 */
void conn_queue_response(struct smbdirectd_conn *conn,
			 uint8_t *pdu,
			 size_t len,
			 bool invalidate,
			 uint32_t rkey);

#endif
