/*
 * smbdirectd: what the relay needs to know of the SMB2 PDUs it carries:
 * compound chains, READ/WRITE requests with RDMA channels and their
 * buffer descriptors, READ responses (the rewriting is in
 * smbdirectd_smb2_rewrite.c)
 *
 * Every byte handled here comes from a peer: the client's requests or
 * smbd's responses (smbd is trusted more, but a confused smbd must not
 * make us read outside a buffer either). All offsets and lengths are
 * checked against the element they live in before they are used, and
 * sums of wire values are done in 64 bits.
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

static const char *rw_name(uint16_t command)
{
	return (command == SMB2_OP_READ) ? "READ" : "WRITE";
}

bool smbdirectd_smb2_split(const uint8_t *pdu,
			   size_t len,
			   struct smbdirectd_smb2_elem *elems,
			   size_t *num_elems)
{
	size_t ofs = 0;
	size_t count = 0;

	if (pdu == NULL || elems == NULL || num_elems == NULL) {
		return false;
	}
	*num_elems = 0;

	while (true) {
		const uint8_t *hdr = NULL;
		size_t avail;
		uint32_t next;

		/* ofs <= len holds: next <= avail below */
		avail = len - ofs;
		if (avail < SMB2_HDR_BODY) {
			return false;
		}
		hdr = pdu + ofs;

		/*
		 * Transform (0xFD) and compression (0xFC) headers fail
		 * here too: their content is opaque to us.
		 */
		if (PULL_LE_U32(hdr, SMB2_HDR_PROTOCOL_ID) != SMB2_MAGIC) {
			return false;
		}
		if (count == SMBDIRECTD_SMB2_MAX_CHAIN) {
			return false;
		}

		next = PULL_LE_U32(hdr, SMB2_HDR_NEXT_COMMAND);
		if (next == 0) {
			elems[count].ofs = ofs;
			elems[count].len = avail;
			count += 1;
			break;
		}

		/*
		 * next == avail would leave an empty element behind;
		 * the avail check of the next round rejects it.
		 */
		if (next < SMB2_HDR_BODY || next > avail ||
		    (next % SMB2_CHAIN_ALIGN) != 0)
		{
			return false;
		}
		elems[count].ofs = ofs;
		elems[count].len = next;
		count += 1;
		ofs += next;
	}

	*num_elems = count;
	return true;
}

/*
 * The Channel of a READ or WRITE request element; false for other
 * commands, for elements too short to carry the field (smbd rejects
 * those) and for SMB2_CHANNEL_NONE.
 */
static bool rw_channel(const uint8_t *hdr,
		       size_t elen,
		       uint16_t *command,
		       uint32_t *channel)
{
	uint16_t cmd;
	size_t chan_ofs;
	uint32_t chan;

	cmd = PULL_LE_U16(hdr, SMB2_HDR_OPCODE);
	switch (cmd) {
	case SMB2_OP_READ:
		chan_ofs = SMB2_HDR_BODY + RD_REQ_CHANNEL;
		break;
	case SMB2_OP_WRITE:
		chan_ofs = SMB2_HDR_BODY + WR_REQ_CHANNEL;
		break;
	default:
		return false;
	}
	if (elen < chan_ofs + 4) {
		return false;
	}
	chan = PULL_LE_U32(hdr, chan_ofs);
	if (chan == SMB2_CHANNEL_NONE) {
		return false;
	}
	*command = cmd;
	*channel = chan;
	return true;
}

bool smbdirectd_smb2_find_rdma_channel(const uint8_t *pdu,
				       size_t len,
				       struct smbdirectd_smb2_rdma_use *use)
{
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	size_t num_elems = 0;
	size_t i;
	bool ok;

	if (use == NULL) {
		return false;
	}
	ok = smbdirectd_smb2_split(pdu, len, elems, &num_elems);
	if (!ok) {
		return false;
	}

	for (i = 0; i < num_elems; i++) {
		const uint8_t *hdr = pdu + elems[i].ofs;
		uint16_t cmd = 0;
		uint32_t channel = 0;

		ok = rw_channel(hdr, elems[i].len, &cmd, &channel);
		if (!ok) {
			continue;
		}
		use->command = cmd;
		use->channel = channel;
		use->message_id = PULL_LE_U64(hdr, SMB2_HDR_MESSAGE_ID);
		use->index = i;
		return true;
	}
	return false;
}

/*
 * Validate one READ/WRITE element that asks for an RDMA channel and
 * fill *r. The descriptors are allocated on mem_ctx.
 */
