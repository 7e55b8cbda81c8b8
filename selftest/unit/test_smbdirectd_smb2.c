/*
 * Unit tests for smbdirectd_smb2.[ch]: splitting SMB2 compound chains,
 * validating READ/WRITE requests with RDMA channels, rewriting them
 * into the inline form smbd 4.17 understands, and turning smbd's READ
 * responses back into the RDMA form.
 *
 * Requests are built the way cifs.ko builds them (smb2_new_read_req(),
 * smb2_async_writev()); offsets are spelled out here from [MS-SMB2]
 * 2.2.19-2.2.21 instead of reusing the implementation's, so a wrong
 * offset in one place shows up.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "lib/util/byteorder.h"
#include "smbdirectd_smb2.h"

/* Absolute offsets from the start of an element's SMB2 header. */
#define H_PROTOCOL 0x00
#define H_STRUCT_SIZE 0x04
#define H_CREDIT_CHARGE 0x06
#define H_STATUS 0x08
#define H_COMMAND 0x0C
#define H_CREDITS 0x0E
#define H_FLAGS 0x10
#define H_NEXT 0x14
#define H_MID 0x18
#define H_PID 0x20
#define H_TID 0x24
#define H_SID 0x28

#define RD_STRUCT 0x40
#define RD_PADDING 0x42
#define RD_LENGTH 0x44
#define RD_OFFSET 0x48
#define RD_FILEID 0x50
#define RD_MINCOUNT 0x60
#define RD_CHANNEL 0x64
#define RD_REMAINING 0x68
#define RD_CI_OFS 0x6C
#define RD_CI_LEN 0x6E
#define RD_BUFFER 0x70

#define WR_STRUCT 0x40
#define WR_DATA_OFS 0x42
#define WR_LENGTH 0x44
#define WR_OFFSET 0x48
#define WR_FILEID 0x50
#define WR_CHANNEL 0x60
#define WR_REMAINING 0x64
#define WR_CI_OFS 0x68
#define WR_CI_LEN 0x6A
#define WR_FLAGS 0x6C
#define WR_BUFFER 0x70

#define RR_STRUCT 0x40
#define RR_DATA_OFS 0x42
#define RR_RESERVED 0x43
#define RR_DATA_LEN 0x44
#define RR_DATA_REMAINING 0x48
#define RR_FLAGS 0x4C
#define RR_BUFFER 0x50

#define STATUS_PENDING 0x00000103
#define STATUS_END_OF_FILE 0xC0000011

#define MAX_RW (8 * 1024 * 1024)
#define MAX_DESCS 16

/* The padding filler of test chains: proves padding is copied or redone. */
#define PAD_BYTE 0xAA

struct elem {
	uint8_t *buf;
	size_t len;
};

static void *test_ctx;

static int setup(void **state)
{
	(void)state;
	test_ctx = talloc_new(NULL);
	return test_ctx == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	TALLOC_FREE(test_ctx);
	return 0;
}

static uint8_t *new_hdr(TALLOC_CTX *ctx,
			size_t len,
			uint16_t command,
			uint64_t mid)
{
	uint8_t *b = talloc_zero_size(ctx, len);

	assert_non_null(b);
	assert_true(len >= 64);
	b[0] = 0xFE;
	b[1] = 'S';
	b[2] = 'M';
	b[3] = 'B';
	PUSH_LE_U16(b, H_STRUCT_SIZE, 64);
	PUSH_LE_U16(b, H_CREDIT_CHARGE, 1);
	PUSH_LE_U16(b, H_COMMAND, command);
	PUSH_LE_U16(b, H_CREDITS, 64);
	PUSH_LE_U64(b, H_MID, mid);
	PUSH_LE_U32(b, H_PID, 0xFEFF);
	PUSH_LE_U32(b, H_TID, 0x11223344);
	PUSH_LE_U64(b, H_SID, 0x0000400000000001ULL);
	return b;
}

static void put_desc(uint8_t *p, uint64_t offset, uint32_t token,
		     uint32_t length)
{
	PUSH_LE_U64(p, 0, offset);
	PUSH_LE_U32(p, 8, token);
	PUSH_LE_U32(p, 12, length);
}

/*
 * smb2_new_read_req() with RDMA: channel info right behind the fixed
 * body (offsetof(struct smb2_read_req, Buffer) = 0x70), one descriptor
 * of the registered MR, 0x80 bytes on the wire.
 */
static struct elem cifs_read(uint32_t channel, uint64_t mid, uint32_t length)
{
	struct elem e;

	e.len = 0x80;
	e.buf = new_hdr(test_ctx, e.len, SMB2_OP_READ, mid);
	PUSH_LE_U16(e.buf, RD_STRUCT, 49);
	PUSH_LE_U32(e.buf, RD_LENGTH, length);
	PUSH_LE_U64(e.buf, RD_OFFSET, 0x123456789ULL);
	PUSH_LE_U64(e.buf, RD_FILEID, 0x1111111111111111ULL);
	PUSH_LE_U64(e.buf, RD_FILEID + 8, 0x2222222222222222ULL);
	PUSH_LE_U32(e.buf, RD_CHANNEL, channel);
	PUSH_LE_U16(e.buf, RD_CI_OFS, RD_BUFFER);
	PUSH_LE_U16(e.buf, RD_CI_LEN, 16);
	put_desc(e.buf + RD_BUFFER, 0xFFFF888812340000ULL, 0xABCD0001, length);
	return e;
}

/*
 * smb2_async_writev() with RDMA: Length and DataOffset 0, the size in
 * RemainingBytes, one descriptor at 0x70, 0x80 bytes on the wire.
 */
static struct elem cifs_write(uint32_t channel, uint64_t mid,
			      uint32_t remaining)
{
	struct elem e;

	e.len = 0x80;
	e.buf = new_hdr(test_ctx, e.len, SMB2_OP_WRITE, mid);
	PUSH_LE_U16(e.buf, WR_STRUCT, 49);
	PUSH_LE_U16(e.buf, WR_DATA_OFS, 0);
	PUSH_LE_U32(e.buf, WR_LENGTH, 0);
	PUSH_LE_U64(e.buf, WR_OFFSET, 0x10000);
	PUSH_LE_U64(e.buf, WR_FILEID, 0x3333333333333333ULL);
	PUSH_LE_U64(e.buf, WR_FILEID + 8, 0x4444444444444444ULL);
	PUSH_LE_U32(e.buf, WR_CHANNEL, channel);
	PUSH_LE_U32(e.buf, WR_REMAINING, remaining);
	PUSH_LE_U16(e.buf, WR_CI_OFS, WR_BUFFER);
	PUSH_LE_U16(e.buf, WR_CI_LEN, 16);
	PUSH_LE_U32(e.buf, WR_FLAGS, 0x00000001); /* WRITE_THROUGH */
	put_desc(e.buf + WR_BUFFER, 0xFFFF888856780000ULL, 0xABCD0002,
		 remaining);
	return e;
}

/* Any other request or response: a body of recognisable bytes. */
static struct elem other(uint16_t command, uint64_t mid, size_t len)
{
	struct elem e;
	size_t i;

	e.len = len;
	e.buf = new_hdr(test_ctx, len, command, mid);
	for (i = 64; i < len; i++) {
		e.buf[i] = (uint8_t)(i * 7 + command);
	}
	return e;
}

/* A READ response as smbd 4.17 sends it: DataOffset 0x50. */
static struct elem read_rsp(uint64_t mid, uint32_t status,
			    const uint8_t *data, uint32_t data_len)
{
	struct elem e;

	e.len = RR_BUFFER + data_len;
	e.buf = new_hdr(test_ctx, e.len, SMB2_OP_READ, mid);
	PUSH_LE_U32(e.buf, H_STATUS, status);
	PUSH_LE_U32(e.buf, H_FLAGS, SMB2_HDR_FLAG_REDIRECT);
	PUSH_LE_U16(e.buf, RR_STRUCT, 17);
	PUSH_LE_U8(e.buf, RR_DATA_OFS, RR_BUFFER);
	PUSH_LE_U32(e.buf, RR_DATA_LEN, data_len);
	PUSH_LE_U32(e.buf, RR_DATA_REMAINING, 0);
	if (data_len > 0) {
		memcpy(e.buf + RR_BUFFER, data, data_len);
	}
	return e;
}

/* An error response body ([MS-SMB2] 2.2.2), e.g. the async interim. */
static struct elem error_rsp(uint16_t command, uint64_t mid,
			     uint32_t status, uint32_t flags)
{
	struct elem e;

	e.len = 64 + 9;
	e.buf = new_hdr(test_ctx, e.len, command, mid);
	PUSH_LE_U32(e.buf, H_STATUS, status);
	PUSH_LE_U32(e.buf, H_FLAGS, flags | SMB2_HDR_FLAG_REDIRECT);
	PUSH_LE_U16(e.buf, 0x40, 9);
	return e;
}

/*
 * Concatenate elements into a compound chain: all but the last padded
 * to 8 with PAD_BYTE, NextCommand set. offs receives where each went.
 */
static uint8_t *chain(const struct elem *e, size_t n, size_t *len,
		      size_t *offs)
{
	size_t total = 0;
	size_t pos = 0;
	uint8_t *out = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		total += (i + 1 < n) ? ((e[i].len + 7) & ~(size_t)7) :
				       e[i].len;
	}
	out = talloc_size(test_ctx, total);
	assert_non_null(out);
	memset(out, PAD_BYTE, total);
	for (i = 0; i < n; i++) {
		size_t slot = (i + 1 < n) ? ((e[i].len + 7) & ~(size_t)7) :
					    e[i].len;

		memcpy(out + pos, e[i].buf, e[i].len);
		PUSH_LE_U32(out + pos, H_NEXT, (i + 1 < n) ? slot : 0);
		if (offs != NULL) {
			offs[i] = pos;
		}
		pos += slot;
	}
	*len = total;
	return out;
}

