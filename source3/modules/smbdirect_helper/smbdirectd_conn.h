/*
 * smbdirectd: one SMB Direct connection and its relay to smbd
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

#include "smbdirectd.h"

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

/* Add the counters of the live connections to *sum. */
void smbdirectd_conn_sum_counters(struct smbdirectd_ctx *ctx,
				  struct smbdirectd_counters *sum);

/* Append one status line per live connection to text (talloc string). */
char *smbdirectd_conn_status_lines(struct smbdirectd_ctx *ctx,
				   TALLOC_CTX *mem_ctx,
				   char *text);

/* Log a connection's counters (status view, and at disconnect). */
void smbdirectd_conn_log_status(const struct smbdirectd_conn *conn,
				int level);

#endif
