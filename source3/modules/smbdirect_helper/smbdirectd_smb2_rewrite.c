/*
 * smbdirectd: the rewriting of READ/WRITE with RDMA channels (offload):
 * the inline requests smbd gets and the READ response the client gets,
 * chains rebuilt element by element
 *
 * The PDUs were parsed and checked by smbdirectd_smb2.c first; every
 * size is still checked again here before it is written.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

/*
 * Only system headers and the self-contained byteorder macros, so that
 * the unit tests and the fuzzers compile this file without a configured
 * Samba tree; the daemon build force-includes config.h anyway.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "lib/util/byteorder.h"
#include "smbdirectd_smb2.h"
#include "smbdirectd_smb2_wire.h"

static uint64_t align8(uint64_t v)
{
	return (v + (SMB2_CHAIN_ALIGN - 1)) & ~(uint64_t)(SMB2_CHAIN_ALIGN - 1);
}

/*
 * Bytes an element takes in a rebuilt chain: its content, padded to 8
 * unless it is the last one.
 */
static uint64_t chain_slot(uint64_t content, bool last)
{
	if (last) {
		return content;
	}
	return align8(content);
}

/*
 * Zero the padding behind an element's content and link it to the
 * next one. Returns the slot size.
 */
static size_t chain_link(uint8_t *out,
			 size_t pos,
			 size_t content,
			 bool last)
{
	size_t slot = (size_t)chain_slot(content, last);

	memset(out + pos + content, 0, slot - content);
	PUSH_LE_U32(out + pos, SMB2_HDR_NEXT_COMMAND, last ? 0 : slot);
	return slot;
}

uint8_t *smbdirectd_smb2_inline_request(
	TALLOC_CTX *mem_ctx,
	const uint8_t *pdu,
	size_t len,
	const struct smbdirectd_smb2_rdma_req *reqs,
	size_t num_reqs,
	const struct smbdirectd_smb2_write_data *writes,
	size_t *new_len,
	struct smbdirect_err *err)
{
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	const struct smbdirectd_smb2_rdma_req *req_of[
		SMBDIRECTD_SMB2_MAX_CHAIN] = { NULL };
	const struct smbdirectd_smb2_write_data *data_of[
		SMBDIRECTD_SMB2_MAX_CHAIN] = { NULL };
	size_t content[SMBDIRECTD_SMB2_MAX_CHAIN];
	uint8_t *out = NULL;
	size_t num_elems = 0;
	uint64_t total = 0;
	size_t pos = 0;
	size_t i;
	bool ok;

	smbdirect_err_clear(err);
	if (new_len == NULL || (num_reqs > 0 && reqs == NULL)) {
		smbdirect_err_set(err, EINVAL, "inline_request: NULL argument");
		return NULL;
	}
	*new_len = 0;

	ok = smbdirectd_smb2_split(pdu, len, elems, &num_elems);
	if (!ok) {
		smbdirect_err_set(err, EPROTO,
				  "inline_request: not a plain SMB2 compound "
				  "chain");
		return NULL;
	}

	/*
	 * reqs came from smbdirectd_smb2_parse_rdma() on this PDU; check
	 * that they still describe it, as a mismatch would write a
	 * payload over the wrong request.
	 */
	for (i = 0; i < num_reqs; i++) {
		const struct smbdirectd_smb2_rdma_req *r = &reqs[i];
		const uint8_t *hdr = NULL;
		uint16_t cmd;

		if (r->index >= num_elems ||
		    (i > 0 && r->index <= reqs[i - 1].index))
		{
			smbdirect_err_set(err, EINVAL,
					  "inline_request: request %zu has "
					  "element index %zu, not in chain "
					  "order below %zu",
					  i, r->index, num_elems);
			return NULL;
		}
		hdr = pdu + elems[r->index].ofs;
		cmd = PULL_LE_U16(hdr, SMB2_HDR_OPCODE);
		if (cmd != r->command ||
		    (cmd != SMB2_OP_READ && cmd != SMB2_OP_WRITE) ||
		    PULL_LE_U64(hdr, SMB2_HDR_MESSAGE_ID) != r->message_id ||
		    elems[r->index].len < RW_REQ_FIXED_LEN)
		{
			smbdirect_err_set(err, EINVAL,
					  "inline_request: request %zu does "
					  "not match element %zu of the PDU",
					  i, r->index);
			return NULL;
		}
		if (cmd == SMB2_OP_WRITE &&
		    (writes == NULL || writes[i].data == NULL ||
		     writes[i].len != r->length))
		{
			smbdirect_err_set(err, EINVAL,
					  "inline_request: WRITE MessageId "
					  "%" PRIu64 " needs %" PRIu32 " "
					  "bytes of payload, got %zu",
					  r->message_id, r->length,
					  (writes == NULL) ? 0 : writes[i].len);
			return NULL;
		}
		req_of[r->index] = r;
		if (cmd == SMB2_OP_WRITE) {
			data_of[r->index] = &writes[i];
		}
	}