static int rdma_req_parse(TALLOC_CTX *mem_ctx,
			  const uint8_t *hdr,
			  size_t elen,
			  size_t index,
			  uint16_t cmd,
			  uint32_t channel,
			  uint32_t max_read_write_size,
			  size_t max_descs,
			  struct smbdirectd_smb2_rdma_req *r,
			  struct smbdirect_err *err)
{
	const uint8_t *body = hdr + SMB2_HDR_BODY;
	const char *name = rw_name(cmd);
	struct smbdirect_buffer_desc_v1 *descs = NULL;
	struct smbdirect_err e;
	uint64_t mid;
	uint32_t length;
	uint16_t ci_ofs;
	uint16_t ci_len;
	size_t num_descs = 0;
	uint64_t total = 0;
	int ret;

	mid = PULL_LE_U64(hdr, SMB2_HDR_MESSAGE_ID);

	/*
	 * RDMA_TRANSFORM needs a negotiate context we never send back,
	 * so a client using it breaks the protocol as much as one using
	 * a value [MS-SMB2] does not define.
	 */
	if (channel != SMB2_CHANNEL_RDMA_V1 &&
	    channel != SMB2_CHANNEL_RDMA_V1_INVALIDATE)
	{
		return smbdirect_err_set(err, EPROTO,
					 "%s MessageId %" PRIu64 ": "
					 "unsupported Channel 0x%" PRIx32,
					 name, mid, channel);
	}

	if (elen < RW_REQ_FIXED_LEN) {
		return smbdirect_err_set(err, EPROTO,
					 "%s MessageId %" PRIu64 ": element "
					 "of %zu bytes too short for an RDMA "
					 "request (%d)",
					 name, mid, elen, RW_REQ_FIXED_LEN);
	}

	if (cmd == SMB2_OP_READ) {
		length = PULL_LE_U32(body, RD_REQ_LENGTH);
		ci_ofs = PULL_LE_U16(body, RD_REQ_CHANINFO_OFS);
		ci_len = PULL_LE_U16(body, RD_REQ_CHANINFO_LEN);
	} else {
		uint32_t inline_len = PULL_LE_U32(body, WR_REQ_LENGTH);

		/*
		 * [MS-SMB2] 3.3.5.13: with an RDMA channel the data comes
		 * only from the descriptors; inline bytes as well would
		 * leave us guessing which to write.
		 */
		if (inline_len != 0) {
			return smbdirect_err_set(err, EPROTO,
						 "WRITE MessageId %" PRIu64
						 ": Length %" PRIu32 " with "
						 "an RDMA channel (must be 0)",
						 mid, inline_len);
		}
		length = PULL_LE_U32(body, WR_REQ_REMAINING);
		ci_ofs = PULL_LE_U16(body, WR_REQ_CHANINFO_OFS);
		ci_len = PULL_LE_U16(body, WR_REQ_CHANINFO_LEN);
	}

	if (length == 0 || length > max_read_write_size) {
		return smbdirect_err_set(err, EPROTO,
					 "%s MessageId %" PRIu64 ": %s "
					 "%" PRIu32 " outside 1..%" PRIu32,
					 name, mid,
					 (cmd == SMB2_OP_READ) ?
					 "Length" : "RemainingBytes",
					 length, max_read_write_size);
	}

	if (ci_len == 0 || (ci_len % SMBDIRECT_BUFFER_DESC_V1_SIZE) != 0) {
		return smbdirect_err_set(err, EPROTO,
					 "%s MessageId %" PRIu64 ": channel "
					 "info length %" PRIu16 " not a "
					 "non-zero multiple of %d",
					 name, mid, ci_len,
					 SMBDIRECT_BUFFER_DESC_V1_SIZE);
	}

	/*
	 * The descriptors must lie in the variable part of the element:
	 * an offset into the header or the fixed body would make us read
	 * fields as descriptors (ksmbd rejects that too). Both values
	 * are 16 bits, the sum cannot wrap a size_t.
	 */
	if (ci_ofs < RW_REQ_FIXED_LEN ||
	    (size_t)ci_ofs + (size_t)ci_len > elen)
	{
		return smbdirect_err_set(err, EPROTO,
					 "%s MessageId %" PRIu64 ": channel "
					 "info [%" PRIu16 ", +%" PRIu16 ") "
					 "outside the element's buffer "
					 "[%d, %zu)",
					 name, mid, ci_ofs, ci_len,
					 RW_REQ_FIXED_LEN, elen);
	}

