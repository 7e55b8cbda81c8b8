/*
 * smbdirectd: the signing key of a relayed channel, from smbd's
 * smbXsrv_session_global.tdb
 *
 * To serve a signed READ/WRITE that asks for an RDMA channel, smbdirectd
 * verifies the client's signature, rewrites the request and signs it
 * again for smbd. The key is the one smbd itself uses for that channel:
 * smbd stores it in smbXsrv_session_global.tdb (the session's record,
 * channels[].signing_key_blob and signing_algo) before it sends the
 * final SESSION_SETUP response. The record's key is the SMB2 SessionId
 * (its 32-bit global id, big endian); the channel is the one whose
 * remote_address is smbdirectd's end of the loopback connection to
 * smbd, as tsocket_address_string() spells it ("ipv4:127.0.0.1:PORT").
 *
 * The database is read with Samba's dbwrap (read-only, as a watched
 * database: smbd opens it with db_open_watched()) and its records are
 * parsed with the generated NDR code, the way smbstatus reads them.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_SESSION_KEYS_H_
#define _SMBDIRECTD_SESSION_KEYS_H_

struct smb2_signing_key;
struct smbdirectd_session_keys;

/*
 * From one value of smbXsrv_session_global.tdb (without the dbwrap_watch
 * header): the signing key of the channel of session_id whose
 * remote_address is channel_address, on mem_ctx.
 *   NT_STATUS_NOT_FOUND          no such channel, or it has no key yet
 *   NT_STATUS_INTERNAL_DB_CORRUPTION  the record does not parse, or is
 *                                 not the record of session_id
 *   NT_STATUS_HMAC_NOT_SUPPORTED an algorithm smbdirectd cannot sign with
 */
NTSTATUS smbdirectd_session_key_from_record(TALLOC_CTX *mem_ctx,
					    const uint8_t *data,
					    size_t len,
					    uint64_t session_id,
					    const char *channel_address,
					    struct smb2_signing_key **key);

/*
 * A per-connection cache of channel keys, read from the database at
 * db_path (normally lock_path("smbXsrv_session_global.tdb")) for the
 * channel named channel_address.
 */
struct smbdirectd_session_keys *smbdirectd_session_keys_new(
	TALLOC_CTX *mem_ctx,
	const char *db_path,
	const char *channel_address);

/*
 * The key for session_id. A cached key is returned unless refresh is
 * set; otherwise (and on a miss) the record is read again. The key
 * stays owned by keys. Errors as for smbdirectd_session_key_from_record;
 * NT_STATUS_NOT_FOUND also when there is no record or no database.
 */
NTSTATUS smbdirectd_session_keys_lookup(struct smbdirectd_session_keys *keys,
					uint64_t session_id,
					bool refresh,
					struct smb2_signing_key **key);

#endif
