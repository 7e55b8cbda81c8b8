/*
 * Unit tests for smbdirectd_profile.[ch]: the histograms of where an
 * offloaded request's time goes, their status-file lines and the
 * quantiles --status reads back from them.
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

#include <string.h>

#include "smbdirectd_profile.h"

#define US(x) ((uint64_t)(x)*1000)

static void test_bucket_edges(void **state)
{
	(void)state;
	assert_int_equal(smbdirectd_profile_bucket(0), 0);
	assert_int_equal(smbdirectd_profile_bucket(US(1)), 0);
	assert_int_equal(smbdirectd_profile_bucket(US(2) - 1), 0);
	assert_int_equal(smbdirectd_profile_bucket(US(2)), 1);
	assert_int_equal(smbdirectd_profile_bucket(US(3)), 1);
	assert_int_equal(smbdirectd_profile_bucket(US(4)), 2);
	assert_int_equal(smbdirectd_profile_bucket(US(1023)), 9);
	assert_int_equal(smbdirectd_profile_bucket(US(1024)), 10);
	/* 2^23 us and anything longer: the last bucket */
	assert_int_equal(smbdirectd_profile_bucket(US(1 << 23)),
			 SMBDIRECTD_PROFILE_BUCKETS - 1);
	assert_int_equal(smbdirectd_profile_bucket(UINT64_MAX),
			 SMBDIRECTD_PROFILE_BUCKETS - 1);
}

static struct timespec at_us(uint64_t us)
{
	struct timespec t = {
		.tv_sec = 100 + us / 1000000,
		.tv_nsec = (us % 1000000) * 1000,
	};

	return t;
}

static void test_request_done_spans(void **state)
{
	struct smbdirectd_profile p = {0};
	struct smbdirectd_profile_stamps s = {
		.received = at_us(0),
		.relayed = at_us(30),
		.answered = at_us(1030),
	};
	struct timespec now = at_us(1100);
	const struct smbdirectd_profile_hist *h = NULL;

	(void)state;
	smbdirectd_profile_request_done(&p, SMBDIRECTD_PROFILE_READ, &s, &now);

	h = &p.hist[SMBDIRECTD_PROFILE_READ][SMBDIRECTD_PROFILE_TO_SMBD];
	assert_int_equal(h->count, 1);
	assert_int_equal(h->sum_ns, US(30));
	assert_int_equal(h->buckets[4], 1); /* [16, 32) us */
	h = &p.hist[SMBDIRECTD_PROFILE_READ][SMBDIRECTD_PROFILE_IN_SMBD];
	assert_int_equal(h->sum_ns, US(1000));
	assert_int_equal(h->buckets[9], 1); /* [512, 1024) us */
	h = &p.hist[SMBDIRECTD_PROFILE_READ][SMBDIRECTD_PROFILE_TO_CLIENT];
	assert_int_equal(h->sum_ns, US(70));
	h = &p.hist[SMBDIRECTD_PROFILE_READ][SMBDIRECTD_PROFILE_TOTAL];
	assert_int_equal(h->sum_ns, US(1100));
	assert_int_equal(h->max_ns, US(1100));
	/* nothing went to WRITE */
	h = &p.hist[SMBDIRECTD_PROFILE_WRITE][SMBDIRECTD_PROFILE_TOTAL];
	assert_int_equal(h->count, 0);
}

static void test_request_not_answered_adds_nothing(void **state)
{
	struct smbdirectd_profile p = {0};
	struct smbdirectd_profile_stamps s = {
		.received = at_us(0),
		.relayed = at_us(10),
	};
	struct timespec now = at_us(20);
	unsigned span;

	(void)state;
	smbdirectd_profile_request_done(&p, SMBDIRECTD_PROFILE_WRITE, &s, &now);
	for (span = 0; span < SMBDIRECTD_PROFILE_NUM_SPANS; span++) {
		assert_int_equal(p.hist[SMBDIRECTD_PROFILE_WRITE][span].count,
				 0);
	}
}

