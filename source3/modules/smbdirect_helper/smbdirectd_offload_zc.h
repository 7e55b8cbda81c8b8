/*
 * smbdirectd: the records of offloaded requests, and the zero-copy link
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_OFFLOAD_ZC_H_
#define _SMBDIRECTD_OFFLOAD_ZC_H_

#include "smbdirectd_ctx.h"
#include "smbdirectd_offload_private.h"

/* A record for req, on conn->records (NULL: the connection was closed). */
struct offload_record *offload_add_record(
	struct smbdirectd_conn *conn,
	const struct smbdirectd_smb2_rdma_req *req);
struct offload_record *offload_find_record(
	struct smbdirectd_conn *conn,
	uint64_t message_id);

/* Before the connection is freed: records first, then its table. */
void offload_teardown(struct smbdirectd_conn *conn);

/*
 * Take the record's entry back from the table. False when vfs_smbdirect
 * has it CLAIMED: then the slot is the module's and must not be used.
 */
bool offload_zc_take_back(struct offload_record *rec);

/* Publish a READ for the module's sendfile, if a slot is free now. */
void offload_zc_publish_read(struct smbdirectd_conn *conn,
			     struct offload_record *rec,
			     const struct smbdirectd_smb2_rdma_req *req);

/* A published WRITE with the same key is not retired yet: item waits. */
bool offload_zc_write_blocked(struct smbdirectd_conn *conn,
			      const struct offload_item *item);

/* Publish a WRITE smbd will hand to SMB_VFS_RECVFILE or PWRITE_SEND. */
void offload_zc_publish_write(struct smbdirectd_conn *conn,
			      struct offload_item *item);

/*
 * The relay's question about the first 80 bytes of a PDU from smbd
 * (conn->smbd_probe): 1, 2, 0 or -1, see smbdirectd_offload_zc.c.
 */
int offload_zc_read_done(struct smbdirectd_conn *conn,
			 const uint8_t *hdr,
			 size_t pdu_len,
			 struct offload_record **rec);

void offload_zc_count_write(struct smbdirectd_conn *conn,
			    const struct offload_record *rec);

#endif