static uint8_t *single(struct elem e, size_t *len)
{
	return chain(&e, 1, len, NULL);
}

/* Expect parse_rdma to reject pdu with EPROTO. */
static void expect_eproto(const uint8_t *pdu, size_t len,
			  uint32_t max_rw, size_t max_descs)
{
	struct smbdirectd_smb2_rdma_req *reqs = NULL;
	struct smbdirect_err err;
	size_t num = 99;
	size_t blocks;
	int ret;

	blocks = talloc_total_blocks(test_ctx);
	ret = smbdirectd_smb2_parse_rdma(test_ctx, pdu, len, max_rw,
					 max_descs, &reqs, &num, &err);
	assert_int_equal(ret, EPROTO);
	assert_int_equal(err.code, EPROTO);
	assert_true(strlen(err.reason) > 0);
	assert_null(reqs);
	assert_int_equal(num, 0);
	/* nothing allocated is left behind on the error path */
	assert_int_equal(talloc_total_blocks(test_ctx), blocks);
}

/* Expect parse_rdma to accept pdu with exactly one request. */
static struct smbdirectd_smb2_rdma_req *expect_one(const uint8_t *pdu,
						   size_t len,
						   uint32_t max_rw,
						   size_t max_descs)
{
	struct smbdirectd_smb2_rdma_req *reqs = NULL;
	struct smbdirect_err err;
	size_t num = 0;
	int ret;

	ret = smbdirectd_smb2_parse_rdma(test_ctx, pdu, len, max_rw,
					 max_descs, &reqs, &num, &err);
	assert_int_equal(ret, 0);
	assert_int_equal(err.code, 0);
	assert_int_equal(num, 1);
	assert_non_null(reqs);
	return reqs;
}

static void expect_none(const uint8_t *pdu, size_t len)
{
	struct smbdirectd_smb2_rdma_req *reqs = NULL;
	struct smbdirect_err err;
	size_t num = 99;
	int ret;

	ret = smbdirectd_smb2_parse_rdma(test_ctx, pdu, len, MAX_RW,
					 MAX_DESCS, &reqs, &num, &err);
	assert_int_equal(ret, 0);
	assert_int_equal(num, 0);
	assert_null(reqs);
}

/* ---------------------------------------------------------------- */

static void test_split_single_and_chain(void **state)
{
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	struct elem e[3];
	size_t offs[3];
	uint8_t *pdu = NULL;
	size_t len = 0;
	size_t n = 0;
	bool ok;

	(void)state;

	pdu = single(other(SMB2_OP_CREATE, 1, 64), &len);
	ok = smbdirectd_smb2_split(pdu, len, elems, &n);
	assert_true(ok);
	assert_int_equal(n, 1);
	assert_int_equal(elems[0].ofs, 0);
	assert_int_equal(elems[0].len, 64);

	e[0] = other(SMB2_OP_CREATE, 1, 64 + 57);
	e[1] = other(SMB2_OP_GETINFO, 2, 64 + 41);
	e[2] = other(SMB2_OP_CLOSE, 3, 64 + 24);
	pdu = chain(e, 3, &len, offs);
	ok = smbdirectd_smb2_split(pdu, len, elems, &n);
	assert_true(ok);
	assert_int_equal(n, 3);
	assert_int_equal(elems[0].ofs, 0);
	assert_int_equal(elems[0].len, 128);
	assert_int_equal(elems[1].ofs, 128);
	assert_int_equal(elems[1].len, 112);
	assert_int_equal(elems[2].ofs, 240);
	assert_int_equal(elems[2].len, 88);
	assert_int_equal(offs[2], 240);
}

static void test_split_rejects(void **state)
{
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	struct elem e[2];
	uint8_t *pdu = NULL;
	size_t len = 0;
	size_t n = 0;

	(void)state;

	/* NULL and too short */
	assert_false(smbdirectd_smb2_split(NULL, 64, elems, &n));
	pdu = single(other(SMB2_OP_CREATE, 1, 64), &len);
	assert_true(smbdirectd_smb2_split(pdu, 64, elems, &n));
	assert_false(smbdirectd_smb2_split(pdu, 63, elems, &n));
	assert_false(smbdirectd_smb2_split(pdu, 0, elems, &n));

	/* transform and compression headers, and SMB1 */
	pdu[0] = 0xFD;
	assert_false(smbdirectd_smb2_split(pdu, len, elems, &n));
	pdu[0] = 0xFC;
	assert_false(smbdirectd_smb2_split(pdu, len, elems, &n));
	pdu[0] = 0xFF;
	assert_false(smbdirectd_smb2_split(pdu, len, elems, &n));
	pdu[0] = 0xFE;
	assert_true(smbdirectd_smb2_split(pdu, len, elems, &n));

	e[0] = other(SMB2_OP_CREATE, 1, 64 + 64);
	e[1] = other(SMB2_OP_CLOSE, 2, 64 + 24);
	pdu = chain(e, 2, &len, NULL);
	assert_int_equal(len, 128 + 88);
	assert_true(smbdirectd_smb2_split(pdu, len, elems, &n));
	assert_int_equal(n, 2);

	/* NextCommand not a multiple of 8 */
	PUSH_LE_U32(pdu, H_NEXT, 124);
	assert_false(smbdirectd_smb2_split(pdu, len, elems, &n));
	PUSH_LE_U32(pdu, H_NEXT, 129);
	assert_false(smbdirectd_smb2_split(pdu, len, elems, &n));

	/* NextCommand below a header */
	PUSH_LE_U32(pdu, H_NEXT, 56);
	assert_false(smbdirectd_smb2_split(pdu, len, elems, &n));

	/* NextCommand past the end, and at the end (empty element) */
	PUSH_LE_U32(pdu, H_NEXT, 224);
	assert_false(smbdirectd_smb2_split(pdu, len, elems, &n));
	PUSH_LE_U32(pdu, H_NEXT, 216);
	assert_false(smbdirectd_smb2_split(pdu, len, elems, &n));
	PUSH_LE_U32(pdu, H_NEXT, 0xFFFFFFF8);
	assert_false(smbdirectd_smb2_split(pdu, len, elems, &n));

	/* the last element 63 bytes, then 64 */
	PUSH_LE_U32(pdu, H_NEXT, 128);
	assert_false(smbdirectd_smb2_split(pdu, 128 + 63, elems, &n));
	assert_true(smbdirectd_smb2_split(pdu, 128 + 64, elems, &n));

	/* second element with a bad magic */
	pdu[128] = 0xFD;
	assert_false(smbdirectd_smb2_split(pdu, len, elems, &n));
}

static void test_split_max_chain(void **state)
{
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	struct elem e[SMBDIRECTD_SMB2_MAX_CHAIN + 1];
	uint8_t *pdu = NULL;
	size_t len = 0;
	size_t n = 0;
	size_t i;

	(void)state;

	for (i = 0; i < SMBDIRECTD_SMB2_MAX_CHAIN + 1; i++) {
		e[i] = other(SMB2_OP_CLOSE, i, 64 + 24);
	}
	pdu = chain(e, SMBDIRECTD_SMB2_MAX_CHAIN, &len, NULL);
	assert_true(smbdirectd_smb2_split(pdu, len, elems, &n));
	assert_int_equal(n, SMBDIRECTD_SMB2_MAX_CHAIN);

	pdu = chain(e, SMBDIRECTD_SMB2_MAX_CHAIN + 1, &len, NULL);
	assert_false(smbdirectd_smb2_split(pdu, len, elems, &n));
	expect_none(pdu, len);
}

static void test_find_rdma_channel(void **state)
{
	struct smbdirectd_smb2_rdma_use use;
	struct elem e[3];
	uint8_t *pdu = NULL;
	size_t len = 0;

	(void)state;

	e[0] = other(SMB2_OP_CREATE, 10, 64 + 57);
	e[1] = cifs_read(SMB2_CHANNEL_RDMA_V1_INVALIDATE, 11, 65536);
	e[2] = other(SMB2_OP_CLOSE, 12, 64 + 24);
	pdu = chain(e, 3, &len, NULL);
	assert_true(smbdirectd_smb2_find_rdma_channel(pdu, len, &use));
	assert_int_equal(use.command, SMB2_OP_READ);
	assert_int_equal(use.channel, SMB2_CHANNEL_RDMA_V1_INVALIDATE);
	assert_int_equal(use.message_id, 11);
	assert_int_equal(use.index, 1);

	/* no channel */
	PUSH_LE_U32(pdu, 128 + RD_CHANNEL, 0);
	assert_false(smbdirectd_smb2_find_rdma_channel(pdu, len, &use));

	/* WRITE, and an unknown channel is still reported */
	pdu = single(cifs_write(7, 5, 4096), &len);
	assert_true(smbdirectd_smb2_find_rdma_channel(pdu, len, &use));
	assert_int_equal(use.command, SMB2_OP_WRITE);
	assert_int_equal(use.channel, 7);
	assert_int_equal(use.index, 0);

	/* too short to hold Channel: smbd rejects it, not reported */
	assert_false(smbdirectd_smb2_find_rdma_channel(pdu, WR_CHANNEL + 3,
						       &use));
	assert_true(smbdirectd_smb2_find_rdma_channel(pdu, WR_CHANNEL + 4,
						      &use));

	/* cannot be split */
	pdu[0] = 0xFD;
	assert_false(smbdirectd_smb2_find_rdma_channel(pdu, len, &use));
	assert_false(smbdirectd_smb2_find_rdma_channel(NULL, 0, &use));
}

