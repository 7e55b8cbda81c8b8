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

#include "includes.h"
#include "smbdirectd_conn_private.h"
#include "smbdirectd_conn_close.h"
#include "smbdirectd_offload_sign.h"
#include "smbdirectd_session_keys.h"
#include "smbdirectd_smb2_sign.h"

/*
 * smbdirectd_smb2_key_fn for this connection: the key smbd uses for
 * this channel, from smbXsrv_session_global.tdb. The cache is made at
 * the first signed request, once the loopback connection (and so the
 * channel's name) exists.
 */
static struct smb2_signing_key *offload_signing_key(uint64_t session_id,
						    bool refresh,
						    void *private_data)
{
	struct smbdirectd_conn *conn = private_data;
	struct smb2_signing_key *key = NULL;
	NTSTATUS status;

	if (conn->smbd_local_address == NULL) {
		return NULL; /* no channel at smbd yet */
	}
	if (conn->session_keys == NULL) {
		char *path = lock_path(talloc_tos(),
				       "smbXsrv_session_global.tdb");

		if (path == NULL) {
			return NULL;
		}
		conn->session_keys = smbdirectd_session_keys_new(
			conn, path, conn->smbd_local_address);
		TALLOC_FREE(path);
		if (conn->session_keys == NULL) {
			return NULL;
		}
	}
	status = smbdirectd_session_keys_lookup(conn->session_keys,
						session_id,
						refresh,
						&key);
	if (!NT_STATUS_IS_OK(status)) {
		DBG_NOTICE("connection %" PRIu64 ": no signing key for "
			   "session 0x%" PRIx64 " on channel %s: %s\n",
			   conn->id,
			   session_id,
			   conn->smbd_local_address,
			   nt_errstr(status));
		return NULL;
	}
	return key;
}

/*
 * A request PDU with signed elements that asks for an RDMA channel:
 * every signed element must verify with its session's key on this
 * channel, or the connection is closed (and logged, at DBG_ERR, with the
 * peer and the MessageId). Nothing that did not verify is ever signed.
 */
bool offload_verify_request(struct smbdirectd_conn *conn,
			    const uint8_t *pdu,
			    size_t len)
{
	struct smbdirect_err err = {0};
	uint64_t mid = 0;
	int ret;

	ret = smbdirectd_smb2_verify(pdu, len,
				     offload_signing_key, conn, &mid, &err);
	if (ret != 0) {
		conn->counters.signature_refused += 1;
		conn->counters.offload_failures += 1;
		conn_close(conn,
			   "signed SMB2 request (MessageId %" PRIu64 ") with "
			   "an RDMA channel refused: %s",
			   mid, err.reason);
		return false;
	}
	return true;
}

/*
 * Sign the rewritten request (pdu, then tail on the wire) again for
 * smbd, with the keys its elements verified with.
 */
bool offload_resign(struct smbdirectd_conn *conn,
		    uint8_t *pdu,
		    size_t len,
		    const uint8_t *tail,
		    size_t tail_len,
		    const char *what)
{
	struct smbdirect_err err = {0};
	uint64_t mid = 0;
	int ret;

	ret = smbdirectd_smb2_sign(pdu, len, tail, tail_len,
				   offload_signing_key, conn, &mid, &err);
	if (ret != 0) {
		conn->counters.offload_failures += 1;
		conn_close(conn, "cannot sign the rewritten %s (MessageId "
			   "%" PRIu64 "): %s", what, mid, err.reason);
		return false;
	}
	return true;
}
