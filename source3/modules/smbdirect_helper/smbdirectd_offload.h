/*
 * smbdirectd: RDMA READ/WRITE offload of SMB2 READ and WRITE
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_OFFLOAD_H_
#define _SMBDIRECTD_OFFLOAD_H_

#include "smbdirectd_ctx.h"

struct offload_record;

/*
 * A reassembled request from the client (ours now): rewritten if it
 * has READ/WRITE elements with an RDMA channel (a WRITE's payload is
 * RDMA-read first), then written to smbd in arrival order.
 */
void offload_request(struct smbdirectd_conn *conn, uint8_t *pdu, size_t len);

/* Write the requests that are ready to smbd (once it is connected). */
void offload_flush(struct smbdirectd_conn *conn);

/*
 * A PDU from smbd (ours now; zc_rec: a READ response whose payload
 * vfs_smbdirect put in the pool): rewritten if it answers an offloaded
 * READ (its payload RDMA-written first), then queued for the client;
 * then smbd's next PDU is read.
 */
void offload_response(struct smbdirectd_conn *conn,
		      uint8_t *pdu,
		      size_t len,
		      struct offload_record *zc_rec);

#endif