static void test_parse_read_cifs(void **state)
{
	uint32_t channels[] = {
		SMB2_CHANNEL_RDMA_V1,
		SMB2_CHANNEL_RDMA_V1_INVALIDATE,
	};
	size_t c;

	(void)state;

	for (c = 0; c < 2; c++) {
		struct smbdirectd_smb2_rdma_req *r = NULL;
		uint8_t *pdu = NULL;
		size_t len = 0;

		pdu = single(cifs_read(channels[c], 42, 1048576), &len);
		r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
		assert_int_equal(r->index, 0);
		assert_int_equal(r->command, SMB2_OP_READ);
		assert_int_equal(r->channel, channels[c]);
		assert_int_equal(r->message_id, 42);
		assert_false(r->is_signed);
		assert_int_equal(r->length, 1048576);
		assert_int_equal(r->num_descs, 1);
		assert_int_equal(r->descs_total, 1048576);
		assert_int_equal(r->descs[0].offset, 0xFFFF888812340000ULL);
		assert_int_equal(r->descs[0].token, 0xABCD0001);
		assert_int_equal(r->descs[0].length, 1048576);
		TALLOC_FREE(r);
	}
}

static void test_parse_write_cifs(void **state)
{
	uint32_t channels[] = {
		SMB2_CHANNEL_RDMA_V1,
		SMB2_CHANNEL_RDMA_V1_INVALIDATE,
	};
	size_t c;

	(void)state;

	for (c = 0; c < 2; c++) {
		struct smbdirectd_smb2_rdma_req *r = NULL;
		uint8_t *pdu = NULL;
		size_t len = 0;

		pdu = single(cifs_write(channels[c], 43, 12345), &len);
		r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
		assert_int_equal(r->index, 0);
		assert_int_equal(r->command, SMB2_OP_WRITE);
		assert_int_equal(r->channel, channels[c]);
		assert_int_equal(r->message_id, 43);
		assert_int_equal(r->length, 12345);
		assert_int_equal(r->num_descs, 1);
		assert_int_equal(r->descs_total, 12345);
		assert_int_equal(r->descs[0].token, 0xABCD0002);
		TALLOC_FREE(r);
	}
}

static void test_parse_none(void **state)
{
	struct elem e[2];
	uint8_t *pdu = NULL;
	size_t len = 0;

	(void)state;

	/* inline READ and WRITE */
	e[0] = cifs_read(SMB2_CHANNEL_NONE, 1, 4096);
	e[1] = cifs_write(SMB2_CHANNEL_NONE, 2, 4096);
	pdu = chain(e, 2, &len, NULL);
	expect_none(pdu, len);

	/* other commands */
	pdu = single(other(SMB2_OP_NEGPROT, 0, 64 + 36), &len);
	expect_none(pdu, len);

	/* cannot be split: smbd gets it unchanged */
	expect_none(NULL, 0);
	expect_none(pdu, 10);
}

static void test_parse_transform_compressed_left_alone(void **state)
{
	struct smbdirectd_smb2_rdma_use use;
	uint8_t magic[] = { 0xFD, 0xFC };
	size_t m;

	(void)state;

	for (m = 0; m < 2; m++) {
		struct smbdirect_err err;
		uint8_t *pdu = NULL;
		uint8_t *out = NULL;
		size_t len = 0;
		size_t new_len = 99;

		/*
		 * A transform header followed by what would be an RDMA
		 * READ if it were readable: nothing must be touched.
		 */
		pdu = single(cifs_read(SMB2_CHANNEL_RDMA_V1, 1, 4096), &len);
		pdu[0] = magic[m];
		expect_none(pdu, len);
		assert_false(smbdirectd_smb2_find_rdma_channel(pdu, len,
							       &use));
		out = smbdirectd_smb2_inline_request(test_ctx, pdu, len,
						     NULL, 0, NULL,
						     &new_len, &err);
		assert_null(out);
		assert_int_equal(err.code, EPROTO);
		assert_int_equal(new_len, 0);
		assert_false(smbdirectd_smb2_find_read_rsp(pdu, len, 1, NULL,
							   &err));
	}
}

static void test_parse_signed(void **state)
{
	struct smbdirectd_smb2_rdma_req *r = NULL;
	struct elem e;
	uint8_t *pdu = NULL;
	size_t len = 0;

	(void)state;

	e = cifs_write(SMB2_CHANNEL_RDMA_V1, 3, 4096);
	PUSH_LE_U32(e.buf, H_FLAGS, SMB2_HDR_FLAG_SIGNED);
	memset(e.buf + 0x30, 0x5A, 16);
	pdu = single(e, &len);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	assert_true(r->is_signed);
	TALLOC_FREE(r);

	/* other flags (related, priority) do not count as signed */
	e = cifs_read(SMB2_CHANNEL_RDMA_V1, 4, 4096);
	PUSH_LE_U32(e.buf, H_FLAGS, SMB2_HDR_FLAG_CHAINED | 0x70);
	pdu = single(e, &len);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	assert_false(r->is_signed);
	TALLOC_FREE(r);
}

static void test_parse_unknown_channel(void **state)
{
	uint32_t bad[] = { SMB2_CHANNEL_RDMA_TRANSFORM, 4, 0x100, 0xFFFFFFFF };
	size_t i;

	(void)state;

	for (i = 0; i < 4; i++) {
		uint8_t *pdu = NULL;
		size_t len = 0;

		pdu = single(cifs_read(bad[i], 1, 4096), &len);
		expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
		pdu = single(cifs_write(bad[i], 1, 4096), &len);
		expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
	}
}

static void test_parse_length_limits(void **state)
{
	struct smbdirectd_smb2_rdma_req *r = NULL;
	struct elem e;
	uint8_t *pdu = NULL;
	size_t len = 0;

	(void)state;

	/* READ Length: 0 bad, 1 good, max good, max + 1 bad */
	e = cifs_read(SMB2_CHANNEL_RDMA_V1, 1, 0);
	PUSH_LE_U32(e.buf, RD_BUFFER + 12, 1);
	pdu = single(e, &len);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
	PUSH_LE_U32(pdu, RD_LENGTH, 1);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	TALLOC_FREE(r);

	pdu = single(cifs_read(SMB2_CHANNEL_RDMA_V1, 1, MAX_RW), &len);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	TALLOC_FREE(r);
	expect_eproto(pdu, len, MAX_RW - 1, MAX_DESCS);
	PUSH_LE_U32(pdu, RD_LENGTH, MAX_RW + 1);
	PUSH_LE_U32(pdu, RD_BUFFER + 12, MAX_RW + 1);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);

	/* WRITE RemainingBytes: the same */
	pdu = single(cifs_write(SMB2_CHANNEL_RDMA_V1, 1, MAX_RW), &len);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	TALLOC_FREE(r);
	PUSH_LE_U32(pdu, WR_REMAINING, MAX_RW + 1);
	PUSH_LE_U32(pdu, WR_BUFFER + 12, MAX_RW + 1);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
	PUSH_LE_U32(pdu, WR_REMAINING, 0);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
	PUSH_LE_U32(pdu, WR_REMAINING, 1);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	TALLOC_FREE(r);

	/* WRITE with RDMA channel and inline Length: 0 good, 1 bad */
	PUSH_LE_U32(pdu, WR_LENGTH, 1);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
	PUSH_LE_U32(pdu, WR_LENGTH, 0xFFFFFFFF);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
}

static void test_parse_channel_info_bounds(void **state)
{
	struct smbdirectd_smb2_rdma_req *r = NULL;
	struct elem e;
	uint8_t *pdu = NULL;
	size_t len = 0;

	(void)state;

	/*
	 * A READ of 0x90 bytes: channel info may sit anywhere in
	 * [0x70, 0x90).
	 */
	e = cifs_read(SMB2_CHANNEL_RDMA_V1, 1, 4096);
	e.buf = talloc_realloc(test_ctx, e.buf, uint8_t, 0x90);
	memset(e.buf + 0x80, 0, 0x10);
	e.len = 0x90;
	pdu = single(e, &len);

	/* at the end of the element: good; one past: bad */
	put_desc(pdu + 0x80, 1, 2, 4096);
	PUSH_LE_U16(pdu, RD_CI_OFS, 0x80);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	assert_int_equal(r->descs[0].token, 2);
	TALLOC_FREE(r);
	PUSH_LE_U16(pdu, RD_CI_OFS, 0x81);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
	PUSH_LE_U16(pdu, RD_CI_OFS, 0xFFFF);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);

	/* the same end, reached through the length */
	PUSH_LE_U16(pdu, RD_CI_OFS, 0x70);
	PUSH_LE_U16(pdu, RD_CI_LEN, 32);
	put_desc(pdu + 0x70, 1, 2, 2048);
	put_desc(pdu + 0x80, 3, 4, 2048);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	assert_int_equal(r->num_descs, 2);
	TALLOC_FREE(r);
	PUSH_LE_U16(pdu, RD_CI_LEN, 48);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
	PUSH_LE_U16(pdu, RD_CI_LEN, 0xFFF0);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);

	/* inside the fixed part: 0x70 good (above), 0x6F bad, 0 bad */
	PUSH_LE_U16(pdu, RD_CI_LEN, 16);
	PUSH_LE_U16(pdu, RD_CI_OFS, 0x6F);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
	PUSH_LE_U16(pdu, RD_CI_OFS, 0);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);

	/* the element, not the PDU, is the limit: a READ in a chain */
	{
		struct elem ce[2];
		size_t offs[2];

		ce[0] = cifs_read(SMB2_CHANNEL_RDMA_V1, 5, 4096);
		ce[1] = other(SMB2_OP_CLOSE, 6, 64 + 24);
		pdu = chain(ce, 2, &len, offs);
		PUSH_LE_U16(pdu, RD_CI_OFS, 0x78);
		expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
	}

	/* WRITE: the same rules */
	pdu = single(cifs_write(SMB2_CHANNEL_RDMA_V1_INVALIDATE, 1, 4096),
		     &len);
	PUSH_LE_U16(pdu, WR_CI_OFS, 0x71);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
	PUSH_LE_U16(pdu, WR_CI_OFS, 0x6F);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
	PUSH_LE_U16(pdu, WR_CI_OFS, 0x70);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	TALLOC_FREE(r);
}

