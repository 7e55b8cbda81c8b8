/*
 * smbdirectd: the signing key of a relayed channel, from smbd's
 * smbXsrv_session_global.tdb (see smbdirectd_session_keys.h)
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include "includes.h"
#include "system/filesys.h"
#include "lib/util/dlinklist.h"
#include "dbwrap/dbwrap.h"
#include "dbwrap/dbwrap_open.h"
#include "dbwrap/dbwrap_watch.h"
#include "util_tdb.h"
#include "librpc/gen_ndr/ndr_smbXsrv.h"
#include "libcli/smb/smb2_signing.h"
#include "smbdirectd_session_keys.h"

/* A connection rarely has more than one session; bound the cache anyway. */
#define SESSION_KEYS_MAX 16

/* smbd's record key: the 32-bit global id, big endian (smbXsrv_session.c) */
#define SESSION_GLOBAL_KEY_SIZE 4

/* Every SMB2/SMB3 signing key smbd derives is 16 bytes long. */
#define SESSION_SIGNING_KEY_LEN 16

struct session_key_entry {
	struct session_key_entry *prev, *next;
	uint64_t session_id;
	struct smb2_signing_key *key;
};

struct smbdirectd_session_keys {
	char *db_path;
	char *channel_address;
	struct session_key_entry *entries;
	size_t num_entries;
};

NTSTATUS smbdirectd_session_key_from_record(TALLOC_CTX *mem_ctx,
					    const uint8_t *data,
					    size_t len,
					    uint64_t session_id,
					    const char *channel_address,
					    struct smb2_signing_key **key)
{
	TALLOC_CTX *frame = talloc_stackframe();
	DATA_BLOB blob = data_blob_const(data, len);
	struct smbXsrv_session_globalB global_blob = {0};
	const struct smbXsrv_session_global0 *g = NULL;
	const struct smbXsrv_channel_global0 *c = NULL;
	enum ndr_err_code ndr_err;
	NTSTATUS status;
	uint32_t i;

	*key = NULL;

	ndr_err = ndr_pull_struct_blob(
		&blob, frame, &global_blob,
		(ndr_pull_flags_fn_t)ndr_pull_smbXsrv_session_globalB);
	if (!NDR_ERR_CODE_IS_SUCCESS(ndr_err)) {
		DBG_WARNING("session 0x%" PRIx64 ": record does not parse: "
			    "%s\n", session_id, ndr_errstr(ndr_err));
		TALLOC_FREE(frame);
		return NT_STATUS_INTERNAL_DB_CORRUPTION;
	}
	if (global_blob.version != SMBXSRV_VERSION_0 ||
	    global_blob.info.info0 == NULL) {
		DBG_WARNING("session 0x%" PRIx64 ": record version %u is "
			    "not known\n",
			    session_id, (unsigned)global_blob.version);
		TALLOC_FREE(frame);
		return NT_STATUS_INTERNAL_DB_CORRUPTION;
	}
	g = global_blob.info.info0;
	if (g->session_wire_id != session_id) {
		DBG_WARNING("session 0x%" PRIx64 ": the record is session "
			    "0x%" PRIx64 "'s\n",
			    session_id, g->session_wire_id);
		TALLOC_FREE(frame);
		return NT_STATUS_INTERNAL_DB_CORRUPTION;
	}

	for (i = 0; i < g->num_channels; i++) {
		if (g->channels[i].remote_address != NULL &&
		    strcmp(g->channels[i].remote_address, channel_address) ==
			    0) {
			c = &g->channels[i];
			break;
		}
	}
	if (c == NULL) {
		DBG_INFO("session 0x%" PRIx64 " has no channel from %s "
			 "(yet)\n", session_id, channel_address);
		TALLOC_FREE(frame);
		return NT_STATUS_NOT_FOUND;
	}
	if (c->signing_key_blob.length == 0) {
		DBG_INFO("session 0x%" PRIx64 ": channel from %s has no "
			 "signing key yet\n", session_id, channel_address);
		TALLOC_FREE(frame);
		return NT_STATUS_NOT_FOUND;
	}
	if (c->signing_key_blob.length != SESSION_SIGNING_KEY_LEN) {
		DBG_WARNING("session 0x%" PRIx64 ": channel from %s has a "
			    "%zu byte signing key\n",
			    session_id, channel_address,
			    c->signing_key_blob.length);
		TALLOC_FREE(frame);
		return NT_STATUS_INTERNAL_DB_CORRUPTION;
	}
	switch (c->signing_algo) {
	case SMB2_SIGNING_HMAC_SHA256:
	case SMB2_SIGNING_AES128_CMAC:
	case SMB2_SIGNING_AES128_GMAC:
		break;
	default:
		DBG_WARNING("session 0x%" PRIx64 ": signing algorithm %u is "
			    "not supported\n",
			    session_id, (unsigned)c->signing_algo);
		TALLOC_FREE(frame);
		return NT_STATUS_HMAC_NOT_SUPPORTED;
	}

	/* The blob is the derived channel key: no derivation here. */
	status = smb2_signing_key_sign_create(mem_ctx,
					      c->signing_algo,
					      &c->signing_key_blob,
					      NULL,
					      key);
	/* The NDR copy of the key lives on frame: wipe it. */
	memset_s(c->signing_key_blob.data, c->signing_key_blob.length,
		 0, c->signing_key_blob.length);
	TALLOC_FREE(frame);
	return status;
}

