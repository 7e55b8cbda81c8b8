/*
 * Unit tests for smbdirect_pdu.[ch]: [MS-SMBD] 2.2 message encoding,
 * decoding and structural validation.
 *
 * Copyright (C) 2025 The vfs_smbdirect authors
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

#include "proto/smbdirect_pdu.h"

/*
 * Write a raw data transfer header without any validation, so tests can
 * build malformed messages.
 */
static void put_raw_data_hdr(uint8_t *buf,
			     uint16_t credits_requested,
			     uint16_t credits_granted,
			     uint16_t flags,
			     uint32_t remaining,
			     uint32_t data_offset,
			     uint32_t data_length)
{
	buf[0] = credits_requested & 0xff;
	buf[1] = credits_requested >> 8;
	buf[2] = credits_granted & 0xff;
	buf[3] = credits_granted >> 8;
	buf[4] = flags & 0xff;
	buf[5] = flags >> 8;
	buf[6] = 0;
	buf[7] = 0;
	buf[8] = remaining & 0xff;
	buf[9] = (remaining >> 8) & 0xff;
	buf[10] = (remaining >> 16) & 0xff;
	buf[11] = remaining >> 24;
	buf[12] = data_offset & 0xff;
	buf[13] = (data_offset >> 8) & 0xff;
	buf[14] = (data_offset >> 16) & 0xff;
	buf[15] = data_offset >> 24;
	buf[16] = data_length & 0xff;
	buf[17] = (data_length >> 8) & 0xff;
	buf[18] = (data_length >> 16) & 0xff;
	buf[19] = data_length >> 24;
}

static void test_err_helpers(void **state)
{
	struct smbdirect_err err;
	int ret;

	(void)state;

	ret = smbdirect_err_set(NULL, EPROTO, "ignored %d", 1);
	assert_int_equal(ret, EPROTO);

	ret = smbdirect_err_set(&err, EINVAL, "value %d bad", 42);
	assert_int_equal(ret, EINVAL);
	assert_int_equal(err.code, EINVAL);
	assert_string_equal(err.reason, "value 42 bad");

	smbdirect_err_clear(&err);
	assert_int_equal(err.code, 0);
	assert_string_equal(err.reason, "");
	smbdirect_err_clear(NULL);
}

