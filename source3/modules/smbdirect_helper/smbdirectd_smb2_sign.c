/*
 * smbdirectd: checking and making the signatures of the SMB2 messages
 * it rewrites (see smbdirectd_smb2_sign.h)
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include "includes.h"
#include "libcli/smb/smb2_constants.h"
#include "libcli/smb/smb2_signing.h"
#include "smbdirectd_smb2.h"
#include "smbdirectd_smb2_sign.h"

#define SIGN_STATUS_PENDING 0x00000103

static bool sign_split(const uint8_t *pdu,
		       size_t len,
		       struct smbdirectd_smb2_elem *elems,
		       size_t *num_elems,
		       struct smbdirect_err *err)
{
	if (!smbdirectd_smb2_split(pdu, len, elems, num_elems)) {
		smbdirect_err_set(err, EPROTO,
				  "a signed PDU that is not a well-formed "
				  "SMB2 compound chain");
		return false;
	}
	return true;
}

/*
 * The session of element i: its own SessionId, or for a related element
 * the one of the element before (smbd does the same).
 */
static int sign_session_id(const uint8_t *hdr,
			   size_t i,
			   uint64_t *session_id,
			   struct smbdirect_err *err)
{
	uint32_t flags = PULL_LE_U32(hdr, SMB2_HDR_FLAGS);
	uint64_t own = PULL_LE_U64(hdr, SMB2_HDR_SESSION_ID);

	/* smb2_signing_check_pdu() accepts anything with SessionId 0 */
	if (own == 0) {
		return smbdirect_err_set(err, EPROTO,
					 "signed element with SessionId 0");
	}
	if (i > 0 && (flags & SMB2_HDR_FLAG_CHAINED)) {
		if (*session_id == 0) {
			return smbdirect_err_set(err, EPROTO,
						 "related element with no "
						 "session before it");
		}
		return 0;
	}
	*session_id = own;
	return 0;
}

static int sign_no_key(struct smbdirect_err *err, uint64_t session_id)
{
	return smbdirect_err_set(err, ENOKEY,
				 "no signing key for session 0x%" PRIx64
				 " on this channel",
				 session_id);
}

static bool sign_check_elem(struct smb2_signing_key *key,
			    const uint8_t *elem,
			    size_t elem_len)
{
	struct iovec iov[2] = {
		{ .iov_base = discard_const_p(uint8_t, elem),
		  .iov_len = SMB2_HDR_BODY },
		{ .iov_base = discard_const_p(uint8_t, elem + SMB2_HDR_BODY),
		  .iov_len = elem_len - SMB2_HDR_BODY },
	};
	NTSTATUS status;

	status = smb2_signing_check_pdu(key, iov, ARRAY_SIZE(iov));
	return NT_STATUS_IS_OK(status);
}

bool smbdirectd_smb2_any_signed(const uint8_t *pdu, size_t len)
{
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	size_t num_elems = 0;
	size_t i;

	if (!smbdirectd_smb2_split(pdu, len, elems, &num_elems)) {
		return false;
	}
	for (i = 0; i < num_elems; i++) {
		const uint8_t *hdr = pdu + elems[i].ofs;

		if (PULL_LE_U32(hdr, SMB2_HDR_FLAGS) & SMB2_HDR_FLAG_SIGNED) {
			return true;
		}
	}
	return false;
}

/*
 * One signed element of a chain: check or make its signature. hdr is the
 * element, session_id the session it belongs to.
 */
typedef int (*sign_elem_fn)(uint8_t *hdr,
			    size_t elem_len,
			    bool last,
			    uint64_t session_id,
			    void *state,
			    struct smbdirect_err *err);

/*
 * Walk a compound chain as smbd does, giving every signed element with
 * its session to fn. *message_id names the element that failed (0 when
 * all went well).
 */
static int sign_walk(uint8_t *pdu,
		     size_t len,
		     sign_elem_fn fn,
		     void *state,
		     uint64_t *message_id,
		     struct smbdirect_err *err)
{
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	size_t num_elems = 0;
	uint64_t session_id = 0;
	size_t i;

	*message_id = 0;
	if (!sign_split(pdu, len, elems, &num_elems, err)) {
		return err != NULL ? err->code : EPROTO;
	}

	for (i = 0; i < num_elems; i++) {
		uint8_t *hdr = pdu + elems[i].ofs;
		uint32_t flags = PULL_LE_U32(hdr, SMB2_HDR_FLAGS);
		int ret;

		*message_id = PULL_LE_U64(hdr, SMB2_HDR_MESSAGE_ID);
		if (!(flags & SMB2_HDR_FLAG_SIGNED)) {
			/* an unsigned related element still inherits */
			if (i == 0 || !(flags & SMB2_HDR_FLAG_CHAINED)) {
				session_id = PULL_LE_U64(hdr,
							 SMB2_HDR_SESSION_ID);
			}
			continue;
		}
		ret = sign_session_id(hdr, i, &session_id, err);
		if (ret != 0) {
			return ret;
		}
		ret = fn(hdr,
			 elems[i].len,
			 i + 1 == num_elems,
			 session_id,
			 state,
			 err);
		if (ret != 0) {
			return ret;
		}
	}
	*message_id = 0;
	return 0;
}

