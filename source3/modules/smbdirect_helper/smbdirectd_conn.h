/*
 * smbdirectd: one SMB Direct connection: accept, rdma_cm events, shutdown
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_CONN_H_
#define _SMBDIRECTD_CONN_H_

#include "smbdirectd_ctx.h"

struct rdma_cm_id;
struct rdma_cm_event;

/*
 * A CONNECT_REQUEST arrived on a listener: check the peer against hosts
 * allow/deny, set up the queue pair and buffers and accept, or reject.
 * Ownership of cm_id passes to the connection (or it is destroyed by the
 * caller when this returns false).
 */
bool smbdirectd_conn_accept(struct smbdirectd_ctx *ctx,
			    struct rdma_cm_event *event);

/*
 * Any other rdma_cm event for a connection's cm_id. Returns true when
 * the connection is finished and the caller must free it (after the
 * event was acknowledged: rdma_destroy_id waits for that).
 */
bool smbdirectd_conn_cm_event(struct smbdirectd_conn *conn,
			      struct rdma_cm_event *event);

/* Begin an orderly shutdown (SIGTERM): disconnect from the peer. */
void smbdirectd_conn_shutdown(struct smbdirectd_conn *conn,
			      const char *reason);

/* SIGTERM: disconnect every peer (they are freed as they go). */
void smbdirectd_conn_shutdown_all(struct smbdirectd_ctx *ctx,
				  const char *reason);

/* Free what is left, releasing every verbs resource. */
void smbdirectd_conn_free_all(struct smbdirectd_ctx *ctx);

#endif