struct smbdirectd_session_keys *smbdirectd_session_keys_new(
	TALLOC_CTX *mem_ctx,
	const char *db_path,
	const char *channel_address)
{
	struct smbdirectd_session_keys *keys =
		talloc_zero(mem_ctx, struct smbdirectd_session_keys);

	if (keys == NULL) {
		return NULL;
	}
	keys->db_path = talloc_strdup(keys, db_path);
	keys->channel_address = talloc_strdup(keys, channel_address);
	if (keys->db_path == NULL || keys->channel_address == NULL) {
		TALLOC_FREE(keys);
		return NULL;
	}
	return keys;
}

struct session_keys_parse_state {
	struct smbdirectd_session_keys *keys;
	uint64_t session_id;
	struct smb2_signing_key *key;
	NTSTATUS status;
};

static void session_keys_parser(TDB_DATA key, TDB_DATA data,
				void *private_data)
{
	struct session_keys_parse_state *state = private_data;

	state->status = smbdirectd_session_key_from_record(
		state->keys,
		data.dptr,
		data.dsize,
		state->session_id,
		state->keys->channel_address,
		&state->key);
}

/*
 * Read session_id's record. The database is opened for this lookup
 * only (lookups happen once per session and connection, or after a
 * signature did not verify): a database smbd recreated at a restart is
 * picked up, and nothing is held open across smbd's CLEAR_IF_FIRST.
 *
 * Read-only, a tdb takes no locks (tdb_open_ex sets TDB_NOLOCK, which
 * also lets it open smbd's mutex-locked file); TDB_NOMMAP reads with
 * pread, so a file truncated under us cannot fault. A record caught
 * half-written fails to parse, or yields a key that does not verify
 * the client's signature: both end in a refusal, never in a wrong
 * signature for smbd.
 */
static NTSTATUS session_keys_read(struct smbdirectd_session_keys *keys,
				  uint64_t session_id,
				  struct smb2_signing_key **_key)
{
	TALLOC_CTX *frame = talloc_stackframe();
	struct db_context *backend = NULL;
	struct db_context *db = NULL;
	struct session_keys_parse_state state = {
		.keys = keys,
		.session_id = session_id,
		.status = NT_STATUS_NOT_FOUND,
	};
	uint8_t key_buf[SESSION_GLOBAL_KEY_SIZE];
	TDB_DATA key;
	NTSTATUS status;

	*_key = NULL;

	/* smbd's SMB2 SessionIds are the 32-bit global id */
	if (session_id == 0 || session_id > UINT32_MAX) {
		TALLOC_FREE(frame);
		return NT_STATUS_NOT_FOUND;
	}

	backend = db_open(frame,
			  keys->db_path,
			  0,
			  TDB_DEFAULT | TDB_INCOMPATIBLE_HASH | TDB_NOMMAP,
			  O_RDONLY,
			  0,
			  DBWRAP_LOCK_ORDER_1,
			  DBWRAP_FLAG_NONE);
	if (backend == NULL) {
		DBG_WARNING("cannot open %s: %s\n",
			    keys->db_path, strerror(errno));
		TALLOC_FREE(frame);
		return NT_STATUS_NOT_FOUND;
	}
	/*
	 * smbd keeps the records in the dbwrap_watch format. Parsing needs
	 * no messaging context (only watching does, which we never do).
	 */
	db = db_open_watched(frame, &backend, NULL);
	if (db == NULL) {
		TALLOC_FREE(frame);
		return NT_STATUS_NO_MEMORY;
	}

	RSIVAL(key_buf, 0, (uint32_t)session_id);
	key = make_tdb_data(key_buf, sizeof(key_buf));

	status = dbwrap_parse_record(db, key, session_keys_parser, &state);
	TALLOC_FREE(frame);
	if (!NT_STATUS_IS_OK(status)) {
		DBG_INFO("session 0x%" PRIx64 ": no record: %s\n",
			 session_id, nt_errstr(status));
		return NT_STATUS_NOT_FOUND;
	}
	if (!NT_STATUS_IS_OK(state.status)) {
		return state.status;
	}
	*_key = state.key;
	return NT_STATUS_OK;
}

static struct session_key_entry *session_keys_find(
	struct smbdirectd_session_keys *keys,
	uint64_t session_id)
{
	struct session_key_entry *e = NULL;

	for (e = keys->entries; e != NULL; e = e->next) {
		if (e->session_id == session_id) {
			return e;
		}
	}
	return NULL;
}

NTSTATUS smbdirectd_session_keys_lookup(struct smbdirectd_session_keys *keys,
					uint64_t session_id,
					bool refresh,
					struct smb2_signing_key **key)
{
	struct session_key_entry *e = session_keys_find(keys, session_id);
	struct smb2_signing_key *fresh = NULL;
	NTSTATUS status;

	*key = NULL;
	if (e != NULL && !refresh) {
		*key = e->key;
		return NT_STATUS_OK;
	}
	if (e != NULL) {
		DLIST_REMOVE(keys->entries, e);
		keys->num_entries -= 1;
		TALLOC_FREE(e);
	}

	status = session_keys_read(keys, session_id, &fresh);
	if (!NT_STATUS_IS_OK(status)) {
		return status;
	}

	if (keys->num_entries >= SESSION_KEYS_MAX) {
		struct session_key_entry *last = DLIST_TAIL(keys->entries);

		DLIST_REMOVE(keys->entries, last);
		keys->num_entries -= 1;
		TALLOC_FREE(last);
	}
	e = talloc_zero(keys, struct session_key_entry);
	if (e == NULL) {
		TALLOC_FREE(fresh);
		return NT_STATUS_NO_MEMORY;
	}
	e->session_id = session_id;
	e->key = talloc_move(e, &fresh);
	DLIST_ADD(keys->entries, e);
	keys->num_entries += 1;
	*key = e->key;
	return NT_STATUS_OK;
}
