/*
 * smbdirectd: signed offload, the signatures of the READ/WRITE requests
 * and responses smbdirectd rewrites (issue #12, item 5)
 *
 * A signed request that asks for an RDMA channel is verified with the
 * channel's key (smbd's smbXsrv_session_global.tdb), and what smbdirectd
 * makes of it is signed again with the same key, so that smbd and the
 * client see valid signatures on the messages they get.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_OFFLOAD_SIGN_H_
#define _SMBDIRECTD_OFFLOAD_SIGN_H_

#include "replace.h"

struct smbdirectd_conn;

/*
 * A request PDU with signed elements that asks for an RDMA channel:
 * true when every signed element verifies with its session's key on
 * this channel; otherwise the connection is closed (logged with the
 * MessageId) and false.
 */
bool offload_verify_request(struct smbdirectd_conn *conn,
			    const uint8_t *pdu,
			    size_t len);

/*
 * Sign the rewritten pdu (then tail, on the wire after it) again with
 * the keys its elements verified with. False (connection closed, what
 * names the message in the log) when that fails.
 */
bool offload_resign(struct smbdirectd_conn *conn,
		    uint8_t *pdu,
		    size_t len,
		    const uint8_t *tail,
		    size_t tail_len,
		    const char *what);

#endif