	for (i = 0; i < num_elems; i++) {
		bool last = (i + 1 == num_elems);
		uint64_t c = elems[i].len;

		if (data_of[i] != NULL) {
			c = (uint64_t)RW_REQ_FIXED_LEN + data_of[i]->len;
		}
		/* each step adds at most 4 GiB: 64 bits cannot wrap */
		total += chain_slot(c, last);
		if (total > SMBDIRECTD_SMB2_MAX_PDU_LEN) {
			smbdirect_err_set(err, EMSGSIZE,
					  "inline_request: rewritten PDU "
					  "exceeds %d bytes",
					  SMBDIRECTD_SMB2_MAX_PDU_LEN);
			return NULL;
		}
		content[i] = (size_t)c;
	}

	out = talloc_size(mem_ctx, (size_t)total);
	if (out == NULL) {
		smbdirect_err_set(err, ENOMEM,
				  "inline_request: out of memory for %" PRIu64
				  " bytes", total);
		return NULL;
	}

	for (i = 0; i < num_elems; i++) {
		const uint8_t *hdr = pdu + elems[i].ofs;
		const struct smbdirectd_smb2_rdma_req *r = req_of[i];
		uint8_t *ohdr = out + pos;
		uint8_t *obody = ohdr + SMB2_HDR_BODY;
		bool last = (i + 1 == num_elems);

		if (data_of[i] != NULL) {
			const struct smbdirectd_smb2_write_data *w =
				data_of[i];

			/*
			 * smbd 4.17 only accepts DataOffset == 64 + the
			 * fixed body, with the data right behind it.
			 */
			memcpy(ohdr, hdr, RW_REQ_FIXED_LEN);
			memcpy(ohdr + RW_REQ_FIXED_LEN, w->data, w->len);
			PUSH_LE_U16(obody, WR_REQ_DATA_OFS, RW_REQ_FIXED_LEN);
			PUSH_LE_U32(obody, WR_REQ_LENGTH, w->len);
			PUSH_LE_U32(obody, WR_REQ_CHANNEL, SMB2_CHANNEL_NONE);
			PUSH_LE_U32(obody, WR_REQ_REMAINING, 0);
			PUSH_LE_U16(obody, WR_REQ_CHANINFO_OFS, 0);
			PUSH_LE_U16(obody, WR_REQ_CHANINFO_LEN, 0);
		} else {
			memcpy(ohdr, hdr, content[i]);
		}

		if (r != NULL && r->command == SMB2_OP_READ) {
			/*
			 * smbd ignores these, but a READ it answers
			 * inline must not claim an RDMA channel. The
			 * descriptors stay as opaque Buffer bytes: the
			 * element keeps its length, and smbd needs at
			 * least one Buffer byte for StructureSize 49.
			 */
			PUSH_LE_U32(obody, RD_REQ_CHANNEL, SMB2_CHANNEL_NONE);
			PUSH_LE_U32(obody, RD_REQ_REMAINING, 0);
			PUSH_LE_U16(obody, RD_REQ_CHANINFO_OFS, 0);
			PUSH_LE_U16(obody, RD_REQ_CHANINFO_LEN, 0);
		}

		pos += chain_link(out, pos, content[i], last);
	}

	*new_len = pos;
	return out;
}

uint8_t *smbdirectd_smb2_inline_write_head(
	TALLOC_CTX *mem_ctx,
	const uint8_t *pdu,
	size_t len,
	const struct smbdirectd_smb2_rdma_req *req,
	size_t *head_len,
	struct smbdirect_err *err)
{
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	size_t num_elems = 0;
	uint8_t *out = NULL;
	uint8_t *obody = NULL;

	smbdirect_err_clear(err);
	if (req == NULL || head_len == NULL) {
		smbdirect_err_set(err, EINVAL,
				  "inline_write_head: NULL argument");
		return NULL;
	}
	if (!smbdirectd_smb2_split(pdu, len, elems, &num_elems) ||
	    num_elems != 1 || req->index != 0 ||
	    req->command != SMB2_OP_WRITE || len < RW_REQ_FIXED_LEN ||
	    PULL_LE_U16(pdu, SMB2_HDR_OPCODE) != SMB2_OP_WRITE ||
	    PULL_LE_U64(pdu, SMB2_HDR_MESSAGE_ID) != req->message_id)
	{
		smbdirect_err_set(err, EINVAL,
				  "inline_write_head: the PDU is not the "
				  "single WRITE MessageId %" PRIu64,
				  req->message_id);
		return NULL;
	}