struct sign_keys {
	smbdirectd_smb2_key_fn key_fn;
	void *private_data;
	const uint8_t *tail; /* signing only */
	size_t tail_len;
};

static int verify_elem(uint8_t *hdr,
		       size_t elem_len,
		       bool last,
		       uint64_t session_id,
		       void *state,
		       struct smbdirect_err *err)
{
	struct sign_keys *keys = state;
	struct smb2_signing_key *key = NULL;

	key = keys->key_fn(session_id, false, keys->private_data);
	if (key == NULL) {
		return sign_no_key(err, session_id);
	}
	if (sign_check_elem(key, hdr, elem_len)) {
		return 0;
	}
	/* The key may have changed (or been read half-written). */
	key = keys->key_fn(session_id, true, keys->private_data);
	if (key != NULL && sign_check_elem(key, hdr, elem_len)) {
		return 0;
	}
	return smbdirect_err_set(err, EACCES,
				 "the signature does not verify with "
				 "the channel's signing key of session "
				 "0x%" PRIx64,
				 session_id);
}

int smbdirectd_smb2_verify(const uint8_t *pdu,
			   size_t len,
			   smbdirectd_smb2_key_fn key_fn,
			   void *private_data,
			   uint64_t *message_id,
			   struct smbdirect_err *err)
{
	struct sign_keys keys = {
		.key_fn = key_fn, .private_data = private_data,
	};

	/* verify_elem only reads */
	return sign_walk(discard_const_p(uint8_t, pdu),
			 len,
			 verify_elem,
			 &keys,
			 message_id,
			 err);
}

/* What smb2_signing_sign_pdu() would panic on rather than sign. */
static bool sign_allowed(const uint8_t *hdr)
{
	uint64_t mid = PULL_LE_U64(hdr, SMB2_HDR_MESSAGE_ID);
	uint32_t flags = PULL_LE_U32(hdr, SMB2_HDR_FLAGS);
	uint16_t opcode = PULL_LE_U16(hdr, SMB2_HDR_OPCODE);

	if (mid == 0 || mid == UINT64_MAX || opcode == SMB2_OP_CANCEL) {
		return false;
	}
	if ((flags & SMB2_HDR_FLAG_REDIRECT) &&
	    PULL_LE_U32(hdr, SMB2_HDR_STATUS) == SIGN_STATUS_PENDING) {
		return false;
	}
	return true;
}

static int sign_elem(uint8_t *hdr,
		     size_t elem_len,
		     bool last,
		     uint64_t session_id,
		     void *state,
		     struct smbdirect_err *err)
{
	struct sign_keys *keys = state;
	struct smb2_signing_key *key = NULL;
	struct iovec iov[3];
	int count = 2;
	NTSTATUS status;

	if (!sign_allowed(hdr)) {
		return smbdirect_err_set(err, EPROTO,
					 "element that SMB2 signing "
					 "does not cover (MessageId, "
					 "CANCEL or interim response)");
	}
	key = keys->key_fn(session_id, false, keys->private_data);
	if (key == NULL) {
		return sign_no_key(err, session_id);
	}
	iov[0] = (struct iovec) {
		.iov_base = hdr, .iov_len = SMB2_HDR_BODY,
	};
	iov[1] = (struct iovec) {
		.iov_base = hdr + SMB2_HDR_BODY,
		.iov_len = elem_len - SMB2_HDR_BODY,
	};
	if (last && keys->tail_len != 0) {
		iov[2] = (struct iovec) {
			.iov_base = discard_const_p(uint8_t, keys->tail),
			.iov_len = keys->tail_len,
		};
		count = 3;
	}
	status = smb2_signing_sign_pdu(key, iov, count);
	if (!NT_STATUS_IS_OK(status)) {
		return smbdirect_err_set(err, EIO,
					 "signing for session "
					 "0x%" PRIx64 " failed: %s",
					 session_id, nt_errstr(status));
	}
	return 0;
}

int smbdirectd_smb2_sign(uint8_t *pdu,
			 size_t len,
			 const uint8_t *tail,
			 size_t tail_len,
			 smbdirectd_smb2_key_fn key_fn,
			 void *private_data,
			 uint64_t *message_id,
			 struct smbdirect_err *err)
{
	struct sign_keys keys = {
		.key_fn = key_fn,
		.private_data = private_data,
		.tail = tail,
		.tail_len = tail_len,
	};

	return sign_walk(pdu, len, sign_elem, &keys, message_id, err);
}