static void test_parse_channel_info_length(void **state)
{
	uint16_t bad[] = { 0, 1, 15, 17, 24, 31 };
	uint8_t *pdu = NULL;
	size_t len = 0;
	size_t i;

	(void)state;

	for (i = 0; i < 6; i++) {
		struct elem e = cifs_read(SMB2_CHANNEL_RDMA_V1, 1, 100);

		e.buf = talloc_realloc(test_ctx, e.buf, uint8_t, 0xB0);
		memset(e.buf + 0x80, 0, 0x30);
		e.len = 0xB0;
		put_desc(e.buf + 0x80, 1, 1, 100);
		pdu = single(e, &len);
		PUSH_LE_U16(pdu, RD_CI_LEN, bad[i]);
		expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
	}

	pdu = single(cifs_write(SMB2_CHANNEL_RDMA_V1, 1, 100), &len);
	PUSH_LE_U16(pdu, WR_CI_LEN, 0);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
	PUSH_LE_U16(pdu, WR_CI_LEN, 8);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
}

/* A READ with n descriptors of the given lengths. */
static uint8_t *read_with_descs(const uint32_t *lengths, size_t n,
				uint32_t length, size_t *len)
{
	struct elem e;
	size_t i;

	e.len = 0x70 + 16 * n;
	e.buf = new_hdr(test_ctx, e.len, SMB2_OP_READ, 77);
	PUSH_LE_U16(e.buf, RD_STRUCT, 49);
	PUSH_LE_U32(e.buf, RD_LENGTH, length);
	PUSH_LE_U32(e.buf, RD_CHANNEL, SMB2_CHANNEL_RDMA_V1);
	PUSH_LE_U16(e.buf, RD_CI_OFS, 0x70);
	PUSH_LE_U16(e.buf, RD_CI_LEN, 16 * n);
	for (i = 0; i < n; i++) {
		put_desc(e.buf + 0x70 + 16 * i, 0x1000 * i, 100 + i,
			 lengths[i]);
	}
	return single(e, len);
}

static void test_parse_descriptor_count(void **state)
{
	uint32_t lengths[MAX_DESCS + 1];
	struct smbdirectd_smb2_rdma_req *r = NULL;
	uint8_t *pdu = NULL;
	size_t len = 0;
	size_t i;

	(void)state;

	for (i = 0; i < MAX_DESCS + 1; i++) {
		lengths[i] = 4096;
	}

	/* max_descs: at the limit good, one past bad */
	pdu = read_with_descs(lengths, MAX_DESCS, 4096 * MAX_DESCS, &len);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	assert_int_equal(r->num_descs, MAX_DESCS);
	assert_int_equal(r->descs_total, 4096 * MAX_DESCS);
	for (i = 0; i < MAX_DESCS; i++) {
		assert_int_equal(r->descs[i].offset, 0x1000 * i);
		assert_int_equal(r->descs[i].token, 100 + i);
	}
	TALLOC_FREE(r);
	pdu = read_with_descs(lengths, MAX_DESCS + 1, 4096, &len);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
	expect_eproto(pdu, len, MAX_RW, 0);

	/* a descriptor of Length 0, first or last */
	lengths[0] = 0;
	pdu = read_with_descs(lengths, 3, 4096, &len);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
	lengths[0] = 4096;
	lengths[2] = 0;
	pdu = read_with_descs(lengths, 3, 4096, &len);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
}

static void test_parse_descriptor_sums(void **state)
{
	uint32_t lengths[4096];
	struct smbdirectd_smb2_rdma_req *r = NULL;
	uint8_t *pdu = NULL;
	size_t len = 0;
	size_t i;

	(void)state;

	/* sum == Length good, sum == Length - 1 bad */
	lengths[0] = 1000;
	lengths[1] = 24;
	pdu = read_with_descs(lengths, 2, 1024, &len);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	assert_int_equal(r->descs_total, 1024);
	TALLOC_FREE(r);
	lengths[1] = 23;
	pdu = read_with_descs(lengths, 2, 1024, &len);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);

	/* more than needed is fine (the client offers a bigger buffer) */
	lengths[1] = 1000000;
	pdu = read_with_descs(lengths, 2, 1024, &len);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	assert_int_equal(r->descs_total, 1001000);
	TALLOC_FREE(r);

	/*
	 * Sums that wrap 32 bits: a 32-bit adder would see 0 or a tiny
	 * total. UINT32_MAX exactly is accepted, one more is not.
	 */
	lengths[0] = 0xFFFFFFFE;
	lengths[1] = 1;
	pdu = read_with_descs(lengths, 2, 4096, &len);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	assert_int_equal(r->descs_total, 0xFFFFFFFFULL);
	TALLOC_FREE(r);
	lengths[1] = 2;
	pdu = read_with_descs(lengths, 2, 4096, &len);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);

	lengths[0] = 0x80000000;
	lengths[1] = 0x80000000;
	lengths[2] = 4096;
	pdu = read_with_descs(lengths, 3, 4096, &len);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);

	/* the most a 16-bit channel info length can carry, all maximal */
	for (i = 0; i < 4095; i++) {
		lengths[i] = 0xFFFFFFFF;
	}
	pdu = read_with_descs(lengths, 4095, 4096, &len);
	expect_eproto(pdu, len, MAX_RW, 4095);
}

static void test_parse_short_element(void **state)
{
	struct elem e;
	uint8_t *pdu = NULL;
	size_t len = 0;

	(void)state;

	/*
	 * Channel readable but no room for the fixed body: EPROTO. Too
	 * short to even hold Channel: not ours, smbd rejects it.
	 */
	e = cifs_read(SMB2_CHANNEL_RDMA_V1, 1, 4096);
	pdu = single(e, &len);
	expect_eproto(pdu, RD_CHANNEL + 4, MAX_RW, MAX_DESCS);
	expect_eproto(pdu, 0x6F, MAX_RW, MAX_DESCS);
	expect_eproto(pdu, 0x7F, MAX_RW, MAX_DESCS);
	expect_none(pdu, RD_CHANNEL + 3);

	e = cifs_write(SMB2_CHANNEL_RDMA_V1, 1, 4096);
	pdu = single(e, &len);
	expect_eproto(pdu, WR_CHANNEL + 4, MAX_RW, MAX_DESCS);
	expect_none(pdu, WR_CHANNEL + 3);
}

static void test_parse_error_in_chain(void **state)
{
	struct smbdirectd_smb2_rdma_req *reqs = NULL;
	struct smbdirect_err err;
	struct elem e[3];
	size_t offs[3];
	uint8_t *pdu = NULL;
	size_t len = 0;
	size_t num = 0;
	int ret;

	(void)state;

	e[0] = cifs_read(SMB2_CHANNEL_RDMA_V1, 1, 4096);
	e[1] = cifs_write(SMB2_CHANNEL_RDMA_V1, 2, 4096);
	e[2] = cifs_read(SMB2_CHANNEL_RDMA_V1_INVALIDATE, 3, 8192);
	pdu = chain(e, 3, &len, offs);

	ret = smbdirectd_smb2_parse_rdma(test_ctx, pdu, len, MAX_RW,
					 MAX_DESCS, &reqs, &num, &err);
	assert_int_equal(ret, 0);
	assert_int_equal(num, 3);
	assert_int_equal(reqs[0].index, 0);
	assert_int_equal(reqs[0].message_id, 1);
	assert_int_equal(reqs[1].index, 1);
	assert_int_equal(reqs[1].command, SMB2_OP_WRITE);
	assert_int_equal(reqs[2].index, 2);
	assert_int_equal(reqs[2].length, 8192);
	TALLOC_FREE(reqs);

	/* the last one is bad: the whole PDU is refused, nothing leaks */
	PUSH_LE_U32(pdu, offs[2] + RD_BUFFER + 12, 8191);
	expect_eproto(pdu, len, MAX_RW, MAX_DESCS);
}

/* ---------------------------------------------------------------- */

/*
 * Parse a chain the way smbd 4.17 does (smbd_smb2_inbuf_parse_compound,
 * smbd_smb2_request_verify_sizes) and return element idx's bounds.
 */
static void smbd_element(const uint8_t *pdu, size_t len, size_t idx,
			 size_t *ofs, size_t *elen)
{
	size_t taken = 0;
	size_t i = 0;

	while (taken < len) {
		const uint8_t *hdr = pdu + taken;
		size_t full = len - taken;
		uint32_t next;

		assert_true(full >= 66);
		assert_int_equal(PULL_LE_U32(hdr, 0), SMB2_MAGIC);
		assert_int_equal(PULL_LE_U16(hdr, H_STRUCT_SIZE), 64);
		next = PULL_LE_U32(hdr, H_NEXT);
		if (next != 0) {
			assert_true(next >= 66);
			assert_true(next <= full);
			assert_int_equal(next % 8, 0);
			full = next;
		}
		if (i == idx) {
			*ofs = taken;
			*elen = full;
			return;
		}
		assert_int_not_equal(next, 0);
		taken += full;
		i += 1;
	}
	fail_msg("element %zu not found", idx);
}