	if (ci_len / SMBDIRECT_BUFFER_DESC_V1_SIZE > max_descs) {
		return smbdirect_err_set(err, EPROTO,
					 "%s MessageId %" PRIu64 ": %d buffer "
					 "descriptors, at most %zu allowed",
					 name, mid,
					 ci_len / SMBDIRECT_BUFFER_DESC_V1_SIZE,
					 max_descs);
	}

	smbdirect_err_clear(&e);
	ret = smbdirect_buffer_descs_pull(mem_ctx, hdr + ci_ofs, ci_len,
					  &descs, &num_descs, &total, &e);
	if (ret != 0) {
		return smbdirect_err_set(err, ret, "%s MessageId %" PRIu64
					 ": %s", name, mid, e.reason);
	}

	/*
	 * At most 4095 descriptors of less than 4 GiB each: the 64-bit
	 * sum is exact. A total beyond 32 bits is still nonsense for an
	 * I/O whose size is a 32-bit field, and a peer sending it is
	 * probing for code that sums in 32 bits.
	 */
	if (total > UINT32_MAX) {
		TALLOC_FREE(descs);
		return smbdirect_err_set(err, EPROTO,
					 "%s MessageId %" PRIu64 ": buffer "
					 "descriptor lengths sum to %" PRIu64
					 ", overflowing 32 bits",
					 name, mid, total);
	}
	if (total < length) {
		TALLOC_FREE(descs);
		return smbdirect_err_set(err, EPROTO,
					 "%s MessageId %" PRIu64 ": buffer "
					 "descriptors hold %" PRIu64 " bytes, "
					 "less than the %" PRIu32 " to "
					 "transfer",
					 name, mid, total, length);
	}

	*r = (struct smbdirectd_smb2_rdma_req) {
		.index = index,
		.command = cmd,
		.channel = channel,
		.message_id = mid,
		.is_signed = (PULL_LE_U32(hdr, SMB2_HDR_FLAGS) &
			      SMB2_HDR_FLAG_SIGNED) != 0,
		.length = length,
		.offset = PULL_LE_U64(body, RW_REQ_OFFSET),
		.file_id_persistent = PULL_LE_U64(body, RW_REQ_FILE_ID),
		.file_id_volatile = PULL_LE_U64(body, RW_REQ_FILE_ID + 8),
		.descs = descs,
		.num_descs = num_descs,
		.descs_total = total,
	};
	return 0;
}

int smbdirectd_smb2_parse_rdma(TALLOC_CTX *mem_ctx,
			       const uint8_t *pdu,
			       size_t len,
			       uint32_t max_read_write_size,
			       size_t max_descs,
			       struct smbdirectd_smb2_rdma_req **reqs,
			       size_t *num_reqs,
			       struct smbdirect_err *err)
{
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	struct smbdirectd_smb2_rdma_req *out = NULL;
	size_t num_elems = 0;
	size_t count = 0;
	size_t i;
	bool ok;

	smbdirect_err_clear(err);
	if (reqs == NULL || num_reqs == NULL) {
		return smbdirect_err_set(err, EINVAL,
					 "parse_rdma: NULL argument");
	}
	*reqs = NULL;
	*num_reqs = 0;

	/* What we cannot split goes to smbd unchanged: it rejects it. */
	ok = smbdirectd_smb2_split(pdu, len, elems, &num_elems);
	if (!ok) {
		return 0;
	}

	for (i = 0; i < num_elems; i++) {
		const uint8_t *hdr = pdu + elems[i].ofs;
		uint16_t cmd = 0;
		uint32_t channel = 0;
		int ret;

		ok = rw_channel(hdr, elems[i].len, &cmd, &channel);
		if (!ok) {
			continue;
		}

		if (out == NULL) {
			out = talloc_zero_array(mem_ctx,
						struct smbdirectd_smb2_rdma_req,
						num_elems);
			if (out == NULL) {
				return smbdirect_err_set(err, ENOMEM,
							 "parse_rdma: out of "
							 "memory");
			}
		}

		/* descriptors hang off the array: one free drops all */
		ret = rdma_req_parse(out, hdr, elems[i].len, i, cmd, channel,
				     max_read_write_size, max_descs,
				     &out[count], err);
		if (ret != 0) {
			TALLOC_FREE(out);
			return ret;
		}
		out[count].only_element = (num_elems == 1);
		count += 1;
	}

	if (count == 0) {
		return 0;
	}
	*reqs = out;
	*num_reqs = count;
	return 0;
}

