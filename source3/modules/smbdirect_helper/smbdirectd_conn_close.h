/*
 * smbdirectd: the one way a connection ends, and its state
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_CONN_CLOSE_H_
#define _SMBDIRECTD_CONN_CLOSE_H_

#include "smbdirectd_ctx.h"
#include "smbdirectd_conn_private.h"

/*
 * Disconnect: log why (DBG_ERR) and the connection's counters, stop
 * reading from and writing to smbd, and rdma_disconnect. The connection
 * is freed once rdma_cm reports DISCONNECTED (smbdirectd_conn.c), or
 * from the event loop when rdma_disconnect fails. Once closing, later
 * calls do nothing: the first reason is the one logged.
 */
void conn_close(struct smbdirectd_conn *conn, const char *fmt, ...)
	PRINTF_ATTRIBUTE(2, 3);

/* The same, when the peer disconnected first. */
void conn_peer_closed(struct smbdirectd_conn *conn, const char *fmt, ...)
	PRINTF_ATTRIBUTE(2, 3);

/* Set conn->state and publish it (conn->status) for the status file. */
void conn_set_state(struct smbdirectd_conn *conn, enum conn_state state);

#endif
