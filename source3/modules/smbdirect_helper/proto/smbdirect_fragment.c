/*
 * SMB Direct ([MS-SMBD] 3.1.4.2, 3.1.5.4, 3.1.5.8) fragmentation of
 * outgoing upper-layer PDUs and reassembly of incoming ones.
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
#include <string.h>

#include "smbdirect_fragment.h"

int smbdirect_frag_tx_init(struct smbdirect_frag_tx *tx,
			   size_t pdu_len,
			   uint32_t max_send_size,
			   uint32_t max_fragmented_send_size,
			   struct smbdirect_err *err)
{
	if (max_send_size <= SMBDIRECT_DATA_HDR_SIZE) {
		return smbdirect_err_set(err, EINVAL,
					 "fragment: max send size %" PRIu32
					 " leaves no room for payload behind "
					 "the %d byte header",
					 max_send_size,
					 SMBDIRECT_DATA_HDR_SIZE);
	}
	if (pdu_len > max_fragmented_send_size) {
		return smbdirect_err_set(err, EMSGSIZE,
					 "fragment: PDU of %zu bytes exceeds "
					 "peer MaxFragmentedSize %" PRIu32,
					 pdu_len, max_fragmented_send_size);
	}

	tx->pdu_len = pdu_len;
	tx->next_ofs = 0;
	tx->max_payload = max_send_size - SMBDIRECT_DATA_HDR_SIZE;
	tx->done = false;
	return 0;
}

bool smbdirect_frag_tx_done(const struct smbdirect_frag_tx *tx)
{
	return tx->done;
}

bool smbdirect_frag_tx_next(struct smbdirect_frag_tx *tx,
			    struct smbdirect_frag *frag)
{
	size_t left;
	size_t len;

	if (tx->done) {
		return false;
	}

	if (tx->pdu_len == 0) {
		/* [MS-SMBD] 3.1.5.4: an empty buffer is one empty message */
		frag->payload_ofs = 0;
		frag->payload_len = 0;
		frag->remaining_data_length = 0;
		frag->data_offset = 0;
		frag->last = true;
		tx->done = true;
		return true;
	}

	left = tx->pdu_len - tx->next_ofs;
	len = left < tx->max_payload ? left : tx->max_payload;

	/*
	 * pdu_len <= max_fragmented_send_size, a uint32_t, so both casts
	 * are lossless.
	 */
	frag->payload_ofs = tx->next_ofs;
	frag->payload_len = (uint32_t)len;
	frag->remaining_data_length = (uint32_t)(left - len);
	frag->data_offset = SMBDIRECT_DATA_OFFSET;
	frag->last = (left == len);

	tx->next_ofs += len;
	tx->done = frag->last;
	return true;
}

int smbdirect_frag_plan(TALLOC_CTX *mem_ctx,
			size_t pdu_len,
			uint32_t max_send_size,
			uint32_t max_fragmented_send_size,
			struct smbdirect_frag **frags,
			size_t *num_frags,
			struct smbdirect_err *err)
{
	struct smbdirect_frag_tx tx = {
		.pdu_len = 0,
	};
	struct smbdirect_frag *f = NULL;
	size_t count;
	size_t i = 0;
	int ret;

	ret = smbdirect_frag_tx_init(&tx, pdu_len, max_send_size,
				     max_fragmented_send_size, err);
	if (ret != 0) {
		return ret;
	}

	count = pdu_len / tx.max_payload;
	if (pdu_len % tx.max_payload != 0 || pdu_len == 0) {
		count += 1;
	}

	f = talloc_array(mem_ctx, struct smbdirect_frag, count);
	if (f == NULL) {
		return smbdirect_err_set(err, ENOMEM,
					 "fragment: out of memory for %zu "
					 "fragments",
					 count);
	}

	while (i < count && smbdirect_frag_tx_next(&tx, &f[i])) {
		i += 1;
	}

	*frags = f;
	*num_frags = i;
	return 0;
}

struct smbdirect_reassembly {
	uint32_t max_fragmented_size;
	uint8_t *buf;		/* talloc child of this struct while open */
	uint32_t total;		/* announced by the first fragment */
	uint32_t filled;
};

