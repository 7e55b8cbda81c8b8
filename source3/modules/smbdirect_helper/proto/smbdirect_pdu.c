/*
 * SMB Direct ([MS-SMBD]) wire format: encode, decode and validate.
 *
 * Copyright (C) 2025 The vfs_smbdirect authors
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/util/byteorder.h"
#include "smbdirect_pdu.h"

int smbdirect_err_set(struct smbdirect_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL) {
		return code;
	}

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
	va_end(ap);
	return code;
}

void smbdirect_err_clear(struct smbdirect_err *err)
{
	if (err == NULL) {
		return;
	}
	err->code = 0;
	err->reason[0] = '\0';
}

int smbdirect_negotiate_req_pull(const uint8_t *buf,
				 size_t len,
				 struct smbdirect_negotiate_req *req,
				 struct smbdirect_err *err)
{
	if (buf == NULL || req == NULL) {
		return smbdirect_err_set(err, EINVAL,
					 "negotiate request: NULL argument");
	}
	if (len < SMBDIRECT_NEGOTIATE_REQ_SIZE) {
		return smbdirect_err_set(err, EPROTO,
					 "negotiate request: length %zu below "
					 "minimum %d",
					 len, SMBDIRECT_NEGOTIATE_REQ_SIZE);
	}

	req->min_version = PULL_LE_U16(buf, 0);
	req->max_version = PULL_LE_U16(buf, 2);
	req->reserved = PULL_LE_U16(buf, 4);
	req->credits_requested = PULL_LE_U16(buf, 6);
	req->preferred_send_size = PULL_LE_U32(buf, 8);
	req->max_receive_size = PULL_LE_U32(buf, 12);
	req->max_fragmented_size = PULL_LE_U32(buf, 16);
	return 0;
}

void smbdirect_negotiate_req_push(const struct smbdirect_negotiate_req *req,
				  uint8_t buf[SMBDIRECT_NEGOTIATE_REQ_SIZE])
{
	PUSH_LE_U16(buf, 0, req->min_version);
	PUSH_LE_U16(buf, 2, req->max_version);
	PUSH_LE_U16(buf, 4, req->reserved);
	PUSH_LE_U16(buf, 6, req->credits_requested);
	PUSH_LE_U32(buf, 8, req->preferred_send_size);
	PUSH_LE_U32(buf, 12, req->max_receive_size);
	PUSH_LE_U32(buf, 16, req->max_fragmented_size);
}

int smbdirect_negotiate_resp_pull(const uint8_t *buf,
				  size_t len,
				  struct smbdirect_negotiate_resp *resp,
				  struct smbdirect_err *err)
{
	if (buf == NULL || resp == NULL) {
		return smbdirect_err_set(err, EINVAL,
					 "negotiate response: NULL argument");
	}
	if (len < SMBDIRECT_NEGOTIATE_RESP_SIZE) {
		return smbdirect_err_set(err, EPROTO,
					 "negotiate response: length %zu below "
					 "minimum %d",
					 len, SMBDIRECT_NEGOTIATE_RESP_SIZE);
	}

	resp->min_version = PULL_LE_U16(buf, 0);
	resp->max_version = PULL_LE_U16(buf, 2);
	resp->negotiated_version = PULL_LE_U16(buf, 4);
	resp->reserved = PULL_LE_U16(buf, 6);
	resp->credits_requested = PULL_LE_U16(buf, 8);
	resp->credits_granted = PULL_LE_U16(buf, 10);
	resp->status = PULL_LE_U32(buf, 12);
	resp->max_read_write_size = PULL_LE_U32(buf, 16);
	resp->preferred_send_size = PULL_LE_U32(buf, 20);
	resp->max_receive_size = PULL_LE_U32(buf, 24);
	resp->max_fragmented_size = PULL_LE_U32(buf, 28);
	return 0;
}

void smbdirect_negotiate_resp_push(const struct smbdirect_negotiate_resp *resp,
				   uint8_t buf[SMBDIRECT_NEGOTIATE_RESP_SIZE])
{
	PUSH_LE_U16(buf, 0, resp->min_version);
	PUSH_LE_U16(buf, 2, resp->max_version);
	PUSH_LE_U16(buf, 4, resp->negotiated_version);
	PUSH_LE_U16(buf, 6, resp->reserved);
	PUSH_LE_U16(buf, 8, resp->credits_requested);
	PUSH_LE_U16(buf, 10, resp->credits_granted);
	PUSH_LE_U32(buf, 12, resp->status);
	PUSH_LE_U32(buf, 16, resp->max_read_write_size);
	PUSH_LE_U32(buf, 20, resp->preferred_send_size);
	PUSH_LE_U32(buf, 24, resp->max_receive_size);
	PUSH_LE_U32(buf, 28, resp->max_fragmented_size);
}

int smbdirect_data_hdr_pull(const uint8_t *buf,
			    size_t len,
			    struct smbdirect_data_hdr *hdr,
			    struct smbdirect_err *err)
{
	uint64_t data_end;

	if (buf == NULL || hdr == NULL) {
		return smbdirect_err_set(err, EINVAL,
					 "data transfer: NULL argument");
	}
	if (len < SMBDIRECT_DATA_MIN_HDR_SIZE) {
		return smbdirect_err_set(err, EPROTO,
					 "data transfer: message length %zu "
					 "below minimum %d",
					 len, SMBDIRECT_DATA_MIN_HDR_SIZE);
	}

	hdr->credits_requested = PULL_LE_U16(buf, 0);
	hdr->credits_granted = PULL_LE_U16(buf, 2);
	hdr->flags = PULL_LE_U16(buf, 4);
	hdr->reserved = PULL_LE_U16(buf, 6);
	hdr->remaining_data_length = PULL_LE_U32(buf, 8);
	hdr->data_offset = PULL_LE_U32(buf, 12);
	hdr->data_length = PULL_LE_U32(buf, 16);

	if (hdr->credits_requested == 0) {
		return smbdirect_err_set(err, EPROTO,
					 "data transfer: CreditsRequested "
					 "is 0");
	}
	if ((hdr->data_offset % 8) != 0) {
		return smbdirect_err_set(err, EPROTO,
					 "data transfer: DataOffset %" PRIu32
					 " not 8-byte aligned",
					 hdr->data_offset);
	}

	/*
	 * Both fields are peer controlled 32-bit values; add them in
	 * 64 bits so 0xFFFFFFF8 + 0x10 cannot wrap to a small number.
	 */
	data_end = (uint64_t)hdr->data_offset + (uint64_t)hdr->data_length;
	if (data_end > (uint64_t)len) {
		return smbdirect_err_set(err, EPROTO,
					 "data transfer: DataOffset %" PRIu32
					 " + DataLength %" PRIu32
					 " exceeds message length %zu",
					 hdr->data_offset, hdr->data_length,
					 len);
	}

	if (hdr->data_length == 0) {
		if (hdr->remaining_data_length != 0) {
			return smbdirect_err_set(
				err, EPROTO,
				"data transfer: DataLength 0 with "
				"RemainingDataLength %" PRIu32,
				hdr->remaining_data_length);
		}
		return 0;
	}

	if (hdr->data_offset < SMBDIRECT_DATA_OFFSET) {
		return smbdirect_err_set(err, EPROTO,
					 "data transfer: DataOffset %" PRIu32
					 " overlaps the %d byte header",
					 hdr->data_offset,
					 SMBDIRECT_DATA_OFFSET);
	}
	return 0;
}

