/*
 * Unit tests for smbdirect_credits.[ch]: [MS-SMBD] 3.1.5.1, 3.1.5.8 and
 * 3.1.5.9 credit accounting on the server side.
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

#include "proto/smbdirect_credits.h"

/* A received data transfer header as smbdirect_data_hdr_pull gives it. */
static struct smbdirect_data_hdr peer_msg(uint16_t credits_requested,
					  uint16_t credits_granted,
					  uint16_t flags)
{
	struct smbdirect_data_hdr hdr = {
		.credits_requested = credits_requested,
		.credits_granted = credits_granted,
		.flags = flags,
	};

	return hdr;
}

/*
 * A connection right after negotiate: max posted receives, the peer
 * asked for target credits and got what we granted.
 */
static void setup_negotiated(struct smbdirect_credits *c,
			     uint16_t max,
			     uint16_t target,
			     uint16_t *granted)
{
	int ret;

	smbdirect_credits_init(c, max, 255);
	ret = smbdirect_credits_recv_posted(c, max, NULL);
	assert_int_equal(ret, 0);
	ret = smbdirect_credits_on_negotiate(c, target, granted, NULL);
	assert_int_equal(ret, 0);
	/* the daemon reposts the buffer that held the negotiate request */
	ret = smbdirect_credits_recv_posted(c, 1, NULL);
	assert_int_equal(ret, 0);
}

static void test_init_and_posting(void **state)
{
	struct smbdirect_credits c;
	struct smbdirect_err err;
	int ret;

	(void)state;

	smbdirect_credits_init(&c, 255, 200);
	assert_int_equal(c.send_credits, 0);
	assert_int_equal(c.recv_posted, 0);
	assert_int_equal(c.recv_granted, 0);
	assert_int_equal(c.send_credit_target, 200);
	assert_int_equal(smbdirect_credits_recv_to_post(&c), 255);
	assert_false(smbdirect_credits_can_send(&c));

	ret = smbdirect_credits_recv_posted(&c, 100, &err);
	assert_int_equal(ret, 0);
	assert_int_equal(smbdirect_credits_recv_to_post(&c), 155);

	/* exactly at the max, then one past */
	ret = smbdirect_credits_recv_posted(&c, 155, &err);
	assert_int_equal(ret, 0);
	assert_int_equal(smbdirect_credits_recv_to_post(&c), 0);
	ret = smbdirect_credits_recv_posted(&c, 1, &err);
	assert_int_equal(ret, EINVAL);
	assert_int_equal(c.recv_posted, 255);

	/* a huge count must not wrap the 32-bit counter */
	ret = smbdirect_credits_recv_posted(&c, UINT32_MAX, &err);
	assert_int_equal(ret, EINVAL);
	assert_int_equal(c.recv_posted, 255);
}

static void test_negotiate_grant(void **state)
{
	struct smbdirect_credits c;
	struct smbdirect_err err;
	uint16_t granted = 0;
	int ret;

	(void)state;

	/* cifs.ko: 255 requested, 255 posted, one used by the request */
	smbdirect_credits_init(&c, 255, 255);
	smbdirect_credits_recv_posted(&c, 255, NULL);
	ret = smbdirect_credits_on_negotiate(&c, 255, &granted, &err);
	assert_int_equal(ret, 0);
	assert_int_equal(granted, 254);
	assert_int_equal(c.recv_granted, 254);
	assert_int_equal(c.recv_posted, 254);
	assert_int_equal(c.recv_credit_target, 255);

	/* the peer asks for fewer than we have */
	smbdirect_credits_init(&c, 255, 255);
	smbdirect_credits_recv_posted(&c, 255, NULL);
	ret = smbdirect_credits_on_negotiate(&c, 10, &granted, &err);
	assert_int_equal(ret, 0);
	assert_int_equal(granted, 10);

	/* our receive credit max bounds the grant */
	smbdirect_credits_init(&c, 5, 255);
	smbdirect_credits_recv_posted(&c, 5, NULL);
	ret = smbdirect_credits_on_negotiate(&c, 255, &granted, &err);
	assert_int_equal(ret, 0);
	assert_int_equal(granted, 4);

	/* only the receive holding the request was posted: nothing left */
	smbdirect_credits_init(&c, 255, 255);
	smbdirect_credits_recv_posted(&c, 1, NULL);
	ret = smbdirect_credits_on_negotiate(&c, 255, &granted, &err);
	assert_int_equal(ret, 0);
	assert_int_equal(granted, 0);

	/* nothing posted at all: the daemon's accounting is broken */
	smbdirect_credits_init(&c, 255, 255);
	ret = smbdirect_credits_on_negotiate(&c, 255, &granted, &err);
	assert_int_equal(ret, EINVAL);
}

