/*
 * Unit tests for smbdirect_fragment.[ch]: fragmentation of outgoing
 * PDUs and reassembly of incoming ones ([MS-SMBD] 3.1.4.2, 3.1.5.4,
 * 3.1.5.8).
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

#include "proto/smbdirect_fragment.h"

#define MAX_SEND 1364
#define MAX_PAYLOAD (MAX_SEND - SMBDIRECT_DATA_HDR_SIZE)	/* 1340 */
#define MIB (1024 * 1024)

static uint8_t *make_pdu(TALLOC_CTX *mem_ctx, size_t len)
{
	uint8_t *pdu = talloc_size(mem_ctx, len == 0 ? 1 : len);
	size_t i;

	assert_non_null(pdu);
	for (i = 0; i < len; i++) {
		pdu[i] = (uint8_t)(i * 7 + (i >> 8));
	}
	return pdu;
}

static struct smbdirect_data_hdr data_hdr(uint32_t remaining,
					  uint32_t data_length)
{
	struct smbdirect_data_hdr hdr = {
		.credits_requested = 1,
		.remaining_data_length = remaining,
		.data_offset = data_length == 0 ? 0 : 24,
		.data_length = data_length,
	};

	return hdr;
}

static void test_tx_init_limits(void **state)
{
	struct smbdirect_frag_tx tx;
	struct smbdirect_err err;
	int ret;

	(void)state;

	/* exactly the peer's MaxFragmentedSize, then one past */
	ret = smbdirect_frag_tx_init(&tx, MIB, MAX_SEND, MIB, &err);
	assert_int_equal(ret, 0);
	ret = smbdirect_frag_tx_init(&tx, MIB + 1, MAX_SEND, MIB, &err);
	assert_int_equal(ret, EMSGSIZE);
	assert_string_equal(err.reason,
			    "fragment: PDU of 1048577 bytes exceeds peer "
			    "MaxFragmentedSize 1048576");

	/* no room for payload behind the header */
	ret = smbdirect_frag_tx_init(&tx, 10, 24, MIB, &err);
	assert_int_equal(ret, EINVAL);
	ret = smbdirect_frag_tx_init(&tx, 10, 0, MIB, &err);
	assert_int_equal(ret, EINVAL);

	/* 25 bytes: one payload byte per message */
	ret = smbdirect_frag_tx_init(&tx, 3, 25, MIB, &err);
	assert_int_equal(ret, 0);
	assert_int_equal(tx.max_payload, 1);
}

/* Check the plan for pdu_len: contiguous slices, remaining counting down */
static void check_plan(size_t pdu_len, size_t expected_frags)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_frag *frags = NULL;
	size_t num = 0;
	size_t ofs = 0;
	size_t i;
	int ret;

	ret = smbdirect_frag_plan(mem_ctx, pdu_len, MAX_SEND, MIB,
				  &frags, &num, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(num, expected_frags);

	for (i = 0; i < num; i++) {
		assert_int_equal(frags[i].payload_ofs, ofs);
		assert_true(frags[i].payload_len <= MAX_PAYLOAD);
		ofs += frags[i].payload_len;
		assert_int_equal(frags[i].remaining_data_length,
				 pdu_len - ofs);
		assert_int_equal(frags[i].last, i == num - 1);
		if (pdu_len == 0) {
			assert_int_equal(frags[i].data_offset, 0);
		} else {
			assert_int_equal(frags[i].data_offset, 24);
			assert_true(frags[i].payload_len > 0);
		}
	}
	assert_int_equal(ofs, pdu_len);
	assert_int_equal(frags[num - 1].remaining_data_length, 0);

	TALLOC_FREE(mem_ctx);
}

static void test_plan_sizes(void **state)
{
	(void)state;

	check_plan(0, 1);
	check_plan(1, 1);
	check_plan(MAX_PAYLOAD, 1);		/* max_send - 24 */
	check_plan(MAX_PAYLOAD + 1, 2);		/* max_send - 23 */
	check_plan(2 * MAX_PAYLOAD, 2);
	check_plan(MIB, (MIB + MAX_PAYLOAD - 1) / MAX_PAYLOAD);
}