/* smbd_smb2_request_process_write(): where smbd finds the data. */
static void smbd_write_data(const uint8_t *hdr, size_t elen,
			    const uint8_t **data, uint32_t *data_len)
{
	uint16_t body_size = PULL_LE_U16(hdr, WR_STRUCT);
	size_t dyn_size;
	uint16_t data_ofs;

	assert_true(body_size >= 2);
	body_size &= 0xFFFE;
	assert_int_equal(body_size, 0x30);
	assert_true(elen >= 64 + (size_t)body_size);
	dyn_size = elen - 64 - body_size;

	data_ofs = PULL_LE_U16(hdr, WR_DATA_OFS);
	assert_int_equal(data_ofs, 64 + body_size);
	*data_len = PULL_LE_U32(hdr, WR_LENGTH);
	assert_true(*data_len <= dyn_size);
	*data = hdr + data_ofs;
}

/* smbd_smb2_request_process_read(): sizes it insists on. */
static void smbd_read_ok(const uint8_t *hdr, size_t elen)
{
	uint16_t body_size = PULL_LE_U16(hdr, RD_STRUCT) & 0xFFFE;

	assert_int_equal(body_size, 0x30);
	assert_true(elen >= 64 + 0x30 + 1);
}

static void test_inline_read(void **state)
{
	uint32_t channels[] = {
		SMB2_CHANNEL_RDMA_V1,
		SMB2_CHANNEL_RDMA_V1_INVALIDATE,
	};
	size_t c;

	(void)state;

	for (c = 0; c < 2; c++) {
		struct smbdirectd_smb2_rdma_req *r = NULL;
		struct smbdirect_err err;
		uint8_t *pdu = NULL;
		uint8_t *out = NULL;
		size_t len = 0;
		size_t new_len = 0;
		size_t i;

		pdu = single(cifs_read(channels[c], 9, 65536), &len);
		PUSH_LE_U32(pdu, RD_REMAINING, 131072);
		r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
		out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, r, 1,
						     NULL, &new_len, &err);
		assert_non_null(out);
		assert_int_equal(err.code, 0);
		assert_int_equal(new_len, len);

		assert_int_equal(PULL_LE_U32(out, RD_CHANNEL), 0);
		assert_int_equal(PULL_LE_U32(out, RD_REMAINING), 0);
		assert_int_equal(PULL_LE_U16(out, RD_CI_OFS), 0);
		assert_int_equal(PULL_LE_U16(out, RD_CI_LEN), 0);
		assert_int_equal(PULL_LE_U32(out, RD_LENGTH), 65536);

		/* every other byte as the client sent it */
		for (i = 0; i < len; i++) {
			if ((i >= RD_CHANNEL && i < RD_CHANNEL + 8) ||
			    (i >= RD_CI_OFS && i < RD_CI_OFS + 4))
			{
				continue;
			}
			assert_int_equal(out[i], pdu[i]);
		}
		smbd_read_ok(out, new_len);
		TALLOC_FREE(out);
		TALLOC_FREE(r);
	}
}

static void test_inline_write(void **state)
{
	uint32_t channels[] = {
		SMB2_CHANNEL_RDMA_V1,
		SMB2_CHANNEL_RDMA_V1_INVALIDATE,
	};
	size_t c;

	(void)state;

	for (c = 0; c < 2; c++) {
		struct smbdirectd_smb2_rdma_req *r = NULL;
		struct smbdirectd_smb2_write_data w;
		struct smbdirect_err err;
		uint8_t payload[1000];
		uint8_t *pdu = NULL;
		uint8_t *out = NULL;
		size_t len = 0;
		size_t new_len = 0;
		size_t i;

		for (i = 0; i < sizeof(payload); i++) {
			payload[i] = (uint8_t)(i * 13 + 1);
		}
		pdu = single(cifs_write(channels[c], 10, sizeof(payload)),
			     &len);
		r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
		w.data = payload;
		w.len = sizeof(payload);
		out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, r, 1,
						     &w, &new_len, &err);
		assert_non_null(out);
		assert_int_equal(new_len, 0x70 + sizeof(payload));

		/* header identical but nothing changes there */
		assert_memory_equal(out, pdu, 64);
		assert_int_equal(PULL_LE_U16(out, WR_STRUCT), 49);
		assert_int_equal(PULL_LE_U16(out, WR_DATA_OFS), 0x70);
		assert_int_equal(PULL_LE_U32(out, WR_LENGTH), sizeof(payload));
		assert_int_equal(PULL_LE_U64(out, WR_OFFSET), 0x10000);
		assert_memory_equal(out + WR_FILEID, pdu + WR_FILEID, 16);
		assert_int_equal(PULL_LE_U32(out, WR_CHANNEL), 0);
		assert_int_equal(PULL_LE_U32(out, WR_REMAINING), 0);
		assert_int_equal(PULL_LE_U16(out, WR_CI_OFS), 0);
		assert_int_equal(PULL_LE_U16(out, WR_CI_LEN), 0);
		assert_int_equal(PULL_LE_U32(out, WR_FLAGS), 1);
		assert_memory_equal(out + 0x70, payload, sizeof(payload));
		TALLOC_FREE(out);
		TALLOC_FREE(r);
	}
}

static void test_inline_chain_read_middle(void **state)
{
	struct smbdirectd_smb2_rdma_req *r = NULL;
	struct smbdirect_err err;
	struct elem e[3];
	size_t offs[3];
	uint8_t *pdu = NULL;
	uint8_t *out = NULL;
	size_t len = 0;
	size_t new_len = 0;

	(void)state;

	e[0] = other(SMB2_OP_CREATE, 20, 64 + 57 + 60);
	e[1] = cifs_read(SMB2_CHANNEL_RDMA_V1_INVALIDATE, 21, 1048576);
	e[2] = other(SMB2_OP_CLOSE, 22, 64 + 24);
	pdu = chain(e, 3, &len, offs);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	assert_int_equal(r->index, 1);

	out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, r, 1, NULL,
					     &new_len, &err);
	assert_non_null(out);
	assert_int_equal(new_len, len);
	/* CREATE with its padding, CLOSE: byte-identical */
	assert_memory_equal(out, pdu, offs[1]);
	assert_memory_equal(out + offs[2], pdu + offs[2], len - offs[2]);
	assert_int_equal(PULL_LE_U32(out + offs[1], H_NEXT), 0x80);
	assert_int_equal(PULL_LE_U32(out + offs[1], RD_CHANNEL), 0);
	assert_int_equal(PULL_LE_U16(out + offs[1], RD_CI_LEN), 0);
}

static void test_inline_chain_write_middle(void **state)
{
	struct smbdirectd_smb2_rdma_req *r = NULL;
	struct smbdirectd_smb2_write_data w;
	struct smbdirect_err err;
	uint8_t payload[13] = "thirteen byte";
	struct elem e[3];
	size_t offs[3];
	uint8_t *pdu = NULL;
	uint8_t *out = NULL;
	size_t len = 0;
	size_t new_len = 0;
	size_t i;

	(void)state;

	e[0] = other(SMB2_OP_CREATE, 30, 64 + 57 + 60);
	e[1] = cifs_write(SMB2_CHANNEL_RDMA_V1, 31, sizeof(payload));
	e[2] = other(SMB2_OP_CLOSE, 32, 64 + 24 + 3);
	pdu = chain(e, 3, &len, offs);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	assert_int_equal(r->index, 1);

	w.data = payload;
	w.len = sizeof(payload);
	out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, r, 1, &w,
					     &new_len, &err);
	assert_non_null(out);

	/*
	 * 0x70 + 13 = 0x7D, padded to 0x80: by chance the same slot as
	 * before. CREATE unchanged, CLOSE unchanged and still last.
	 */
	assert_int_equal(new_len, len);
	assert_memory_equal(out, pdu, offs[1]);
	assert_memory_equal(out + offs[2], pdu + offs[2], len - offs[2]);
	assert_int_equal(PULL_LE_U32(out + offs[1], H_NEXT), 0x80);
	assert_memory_equal(out + offs[1] + 0x70, payload, sizeof(payload));
	for (i = offs[1] + 0x7D; i < offs[2]; i++) {
		assert_int_equal(out[i], 0);
	}
	TALLOC_FREE(out);
	TALLOC_FREE(r);

	/* a bigger payload moves CLOSE */
	{
		uint8_t big[4001];

		memset(big, 0x42, sizeof(big));
		e[1] = cifs_write(SMB2_CHANNEL_RDMA_V1, 31, sizeof(big));
		pdu = chain(e, 3, &len, offs);
		r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
		w.data = big;
		w.len = sizeof(big);
		out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, r, 1,
						     &w, &new_len, &err);
		assert_non_null(out);
		/* 0x70 + 4001 = 4113 -> 4120 */
		assert_int_equal(PULL_LE_U32(out + offs[1], H_NEXT), 4120);
		assert_int_equal(new_len, offs[1] + 4120 + e[2].len);
		assert_memory_equal(out, pdu, offs[1]);
		assert_memory_equal(out + offs[1] + 4120, pdu + offs[2],
				    e[2].len);
		assert_int_equal(PULL_LE_U32(out + offs[1] + 4120, H_NEXT), 0);
		for (i = offs[1] + 4113; i < offs[1] + 4120; i++) {
			assert_int_equal(out[i], 0);
		}
	}
}

