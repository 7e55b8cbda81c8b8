/*
 * Unit tests for smbdirect_zerocopy.c: the table both smbdirectd and
 * vfs_smbdirect change (smbdirect_zerocopy.h).
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

#include <stdlib.h>
#include <string.h>

#include "proto/smbdirect_zerocopy.h"

#define POOL_SIZE (64u << 20)

static struct smbdirect_zc_table *new_table(void)
{
	struct smbdirect_zc_table *t = malloc(sizeof(*t));

	assert_non_null(t);
	smbdirect_zc_table_init(t, POOL_SIZE);
	return t;
}

static struct smbdirect_zc_entry rd(uint64_t mid, uint64_t off, uint32_t len)
{
	struct smbdirect_zc_entry e = {
		.op = SMBDIRECT_ZC_OP_READ,
		.message_id = mid,
		.file_id_persistent = 0x11,
		.file_id_volatile = 0x22,
		.offset = off,
		.pool_offset = 1 << 20,
		.length = len,
	};
	return e;
}

static struct smbdirect_zc_entry wr(uint64_t mid, uint64_t off, uint32_t len,
				    uint64_t pool_offset)
{
	struct smbdirect_zc_entry e = rd(mid, off, len);

	e.op = SMBDIRECT_ZC_OP_WRITE;
	e.pool_offset = pool_offset;
	return e;
}

static void test_valid(void **state __attribute__((unused)))
{
	struct smbdirect_zc_table *t = new_table();

	assert_true(smbdirect_zc_table_valid(t, sizeof(*t), POOL_SIZE));
	assert_false(smbdirect_zc_table_valid(t, sizeof(*t) - 1, POOL_SIZE));
	assert_false(smbdirect_zc_table_valid(t, sizeof(*t), POOL_SIZE / 2));
	t->version += 1;
	assert_false(smbdirect_zc_table_valid(t, sizeof(*t), POOL_SIZE));
	t->version -= 1;
	t->magic = 0;
	assert_false(smbdirect_zc_table_valid(t, sizeof(*t), POOL_SIZE));
	free(t);
}

static void test_read_claim(void **state __attribute__((unused)))
{
	struct smbdirect_zc_table *t = new_table();
	struct smbdirect_zc_entry e = rd(7, 4096, 65536);
	int idx = smbdirect_zc_publish(t, &e);

	assert_int_not_equal(idx, -1);
	assert_int_equal(smbdirect_zc_state(t, idx), SMBDIRECT_ZC_PUBLISHED);

	/* every mismatch leaves the entry published */
	assert_int_equal(smbdirect_zc_claim_read(t, 8, 0x11, 0x22, 4096, 100),
			 -1);
	assert_int_equal(smbdirect_zc_claim_read(t, 7, 0x12, 0x22, 4096, 100),
			 -1);
	assert_int_equal(smbdirect_zc_claim_read(t, 7, 0x11, 0x23, 4096, 100),
			 -1);
	assert_int_equal(smbdirect_zc_claim_read(t, 7, 0x11, 0x22, 0, 100),
			 -1);
	assert_int_equal(smbdirect_zc_claim_read(t, 7, 0x11, 0x22, 4096,
						 65537),
			 -1);
	/* a READ is never claimed as a WRITE */
	assert_int_equal(smbdirect_zc_claim_write(t, 0x11, 0x22, 4096, 65536),
			 -1);
	assert_int_equal(smbdirect_zc_state(t, idx), SMBDIRECT_ZC_PUBLISHED);

	assert_int_equal(smbdirect_zc_claim_read(t, 7, 0x11, 0x22, 4096,
						 65536),
			 idx);
	assert_int_equal(smbdirect_zc_state(t, idx), SMBDIRECT_ZC_CLAIMED);
	/* claimed once only */
	assert_int_equal(smbdirect_zc_claim_read(t, 7, 0x11, 0x22, 4096,
						 65536),
			 -1);
	smbdirect_zc_finish(t, idx, 65536);
	assert_int_equal(smbdirect_zc_state(t, idx), SMBDIRECT_ZC_DONE);
	assert_int_equal(t->entries[idx].result, 65536);
	smbdirect_zc_retire(t, idx);
	assert_int_equal(smbdirect_zc_state(t, idx), SMBDIRECT_ZC_FREE);
	free(t);
}