static void test_tx_iterator(void **state)
{
	struct smbdirect_frag_tx tx;
	struct smbdirect_frag f;
	bool ok;
	int ret;

	(void)state;

	ret = smbdirect_frag_tx_init(&tx, MAX_PAYLOAD + 1, MAX_SEND, MIB,
				     NULL);
	assert_int_equal(ret, 0);
	assert_false(smbdirect_frag_tx_done(&tx));

	ok = smbdirect_frag_tx_next(&tx, &f);
	assert_true(ok);
	assert_int_equal(f.payload_len, MAX_PAYLOAD);
	assert_int_equal(f.remaining_data_length, 1);
	assert_false(f.last);
	assert_false(smbdirect_frag_tx_done(&tx));

	ok = smbdirect_frag_tx_next(&tx, &f);
	assert_true(ok);
	assert_int_equal(f.payload_ofs, MAX_PAYLOAD);
	assert_int_equal(f.payload_len, 1);
	assert_int_equal(f.remaining_data_length, 0);
	assert_true(f.last);
	assert_true(smbdirect_frag_tx_done(&tx));

	ok = smbdirect_frag_tx_next(&tx, &f);
	assert_false(ok);
}

/*
 * Fragment a PDU, encode every message as it would go on the wire,
 * decode it again and feed the reassembly: the PDU must come out
 * unchanged and exactly once, at the last fragment.
 */
static void round_trip(size_t pdu_len)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_reassembly *r = NULL;
	struct smbdirect_frag_tx tx;
	struct smbdirect_frag f;
	uint8_t *pdu = make_pdu(mem_ctx, pdu_len);
	uint8_t *out = NULL;
	size_t out_len = 0;
	size_t delivered = 0;
	uint8_t msg[MAX_SEND];
	int ret;

	r = smbdirect_reassembly_create(mem_ctx, MIB);
	assert_non_null(r);

	ret = smbdirect_frag_tx_init(&tx, pdu_len, MAX_SEND, MIB, NULL);
	assert_int_equal(ret, 0);

	while (smbdirect_frag_tx_next(&tx, &f)) {
		struct smbdirect_data_hdr hdr = {
			.credits_requested = 255,
			.remaining_data_length = f.remaining_data_length,
			.data_offset = f.data_offset,
			.data_length = f.payload_len,
		};
		struct smbdirect_data_hdr rx;
		size_t hdr_len;
		size_t msg_len;

		hdr_len = smbdirect_data_hdr_push(&hdr, msg);
		assert_true(hdr_len == 20 || hdr_len == 24);
		memcpy(msg + hdr_len, pdu + f.payload_ofs, f.payload_len);
		msg_len = hdr_len + f.payload_len;
		assert_true(msg_len <= MAX_SEND);

		ret = smbdirect_data_hdr_pull(msg, msg_len, &rx, NULL);
		assert_int_equal(ret, 0);
		ret = smbdirect_reassembly_push(r, &rx, msg + rx.data_offset,
						mem_ctx, &out, &out_len,
						NULL);
		assert_int_equal(ret, 0);

		if (!f.last || pdu_len == 0) {
			assert_null(out);
			continue;
		}
		assert_non_null(out);
		assert_int_equal(out_len, pdu_len);
		assert_memory_equal(out, pdu, pdu_len);
		assert_ptr_equal(talloc_parent(out), mem_ctx);
		delivered += 1;
	}

	assert_int_equal(delivered, pdu_len == 0 ? 0 : 1);
	assert_false(smbdirect_reassembly_in_progress(r));
	TALLOC_FREE(mem_ctx);
}

static void test_round_trip_0(void **state)
{
	(void)state;
	round_trip(0);
}

static void test_round_trip_1(void **state)
{
	(void)state;
	round_trip(1);
}

static void test_round_trip_max_send_minus_24(void **state)
{
	(void)state;
	round_trip(MAX_SEND - 24);
}

static void test_round_trip_max_send_minus_23(void **state)
{
	(void)state;
	round_trip(MAX_SEND - 23);
}

static void test_round_trip_1mib(void **state)
{
	(void)state;
	round_trip(MIB);
}

