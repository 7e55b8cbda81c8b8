/*
 * smbdirectd: what the relay needs to know of the SMB2 PDUs it carries,
 * and the rewriting of READ/WRITE with RDMA channels (offload)
 *
 * smbd 4.17 ignores the Channel fields of READ and WRITE. smbdirectd
 * therefore turns an RDMA-channel request into an inline one before smbd
 * sees it, and an inline READ response back into the RDMA form after the
 * data went to the client by RDMA WRITE. Everything here is pure byte
 * work on PDUs (no verbs), so it is unit-tested and fuzzed on its own.
 *
 * PDUs are SMB2 messages without the 4-byte stream header. A PDU may be a
 * compound chain: elements linked by NextCommand, each but the last
 * padded to 8 bytes.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_SMB2_H_
#define _SMBDIRECTD_SMB2_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <talloc.h>
#include "libcli/smb/smb2_constants.h"
#include "proto/smbdirect_pdu.h"

/* [MS-SMB2] 2.2.19 / 2.2.21 Channel values (Samba 4.17 has none) */
#define SMB2_CHANNEL_NONE 0
#define SMB2_CHANNEL_RDMA_V1 1
#define SMB2_CHANNEL_RDMA_V1_INVALIDATE 2
#define SMB2_CHANNEL_RDMA_TRANSFORM 3

/* More compound elements than this in one PDU: left alone (smbd decides). */
#define SMBDIRECTD_SMB2_MAX_CHAIN 64

/* One element of a compound chain: [ofs, ofs + len) of the PDU. */
struct smbdirectd_smb2_elem {
	size_t ofs;
	size_t len; /* NextCommand, or the rest of the PDU for the last */
};

/*
 * Split a plain SMB2 PDU (0xFE 'SMB') into its compound elements.
 * Returns false for anything else: a transform (0xFD) or compression
 * (0xFC) header, fewer than 64 bytes in an element, a NextCommand that is
 * not a multiple of 8 or points outside the PDU, more than
 * SMBDIRECTD_SMB2_MAX_CHAIN elements. Reads nothing outside the PDU.
 */
bool smbdirectd_smb2_split(const uint8_t *pdu,
			   size_t len,
			   struct smbdirectd_smb2_elem *elems,
			   size_t *num_elems);

struct smbdirectd_smb2_rdma_use {
	uint16_t command; /* SMB2_OP_READ or SMB2_OP_WRITE */
	uint32_t channel;
	uint64_t message_id;
	size_t index; /* position in the compound chain, from 0 */
};

/*
 * Report the first READ or WRITE request in the chain whose Channel is
 * not SMB2_CHANNEL_NONE. False when there is none or the PDU cannot be
 * split (then smbd sees it unchanged and rejects what is malformed).
 */
bool smbdirectd_smb2_find_rdma_channel(const uint8_t *pdu,
				       size_t len,
				       struct smbdirectd_smb2_rdma_use *use);

/* A READ or WRITE request that asks for an RDMA channel, validated. */
struct smbdirectd_smb2_rdma_req {
	size_t index;	     /* element in the chain */
	uint16_t command;    /* SMB2_OP_READ or SMB2_OP_WRITE */
	uint32_t channel;    /* RDMA_V1 or RDMA_V1_INVALIDATE */
	uint64_t message_id;
	bool is_signed;	     /* SMB2_HDR_FLAG_SIGNED set */
	uint32_t length;     /* READ: Length; WRITE: RemainingBytes */
	uint64_t offset;     /* in the file */
	uint64_t file_id_persistent;
	uint64_t file_id_volatile;
	bool only_element;   /* the PDU is this request alone */
	struct smbdirect_buffer_desc_v1 *descs;
	size_t num_descs;
	uint64_t descs_total; /* sum of the descriptors' lengths */
};

/*
 * Find and validate every READ/WRITE with an RDMA channel in a request
 * PDU. Returns 0 with *num_reqs 0 when there is none (or the PDU cannot
 * be split: smbd sees it unchanged). Errors (the caller disconnects and
 * logs err->reason):
 *  - EPROTO: channel info offset/length outside the element; not a
 *    non-zero multiple of 16 bytes; more than max_descs descriptors; a
 *    descriptor of length 0; the sum overflows; the sum is smaller than
 *    Length (READ) or RemainingBytes (WRITE); a WRITE with RDMA channel
 *    whose Length is not 0; Length/RemainingBytes 0 or above
 *    max_read_write_size; an unknown channel (RDMA_TRANSFORM included,
 *    never negotiated).
 * *reqs is allocated on mem_ctx, in chain order.
 */