static void test_write_oldest_first(void **state __attribute__((unused)))
{
	struct smbdirect_zc_table *t = new_table();
	struct smbdirect_zc_entry a = wr(1, 0, 8192, 0);
	struct smbdirect_zc_entry b = wr(2, 0, 8192, 65536);
	int ia, ib;

	assert_false(smbdirect_zc_write_key_busy(t, 0x11, 0x22, 0, 8192));
	ib = smbdirect_zc_publish(t, &b);
	assert_int_equal(ib, 0);
	ia = smbdirect_zc_publish(t, &a);
	assert_int_equal(ia, 1);
	/* b was published first: it is the older one */
	assert_int_equal(smbdirect_zc_claim_write(t, 0x11, 0x22, 0, 8192), ib);
	assert_int_equal(smbdirect_zc_claim_write(t, 0x11, 0x22, 0, 8192), ia);
	assert_int_equal(smbdirect_zc_claim_write(t, 0x11, 0x22, 0, 8192), -1);

	assert_true(smbdirect_zc_write_key_busy(t, 0x11, 0x22, 0, 8192));
	assert_false(smbdirect_zc_write_key_busy(t, 0x11, 0x22, 0, 4096));
	assert_false(smbdirect_zc_write_key_busy(t, 0x11, 0x22, 512, 8192));
	/* claimed: the module has the slot, smbdirectd cannot take it */
	assert_false(smbdirect_zc_retire(t, ia));
	assert_int_equal(smbdirect_zc_state(t, ia), SMBDIRECT_ZC_CLAIMED);
	assert_true(smbdirect_zc_write_key_busy(t, 0x11, 0x22, 0, 8192));
	smbdirect_zc_finish(t, ia, 8192);
	smbdirect_zc_decline(t, ib);
	assert_true(smbdirect_zc_retire(t, ia));
	assert_true(smbdirect_zc_retire(t, ib));
	assert_false(smbdirect_zc_write_key_busy(t, 0x11, 0x22, 0, 8192));
	free(t);
}

static void test_decline(void **state __attribute__((unused)))
{
	struct smbdirect_zc_table *t = new_table();
	struct smbdirect_zc_entry e = wr(3, 0, 4096, 0);
	int idx = smbdirect_zc_publish(t, &e);

	assert_int_equal(smbdirect_zc_claim_write(t, 0x11, 0x22, 0, 4096), idx);
	smbdirect_zc_decline(t, idx);
	assert_int_equal(smbdirect_zc_state(t, idx), SMBDIRECT_ZC_DECLINED);
	assert_int_equal(smbdirect_zc_claim_write(t, 0x11, 0x22, 0, 4096), -1);
	/* still holds the key until smbdirectd retires it */
	assert_true(smbdirect_zc_write_key_busy(t, 0x11, 0x22, 0, 4096));
	free(t);
}

/* A slot outside the pool must never be handed to the module. */
static void test_slot_outside_pool(void **state __attribute__((unused)))
{
	struct smbdirect_zc_table *t = new_table();
	struct smbdirect_zc_entry e1 = wr(1, 0, 65536, POOL_SIZE - 4096);
	struct smbdirect_zc_entry e2 = rd(2, 0, 65536);
	struct smbdirect_zc_entry e3 = wr(3, 8192, 4096, UINT64_MAX - 100);
	int i1, i2;

	i1 = smbdirect_zc_publish(t, &e1);
	assert_int_equal(smbdirect_zc_claim_write(t, 0x11, 0x22, 0, 65536),
			 -1);
	assert_int_equal(smbdirect_zc_state(t, i1), SMBDIRECT_ZC_PUBLISHED);

	e2.pool_offset = POOL_SIZE;
	i2 = smbdirect_zc_publish(t, &e2);
	assert_int_equal(smbdirect_zc_claim_read(t, 2, 0x11, 0x22, 0, 1), -1);
	assert_int_equal(smbdirect_zc_state(t, i2), SMBDIRECT_ZC_PUBLISHED);

	smbdirect_zc_publish(t, &e3);
	assert_int_equal(smbdirect_zc_claim_write(t, 0x11, 0x22, 8192, 4096),
			 -1);
	free(t);
}

static void test_full(void **state __attribute__((unused)))
{
	struct smbdirect_zc_table *t = new_table();
	struct smbdirect_zc_entry e = rd(0, 0, 4096);
	int i;

	for (i = 0; i < SMBDIRECT_ZC_ENTRIES; i++) {
		e.message_id = i;
		assert_int_equal(smbdirect_zc_publish(t, &e), i);
	}
	e.message_id = 1000;
	assert_int_equal(smbdirect_zc_publish(t, &e), -1);
	smbdirect_zc_retire(t, 17);
	assert_int_equal(smbdirect_zc_publish(t, &e), 17);
	assert_int_equal(smbdirect_zc_claim_read(t, 1000, 0x11, 0x22, 0, 4096),
			 17);
	/* out-of-range indexes are ignored, not written */
	smbdirect_zc_retire(t, -1);
	smbdirect_zc_retire(t, SMBDIRECT_ZC_ENTRIES);
	smbdirect_zc_finish(t, SMBDIRECT_ZC_ENTRIES, 1);
	assert_int_equal(smbdirect_zc_state(t, SMBDIRECT_ZC_ENTRIES),
			 SMBDIRECT_ZC_FREE);
	free(t);
}

