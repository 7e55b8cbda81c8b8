/*
 * smbdirectd: the relay to smbd, one loopback TCP connection per RDMA
 * connection
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_RELAY_H_
#define _SMBDIRECTD_RELAY_H_

#include "smbdirectd_ctx.h"

/*
 * Connect to smbd (smbdirect:smbd address, smbd's port). Once connected,
 * conn->smbd_connected is called and reading starts.
 */
void conn_connect_smbd(struct smbdirectd_conn *conn);

/*
 * Write a PDU of len bytes to smbd: the first len - payload_len are in
 * pdu, the rest at payload (which the caller keeps alive until the PDU
 * is freed: after the write, or with the connection). pdu is ours.
 */
void conn_write_to_smbd_payload(struct smbdirectd_conn *conn,
				uint8_t *pdu,
				size_t len,
				const uint8_t *payload,
				size_t payload_len);

/*
 * Read smbd's next PDU (not while more than RELAY_HIGH_WATER waits for
 * the client); it goes to conn->smbd_received, from the event loop,
 * never from within this call. Asking again before it went up does
 * nothing: one PDU at a time, in smbd's order.
 */
void conn_smbd_read_next(struct smbdirectd_conn *conn);

#endif