int smbdirectd_smb2_parse_rdma(TALLOC_CTX *mem_ctx,
			       const uint8_t *pdu,
			       size_t len,
			       uint32_t max_read_write_size,
			       size_t max_descs,
			       struct smbdirectd_smb2_rdma_req **reqs,
			       size_t *num_reqs,
			       struct smbdirect_err *err);

/*
 * The payload of each offloaded WRITE, in the order of reqs (only the
 * WRITE ones are used; READ entries have data NULL). len must equal the
 * request's length.
 */
struct smbdirectd_smb2_write_data {
	const uint8_t *data;
	size_t len;
};

/*
 * Build the request smbd gets: every READ in reqs with Channel,
 * RemainingBytes and ReadChannelInfoOffset/Length set to 0; every WRITE
 * turned into an inline WRITE (Channel, RemainingBytes and the channel
 * info 0, DataOffset 0x70, Length = the payload, the payload appended
 * after the 48-byte body, the descriptors dropped). Elements not in reqs
 * are copied unchanged; NextCommand values and the 8-byte padding of the
 * chain are recomputed. Returns the new PDU on mem_ctx, or NULL with err
 * set (EPROTO/ENOMEM; EMSGSIZE when the result exceeds 0xFFFFFF bytes).
 */
uint8_t *smbdirectd_smb2_inline_request(
	TALLOC_CTX *mem_ctx,
	const uint8_t *pdu,
	size_t len,
	const struct smbdirectd_smb2_rdma_req *reqs,
	size_t num_reqs,
	const struct smbdirectd_smb2_write_data *writes,
	size_t *new_len,
	struct smbdirect_err *err);

/*
 * For a PDU that is one offloaded WRITE alone (req->only_element): the
 * 112 bytes smbd gets in front of the payload, i.e. what
 * smbdirectd_smb2_inline_request() would build without appending the
 * payload, so that the payload can be sent from where it is. NULL with
 * err when req does not describe the PDU.
 */
uint8_t *smbdirectd_smb2_inline_write_head(
	TALLOC_CTX *mem_ctx,
	const uint8_t *pdu,
	size_t len,
	const struct smbdirectd_smb2_rdma_req *req,
	size_t *head_len,
	struct smbdirect_err *err);

/* The key of a WRITE element: which bytes of which open it writes. */
struct smbdirectd_smb2_write_key {
	uint64_t file_id_persistent;
	uint64_t file_id_volatile;
	uint64_t offset;
	uint32_t length; /* Length, or RemainingBytes with a channel */
};

/*
 * Call fn for every WRITE element of a request PDU (inline or not);
 * stops and returns true as soon as fn does. False when fn never did or
 * the PDU cannot be split.
 */
bool smbdirectd_smb2_any_write(const uint8_t *pdu,
			       size_t len,
			       bool (*fn)(const struct smbdirectd_smb2_write_key
						  *key,
					  void *private_data),
			       void *private_data);

/* What to do with one element of a response. */
struct smbdirectd_smb2_read_rsp {
	size_t index;	      /* element in the chain */
	uint64_t message_id;
	uint32_t status;      /* NTSTATUS of the element */
	bool is_async_interim; /* STATUS_PENDING with the async flag */
	bool is_signed;
	const uint8_t *data;  /* READ response payload inside the PDU */
	uint32_t data_len;
};

/*
 * Locate the element with message_id in a response PDU and, when it is
 * a successful READ response, its payload (DataOffset/DataLength checked
 * against the element). Returns false when no element has that
 * MessageId, or the PDU cannot be split. An EPROTO error (payload
 * outside the element) is reported through err with false.
 */
bool smbdirectd_smb2_find_read_rsp(const uint8_t *pdu,
				   size_t len,
				   uint64_t message_id,
				   struct smbdirectd_smb2_read_rsp *rsp,
				   struct smbdirect_err *err);

/*
 * Build the response the client gets for an offloaded READ whose data
 * went by RDMA WRITE: the element at rsp->index becomes a READ response
 * with DataOffset 0x50, DataLength 0, DataRemaining = rdma_len and no
 * payload (80 bytes, as Windows and ksmbd send it); the other elements
 * are copied, the chain re-linked and re-padded. NULL with err on error.
 */
uint8_t *smbdirectd_smb2_rdma_read_response(
	TALLOC_CTX *mem_ctx,
	const uint8_t *pdu,
	size_t len,
	const struct smbdirectd_smb2_read_rsp *rsp,
	uint32_t rdma_len,
	size_t *new_len,
	struct smbdirect_err *err);

#endif