	out = talloc_memdup(mem_ctx, pdu, RW_REQ_FIXED_LEN);
	if (out == NULL) {
		smbdirect_err_set(err, ENOMEM,
				  "inline_write_head: out of memory");
		return NULL;
	}
	obody = out + SMB2_HDR_BODY;
	PUSH_LE_U32(out, SMB2_HDR_NEXT_COMMAND, 0);
	PUSH_LE_U16(obody, WR_REQ_DATA_OFS, RW_REQ_FIXED_LEN);
	PUSH_LE_U32(obody, WR_REQ_LENGTH, req->length);
	PUSH_LE_U32(obody, WR_REQ_CHANNEL, SMB2_CHANNEL_NONE);
	PUSH_LE_U32(obody, WR_REQ_REMAINING, 0);
	PUSH_LE_U16(obody, WR_REQ_CHANINFO_OFS, 0);
	PUSH_LE_U16(obody, WR_REQ_CHANINFO_LEN, 0);
	*head_len = RW_REQ_FIXED_LEN;
	return out;
}

uint8_t *smbdirectd_smb2_rdma_read_response(
	TALLOC_CTX *mem_ctx,
	const uint8_t *pdu,
	size_t len,
	const struct smbdirectd_smb2_read_rsp *rsp,
	uint32_t rdma_len,
	size_t *new_len,
	struct smbdirect_err *err)
{
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	const uint8_t *hdr = NULL;
	uint8_t *out = NULL;
	size_t num_elems = 0;
	uint64_t total = 0;
	size_t pos = 0;
	size_t i;
	bool ok;

	smbdirect_err_clear(err);
	if (rsp == NULL || new_len == NULL) {
		smbdirect_err_set(err, EINVAL,
				  "rdma_read_response: NULL argument");
		return NULL;
	}
	*new_len = 0;

	ok = smbdirectd_smb2_split(pdu, len, elems, &num_elems);
	if (!ok) {
		smbdirect_err_set(err, EPROTO,
				  "rdma_read_response: not a plain SMB2 "
				  "compound chain");
		return NULL;
	}

	if (rsp->index >= num_elems) {
		smbdirect_err_set(err, EINVAL,
				  "rdma_read_response: element %zu of %zu",
				  rsp->index, num_elems);
		return NULL;
	}
	hdr = pdu + elems[rsp->index].ofs;
	if (PULL_LE_U16(hdr, SMB2_HDR_OPCODE) != SMB2_OP_READ ||
	    PULL_LE_U64(hdr, SMB2_HDR_MESSAGE_ID) != rsp->message_id)
	{
		smbdirect_err_set(err, EINVAL,
				  "rdma_read_response: element %zu is not "
				  "the READ response MessageId %" PRIu64,
				  rsp->index, rsp->message_id);
		return NULL;
	}

	for (i = 0; i < num_elems; i++) {
		bool last = (i + 1 == num_elems);
		uint64_t c = elems[i].len;

		if (i == rsp->index) {
			c = RD_RSP_FIXED_LEN;
		}
		total += chain_slot(c, last);
	}
	if (total > SMBDIRECTD_SMB2_MAX_PDU_LEN) {
		smbdirect_err_set(err, EMSGSIZE,
				  "rdma_read_response: PDU exceeds %d bytes",
				  SMBDIRECTD_SMB2_MAX_PDU_LEN);
		return NULL;
	}

	out = talloc_size(mem_ctx, (size_t)total);
	if (out == NULL) {
		smbdirect_err_set(err, ENOMEM,
				  "rdma_read_response: out of memory");
		return NULL;
	}

	for (i = 0; i < num_elems; i++) {
		const uint8_t *ihdr = pdu + elems[i].ofs;
		uint8_t *ohdr = out + pos;
		uint8_t *obody = ohdr + SMB2_HDR_BODY;
		bool last = (i + 1 == num_elems);
		size_t c = elems[i].len;

		if (i != rsp->index) {
			memcpy(ohdr, ihdr, c);
			pos += chain_link(out, pos, c, last);
			continue;
		}

		/*
		 * The data already sits in the client's buffers: the
		 * client learns how much from DataRemaining, as Windows
		 * and ksmbd report it, and no Buffer byte follows.
		 */
		c = RD_RSP_FIXED_LEN;
		memcpy(ohdr, ihdr, SMB2_HDR_BODY);
		memset(obody, 0, RD_RSP_BODY_LEN);
		PUSH_LE_U16(obody, RD_RSP_STRUCT_SIZE,
			    RD_RSP_STRUCT_SIZE_VALUE);
		PUSH_LE_U8(obody, RD_RSP_DATA_OFS, RD_RSP_FIXED_LEN);
		PUSH_LE_U8(obody, RD_RSP_RESERVED, 0);
		PUSH_LE_U32(obody, RD_RSP_DATA_LEN, 0);
		PUSH_LE_U32(obody, RD_RSP_DATA_REMAINING, rdma_len);
		PUSH_LE_U32(obody, RD_RSP_FLAGS, 0);
		pos += chain_link(out, pos, c, last);
	}

	*new_len = pos;
	return out;
}