/*
 * The asynchronous path claims by MessageId and the whole key: a READ
 * may ask for less than its length, a WRITE for exactly its length;
 * every mismatch leaves the entry published.
 */
static void test_async_claim(void **state __attribute__((unused)))
{
	struct smbdirect_zc_table *t = new_table();
	struct smbdirect_zc_entry r = rd(7, 4096, 65536);
	struct smbdirect_zc_entry w = wr(8, 0, 8192, 0);
	int ir = smbdirect_zc_publish(t, &r);
	int iw = smbdirect_zc_publish(t, &w);
	const uint32_t R = SMBDIRECT_ZC_OP_READ, W = SMBDIRECT_ZC_OP_WRITE;

	assert_int_equal(smbdirect_zc_claim(t, W, 7, 0x11, 0x22, 4096, 65536),
			 -1);
	assert_int_equal(smbdirect_zc_claim(t, R, 8, 0x11, 0x22, 0, 8192), -1);
	assert_int_equal(smbdirect_zc_claim(t, R, 7, 0x11, 0x23, 4096, 100),
			 -1);
	assert_int_equal(smbdirect_zc_claim(t, R, 7, 0x11, 0x22, 0, 100), -1);
	assert_int_equal(smbdirect_zc_claim(t, R, 7, 0x11, 0x22, 4096, 65537),
			 -1);
	assert_int_equal(smbdirect_zc_claim(t, W, 8, 0x11, 0x22, 0, 4096), -1);
	assert_int_equal(smbdirect_zc_claim(t, 0, 7, 0x11, 0x22, 4096, 100),
			 -1);
	assert_int_equal(smbdirect_zc_state(t, ir), SMBDIRECT_ZC_PUBLISHED);
	assert_int_equal(smbdirect_zc_state(t, iw), SMBDIRECT_ZC_PUBLISHED);

	assert_int_equal(smbdirect_zc_claim(t, R, 7, 0x11, 0x22, 4096, 65536),
			 ir);
	assert_int_equal(smbdirect_zc_claim(t, R, 7, 0x11, 0x22, 4096, 65536),
			 -1);
	assert_int_equal(smbdirect_zc_claim(t, W, 8, 0x11, 0x22, 0, 8192), iw);

	/* a short READ: DONE_RELAYED with the bytes read */
	smbdirect_zc_finish_relayed(t, ir, 1000);
	assert_int_equal(smbdirect_zc_state(t, ir), SMBDIRECT_ZC_DONE_RELAYED);
	assert_int_equal(t->entries[ir].result, 1000);
	assert_true(smbdirect_zc_retire(t, ir));
	assert_int_equal(smbdirect_zc_state(t, ir), SMBDIRECT_ZC_FREE);
	/* the WRITE is the module's until it says otherwise */
	assert_false(smbdirect_zc_retire(t, iw));
	smbdirect_zc_finish(t, iw, 8192);
	assert_true(smbdirect_zc_retire(t, iw));
	free(t);
}

/* Taken back while published: a late claim (smbd after the end) fails. */
static void test_retire_before_claim(void **state __attribute__((unused)))
{
	struct smbdirect_zc_table *t = new_table();
	struct smbdirect_zc_entry r = rd(9, 0, 4096);
	int idx = smbdirect_zc_publish(t, &r);

	assert_true(smbdirect_zc_retire(t, idx));
	assert_int_equal(smbdirect_zc_claim(t, SMBDIRECT_ZC_OP_READ, 9, 0x11,
					    0x22, 0, 4096),
			 -1);
	assert_int_equal(smbdirect_zc_claim_read(t, 9, 0x11, 0x22, 0, 4096),
			 -1);
	assert_int_equal(smbdirect_zc_state(t, idx), SMBDIRECT_ZC_FREE);
	/* retiring a free entry again is harmless */
	assert_true(smbdirect_zc_retire(t, idx));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_read_claim),
		cmocka_unit_test(test_write_oldest_first),
		cmocka_unit_test(test_decline),
		cmocka_unit_test(test_slot_outside_pool),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_async_claim),
		cmocka_unit_test(test_retire_before_claim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