static void test_recv_accounting(void **state)
{
	struct smbdirect_credits c;
	struct smbdirect_data_hdr hdr;
	uint16_t granted;
	int ret;

	(void)state;

	setup_negotiated(&c, 255, 255, &granted);
	assert_int_equal(granted, 254);
	assert_int_equal(c.recv_posted, 255);

	hdr = peer_msg(100, 50, 0);
	ret = smbdirect_credits_on_recv(&c, &hdr, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(c.recv_granted, 253);
	assert_int_equal(c.recv_posted, 254);
	assert_int_equal(c.recv_credit_target, 100);
	assert_int_equal(c.send_credits, 50);
	assert_false(c.response_requested);
	assert_int_equal(smbdirect_credits_recv_to_post(&c), 1);
}

static void test_credit_violation(void **state)
{
	struct smbdirect_credits c;
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	uint16_t granted;
	int ret;
	int i;

	(void)state;

	/* grant only 3 credits */
	setup_negotiated(&c, 255, 3, &granted);
	assert_int_equal(granted, 3);

	hdr = peer_msg(3, 10, 0);
	for (i = 0; i < 3; i++) {
		ret = smbdirect_credits_on_recv(&c, &hdr, &err);
		assert_int_equal(ret, 0);
	}
	assert_int_equal(c.recv_granted, 0);

	/* a fourth message: receives are posted, but not granted */
	ret = smbdirect_credits_on_recv(&c, &hdr, &err);
	assert_int_equal(ret, EPROTO);
	assert_int_equal(err.code, EPROTO);
	assert_string_equal(err.reason,
			    "credit violation: peer sent a message while "
			    "holding no credits (252 receives posted, "
			    "none granted)");
}

static void test_recv_without_posted(void **state)
{
	struct smbdirect_credits c;
	struct smbdirect_data_hdr hdr = peer_msg(1, 0, 0);
	int ret;

	(void)state;

	smbdirect_credits_init(&c, 255, 255);
	ret = smbdirect_credits_on_recv(&c, &hdr, NULL);
	assert_int_equal(ret, EINVAL);
}

static void test_run_out_of_send_credits(void **state)
{
	struct smbdirect_credits c;
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	uint16_t granted;
	uint16_t cg = 0;
	uint16_t cr = 0;
	int ret;
	int sent = 0;

	(void)state;

	setup_negotiated(&c, 255, 255, &granted);

	/* the peer grants us 3 send credits */
	hdr = peer_msg(255, 3, 0);
	ret = smbdirect_credits_on_recv(&c, &hdr, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(c.send_credits, 3);

	/*
	 * The first message grants the one ungranted posted receive
	 * (254 posted, 253 granted).  After that every posted receive is
	 * granted, so the last send credit cannot be spent: it needs a
	 * message that grants something.
	 */
	while (smbdirect_credits_can_send(&c)) {
		ret = smbdirect_credits_take_send(&c, &cg, &cr, &err);
		assert_int_equal(ret, 0);
		assert_int_equal(cr, 255);
		sent += 1;
	}
	assert_int_equal(sent, 2);
	assert_int_equal(c.send_credits, 1);

	ret = smbdirect_credits_take_send(&c, &cg, &cr, &err);
	assert_int_equal(ret, EAGAIN);
	assert_non_null(strstr(err.reason, "last send credit reserved"));
	assert_int_equal(c.send_credits, 1);

	/* reposting a receive makes a grant possible again */
	ret = smbdirect_credits_recv_posted(&c, 1, NULL);
	assert_int_equal(ret, 0);
	assert_true(smbdirect_credits_can_send(&c));
	ret = smbdirect_credits_take_send(&c, &cg, &cr, &err);
	assert_int_equal(ret, 0);
	assert_int_equal(cg, 1);
	assert_int_equal(c.send_credits, 0);

	ret = smbdirect_credits_take_send(&c, &cg, &cr, &err);
	assert_int_equal(ret, EAGAIN);
	assert_string_equal(err.reason, "credits: no send credit");
}

static void test_last_credit_rule(void **state)
{
	struct smbdirect_credits c;
	uint16_t cg = 0;
	uint16_t cr = 0;
	int ret;

	(void)state;

	/*
	 * Hand-made state: the peer already holds its full target, so
	 * normally nothing would be granted, but with one send credit
	 * left one posted receive must be granted ([MS-SMBD] 3.1.5.9).
	 */
	smbdirect_credits_init(&c, 255, 255);
	c.recv_posted = 20;
	c.recv_granted = 10;
	c.recv_credit_target = 10;
	c.send_credits = 2;
	assert_int_equal(smbdirect_credits_grantable(&c), 0);

	ret = smbdirect_credits_take_send(&c, &cg, &cr, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(cg, 0);
	assert_int_equal(c.send_credits, 1);

	assert_int_equal(smbdirect_credits_grantable(&c), 1);
	assert_true(smbdirect_credits_can_send(&c));
	ret = smbdirect_credits_take_send(&c, &cg, &cr, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(cg, 1);
	assert_int_equal(c.recv_granted, 11);
	assert_int_equal(c.send_credits, 0);

	/* last credit, every posted receive granted: cannot send */
	smbdirect_credits_init(&c, 255, 255);
	c.recv_posted = 10;
	c.recv_granted = 10;
	c.recv_credit_target = 255;
	c.send_credits = 1;
	assert_int_equal(smbdirect_credits_grantable(&c), 0);
	assert_false(smbdirect_credits_can_send(&c));
}

static void test_grants_piggybacked(void **state)
{
	struct smbdirect_credits c;
	struct smbdirect_data_hdr hdr;
	uint16_t granted;
	uint16_t cg = 0;
	uint16_t cr = 0;
	int ret;
	int i;

	(void)state;

	setup_negotiated(&c, 255, 255, &granted);

	/* peer sends 40 messages, granting 1 each; daemon reposts each */
	hdr = peer_msg(255, 1, 0);
	for (i = 0; i < 40; i++) {
		ret = smbdirect_credits_on_recv(&c, &hdr, NULL);
		assert_int_equal(ret, 0);
		ret = smbdirect_credits_recv_posted(&c, 1, NULL);
		assert_int_equal(ret, 0);
	}
	assert_int_equal(c.recv_granted, 214);
	assert_int_equal(c.send_credits, 40);

	/* our next message (e.g. an SMB2 response) refills the peer */
	ret = smbdirect_credits_take_send(&c, &cg, &cr, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(cg, 41);
	assert_int_equal(c.recv_granted, 255);
	assert_int_equal(c.recv_posted, 255);

	/* nothing more to grant */
	ret = smbdirect_credits_take_send(&c, &cg, &cr, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(cg, 0);
}

static void test_grant_bounds(void **state)
{
	struct smbdirect_credits c;

	(void)state;

	smbdirect_credits_init(&c, 100, 255);
	c.send_credits = 10;

	/* bounded by posted-but-ungranted receives */
	c.recv_posted = 30;
	c.recv_granted = 20;
	c.recv_credit_target = 255;
	assert_int_equal(smbdirect_credits_grantable(&c), 10);

	/* bounded by the peer's target */
	c.recv_posted = 100;
	c.recv_granted = 20;
	c.recv_credit_target = 25;
	assert_int_equal(smbdirect_credits_grantable(&c), 5);

	/* bounded by our receive credit max */
	c.recv_posted = 100;
	c.recv_granted = 90;
	c.recv_credit_target = 1000;
	assert_int_equal(smbdirect_credits_grantable(&c), 10);

	/* the peer lowered its target below what it holds */
	c.recv_granted = 50;
	c.recv_credit_target = 10;
	assert_int_equal(smbdirect_credits_grantable(&c), 0);

	/* peer at zero credits: at least one, whatever the target */
	c.recv_granted = 0;
	c.recv_credit_target = 0;
	assert_int_equal(smbdirect_credits_grantable(&c), 1);

	/* nothing posted: nothing grantable */
	c.recv_posted = 0;
	c.recv_granted = 0;
	c.recv_credit_target = 255;
	assert_int_equal(smbdirect_credits_grantable(&c), 0);
}

static void test_send_credit_overflow(void **state)
{
	struct smbdirect_credits c;
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	uint16_t granted;
	int ret;

	(void)state;

	setup_negotiated(&c, 255, 255, &granted);

	hdr = peer_msg(255, UINT16_MAX, 0);
	ret = smbdirect_credits_on_recv(&c, &hdr, &err);
	assert_int_equal(ret, 0);
	assert_int_equal(c.send_credits, 65535);

	/* exactly at the limit is fine, one more is not */
	hdr = peer_msg(255, 0, 0);
	ret = smbdirect_credits_on_recv(&c, &hdr, &err);
	assert_int_equal(ret, 0);

	hdr = peer_msg(255, 1, 0);
	ret = smbdirect_credits_on_recv(&c, &hdr, &err);
	assert_int_equal(ret, EPROTO);
	assert_string_equal(err.reason,
			    "credit violation: peer granted 1 credits on "
			    "top of 65535, total exceeds 65535");
}

static void test_response_requested(void **state)
{
	struct smbdirect_credits c;
	struct smbdirect_data_hdr hdr;
	uint16_t granted;
	uint16_t cg = 0;
	uint16_t cr = 0;
	int ret;

	(void)state;

	setup_negotiated(&c, 255, 255, &granted);

	hdr = peer_msg(255, 10, SMBDIRECT_FLAG_RESPONSE_REQUESTED);
	ret = smbdirect_credits_on_recv(&c, &hdr, NULL);
	assert_int_equal(ret, 0);
	assert_true(c.response_requested);

	/* a later message without the flag does not clear it */
	hdr = peer_msg(255, 0, 0);
	ret = smbdirect_credits_on_recv(&c, &hdr, NULL);
	assert_int_equal(ret, 0);
	assert_true(c.response_requested);

	/* any message we send answers it */
	ret = smbdirect_credits_take_send(&c, &cg, &cr, NULL);
	assert_int_equal(ret, 0);
	assert_false(c.response_requested);
}

static void test_peer_last_credit_deadlock(void **state)
{
	struct smbdirect_credits c;
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	uint16_t granted;
	int ret;

	(void)state;

	/* peer holds a single credit and we hold none */
	setup_negotiated(&c, 255, 1, &granted);
	assert_int_equal(granted, 1);

	hdr = peer_msg(1, 0, 0);
	ret = smbdirect_credits_on_recv(&c, &hdr, &err);
	assert_int_equal(ret, EDEADLK);
	assert_non_null(strstr(err.reason, "credit deadlock"));
	assert_int_equal(c.peer_last_credit_violations, 1);
}

static void test_peer_last_credit_tolerated(void **state)
{
	struct smbdirect_credits c;
	struct smbdirect_data_hdr hdr;
	uint16_t granted;
	uint16_t cg = 0;
	uint16_t cr = 0;
	int ret;

	(void)state;

	setup_negotiated(&c, 255, 2, &granted);
	assert_int_equal(granted, 2);

	/* first message grants us credits */
	hdr = peer_msg(2, 5, 0);
	ret = smbdirect_credits_on_recv(&c, &hdr, NULL);
	assert_int_equal(ret, 0);

	/* last credit spent without a grant: counted, not fatal */
	hdr = peer_msg(2, 0, 0);
	ret = smbdirect_credits_on_recv(&c, &hdr, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(c.peer_last_credit_violations, 1);
	assert_int_equal(c.recv_granted, 0);

	/* we must and can refill it */
	assert_true(smbdirect_credits_need_grant(&c));
	ret = smbdirect_credits_take_send(&c, &cg, &cr, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(cg, 2);
}

static void test_need_grant_low_water(void **state)
{
	struct smbdirect_credits c;

	(void)state;

	smbdirect_credits_init(&c, 255, 255);
	c.send_credits = 10;
	c.recv_posted = 255;
	c.recv_credit_target = 255;

	/* low water is 255 / 8 = 31 */
	c.recv_granted = 32;
	assert_false(smbdirect_credits_need_grant(&c));
	c.recv_granted = 31;
	assert_true(smbdirect_credits_need_grant(&c));
	c.recv_granted = 0;
	assert_true(smbdirect_credits_need_grant(&c));

	/* low, but nothing to grant: sending would not help */
	c.recv_posted = 0;
	c.recv_granted = 0;
	assert_false(smbdirect_credits_need_grant(&c));

	/* tiny target: only when the peer is empty */
	c.recv_posted = 10;
	c.recv_credit_target = 2;
	c.recv_granted = 1;
	assert_false(smbdirect_credits_need_grant(&c));
	c.recv_granted = 0;
	assert_true(smbdirect_credits_need_grant(&c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_and_posting),
		cmocka_unit_test(test_negotiate_grant),
		cmocka_unit_test(test_recv_accounting),
		cmocka_unit_test(test_credit_violation),
		cmocka_unit_test(test_recv_without_posted),
		cmocka_unit_test(test_run_out_of_send_credits),
		cmocka_unit_test(test_last_credit_rule),
		cmocka_unit_test(test_grants_piggybacked),
		cmocka_unit_test(test_grant_bounds),
		cmocka_unit_test(test_send_credit_overflow),
		cmocka_unit_test(test_response_requested),
		cmocka_unit_test(test_peer_last_credit_deadlock),
		cmocka_unit_test(test_peer_last_credit_tolerated),
		cmocka_unit_test(test_need_grant_low_water),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