static void test_inline_chain_write_last(void **state)
{
	struct smbdirectd_smb2_rdma_req *r = NULL;
	struct smbdirectd_smb2_write_data w;
	struct smbdirect_err err;
	uint8_t payload[5] = { 1, 2, 3, 4, 5 };
	struct elem e[2];
	size_t offs[2];
	uint8_t *pdu = NULL;
	uint8_t *out = NULL;
	size_t len = 0;
	size_t new_len = 0;

	(void)state;

	e[0] = other(SMB2_OP_CREATE, 40, 64 + 57);
	e[1] = cifs_write(SMB2_CHANNEL_RDMA_V1, 41, sizeof(payload));
	pdu = chain(e, 2, &len, offs);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	w.data = payload;
	w.len = sizeof(payload);
	out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, r, 1, &w,
					     &new_len, &err);
	assert_non_null(out);
	/* the last element is not padded */
	assert_int_equal(new_len, offs[1] + 0x70 + 5);
	assert_int_equal(PULL_LE_U32(out + offs[1], H_NEXT), 0);
	assert_memory_equal(out, pdu, offs[1]);
	assert_memory_equal(out + offs[1] + 0x70, payload, 5);
}

/*
 * Two WRITEs and a READ in one chain, with a plain request between:
 * each WRITE gets its own payload.
 */
static void test_inline_chain_many(void **state)
{
	struct smbdirectd_smb2_rdma_req *reqs = NULL;
	struct smbdirectd_smb2_write_data w[3];
	struct smbdirect_err err;
	uint8_t p0[100];
	uint8_t p2[7];
	struct elem e[4];
	size_t offs[4];
	uint8_t *pdu = NULL;
	uint8_t *out = NULL;
	size_t len = 0;
	size_t new_len = 0;
	size_t num = 0;
	size_t ofs = 0;
	size_t elen = 0;
	const uint8_t *data = NULL;
	uint32_t data_len = 0;
	int ret;

	(void)state;

	memset(p0, 0x10, sizeof(p0));
	memset(p2, 0x20, sizeof(p2));
	e[0] = cifs_write(SMB2_CHANNEL_RDMA_V1_INVALIDATE, 50, sizeof(p0));
	e[1] = other(SMB2_OP_FLUSH, 51, 64 + 24);
	e[2] = cifs_write(SMB2_CHANNEL_RDMA_V1_INVALIDATE, 52, sizeof(p2));
	e[3] = cifs_read(SMB2_CHANNEL_RDMA_V1_INVALIDATE, 53, 4096);
	pdu = chain(e, 4, &len, offs);

	ret = smbdirectd_smb2_parse_rdma(test_ctx, pdu, len, MAX_RW,
					 MAX_DESCS, &reqs, &num, &err);
	assert_int_equal(ret, 0);
	assert_int_equal(num, 3);
	assert_int_equal(reqs[0].index, 0);
	assert_int_equal(reqs[1].index, 2);
	assert_int_equal(reqs[2].index, 3);

	/* payloads swapped: sizes do not match, refused */
	w[0] = (struct smbdirectd_smb2_write_data) { p2, sizeof(p2) };
	w[1] = (struct smbdirectd_smb2_write_data) { p0, sizeof(p0) };
	w[2] = (struct smbdirectd_smb2_write_data) { NULL, 0 };
	out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, reqs, num,
					     w, &new_len, &err);
	assert_null(out);
	assert_int_equal(err.code, EINVAL);

	/* writes[] follows reqs[]; the READ's entry is unused */
	w[0] = (struct smbdirectd_smb2_write_data) { p0, sizeof(p0) };
	w[1] = (struct smbdirectd_smb2_write_data) { p2, sizeof(p2) };
	out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, reqs, num,
					     w, &new_len, &err);
	assert_non_null(out);

	smbd_element(out, new_len, 0, &ofs, &elen);
	smbd_write_data(out + ofs, elen, &data, &data_len);
	assert_int_equal(data_len, sizeof(p0));
	assert_memory_equal(data, p0, sizeof(p0));
	assert_int_equal(elen, 0x70 + 104);

	/* FLUSH moved, but byte-identical with its padding */
	smbd_element(out, new_len, 1, &ofs, &elen);
	assert_int_equal(elen, offs[2] - offs[1]);
	assert_memory_equal(out + ofs, pdu + offs[1], elen);

	smbd_element(out, new_len, 2, &ofs, &elen);
	smbd_write_data(out + ofs, elen, &data, &data_len);
	assert_int_equal(data_len, sizeof(p2));
	assert_memory_equal(data, p2, sizeof(p2));

	smbd_element(out, new_len, 3, &ofs, &elen);
	assert_int_equal(PULL_LE_U32(out + ofs, RD_CHANNEL), 0);
	smbd_read_ok(out + ofs, elen);
	assert_int_equal(ofs + elen, new_len);
}

static void test_inline_bad_args(void **state)
{
	struct smbdirectd_smb2_rdma_req *r = NULL;
	struct smbdirectd_smb2_rdma_req copy;
	struct smbdirectd_smb2_write_data w;
	struct smbdirect_err err;
	uint8_t payload[64] = { 0 };
	uint8_t *pdu = NULL;
	uint8_t *out = NULL;
	size_t len = 0;
	size_t new_len = 0;

	(void)state;

	pdu = single(cifs_write(SMB2_CHANNEL_RDMA_V1, 60, 64), &len);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);

	/* payload of the wrong size, or none */
	w.data = payload;
	w.len = 63;
	out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, r, 1, &w,
					     &new_len, &err);
	assert_null(out);
	assert_int_equal(err.code, EINVAL);
	out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, r, 1, NULL,
					     &new_len, &err);
	assert_null(out);
	assert_int_equal(err.code, EINVAL);
	w.data = NULL;
	w.len = 64;
	out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, r, 1, &w,
					     &new_len, &err);
	assert_null(out);

	/* a request that does not describe this PDU */
	w.data = payload;
	copy = *r;
	copy.index = 1;
	out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, &copy, 1,
					     &w, &new_len, &err);
	assert_null(out);
	assert_int_equal(err.code, EINVAL);
	copy = *r;
	copy.command = SMB2_OP_READ;
	out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, &copy, 1,
					     &w, &new_len, &err);
	assert_null(out);
	copy = *r;
	copy.message_id = 61;
	out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, &copy, 1,
					     &w, &new_len, &err);
	assert_null(out);

	/* no requests: a plain copy */
	out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, NULL, 0,
					     NULL, &new_len, &err);
	assert_non_null(out);
	assert_int_equal(new_len, len);
	assert_memory_equal(out, pdu, len);
	TALLOC_FREE(out);

	out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, r, 1, &w,
					     NULL, &err);
	assert_null(out);
	assert_int_equal(err.code, EINVAL);
	TALLOC_FREE(r);
}

static void test_inline_emsgsize(void **state)
{
	struct smbdirectd_smb2_rdma_req *r = NULL;
	struct smbdirectd_smb2_write_data w;
	struct smbdirect_err err;
	const uint32_t max_payload = 0xFFFFFF - 0x70;
	uint8_t *payload = NULL;
	uint8_t *pdu = NULL;
	uint8_t *out = NULL;
	size_t len = 0;
	size_t new_len = 0;

	(void)state;

	payload = talloc_zero_size(test_ctx, max_payload + 1);
	assert_non_null(payload);

	/* exactly 0xFFFFFF bytes: fine */
	pdu = single(cifs_write(SMB2_CHANNEL_RDMA_V1, 70, max_payload), &len);
	r = expect_one(pdu, len, 16 * 1024 * 1024, MAX_DESCS);
	w.data = payload;
	w.len = max_payload;
	out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, r, 1, &w,
					     &new_len, &err);
	assert_non_null(out);
	assert_int_equal(new_len, 0xFFFFFF);
	TALLOC_FREE(out);
	TALLOC_FREE(r);

	/* one more */
	pdu = single(cifs_write(SMB2_CHANNEL_RDMA_V1, 70, max_payload + 1),
		     &len);
	r = expect_one(pdu, len, 16 * 1024 * 1024, MAX_DESCS);
	w.len = max_payload + 1;
	out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, r, 1, &w,
					     &new_len, &err);
	assert_null(out);
	assert_int_equal(err.code, EMSGSIZE);
	TALLOC_FREE(r);
	TALLOC_FREE(payload);
}

/*
 * Rewrite a cifs.ko RDMA WRITE, then read the result the way smbd
 * does: DataOffset and Length must lead to exactly the payload.
 */
static void test_round_trip_write(void **state)
{
	uint32_t sizes[] = { 1, 7, 8, 4096, 65536 + 3 };
	size_t s;

	(void)state;

	for (s = 0; s < 5; s++) {
		struct smbdirectd_smb2_rdma_req *r = NULL;
		struct smbdirectd_smb2_write_data w;
		struct smbdirect_err err;
		struct elem e[3];
		uint8_t *payload = NULL;
		uint8_t *pdu = NULL;
		uint8_t *out = NULL;
		size_t len = 0;
		size_t new_len = 0;
		size_t ofs = 0;
		size_t elen = 0;
		const uint8_t *data = NULL;
		uint32_t data_len = 0;
		size_t i;

		payload = talloc_size(test_ctx, sizes[s]);
		assert_non_null(payload);
		for (i = 0; i < sizes[s]; i++) {
			payload[i] = (uint8_t)(i ^ (i >> 8) ^ s);
		}

		e[0] = other(SMB2_OP_CREATE, 80, 64 + 57);
		e[1] = cifs_write(SMB2_CHANNEL_RDMA_V1_INVALIDATE, 81,
				  sizes[s]);
		e[2] = other(SMB2_OP_CLOSE, 82, 64 + 24);
		pdu = chain(e, 3, &len, NULL);
		r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
		w.data = payload;
		w.len = sizes[s];
		out = smbdirectd_smb2_inline_request(test_ctx, pdu, len, r, 1,
						     &w, &new_len, &err);
		assert_non_null(out);

		smbd_element(out, new_len, 1, &ofs, &elen);
		assert_int_equal(PULL_LE_U64(out + ofs, H_MID), 81);
		smbd_write_data(out + ofs, elen, &data, &data_len);
		assert_int_equal(data_len, sizes[s]);
		assert_memory_equal(data, payload, sizes[s]);
		assert_int_equal(PULL_LE_U32(out + ofs, WR_CHANNEL), 0);

		smbd_element(out, new_len, 2, &ofs, &elen);
		assert_int_equal(PULL_LE_U64(out + ofs, H_MID), 82);
		assert_int_equal(ofs + elen, new_len);

		/* and nothing asks for RDMA any more */
		expect_none(out, new_len);
	}
}