static void test_clock_back_counts_zero(void **state)
{
	struct smbdirectd_profile p = {0};
	struct smbdirectd_profile_stamps s = {
		.received = at_us(500),
		.relayed = at_us(400),
		.answered = at_us(600),
	};
	struct timespec now = at_us(700);
	const struct smbdirectd_profile_hist *h =
		&p.hist[SMBDIRECTD_PROFILE_WRITE][SMBDIRECTD_PROFILE_TO_SMBD];

	(void)state;
	smbdirectd_profile_request_done(&p, SMBDIRECTD_PROFILE_WRITE, &s, &now);
	assert_int_equal(h->count, 1);
	assert_int_equal(h->sum_ns, 0);
	assert_int_equal(h->buckets[0], 1);
}

static void test_lines_and_quantiles(void **state)
{
	struct smbdirectd_profile p = {0};
	TALLOC_CTX *mem = talloc_new(NULL);
	char *text = NULL;
	char *hist = NULL;
	char *end = NULL;
	uint64_t upper = 0;
	int i;

	(void)state;
	assert_non_null(mem);
	/* 98 spans of 100 us, 2 of 5000 us */
	for (i = 0; i < 98; i++) {
		smbdirectd_profile_add(&p,
				       SMBDIRECTD_PROFILE_WRITE,
				       SMBDIRECTD_PROFILE_IN_SMBD,
				       US(100));
	}
	smbdirectd_profile_add(&p,
			       SMBDIRECTD_PROFILE_WRITE,
			       SMBDIRECTD_PROFILE_IN_SMBD,
			       US(5000));
	smbdirectd_profile_add(&p,
			       SMBDIRECTD_PROFILE_WRITE,
			       SMBDIRECTD_PROFILE_IN_SMBD,
			       US(5000));

	text = smbdirectd_profile_lines(mem, &p);
	assert_non_null(text);
	/* only the histogram with a count, one line */
	assert_non_null(strstr(text,
			       "profile op=write span=in_smbd count=100 "
			       "sum_us=19800 max_us=5000 hist="));
	assert_null(strstr(text, "op=read"));
	assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);

	hist = strstr(text, "hist=") + strlen("hist=");
	end = strchr(hist, '\n');
	*end = '\0';
	/* 100 us is in [64, 128): p50 < 128; 5000 us in [4096, 8192) */
	assert_true(smbdirectd_profile_quantile(hist, 0.5, &upper));
	assert_int_equal(upper, 128);
	assert_true(smbdirectd_profile_quantile(hist, 0.98, &upper));
	assert_int_equal(upper, 128);
	assert_true(smbdirectd_profile_quantile(hist, 0.99, &upper));
	assert_int_equal(upper, 8192);
	assert_true(smbdirectd_profile_quantile(hist, 1.0, &upper));
	assert_int_equal(upper, 8192);
	talloc_free(mem);
}

static void test_quantile_refuses_bad_input(void **state)
{
	uint64_t upper = 0;

	(void)state;
	assert_false(smbdirectd_profile_quantile("", 0.5, &upper));
	assert_false(smbdirectd_profile_quantile("1,2,3", 0.5, &upper));
	assert_false(smbdirectd_profile_quantile(
		"0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0",
		0.5,
		&upper)); /* no spans */
	assert_false(smbdirectd_profile_quantile(
		"1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,5",
		0.5,
		&upper)); /* one too many */
	assert_false(smbdirectd_profile_quantile(
		"1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,x",
		0.5,
		&upper));
	assert_false(smbdirectd_profile_quantile(
		"1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0",
		0,
		&upper));
	assert_true(smbdirectd_profile_quantile(
		"0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,7",
		0.5,
		&upper));
	assert_int_equal(upper, UINT64_MAX); /* the open-ended bucket */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_edges),
		cmocka_unit_test(test_request_done_spans),
		cmocka_unit_test(test_request_not_answered_adds_nothing),
		cmocka_unit_test(test_clock_back_counts_zero),
		cmocka_unit_test(test_lines_and_quantiles),
		cmocka_unit_test(test_quantile_refuses_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
