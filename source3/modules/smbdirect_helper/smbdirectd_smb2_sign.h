/*
 * smbdirectd: checking and making the signatures of the SMB2 messages
 * it rewrites (signed RDMA offload)
 *
 * A signed READ/WRITE with an RDMA channel is verified with the
 * channel's signing key, rewritten into the inline form smbd 4.17
 * understands and signed again for smbd; the READ response smbd signed
 * is rewritten into the RDMA form and signed again for the client. The
 * cryptography is Samba's own (libcli/smb/smb2_signing.c); this file
 * only walks the compound chain and cuts each element into the iovecs
 * smb2_signing_check_pdu()/smb2_signing_sign_pdu() expect.
 *
 * A compound chain: every element carries its own signature, over the
 * element up to its NextCommand (padding included), or to the end of
 * the PDU for the last. A related element (SMB2_HDR_FLAG_CHAINED) may
 * carry SessionId 0xFFFFFFFFFFFFFFFF: it belongs to the session of the
 * element before it.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_SMB2_SIGN_H_
#define _SMBDIRECTD_SMB2_SIGN_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "proto/smbdirect_pdu.h"

struct smb2_signing_key;

/*
 * The signing key of session_id on this connection, NULL when there is
 * none. With refresh, a cached key must not be used (read it again): a
 * signature did not verify with it.
 */
typedef struct smb2_signing_key *(*smbdirectd_smb2_key_fn)(
	uint64_t session_id,
	bool refresh,
	void *private_data);

/* Does any element of the PDU have SMB2_HDR_FLAG_SIGNED? */
bool smbdirectd_smb2_any_signed(const uint8_t *pdu, size_t len);

/*
 * Verify every signed element of a request PDU. Returns 0 when they all
 * verify (or none is signed). Errors, with *message_id the MessageId of
 * the element concerned and err->reason saying what:
 *   EACCES  the signature does not verify (also not with a key read
 *           again through refresh)
 *   ENOKEY  no key for the element's session
 *   EPROTO  the PDU cannot be split, or a signed element has SessionId
 *           0 or no session to inherit
 */
int smbdirectd_smb2_verify(const uint8_t *pdu,
			   size_t len,
			   smbdirectd_smb2_key_fn key_fn,
			   void *private_data,
			   uint64_t *message_id,
			   struct smbdirect_err *err);

/*
 * Sign again every element of pdu that has SMB2_HDR_FLAG_SIGNED (the
 * caller verified those it got from the client). tail/tail_len: bytes
 * that follow pdu on the wire as part of its last element (the payload
 * of a single WRITE sent from the pool), or NULL/0. Errors as above:
 * ENOKEY, EPROTO (also for an element Samba would refuse to sign:
 * MessageId 0 or all ones, an interim STATUS_PENDING response), EIO.
 */
int smbdirectd_smb2_sign(uint8_t *pdu,
			 size_t len,
			 const uint8_t *tail,
			 size_t tail_len,
			 smbdirectd_smb2_key_fn key_fn,
			 void *private_data,
			 uint64_t *message_id,
			 struct smbdirect_err *err);

#endif