size_t smbdirect_data_hdr_push(const struct smbdirect_data_hdr *hdr,
			       uint8_t buf[SMBDIRECT_DATA_HDR_SIZE])
{
	size_t hdr_len;

	if (hdr->data_length == 0) {
		if (hdr->data_offset != 0 || hdr->remaining_data_length != 0) {
			return 0;
		}
		hdr_len = SMBDIRECT_DATA_MIN_HDR_SIZE;
	} else {
		if (hdr->data_offset != SMBDIRECT_DATA_OFFSET) {
			return 0;
		}
		hdr_len = SMBDIRECT_DATA_HDR_SIZE;
	}

	PUSH_LE_U16(buf, 0, hdr->credits_requested);
	PUSH_LE_U16(buf, 2, hdr->credits_granted);
	PUSH_LE_U16(buf, 4, hdr->flags);
	PUSH_LE_U16(buf, 6, hdr->reserved);
	PUSH_LE_U32(buf, 8, hdr->remaining_data_length);
	PUSH_LE_U32(buf, 12, hdr->data_offset);
	PUSH_LE_U32(buf, 16, hdr->data_length);
	if (hdr_len == SMBDIRECT_DATA_HDR_SIZE) {
		/* Padding MUST be zero ([MS-SMBD] 3.1.5.4) */
		PUSH_LE_U32(buf, 20, 0);
	}
	return hdr_len;
}

