/*
 * smbdirectd: the RDMA READs and WRITEs of the offload
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_RDMA_RW_H_
#define _SMBDIRECTD_RDMA_RW_H_

#include "smbdirectd_ctx.h"
#include "proto/smbdirect_pdu.h"
#include <infiniband/verbs.h>

struct smbdirectd_pool_chunk;

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

/* The slots of the RDMA READ/WRITE operations in flight (at accept). */
bool offload_rw_setup(struct smbdirectd_conn *conn);

/*
 * A transfer of len bytes between the pool chunk the caller puts in
 * rw->chunk and the client's buffers descs: RDMA READ if is_read, else
 * RDMA WRITE. done is called once every work request completed (NULL:
 * the operation is just freed then), with private_data in the op.
 */
struct offload_rw *offload_rw_new(
	TALLOC_CTX *mem_ctx,
	struct smbdirectd_conn *conn,
	bool is_read,
	const struct smbdirect_buffer_desc_v1 *descs,
	size_t num_descs,
	size_t len,
	void (*done)(struct offload_rw *rw),
	void *private_data);

/*
 * Post the transfer's work requests, or queue it behind those that
 * wait for room; rw->posted is called once all are posted.
 */
void offload_rw_start(struct offload_rw *rw);

/* A completion with a WR_RDMA wr_id. */
void offload_rw_completion(struct smbdirectd_conn *conn,
			   const struct ibv_wc *wc);

#endif