/* ---------------------------------------------------------------- */

static void test_find_read_rsp(void **state)
{
	struct smbdirectd_smb2_read_rsp rsp;
	struct smbdirect_err err;
	uint8_t data[300];
	struct elem e[3];
	size_t offs[3];
	uint8_t *pdu = NULL;
	size_t len = 0;
	bool ok;

	(void)state;

	memset(data, 0x77, sizeof(data));
	e[0] = other(SMB2_OP_CREATE, 90, 64 + 88);
	e[1] = read_rsp(91, 0, data, sizeof(data));
	e[2] = other(SMB2_OP_CLOSE, 92, 64 + 60);
	pdu = chain(e, 3, &len, offs);

	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 91, &rsp, &err);
	assert_true(ok);
	assert_int_equal(err.code, 0);
	assert_int_equal(rsp.index, 1);
	assert_int_equal(rsp.message_id, 91);
	assert_int_equal(rsp.status, 0);
	assert_false(rsp.is_async_interim);
	assert_false(rsp.is_signed);
	assert_ptr_equal(rsp.data, pdu + offs[1] + 0x50);
	assert_int_equal(rsp.data_len, sizeof(data));

	/* not a READ: found, no data */
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 92, &rsp, &err);
	assert_true(ok);
	assert_int_equal(rsp.index, 2);
	assert_null(rsp.data);
	assert_int_equal(rsp.data_len, 0);

	/* unknown MessageId: false without error */
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 93, &rsp, &err);
	assert_false(ok);
	assert_int_equal(err.code, 0);

	/* cannot be split: false without error */
	ok = smbdirectd_smb2_find_read_rsp(pdu, 63, 91, &rsp, &err);
	assert_false(ok);
	assert_int_equal(err.code, 0);

	/* signed */
	PUSH_LE_U32(pdu + offs[1], H_FLAGS,
		    SMB2_HDR_FLAG_REDIRECT | SMB2_HDR_FLAG_SIGNED);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 91, &rsp, &err);
	assert_true(ok);
	assert_true(rsp.is_signed);
}

static void test_find_read_rsp_status(void **state)
{
	struct smbdirectd_smb2_read_rsp rsp;
	struct smbdirect_err err;
	uint8_t data[8] = { 0 };
	uint8_t *pdu = NULL;
	size_t len = 0;
	bool ok;

	(void)state;

	/* the async interim of a READ */
	pdu = single(error_rsp(SMB2_OP_READ, 5, STATUS_PENDING,
			       SMB2_HDR_FLAG_ASYNC), &len);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 5, &rsp, &err);
	assert_true(ok);
	assert_true(rsp.is_async_interim);
	assert_int_equal(rsp.status, STATUS_PENDING);
	assert_null(rsp.data);

	/* PENDING without the async flag is not an interim response */
	pdu = single(error_rsp(SMB2_OP_READ, 5, STATUS_PENDING, 0), &len);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 5, &rsp, &err);
	assert_true(ok);
	assert_false(rsp.is_async_interim);

	/* the async flag with another status: the final response */
	pdu = single(read_rsp(5, 0, data, sizeof(data)), &len);
	PUSH_LE_U32(pdu, H_FLAGS,
		    SMB2_HDR_FLAG_REDIRECT | SMB2_HDR_FLAG_ASYNC);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 5, &rsp, &err);
	assert_true(ok);
	assert_false(rsp.is_async_interim);
	assert_int_equal(rsp.data_len, 8);

	/* an error: no data looked at */
	pdu = single(error_rsp(SMB2_OP_READ, 6, STATUS_END_OF_FILE, 0),
		     &len);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 6, &rsp, &err);
	assert_true(ok);
	assert_int_equal(rsp.status, STATUS_END_OF_FILE);
	assert_null(rsp.data);
	assert_int_equal(err.code, 0);

	/* success with DataLength 0 */
	pdu = single(read_rsp(7, 0, NULL, 0), &len);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 7, &rsp, &err);
	assert_true(ok);
	assert_null(rsp.data);
	assert_int_equal(rsp.data_len, 0);
}

static void test_find_read_rsp_outside(void **state)
{
	struct smbdirectd_smb2_read_rsp rsp;
	struct smbdirect_err err;
	uint8_t data[100];
	struct elem e[2];
	size_t offs[2];
	uint8_t *pdu = NULL;
	size_t len = 0;
	bool ok;

	(void)state;

	memset(data, 0x33, sizeof(data));
	pdu = single(read_rsp(1, 0, data, sizeof(data)), &len);

	/* DataOffset + DataLength == element end: good; + 1: bad */
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 1, &rsp, &err);
	assert_true(ok);
	PUSH_LE_U32(pdu, RR_DATA_LEN, sizeof(data) + 1);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 1, &rsp, &err);
	assert_false(ok);
	assert_int_equal(err.code, EPROTO);
	PUSH_LE_U32(pdu, RR_DATA_LEN, 0xFFFFFFFF);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 1, &rsp, &err);
	assert_false(ok);
	assert_int_equal(err.code, EPROTO);

	/* shifted: offset 0x58 with 92 bytes good, 93 bad */
	PUSH_LE_U8(pdu, RR_DATA_OFS, 0x58);
	PUSH_LE_U32(pdu, RR_DATA_LEN, 92);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 1, &rsp, &err);
	assert_true(ok);
	assert_ptr_equal(rsp.data, pdu + 0x58);
	PUSH_LE_U32(pdu, RR_DATA_LEN, 93);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 1, &rsp, &err);
	assert_false(ok);
	assert_int_equal(err.code, EPROTO);

	/* over the header and body: 0x50 good, 0x4F bad, 0 bad */
	PUSH_LE_U32(pdu, RR_DATA_LEN, 10);
	PUSH_LE_U8(pdu, RR_DATA_OFS, 0x4F);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 1, &rsp, &err);
	assert_false(ok);
	assert_int_equal(err.code, EPROTO);
	PUSH_LE_U8(pdu, RR_DATA_OFS, 0);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 1, &rsp, &err);
	assert_false(ok);
	PUSH_LE_U8(pdu, RR_DATA_OFS, 0x50);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 1, &rsp, &err);
	assert_true(ok);

	/* a successful READ response too short for its body */
	ok = smbdirectd_smb2_find_read_rsp(pdu, 0x4F, 1, &rsp, &err);
	assert_false(ok);
	assert_int_equal(err.code, EPROTO);

	/* the element, not the PDU, bounds the data */
	e[0] = read_rsp(2, 0, data, 37);
	e[1] = other(SMB2_OP_CLOSE, 3, 64 + 60);
	pdu = chain(e, 2, &len, offs);
	assert_int_equal(offs[1], 0x50 + 40);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 2, &rsp, &err);
	assert_true(ok);
	assert_int_equal(rsp.data_len, 37);
	PUSH_LE_U32(pdu, RR_DATA_LEN, 40); /* padding: still inside */
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 2, &rsp, &err);
	assert_true(ok);
	PUSH_LE_U32(pdu, RR_DATA_LEN, 41); /* into the next element */
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 2, &rsp, &err);
	assert_false(ok);
	assert_int_equal(err.code, EPROTO);
}

static void test_rdma_read_response_exact(void **state)
{
	static const uint8_t body[16] = {
		0x11, 0x00,		/* StructureSize 17 */
		0x50,			/* DataOffset */
		0x00,			/* Reserved */
		0x00, 0x00, 0x00, 0x00, /* DataLength */
		0x00, 0x00, 0x10, 0x00, /* DataRemaining 1 MiB */
		0x00, 0x00, 0x00, 0x00, /* Reserved2 */
	};
	struct smbdirectd_smb2_read_rsp rsp;
	struct smbdirect_err err;
	uint8_t *data = NULL;
	uint8_t *pdu = NULL;
	uint8_t *out = NULL;
	size_t len = 0;
	size_t new_len = 0;
	bool ok;

	(void)state;

	data = talloc_zero_size(test_ctx, 1048576);
	assert_non_null(data);
	pdu = single(read_rsp(100, 0, data, 1048576), &len);
	PUSH_LE_U32(pdu, H_FLAGS,
		    SMB2_HDR_FLAG_REDIRECT | SMB2_HDR_FLAG_ASYNC);
	PUSH_LE_U64(pdu, H_PID, 0x0000000500000007ULL); /* AsyncId */
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 100, &rsp, &err);
	assert_true(ok);

	out = smbdirectd_smb2_rdma_read_response(test_ctx, pdu, len, &rsp,
						 1048576, &new_len, &err);
	assert_non_null(out);
	assert_int_equal(err.code, 0);
	assert_int_equal(new_len, 80);
	assert_memory_equal(out, pdu, 64);
	assert_memory_equal(out + 64, body, 16);
	TALLOC_FREE(out);
	TALLOC_FREE(data);
}

