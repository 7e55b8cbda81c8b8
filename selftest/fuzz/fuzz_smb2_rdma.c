/*
 * libFuzzer target: the SMB2 rewriting of smbdirectd (smbdirectd_smb2.c)
 * on hostile PDUs.
 *
 * Input: 8 bytes of parameters, then one PDU (without the 4-byte
 * stream header), used both as a client request and as an smbd
 * response:
 *
 *   0..3  max_read_write_size = 1 + (LE32 % 1 MiB)
 *   4     max_descs
 *   5..7  rdma_len (LE24) for responses without payload
 *
 * Besides the sanitizers, the relations between the functions are
 * checked: parse_rdma agrees with find_rdma_channel, a rewritten
 * request asks for no RDMA any more and smbd finds each WRITE's payload
 * where DataOffset/Length say, find_read_rsp's payload lies inside the
 * PDU and a rebuilt READ response has the 80-byte form.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util/byteorder.h"
#include "smbdirectd_smb2.h"

#define PARAMS_LEN 8
#define MAX_RW_LIMIT (1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant failed: %s\n", \
			__FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* One payload buffer for every WRITE: contents do not matter. */
static uint8_t payload[MAX_RW_LIMIT];

static void check_rewritten(const uint8_t *out,
			    size_t out_len,
			    const struct smbdirectd_smb2_rdma_req *reqs,
			    size_t num_reqs)
{
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	struct smbdirectd_smb2_rdma_req *again = NULL;
	struct smbdirectd_smb2_rdma_use use;
	struct smbdirect_err err;
	size_t num_elems = 0;
	size_t num = 0;
	size_t i;
	bool ok;
	int ret;

	CHECK(out_len <= 0xFFFFFF);
	ok = smbdirectd_smb2_split(out, out_len, elems, &num_elems);
	CHECK(ok);

	/* nothing in the new PDU asks for RDMA any more */
	ok = smbdirectd_smb2_find_rdma_channel(out, out_len, &use);
	CHECK(!ok);
	ret = smbdirectd_smb2_parse_rdma(NULL, out, out_len, UINT32_MAX,
					 SIZE_MAX, &again, &num, &err);
	CHECK(ret == 0);
	CHECK(num == 0);

	for (i = 0; i < num_reqs; i++) {
		const uint8_t *hdr = NULL;
		size_t elen;

		CHECK(reqs[i].index < num_elems);
		hdr = out + elems[reqs[i].index].ofs;
		elen = elems[reqs[i].index].len;
		CHECK(PULL_LE_U64(hdr, SMB2_HDR_MESSAGE_ID) ==
		      reqs[i].message_id);
		if (reqs[i].command != SMB2_OP_WRITE) {
			continue;
		}

		/* where smbd 4.17 looks for the data */
		CHECK(PULL_LE_U16(hdr, SMB2_HDR_BODY + 0x02) == 0x70);
		CHECK(PULL_LE_U32(hdr, SMB2_HDR_BODY + 0x04) ==
		      reqs[i].length);
		CHECK(elen >= 0x70 + (size_t)reqs[i].length);
		CHECK(memcmp(hdr + 0x70, payload, reqs[i].length) == 0);
	}
}