static void test_negotiate_req_layout(void **state)
{
	/* cifs.ko's request: 255 credits, 1364/1364, 1 MiB */
	static const uint8_t wire[SMBDIRECT_NEGOTIATE_REQ_SIZE] = {
		0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0x00,
		0x54, 0x05, 0x00, 0x00, 0x54, 0x05, 0x00, 0x00,
		0x00, 0x00, 0x10, 0x00,
	};
	struct smbdirect_negotiate_req req;
	uint8_t out[SMBDIRECT_NEGOTIATE_REQ_SIZE];
	int ret;

	(void)state;

	ret = smbdirect_negotiate_req_pull(wire, sizeof(wire), &req, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(req.min_version, 0x0100);
	assert_int_equal(req.max_version, 0x0100);
	assert_int_equal(req.reserved, 0);
	assert_int_equal(req.credits_requested, 255);
	assert_int_equal(req.preferred_send_size, 1364);
	assert_int_equal(req.max_receive_size, 1364);
	assert_int_equal(req.max_fragmented_size, 1048576);

	smbdirect_negotiate_req_push(&req, out);
	assert_memory_equal(out, wire, sizeof(wire));
}

static void test_negotiate_req_length(void **state)
{
	uint8_t buf[SMBDIRECT_NEGOTIATE_REQ_SIZE + 1] = { 0 };
	struct smbdirect_negotiate_req req;
	struct smbdirect_err err;
	int ret;

	(void)state;

	ret = smbdirect_negotiate_req_pull(buf, 19, &req, &err);
	assert_int_equal(ret, EPROTO);
	assert_int_equal(err.code, EPROTO);
	assert_non_null(strstr(err.reason, "19"));

	ret = smbdirect_negotiate_req_pull(buf, 0, &req, &err);
	assert_int_equal(ret, EPROTO);

	/* exactly 20, and trailing bytes are ignored ("at least") */
	ret = smbdirect_negotiate_req_pull(buf, 20, &req, &err);
	assert_int_equal(ret, 0);
	ret = smbdirect_negotiate_req_pull(buf, 21, &req, &err);
	assert_int_equal(ret, 0);

	ret = smbdirect_negotiate_req_pull(NULL, 20, &req, &err);
	assert_int_equal(ret, EINVAL);
}

static void test_negotiate_resp_round_trip(void **state)
{
	struct smbdirect_negotiate_resp in = {
		.min_version = 0x0100,
		.max_version = 0x0100,
		.negotiated_version = 0x0100,
		.reserved = 0,
		.credits_requested = 255,
		.credits_granted = 254,
		.status = 0xC00000BB,
		.max_read_write_size = 8 * 1024 * 1024,
		.preferred_send_size = 1364,
		.max_receive_size = 8192,
		.max_fragmented_size = 1048576,
	};
	struct smbdirect_negotiate_resp out;
	uint8_t wire[SMBDIRECT_NEGOTIATE_RESP_SIZE];
	int ret;

	(void)state;

	smbdirect_negotiate_resp_push(&in, wire);

	/* spot-check the little-endian layout of [MS-SMBD] 2.2.2 */
	assert_int_equal(wire[4], 0x00);
	assert_int_equal(wire[5], 0x01);
	assert_int_equal(wire[10], 254);
	assert_int_equal(wire[12], 0xBB);
	assert_int_equal(wire[13], 0x00);
	assert_int_equal(wire[14], 0x00);
	assert_int_equal(wire[15], 0xC0);
	assert_int_equal(wire[18], 0x80);
	assert_int_equal(wire[24], 0x00);
	assert_int_equal(wire[25], 0x20);

	ret = smbdirect_negotiate_resp_pull(wire, sizeof(wire), &out, NULL);
	assert_int_equal(ret, 0);
	assert_memory_equal(&in, &out, sizeof(in));

	ret = smbdirect_negotiate_resp_pull(wire, 31, &out, NULL);
	assert_int_equal(ret, EPROTO);
}

static void test_data_hdr_valid(void **state)
{
	uint8_t buf[64] = { 0 };
	struct smbdirect_data_hdr hdr;
	int ret;

	(void)state;

	/* credit-only message, 20 bytes */
	put_raw_data_hdr(buf, 255, 10, SMBDIRECT_FLAG_RESPONSE_REQUESTED,
			 0, 0, 0);
	ret = smbdirect_data_hdr_pull(buf, 20, &hdr, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(hdr.credits_requested, 255);
	assert_int_equal(hdr.credits_granted, 10);
	assert_int_equal(hdr.flags, SMBDIRECT_FLAG_RESPONSE_REQUESTED);
	assert_int_equal(hdr.data_length, 0);

	/* payload of 40 bytes at offset 24, message exactly 64 bytes */
	put_raw_data_hdr(buf, 1, 0, 0, 100, 24, 40);
	ret = smbdirect_data_hdr_pull(buf, 64, &hdr, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(hdr.remaining_data_length, 100);
	assert_int_equal(hdr.data_offset, 24);
	assert_int_equal(hdr.data_length, 40);

	/* other 8-aligned offsets are valid ([MS-SMBD] 3.1.5.4 "MAY") */
	put_raw_data_hdr(buf, 1, 0, 0, 0, 32, 32);
	ret = smbdirect_data_hdr_pull(buf, 64, &hdr, NULL);
	assert_int_equal(ret, 0);
}

static void test_data_hdr_short(void **state)
{
	uint8_t buf[20] = { 0 };
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	int ret;

	(void)state;

	put_raw_data_hdr(buf, 1, 0, 0, 0, 0, 0);
	ret = smbdirect_data_hdr_pull(buf, 19, &hdr, &err);
	assert_int_equal(ret, EPROTO);
	assert_string_equal(err.reason,
			    "data transfer: message length 19 below "
			    "minimum 20");

	ret = smbdirect_data_hdr_pull(buf, 0, &hdr, &err);
	assert_int_equal(ret, EPROTO);

	ret = smbdirect_data_hdr_pull(buf, 20, &hdr, &err);
	assert_int_equal(ret, 0);
}

static void test_data_hdr_credits_requested_zero(void **state)
{
	uint8_t buf[20];
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	int ret;

	(void)state;

	put_raw_data_hdr(buf, 0, 5, 0, 0, 0, 0);
	ret = smbdirect_data_hdr_pull(buf, sizeof(buf), &hdr, &err);
	assert_int_equal(ret, EPROTO);
	assert_non_null(strstr(err.reason, "CreditsRequested is 0"));
}

static void test_data_hdr_unaligned_offset(void **state)
{
	uint8_t buf[64] = { 0 };
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	int ret;

	(void)state;

	put_raw_data_hdr(buf, 1, 0, 0, 0, 25, 8);
	ret = smbdirect_data_hdr_pull(buf, sizeof(buf), &hdr, &err);
	assert_int_equal(ret, EPROTO);
	assert_non_null(strstr(err.reason, "not 8-byte aligned"));

	put_raw_data_hdr(buf, 1, 0, 0, 0, 28, 8);
	ret = smbdirect_data_hdr_pull(buf, sizeof(buf), &hdr, &err);
	assert_int_equal(ret, EPROTO);
}

static void test_data_hdr_past_end(void **state)
{
	uint8_t buf[64] = { 0 };
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	int ret;

	(void)state;

	/* 24 + 40 == 64: exactly at the end is fine */
	put_raw_data_hdr(buf, 1, 0, 0, 0, 24, 40);
	ret = smbdirect_data_hdr_pull(buf, 64, &hdr, &err);
	assert_int_equal(ret, 0);

	/* one byte past */
	put_raw_data_hdr(buf, 1, 0, 0, 0, 24, 41);
	ret = smbdirect_data_hdr_pull(buf, 64, &hdr, &err);
	assert_int_equal(ret, EPROTO);
	assert_string_equal(err.reason,
			    "data transfer: DataOffset 24 + DataLength 41 "
			    "exceeds message length 64");

	/* offset alone past the message */
	put_raw_data_hdr(buf, 1, 0, 0, 0, 72, 0);
	ret = smbdirect_data_hdr_pull(buf, 64, &hdr, &err);
	assert_int_equal(ret, EPROTO);
}

static void test_data_hdr_wrap_32bit(void **state)
{
	uint8_t buf[64] = { 0 };
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	int ret;

	(void)state;

	/* 0xFFFFFFF8 + 0x10 wraps to 8 in 32 bits */
	put_raw_data_hdr(buf, 1, 0, 0, 0, 0xFFFFFFF8, 0x10);
	ret = smbdirect_data_hdr_pull(buf, 64, &hdr, &err);
	assert_int_equal(ret, EPROTO);

	/* 24 + 0xFFFFFFF0 wraps to 8 */
	put_raw_data_hdr(buf, 1, 0, 0, 0, 24, 0xFFFFFFF0);
	ret = smbdirect_data_hdr_pull(buf, 64, &hdr, &err);
	assert_int_equal(ret, EPROTO);

	/* maximal values */
	put_raw_data_hdr(buf, 1, 0, 0, 0xFFFFFFFF, 0xFFFFFFF8, 0xFFFFFFFF);
	ret = smbdirect_data_hdr_pull(buf, 64, &hdr, &err);
	assert_int_equal(ret, EPROTO);
}

static void test_data_hdr_payload_overlaps_header(void **state)
{
	uint8_t buf[64] = { 0 };
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	uint32_t ofs;
	int ret;

	(void)state;

	for (ofs = 0; ofs < 24; ofs += 8) {
		put_raw_data_hdr(buf, 1, 0, 0, 0, ofs, 8);
		ret = smbdirect_data_hdr_pull(buf, 64, &hdr, &err);
		assert_int_equal(ret, EPROTO);
		assert_non_null(strstr(err.reason, "overlaps"));
	}
}

static void test_data_hdr_empty_with_remaining(void **state)
{
	uint8_t buf[24] = { 0 };
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	int ret;

	(void)state;

	put_raw_data_hdr(buf, 1, 0, 0, 100, 0, 0);
	ret = smbdirect_data_hdr_pull(buf, 20, &hdr, &err);
	assert_int_equal(ret, EPROTO);
	assert_string_equal(err.reason,
			    "data transfer: DataLength 0 with "
			    "RemainingDataLength 100");

	/* an empty message with DataOffset 24 inside the message is ok */
	put_raw_data_hdr(buf, 1, 0, 0, 0, 24, 0);
	ret = smbdirect_data_hdr_pull(buf, 24, &hdr, &err);
	assert_int_equal(ret, 0);

	/* but not when the offset points past a 20 byte message */
	ret = smbdirect_data_hdr_pull(buf, 20, &hdr, &err);
	assert_int_equal(ret, EPROTO);
}

static void test_data_hdr_push(void **state)
{
	struct smbdirect_data_hdr hdr = {
		.credits_requested = 255,
		.credits_granted = 3,
		.flags = SMBDIRECT_FLAG_RESPONSE_REQUESTED,
	};
	struct smbdirect_data_hdr back;
	uint8_t buf[SMBDIRECT_DATA_HDR_SIZE];
	uint8_t msg[SMBDIRECT_DATA_HDR_SIZE + 5] = { 0 };
	size_t n;
	int ret;

	(void)state;

	/* empty message: 20 bytes */
	memset(buf, 0xAA, sizeof(buf));
	n = smbdirect_data_hdr_push(&hdr, buf);
	assert_int_equal(n, SMBDIRECT_DATA_MIN_HDR_SIZE);
	assert_int_equal(buf[0], 255);
	assert_int_equal(buf[2], 3);
	assert_int_equal(buf[4], 1);
	assert_int_equal(buf[20], 0xAA);	/* padding not written */
	ret = smbdirect_data_hdr_pull(buf, n, &back, NULL);
	assert_int_equal(ret, 0);
	assert_memory_equal(&hdr, &back, sizeof(hdr));

	/* with payload: 24 bytes, zero padding */
	hdr.data_offset = 24;
	hdr.data_length = 5;
	hdr.remaining_data_length = 1000;
	memset(msg, 0xAA, SMBDIRECT_DATA_HDR_SIZE);
	n = smbdirect_data_hdr_push(&hdr, msg);
	assert_int_equal(n, SMBDIRECT_DATA_HDR_SIZE);
	assert_int_equal(msg[20], 0);
	assert_int_equal(msg[21], 0);
	assert_int_equal(msg[22], 0);
	assert_int_equal(msg[23], 0);
	ret = smbdirect_data_hdr_pull(msg, sizeof(msg), &back, NULL);
	assert_int_equal(ret, 0);
	assert_memory_equal(&hdr, &back, sizeof(hdr));

	/* inconsistent headers are refused */
	hdr.data_offset = 0;
	assert_int_equal(smbdirect_data_hdr_push(&hdr, buf), 0);
	hdr.data_offset = 32;
	assert_int_equal(smbdirect_data_hdr_push(&hdr, buf), 0);
	hdr.data_length = 0;
	hdr.data_offset = 24;
	hdr.remaining_data_length = 0;
	assert_int_equal(smbdirect_data_hdr_push(&hdr, buf), 0);
	hdr.data_offset = 0;
	hdr.remaining_data_length = 1;
	assert_int_equal(smbdirect_data_hdr_push(&hdr, buf), 0);
}

static void test_buffer_descs(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_buffer_desc_v1 in[3] = {
		{ .offset = 0x1122334455667788ULL, .token = 0xdeadbeef,
		  .length = 4096 },
		{ .offset = 1, .token = 2, .length = 1 },
		{ .offset = UINT64_MAX, .token = UINT32_MAX,
		  .length = UINT32_MAX },
	};
	struct smbdirect_buffer_desc_v1 *out = NULL;
	uint8_t wire[3 * SMBDIRECT_BUFFER_DESC_V1_SIZE];
	size_t num = 0;
	uint64_t total = 0;
	size_t n;
	int ret;

	(void)state;

	n = smbdirect_buffer_descs_push(in, 3, wire, sizeof(wire));
	assert_int_equal(n, sizeof(wire));
	assert_int_equal(wire[0], 0x88);
	assert_int_equal(wire[7], 0x11);
	assert_int_equal(wire[8], 0xef);
	assert_int_equal(wire[12], 0x00);
	assert_int_equal(wire[13], 0x10);

	ret = smbdirect_buffer_descs_pull(mem_ctx, wire, sizeof(wire),
					  &out, &num, &total, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(num, 3);
	assert_memory_equal(in, out, sizeof(in));
	assert_true(total == 4096ULL + 1ULL + UINT32_MAX);
	assert_ptr_equal(talloc_parent(out), mem_ctx);

	/* buffer too small for the array */
	n = smbdirect_buffer_descs_push(in, 3, wire, sizeof(wire) - 1);
	assert_int_equal(n, 0);

	TALLOC_FREE(mem_ctx);
}

static void test_buffer_descs_invalid(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_buffer_desc_v1 in[2] = {
		{ .offset = 0, .token = 1, .length = 10 },
		{ .offset = 0, .token = 2, .length = 0 },
	};
	struct smbdirect_buffer_desc_v1 *out = NULL;
	struct smbdirect_err err;
	uint8_t wire[2 * SMBDIRECT_BUFFER_DESC_V1_SIZE];
	size_t num = 0;
	uint64_t total = 0;
	int ret;

	(void)state;

	smbdirect_buffer_descs_push(in, 2, wire, sizeof(wire));

	ret = smbdirect_buffer_descs_pull(mem_ctx, wire, 0,
					  &out, &num, &total, &err);
	assert_int_equal(ret, EPROTO);

	ret = smbdirect_buffer_descs_pull(mem_ctx, wire, 15,
					  &out, &num, &total, &err);
	assert_int_equal(ret, EPROTO);
	ret = smbdirect_buffer_descs_pull(mem_ctx, wire, 17,
					  &out, &num, &total, &err);
	assert_int_equal(ret, EPROTO);
	assert_non_null(strstr(err.reason, "not a multiple of 16"));

	ret = smbdirect_buffer_descs_pull(mem_ctx, wire, sizeof(wire),
					  &out, &num, &total, &err);
	assert_int_equal(ret, EPROTO);
	assert_string_equal(err.reason,
			    "buffer descriptors: entry 1 has Length 0");

	/* nothing leaked onto mem_ctx by the failures */
	assert_int_equal(talloc_total_blocks(mem_ctx), 1);

	/* the first entry alone is fine */
	ret = smbdirect_buffer_descs_pull(mem_ctx, wire, 16,
					  &out, &num, &total, &err);
	assert_int_equal(ret, 0);
	assert_int_equal(num, 1);
	assert_int_equal(total, 10);

	TALLOC_FREE(mem_ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_helpers),
		cmocka_unit_test(test_negotiate_req_layout),
		cmocka_unit_test(test_negotiate_req_length),
		cmocka_unit_test(test_negotiate_resp_round_trip),
		cmocka_unit_test(test_data_hdr_valid),
		cmocka_unit_test(test_data_hdr_short),
		cmocka_unit_test(test_data_hdr_credits_requested_zero),
		cmocka_unit_test(test_data_hdr_unaligned_offset),
		cmocka_unit_test(test_data_hdr_past_end),
		cmocka_unit_test(test_data_hdr_wrap_32bit),
		cmocka_unit_test(test_data_hdr_payload_overlaps_header),
		cmocka_unit_test(test_data_hdr_empty_with_remaining),
		cmocka_unit_test(test_data_hdr_push),
		cmocka_unit_test(test_buffer_descs),
		cmocka_unit_test(test_buffer_descs_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