static void test_reasm_total_limit(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_reassembly *r = NULL;
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	uint8_t data[16] = { 0 };
	uint8_t *out = NULL;
	size_t out_len = 0;
	int ret;

	(void)state;

	r = smbdirect_reassembly_create(mem_ctx, 131072);
	assert_non_null(r);

	/* announced total exactly at the limit */
	hdr = data_hdr(131072 - 16, 16);
	ret = smbdirect_reassembly_push(r, &hdr, data, mem_ctx,
					&out, &out_len, &err);
	assert_int_equal(ret, 0);
	assert_null(out);
	assert_true(smbdirect_reassembly_in_progress(r));

	/* one past */
	TALLOC_FREE(r);
	r = smbdirect_reassembly_create(mem_ctx, 131072);
	hdr = data_hdr(131072 - 15, 16);
	ret = smbdirect_reassembly_push(r, &hdr, data, mem_ctx,
					&out, &out_len, &err);
	assert_int_equal(ret, EPROTO);
	assert_string_equal(err.reason,
			    "reassembly: DataLength 16 + "
			    "RemainingDataLength 131057 exceeds max "
			    "fragmented size 131072");
	assert_false(smbdirect_reassembly_in_progress(r));

	TALLOC_FREE(mem_ctx);
}

static void test_reasm_huge_remaining(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_reassembly *r = NULL;
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	uint8_t data[16] = { 0 };
	uint8_t *out = NULL;
	size_t out_len = 0;
	int ret;

	(void)state;

	r = smbdirect_reassembly_create(mem_ctx, MIB);

	/* 0xFFFFFFFF + 16 would wrap to 15 in 32 bits */
	hdr = data_hdr(UINT32_MAX, 16);
	ret = smbdirect_reassembly_push(r, &hdr, data, mem_ctx,
					&out, &out_len, &err);
	assert_int_equal(ret, EPROTO);
	assert_null(out);

	hdr = data_hdr(UINT32_MAX - 15, 16);
	ret = smbdirect_reassembly_push(r, &hdr, data, mem_ctx,
					&out, &out_len, &err);
	assert_int_equal(ret, EPROTO);

	/* nothing was allocated for the bogus announcements */
	assert_false(smbdirect_reassembly_in_progress(r));
	assert_int_equal(talloc_total_blocks(r), 1);

	TALLOC_FREE(mem_ctx);
}

static void test_reasm_inconsistent_remaining(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_reassembly *r = NULL;
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	uint8_t data[100] = { 0 };
	uint8_t *out = NULL;
	size_t out_len = 0;
	int ret;

	(void)state;

	/* PDU of 300: 100 now, 200 announced */
	r = smbdirect_reassembly_create(mem_ctx, MIB);
	hdr = data_hdr(200, 100);
	ret = smbdirect_reassembly_push(r, &hdr, data, mem_ctx,
					&out, &out_len, &err);
	assert_int_equal(ret, 0);

	/* next 100 claims 150 remain instead of 100 */
	hdr = data_hdr(150, 100);
	ret = smbdirect_reassembly_push(r, &hdr, data, mem_ctx,
					&out, &out_len, &err);
	assert_int_equal(ret, EPROTO);
	assert_string_equal(err.reason,
			    "reassembly: RemainingDataLength 150 "
			    "inconsistent, expected 100 after DataLength "
			    "100");

	/* remaining 0 too early: 100 of 200 left would be lost */
	TALLOC_FREE(r);
	r = smbdirect_reassembly_create(mem_ctx, MIB);
	hdr = data_hdr(200, 100);
	ret = smbdirect_reassembly_push(r, &hdr, data, mem_ctx,
					&out, &out_len, &err);
	assert_int_equal(ret, 0);
	hdr = data_hdr(0, 100);
	ret = smbdirect_reassembly_push(r, &hdr, data, mem_ctx,
					&out, &out_len, &err);
	assert_int_equal(ret, EPROTO);
	assert_null(out);

	/* a growing total (a second "first" fragment) is refused too */
	TALLOC_FREE(r);
	r = smbdirect_reassembly_create(mem_ctx, MIB);
	hdr = data_hdr(200, 100);
	ret = smbdirect_reassembly_push(r, &hdr, data, mem_ctx,
					&out, &out_len, &err);
	assert_int_equal(ret, 0);
	hdr = data_hdr(200, 100);
	ret = smbdirect_reassembly_push(r, &hdr, data, mem_ctx,
					&out, &out_len, &err);
	assert_int_equal(ret, EPROTO);

	TALLOC_FREE(mem_ctx);
}