static void fuzz_request(const uint8_t *pdu,
			 size_t len,
			 uint32_t max_rw,
			 size_t max_descs)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct smbdirectd_smb2_rdma_req *reqs = NULL;
	struct smbdirectd_smb2_write_data *writes = NULL;
	struct smbdirectd_smb2_rdma_use use;
	struct smbdirect_err err;
	uint8_t *out = NULL;
	size_t num = 0;
	size_t out_len = 0;
	size_t i;
	bool found;
	int ret;

	CHECK(ctx != NULL);

	found = smbdirectd_smb2_find_rdma_channel(pdu, len, &use);
	ret = smbdirectd_smb2_parse_rdma(ctx, pdu, len, max_rw, max_descs,
					 &reqs, &num, &err);
	if (ret != 0) {
		/* only a request that asks for RDMA can be refused */
		CHECK(ret == EPROTO || ret == ENOMEM);
		CHECK(err.code == ret);
		CHECK(found);
		CHECK(reqs == NULL && num == 0);
		TALLOC_FREE(ctx);
		return;
	}
	CHECK(found == (num > 0));
	if (num == 0) {
		CHECK(reqs == NULL);
		TALLOC_FREE(ctx);
		return;
	}
	CHECK(use.index == reqs[0].index);
	CHECK(use.message_id == reqs[0].message_id);
	CHECK(use.command == reqs[0].command);

	writes = talloc_zero_array(ctx, struct smbdirectd_smb2_write_data,
				   num);
	CHECK(writes != NULL);
	for (i = 0; i < num; i++) {
		CHECK(reqs[i].length >= 1 && reqs[i].length <= max_rw);
		CHECK(reqs[i].num_descs >= 1 &&
		      reqs[i].num_descs <= max_descs);
		CHECK(reqs[i].descs_total >= reqs[i].length);
		CHECK(reqs[i].channel == SMB2_CHANNEL_RDMA_V1 ||
		      reqs[i].channel == SMB2_CHANNEL_RDMA_V1_INVALIDATE);
		CHECK(i == 0 || reqs[i].index > reqs[i - 1].index);
		if (reqs[i].command == SMB2_OP_WRITE) {
			writes[i].data = payload;
			writes[i].len = reqs[i].length;
		}
	}

	out = smbdirectd_smb2_inline_request(ctx, pdu, len, reqs, num,
					     writes, &out_len, &err);
	if (out == NULL) {
		CHECK(err.code == EMSGSIZE || err.code == ENOMEM);
		TALLOC_FREE(ctx);
		return;
	}
	check_rewritten(out, out_len, reqs, num);

	/* a WRITE alone: its head is the rewritten PDU's first 112 bytes */
	if (num == 1 && reqs[0].only_element &&
	    reqs[0].command == SMB2_OP_WRITE) {
		size_t head_len = 0;
		uint8_t *head = smbdirectd_smb2_inline_write_head(
			ctx, pdu, len, &reqs[0], &head_len, &err);

		CHECK(head != NULL);
		CHECK(head_len == 0x70);
		CHECK(out_len == head_len + reqs[0].length);
		CHECK(memcmp(head, out, head_len) == 0);
	}
	TALLOC_FREE(ctx);
}

static bool count_key(const struct smbdirectd_smb2_write_key *key,
		      void *private_data)
{
	size_t *n = private_data;

	CHECK(key != NULL);
	*n += 1;
	return false;
}

/* The WRITE keys of any request: every WRITE element, nothing more. */
static void fuzz_write_keys(const uint8_t *pdu, size_t len)
{
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	size_t num_elems = 0;
	size_t writes = 0;
	size_t n = 0;
	size_t i;

	CHECK(!smbdirectd_smb2_any_write(pdu, len, count_key, &n));
	if (!smbdirectd_smb2_split(pdu, len, elems, &num_elems)) {
		CHECK(n == 0);
		return;
	}
	for (i = 0; i < num_elems; i++) {
		if (PULL_LE_U16(pdu + elems[i].ofs, SMB2_HDR_OPCODE) ==
			    SMB2_OP_WRITE &&
		    elems[i].len >= 0x70) {
			writes += 1;
		}
	}
	CHECK(n == writes);
}