bool smbdirectd_smb2_any_write(const uint8_t *pdu,
			       size_t len,
			       bool (*fn)(const struct smbdirectd_smb2_write_key
						  *key,
					  void *private_data),
			       void *private_data)
{
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	size_t num_elems = 0;
	size_t i;

	if (!smbdirectd_smb2_split(pdu, len, elems, &num_elems)) {
		return false;
	}
	for (i = 0; i < num_elems; i++) {
		const uint8_t *hdr = pdu + elems[i].ofs;
		const uint8_t *body = hdr + SMB2_HDR_BODY;
		struct smbdirectd_smb2_write_key key;
		uint32_t length;

		if (PULL_LE_U16(hdr, SMB2_HDR_OPCODE) != SMB2_OP_WRITE ||
		    elems[i].len < RW_REQ_FIXED_LEN) {
			continue;
		}
		length = PULL_LE_U32(body, WR_REQ_LENGTH);
		if (PULL_LE_U32(body, WR_REQ_CHANNEL) != SMB2_CHANNEL_NONE) {
			length = PULL_LE_U32(body, WR_REQ_REMAINING);
		}
		key = (struct smbdirectd_smb2_write_key) {
			.file_id_persistent = PULL_LE_U64(body,
							  RW_REQ_FILE_ID),
			.file_id_volatile = PULL_LE_U64(body,
							RW_REQ_FILE_ID + 8),
			.offset = PULL_LE_U64(body, RW_REQ_OFFSET),
			.length = length,
		};
		if (fn(&key, private_data)) {
			return true;
		}
	}
	return false;
}

bool smbdirectd_smb2_find_read_rsp(const uint8_t *pdu,
				   size_t len,
				   uint64_t message_id,
				   struct smbdirectd_smb2_read_rsp *rsp,
				   struct smbdirect_err *err)
{
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	size_t num_elems = 0;
	size_t i;
	bool ok;

	smbdirect_err_clear(err);
	if (rsp == NULL) {
		smbdirect_err_set(err, EINVAL, "find_read_rsp: NULL argument");
		return false;
	}

	ok = smbdirectd_smb2_split(pdu, len, elems, &num_elems);
	if (!ok) {
		return false;
	}

	for (i = 0; i < num_elems; i++) {
		const uint8_t *hdr = pdu + elems[i].ofs;
		const uint8_t *body = hdr + SMB2_HDR_BODY;
		size_t elen = elems[i].len;
		uint32_t flags;
		uint8_t data_ofs;
		uint32_t data_len;

		if (PULL_LE_U64(hdr, SMB2_HDR_MESSAGE_ID) != message_id) {
			continue;
		}

		flags = PULL_LE_U32(hdr, SMB2_HDR_FLAGS);
		*rsp = (struct smbdirectd_smb2_read_rsp) {
			.index = i,
			.message_id = message_id,
			.status = PULL_LE_U32(hdr, SMB2_HDR_STATUS),
			.is_signed = (flags & SMB2_HDR_FLAG_SIGNED) != 0,
		};
		rsp->is_async_interim =
			(rsp->status == SMBDIRECTD_STATUS_PENDING) &&
			((flags & SMB2_HDR_FLAG_ASYNC) != 0);

		if (PULL_LE_U16(hdr, SMB2_HDR_OPCODE) != SMB2_OP_READ ||
		    rsp->status != SMBDIRECTD_STATUS_SUCCESS)
		{
			return true;
		}

		if (elen < RD_RSP_FIXED_LEN) {
			smbdirect_err_set(err, EPROTO,
					  "READ response MessageId %" PRIu64
					  ": element of %zu bytes shorter "
					  "than %d",
					  message_id, elen, RD_RSP_FIXED_LEN);
			return false;
		}

		data_ofs = PULL_LE_U8(body, RD_RSP_DATA_OFS);
		data_len = PULL_LE_U32(body, RD_RSP_DATA_LEN);
		if (data_len == 0) {
			return true;
		}

		/*
		 * The payload must lie behind the fixed body and inside
		 * this element; data_ofs is 8 bits, so the 64-bit sum is
		 * exact.
		 */
		if (data_ofs < RD_RSP_FIXED_LEN ||
		    (uint64_t)data_ofs + data_len > elen)
		{
			smbdirect_err_set(err, EPROTO,
					  "READ response MessageId %" PRIu64
					  ": data [%" PRIu8 ", +%" PRIu32
					  ") outside the element's buffer "
					  "[%d, %zu)",
					  message_id, data_ofs, data_len,
					  RD_RSP_FIXED_LEN, elen);
			return false;
		}
		rsp->data = hdr + data_ofs;
		rsp->data_len = data_len;
		return true;
	}
	return false;
}
