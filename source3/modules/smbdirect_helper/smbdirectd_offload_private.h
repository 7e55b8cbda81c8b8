/*
 * smbdirectd: an offloaded request on its way to smbd, and its record
 * until smbd answers; shared by smbdirectd_offload.c and
 * smbdirectd_offload_zc.c. Structures only.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_OFFLOAD_PRIVATE_H_
#define _SMBDIRECTD_OFFLOAD_PRIVATE_H_

#include "smbdirectd_ctx.h"
#include "smbdirectd_smb2.h"
#include "smbdirectd_profile.h"

struct offload_rw;
struct smbdirectd_pool_chunk;

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
	bool zc_candidate; /* vfs_smbdirect may claim it */
	/* signed elements verified: sign the rewritten PDU again */
	bool resign;
	struct timespec received;
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
	/* received (at offload_add_record), relayed, answered */
	struct smbdirectd_profile_stamps prof;
};

#endif