static void fuzz_response_one(const uint8_t *pdu,
			      size_t len,
			      uint64_t mid,
			      uint32_t rdma_len)
{
	struct smbdirectd_smb2_read_rsp rsp;
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	struct smbdirect_err err;
	TALLOC_CTX *ctx = NULL;
	uint8_t *out = NULL;
	size_t out_len = 0;
	size_t num_elems = 0;
	bool found;
	bool ok;

	found = smbdirectd_smb2_find_read_rsp(pdu, len, mid, &rsp, &err);
	if (!found) {
		CHECK(err.code == 0 || err.code == EPROTO);
		return;
	}
	CHECK(err.code == 0);
	CHECK(rsp.message_id == mid);

	ok = smbdirectd_smb2_split(pdu, len, elems, &num_elems);
	CHECK(ok);
	CHECK(rsp.index < num_elems);
	if (rsp.data != NULL) {
		const uint8_t *elem = pdu + elems[rsp.index].ofs;

		/* behind the 80-byte fixed part, inside its own element */
		CHECK(rsp.data >= elem + SMB2_HDR_BODY + 16);
		CHECK(rsp.data_len > 0);
		CHECK((size_t)(rsp.data - elem) + rsp.data_len <=
		      elems[rsp.index].len);
		CHECK(rsp.status == 0);
		rdma_len = rsp.data_len;
	}

	ctx = talloc_new(NULL);
	CHECK(ctx != NULL);
	out = smbdirectd_smb2_rdma_read_response(ctx, pdu, len, &rsp,
						 rdma_len, &out_len, &err);
	if (out == NULL) {
		/* only a non-READ element or a giant PDU is refused */
		CHECK(err.code == EINVAL || err.code == ENOMEM ||
		      err.code == EMSGSIZE);
		CHECK(err.code != EINVAL ||
		      PULL_LE_U16(pdu + elems[rsp.index].ofs,
				  SMB2_HDR_OPCODE) != SMB2_OP_READ);
		TALLOC_FREE(ctx);
		return;
	}
	{
		struct smbdirectd_smb2_elem oelems[SMBDIRECTD_SMB2_MAX_CHAIN];
		size_t onum = 0;
		const uint8_t *hdr = NULL;

		ok = smbdirectd_smb2_split(out, out_len, oelems, &onum);
		CHECK(ok);
		CHECK(onum == num_elems);
		CHECK(oelems[rsp.index].len == 80);
		hdr = out + oelems[rsp.index].ofs;
		CHECK(PULL_LE_U16(hdr, SMB2_HDR_BODY) == 17);
		CHECK(PULL_LE_U8(hdr, SMB2_HDR_BODY + 2) == 0x50);
		CHECK(PULL_LE_U32(hdr, SMB2_HDR_BODY + 4) == 0);
		CHECK(PULL_LE_U32(hdr, SMB2_HDR_BODY + 8) == rdma_len);
	}
	TALLOC_FREE(ctx);
}

static void fuzz_response(const uint8_t *pdu, size_t len, uint32_t rdma_len)
{
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	size_t num_elems = 0;
	size_t i;
	bool ok;

	/* a MessageId nobody has */
	fuzz_response_one(pdu, len, 0xFFFFFFFFFFFFFFFFULL, rdma_len);

	ok = smbdirectd_smb2_split(pdu, len, elems, &num_elems);
	if (!ok) {
		return;
	}
	for (i = 0; i < num_elems; i++) {
		uint64_t mid = PULL_LE_U64(pdu + elems[i].ofs,
					   SMB2_HDR_MESSAGE_ID);

		fuzz_response_one(pdu, len, mid, rdma_len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t max_rw;
	size_t max_descs;
	uint32_t rdma_len;
	uint8_t *pdu = NULL;
	size_t len;

	if (size < PARAMS_LEN) {
		return 0;
	}
	max_rw = 1 + (PULL_LE_U32(data, 0) % MAX_RW_LIMIT);
	max_descs = data[4];
	rdma_len = data[5] | (data[6] << 8) | ((uint32_t)data[7] << 16);

	/* an exact-size copy, so a read one byte past the end is caught */
	len = size - PARAMS_LEN;
	pdu = malloc(len == 0 ? 1 : len);
	CHECK(pdu != NULL);
	memcpy(pdu, data + PARAMS_LEN, len);

	fuzz_request(pdu, len, max_rw, max_descs);
	fuzz_write_keys(pdu, len);
	fuzz_response(pdu, len, rdma_len);

	free(pdu);
	return 0;
}