struct smbdirect_reassembly *smbdirect_reassembly_create(
	TALLOC_CTX *mem_ctx,
	uint32_t max_fragmented_size)
{
	struct smbdirect_reassembly *r = NULL;

	r = talloc_zero(mem_ctx, struct smbdirect_reassembly);
	if (r == NULL) {
		return NULL;
	}
	r->max_fragmented_size = max_fragmented_size;
	return r;
}

bool smbdirect_reassembly_in_progress(const struct smbdirect_reassembly *r)
{
	return r->buf != NULL;
}

static int reassembly_start(struct smbdirect_reassembly *r,
			    const struct smbdirect_data_hdr *hdr,
			    const uint8_t *data,
			    TALLOC_CTX *mem_ctx,
			    uint8_t **pdu,
			    size_t *pdu_len,
			    struct smbdirect_err *err)
{
	uint8_t *buf = NULL;

	/*
	 * The usual case: a PDU in one message.  Allocate it straight on
	 * the caller's context.
	 */
	if (hdr->remaining_data_length == 0) {
		buf = talloc_memdup(mem_ctx, data, hdr->data_length);
		if (buf == NULL) {
			return smbdirect_err_set(err, ENOMEM,
						 "reassembly: out of memory "
						 "for %" PRIu32 " bytes",
						 hdr->data_length);
		}
		*pdu = buf;
		*pdu_len = hdr->data_length;
		return 0;
	}

	/*
	 * The caller checked total <= max_fragmented_size, so a hostile
	 * peer can make us allocate at most that much per connection.
	 */
	r->total = hdr->data_length + hdr->remaining_data_length;
	buf = talloc_size(r, r->total);
	if (buf == NULL) {
		return smbdirect_err_set(err, ENOMEM,
					 "reassembly: out of memory for "
					 "%" PRIu32 " bytes",
					 r->total);
	}
	memcpy(buf, data, hdr->data_length);
	r->buf = buf;
	r->filled = hdr->data_length;
	return 0;
}

int smbdirect_reassembly_push(struct smbdirect_reassembly *r,
			      const struct smbdirect_data_hdr *hdr,
			      const uint8_t *data,
			      TALLOC_CTX *mem_ctx,
			      uint8_t **pdu,
			      size_t *pdu_len,
			      struct smbdirect_err *err)
{
	uint64_t announced;
	uint32_t expected;

	*pdu = NULL;
	*pdu_len = 0;

	if (hdr->data_length == 0) {
		if (hdr->remaining_data_length != 0) {
			return smbdirect_err_set(
				err, EPROTO,
				"reassembly: DataLength 0 with "
				"RemainingDataLength %" PRIu32,
				hdr->remaining_data_length);
		}
		/* credit-only or keepalive message: no upper-layer data */
		return 0;
	}

	/* Both are peer controlled: add in 64 bits, no wrap. */
	announced = (uint64_t)hdr->data_length + hdr->remaining_data_length;
	if (announced > r->max_fragmented_size) {
		return smbdirect_err_set(err, EPROTO,
					 "reassembly: DataLength %" PRIu32
					 " + RemainingDataLength %" PRIu32
					 " exceeds max fragmented size "
					 "%" PRIu32,
					 hdr->data_length,
					 hdr->remaining_data_length,
					 r->max_fragmented_size);
	}

	if (r->buf == NULL) {
		return reassembly_start(r, hdr, data, mem_ctx, pdu, pdu_len,
					err);
	}

	expected = r->total - r->filled;
	if (hdr->data_length > expected) {
		return smbdirect_err_set(err, EPROTO,
					 "reassembly: fragment DataLength "
					 "%" PRIu32 " exceeds the %" PRIu32
					 " bytes still expected",
					 hdr->data_length, expected);
	}
	if (hdr->remaining_data_length != expected - hdr->data_length) {
		return smbdirect_err_set(err, EPROTO,
					 "reassembly: RemainingDataLength "
					 "%" PRIu32 " inconsistent, expected "
					 "%" PRIu32 " after DataLength "
					 "%" PRIu32,
					 hdr->remaining_data_length,
					 expected - hdr->data_length,
					 hdr->data_length);
	}

	memcpy(r->buf + r->filled, data, hdr->data_length);
	r->filled += hdr->data_length;
	if (r->filled < r->total) {
		return 0;
	}

	*pdu = talloc_move(mem_ctx, &r->buf);
	*pdu_len = r->total;
	r->total = 0;
	r->filled = 0;
	return 0;
}