static void test_reasm_fragment_overflow(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_reassembly *r = NULL;
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	uint8_t data[100] = { 0 };
	uint8_t *out = NULL;
	size_t out_len = 0;
	int ret;

	(void)state;

	/* PDU of 150: 100 now, 50 expected; then 100 arrive */
	r = smbdirect_reassembly_create(mem_ctx, MIB);
	hdr = data_hdr(50, 100);
	ret = smbdirect_reassembly_push(r, &hdr, data, mem_ctx,
					&out, &out_len, &err);
	assert_int_equal(ret, 0);

	hdr = data_hdr(0, 100);
	ret = smbdirect_reassembly_push(r, &hdr, data, mem_ctx,
					&out, &out_len, &err);
	assert_int_equal(ret, EPROTO);
	assert_string_equal(err.reason,
			    "reassembly: fragment DataLength 100 exceeds "
			    "the 50 bytes still expected");

	TALLOC_FREE(mem_ctx);
}

static void test_reasm_empty_between_fragments(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_reassembly *r = NULL;
	struct smbdirect_data_hdr hdr;
	uint8_t *pdu = make_pdu(mem_ctx, 300);
	uint8_t *out = NULL;
	size_t out_len = 0;
	int ret;

	(void)state;

	r = smbdirect_reassembly_create(mem_ctx, MIB);

	hdr = data_hdr(200, 100);
	ret = smbdirect_reassembly_push(r, &hdr, pdu, mem_ctx,
					&out, &out_len, NULL);
	assert_int_equal(ret, 0);

	/* credit-only message in the middle */
	hdr = data_hdr(0, 0);
	ret = smbdirect_reassembly_push(r, &hdr, NULL, mem_ctx,
					&out, &out_len, NULL);
	assert_int_equal(ret, 0);
	assert_null(out);
	assert_true(smbdirect_reassembly_in_progress(r));

	hdr = data_hdr(100, 100);
	ret = smbdirect_reassembly_push(r, &hdr, pdu + 100, mem_ctx,
					&out, &out_len, NULL);
	assert_int_equal(ret, 0);
	assert_null(out);

	hdr = data_hdr(0, 100);
	ret = smbdirect_reassembly_push(r, &hdr, pdu + 200, mem_ctx,
					&out, &out_len, NULL);
	assert_int_equal(ret, 0);
	assert_non_null(out);
	assert_int_equal(out_len, 300);
	assert_memory_equal(out, pdu, 300);
	assert_false(smbdirect_reassembly_in_progress(r));

	/* the next PDU starts from scratch */
	hdr = data_hdr(0, 10);
	ret = smbdirect_reassembly_push(r, &hdr, pdu, mem_ctx,
					&out, &out_len, NULL);
	assert_int_equal(ret, 0);
	assert_non_null(out);
	assert_int_equal(out_len, 10);

	TALLOC_FREE(mem_ctx);
}

static void test_reasm_empty_with_remaining(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_reassembly *r = NULL;
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	uint8_t *out = NULL;
	size_t out_len = 0;
	int ret;

	(void)state;

	r = smbdirect_reassembly_create(mem_ctx, MIB);
	hdr = data_hdr(10, 0);
	ret = smbdirect_reassembly_push(r, &hdr, NULL, mem_ctx,
					&out, &out_len, &err);
	assert_int_equal(ret, EPROTO);
	assert_non_null(strstr(err.reason, "DataLength 0 with"));

	TALLOC_FREE(mem_ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_init_limits),
		cmocka_unit_test(test_plan_sizes),
		cmocka_unit_test(test_tx_iterator),
		cmocka_unit_test(test_round_trip_0),
		cmocka_unit_test(test_round_trip_1),
		cmocka_unit_test(test_round_trip_max_send_minus_24),
		cmocka_unit_test(test_round_trip_max_send_minus_23),
		cmocka_unit_test(test_round_trip_1mib),
		cmocka_unit_test(test_reasm_total_limit),
		cmocka_unit_test(test_reasm_huge_remaining),
		cmocka_unit_test(test_reasm_inconsistent_remaining),
		cmocka_unit_test(test_reasm_fragment_overflow),
		cmocka_unit_test(test_reasm_empty_between_fragments),
		cmocka_unit_test(test_reasm_empty_with_remaining),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