int smbdirect_buffer_descs_pull(TALLOC_CTX *mem_ctx,
				const uint8_t *buf,
				size_t len,
				struct smbdirect_buffer_desc_v1 **descs,
				size_t *num_descs,
				uint64_t *total_length,
				struct smbdirect_err *err)
{
	struct smbdirect_buffer_desc_v1 *d = NULL;
	size_t count;
	size_t i;
	uint64_t total = 0;

	if (buf == NULL || descs == NULL || num_descs == NULL ||
	    total_length == NULL)
	{
		return smbdirect_err_set(err, EINVAL,
					 "buffer descriptors: NULL argument");
	}
	if (len == 0) {
		return smbdirect_err_set(err, EPROTO,
					 "buffer descriptors: empty array");
	}
	if ((len % SMBDIRECT_BUFFER_DESC_V1_SIZE) != 0) {
		return smbdirect_err_set(err, EPROTO,
					 "buffer descriptors: length %zu not a "
					 "multiple of %d",
					 len, SMBDIRECT_BUFFER_DESC_V1_SIZE);
	}

	count = len / SMBDIRECT_BUFFER_DESC_V1_SIZE;
	d = talloc_array(mem_ctx, struct smbdirect_buffer_desc_v1, count);
	if (d == NULL) {
		return smbdirect_err_set(err, ENOMEM,
					 "buffer descriptors: out of memory "
					 "for %zu entries",
					 count);
	}

	for (i = 0; i < count; i++) {
		size_t ofs = i * SMBDIRECT_BUFFER_DESC_V1_SIZE;

		d[i].offset = PULL_LE_U64(buf, ofs);
		d[i].token = PULL_LE_U32(buf, ofs + 8);
		d[i].length = PULL_LE_U32(buf, ofs + 12);
		if (d[i].length == 0) {
			TALLOC_FREE(d);
			return smbdirect_err_set(err, EPROTO,
						 "buffer descriptors: entry "
						 "%zu has Length 0",
						 i);
		}
		/*
		 * count <= SIZE_MAX / 16 and each length < 2^32, so the
		 * 64-bit sum cannot wrap.
		 */
		total += d[i].length;
	}

	*descs = d;
	*num_descs = count;
	*total_length = total;
	return 0;
}

size_t smbdirect_buffer_descs_push(const struct smbdirect_buffer_desc_v1 *descs,
				   size_t num_descs,
				   uint8_t *buf,
				   size_t buf_len)
{
	size_t i;

	if (num_descs > buf_len / SMBDIRECT_BUFFER_DESC_V1_SIZE) {
		return 0;
	}

	for (i = 0; i < num_descs; i++) {
		size_t ofs = i * SMBDIRECT_BUFFER_DESC_V1_SIZE;

		PUSH_LE_U64(buf, ofs, descs[i].offset);
		PUSH_LE_U32(buf, ofs + 8, descs[i].token);
		PUSH_LE_U32(buf, ofs + 12, descs[i].length);
	}
	return num_descs * SMBDIRECT_BUFFER_DESC_V1_SIZE;
}