static void test_rdma_read_response_chain(void **state)
{
	struct smbdirectd_smb2_read_rsp rsp;
	struct smbdirect_err err;
	uint8_t data[333];
	struct elem e[3];
	size_t offs[3];
	uint8_t *pdu = NULL;
	uint8_t *out = NULL;
	size_t len = 0;
	size_t new_len = 0;
	bool ok;

	(void)state;

	memset(data, 0x99, sizeof(data));
	e[0] = other(SMB2_OP_CREATE, 110, 64 + 88 + 3);
	e[1] = read_rsp(111, 0, data, sizeof(data));
	e[2] = other(SMB2_OP_CLOSE, 112, 64 + 60);
	pdu = chain(e, 3, &len, offs);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 111, &rsp, &err);
	assert_true(ok);

	out = smbdirectd_smb2_rdma_read_response(test_ctx, pdu, len, &rsp,
						 sizeof(data), &new_len, &err);
	assert_non_null(out);
	assert_int_equal(new_len, offs[1] + 80 + e[2].len);
	/* CREATE with its padding byte-identical */
	assert_memory_equal(out, pdu, offs[1]);
	/* the READ: 80 bytes, linked to CLOSE */
	assert_int_equal(PULL_LE_U32(out + offs[1], H_NEXT), 80);
	assert_int_equal(PULL_LE_U64(out + offs[1], H_MID), 111);
	assert_int_equal(PULL_LE_U16(out + offs[1], RR_STRUCT), 17);
	assert_int_equal(PULL_LE_U8(out + offs[1], RR_DATA_OFS), 0x50);
	assert_int_equal(PULL_LE_U32(out + offs[1], RR_DATA_LEN), 0);
	assert_int_equal(PULL_LE_U32(out + offs[1], RR_DATA_REMAINING),
			 sizeof(data));
	/* CLOSE unchanged and still last */
	assert_memory_equal(out + offs[1] + 80, pdu + offs[2], e[2].len);

	/* READ response last in the chain */
	e[2] = read_rsp(113, 0, data, 5);
	pdu = chain(e, 3, &len, offs);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 113, &rsp, &err);
	assert_true(ok);
	assert_int_equal(rsp.index, 2);
	out = smbdirectd_smb2_rdma_read_response(test_ctx, pdu, len, &rsp, 5,
						 &new_len, &err);
	assert_non_null(out);
	assert_int_equal(new_len, offs[2] + 80);
	assert_memory_equal(out, pdu, offs[2]);
	assert_int_equal(PULL_LE_U32(out + offs[2], H_NEXT), 0);
	assert_int_equal(PULL_LE_U32(out + offs[2], RR_DATA_REMAINING), 5);
}

static void test_rdma_read_response_bad_args(void **state)
{
	struct smbdirectd_smb2_read_rsp rsp;
	struct smbdirect_err err;
	uint8_t data[8] = { 0 };
	uint8_t *pdu = NULL;
	uint8_t *out = NULL;
	size_t len = 0;
	size_t new_len = 0;
	bool ok;

	(void)state;

	pdu = single(read_rsp(120, 0, data, sizeof(data)), &len);
	ok = smbdirectd_smb2_find_read_rsp(pdu, len, 120, &rsp, &err);
	assert_true(ok);

	rsp.index = 1;
	out = smbdirectd_smb2_rdma_read_response(test_ctx, pdu, len, &rsp, 8,
						 &new_len, &err);
	assert_null(out);
	assert_int_equal(err.code, EINVAL);

	rsp.index = 0;
	rsp.message_id = 121;
	out = smbdirectd_smb2_rdma_read_response(test_ctx, pdu, len, &rsp, 8,
						 &new_len, &err);
	assert_null(out);
	assert_int_equal(err.code, EINVAL);

	rsp.message_id = 120;
	PUSH_LE_U16(pdu, H_COMMAND, SMB2_OP_WRITE);
	out = smbdirectd_smb2_rdma_read_response(test_ctx, pdu, len, &rsp, 8,
						 &new_len, &err);
	assert_null(out);
	assert_int_equal(err.code, EINVAL);

	pdu[0] = 0xFD;
	out = smbdirectd_smb2_rdma_read_response(test_ctx, pdu, len, &rsp, 8,
						 &new_len, &err);
	assert_null(out);
	assert_int_equal(err.code, EPROTO);
}

/*
 * Every crash selftest/fuzz finds becomes a test above; none so far
 * (fuzz_smb2_rdma and fuzz_smbdirect_recv, 60 s each).
 */

/* The zero-copy keys: FileId and offset come with every RDMA request. */
static void test_parse_keys(void **state)
{
	struct smbdirectd_smb2_rdma_req *r = NULL;
	struct elem e[2];
	uint8_t *pdu = NULL;
	size_t len = 0;

	(void)state;

	pdu = single(cifs_read(SMB2_CHANNEL_RDMA_V1, 5, 4096), &len);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	assert_int_equal(r->offset, 0x123456789ULL);
	assert_int_equal(r->file_id_persistent, 0x1111111111111111ULL);
	assert_int_equal(r->file_id_volatile, 0x2222222222222222ULL);
	assert_true(r->only_element);
	TALLOC_FREE(r);

	e[0] = other(SMB2_OP_CREATE, 1, 100);
	e[1] = cifs_write(SMB2_CHANNEL_RDMA_V1, 6, 4096);
	pdu = chain(e, 2, &len, NULL);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	assert_int_equal(r->offset, 0x10000);
	assert_int_equal(r->file_id_persistent, 0x3333333333333333ULL);
	assert_int_equal(r->file_id_volatile, 0x4444444444444444ULL);
	assert_false(r->only_element);
	TALLOC_FREE(r);
}

/* The head smbd gets in front of a payload sent from the pool. */
static void test_inline_write_head(void **state)
{
	struct smbdirectd_smb2_rdma_req *r = NULL;
	struct smbdirectd_smb2_write_data w;
	struct smbdirect_err err;
	uint8_t payload[3000];
	uint8_t *pdu = NULL;
	uint8_t *head = NULL;
	uint8_t *full = NULL;
	size_t len = 0;
	size_t head_len = 0;
	size_t full_len = 0;

	(void)state;

	memset(payload, 0x5a, sizeof(payload));
	pdu = single(cifs_write(SMB2_CHANNEL_RDMA_V1_INVALIDATE, 10,
				sizeof(payload)),
		     &len);
	r = expect_one(pdu, len, MAX_RW, MAX_DESCS);
	head = smbdirectd_smb2_inline_write_head(test_ctx, pdu, len, r,
						 &head_len, &err);
	assert_non_null(head);
	assert_int_equal(head_len, 0x70);

	/* the same bytes inline_request puts in front of the payload */
	w.data = payload;
	w.len = sizeof(payload);
	full = smbdirectd_smb2_inline_request(test_ctx, pdu, len, r, 1, &w,
					      &full_len, &err);
	assert_non_null(full);
	assert_int_equal(full_len, head_len + sizeof(payload));
	assert_memory_equal(head, full, head_len);

	/* a request that is not this PDU's */
	r->message_id = 11;
	assert_null(smbdirectd_smb2_inline_write_head(test_ctx, pdu, len, r,
						      &head_len, &err));
	assert_int_equal(err.code, EINVAL);
	r->message_id = 10;
	r->command = SMB2_OP_READ;
	assert_null(smbdirectd_smb2_inline_write_head(test_ctx, pdu, len, r,
						      &head_len, &err));
	TALLOC_FREE(r);
	TALLOC_FREE(head);
	TALLOC_FREE(full);
}

struct keys_seen {
	size_t n;
	struct smbdirectd_smb2_write_key k[4];
	size_t stop_at;
};

static bool record_key(const struct smbdirectd_smb2_write_key *key,
		       void *private_data)
{
	struct keys_seen *s = private_data;

	s->k[s->n++] = *key;
	return s->n == s->stop_at;
}

static void test_any_write(void **state)
{
	struct keys_seen seen = {0};
	struct elem e[3];
	uint8_t *pdu = NULL;
	size_t len = 0;

	(void)state;

	/* an RDMA WRITE, a READ, an inline WRITE */
	e[0] = cifs_write(SMB2_CHANNEL_RDMA_V1, 1, 8192);
	e[1] = cifs_read(SMB2_CHANNEL_RDMA_V1, 2, 4096);
	e[2] = cifs_write(SMB2_CHANNEL_NONE, 3, 0);
	PUSH_LE_U32(e[2].buf, WR_LENGTH, 16);
	PUSH_LE_U64(e[2].buf, WR_OFFSET, 77);
	pdu = chain(e, 3, &len, NULL);

	assert_false(smbdirectd_smb2_any_write(pdu, len, record_key, &seen));
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.k[0].length, 8192);
	assert_int_equal(seen.k[0].offset, 0x10000);
	assert_int_equal(seen.k[0].file_id_persistent,
			 0x3333333333333333ULL);
	assert_int_equal(seen.k[1].length, 16);
	assert_int_equal(seen.k[1].offset, 77);

	memset(&seen, 0, sizeof(seen));
	seen.stop_at = 1;
	assert_true(smbdirectd_smb2_any_write(pdu, len, record_key, &seen));
	assert_int_equal(seen.n, 1);

	/* what cannot be split is not walked */
	memset(&seen, 0, sizeof(seen));
	assert_false(smbdirectd_smb2_any_write(pdu, 63, record_key, &seen));
	assert_int_equal(seen.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_split_single_and_chain,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_rejects,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_max_chain,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_rdma_channel,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_read_cifs,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_write_cifs,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_none,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_parse_transform_compressed_left_alone,
			setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_signed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_unknown_channel,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_length_limits,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_channel_info_bounds,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_channel_info_length,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_descriptor_count,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_descriptor_sums,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_short_element,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_error_in_chain,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_inline_read,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_inline_write,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_inline_chain_read_middle,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_inline_chain_write_middle,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_inline_chain_write_last,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_inline_chain_many,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_inline_bad_args,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_inline_emsgsize,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_write,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_read_rsp,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_read_rsp_status,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_read_rsp_outside,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_keys, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_inline_write_head, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_any_write, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rdma_read_response_exact,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_rdma_read_response_chain,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rdma_read_response_bad_args,
			setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
