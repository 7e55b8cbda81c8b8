/*
 * Unit tests for smbdirect_proto.[ch]: the server-side per-connection
 * SMB Direct state ([MS-SMBD] 3.1.5.x), driven the way smbdirectd
 * drives it, against a simulated cifs.ko-like client.
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

#include "lib/util/byteorder.h"
#include "proto/smbdirect_proto.h"

#define MIB (1024 * 1024)

static void push_neg_req(uint8_t buf[SMBDIRECT_NEGOTIATE_REQ_SIZE],
			 uint16_t min_version,
			 uint16_t max_version,
			 uint16_t credits_requested,
			 uint32_t preferred_send_size,
			 uint32_t max_receive_size,
			 uint32_t max_fragmented_size)
{
	struct smbdirect_negotiate_req req = {
		.min_version = min_version,
		.max_version = max_version,
		.credits_requested = credits_requested,
		.preferred_send_size = preferred_send_size,
		.max_receive_size = max_receive_size,
		.max_fragmented_size = max_fragmented_size,
	};

	smbdirect_negotiate_req_push(&req, buf);
}

/* What cifs.ko sends ([MS-SMBD] 2.2.1 with its module defaults). */
static void push_cifs_neg_req(uint8_t buf[SMBDIRECT_NEGOTIATE_REQ_SIZE])
{
	push_neg_req(buf, 0x0100, 0x0100, 255, 1364, 1364, MIB);
}

/* Raw data transfer message, no validation: for malformed input too. */
static size_t put_msg(uint8_t *buf,
		      uint16_t credits_requested,
		      uint16_t credits_granted,
		      uint16_t flags,
		      uint32_t remaining,
		      uint32_t data_offset,
		      uint32_t data_length,
		      const uint8_t *payload,
		      size_t payload_len)
{
	size_t len = SMBDIRECT_DATA_MIN_HDR_SIZE;

	memset(buf, 0, SMBDIRECT_DATA_HDR_SIZE);
	PUSH_LE_U16(buf, 0, credits_requested);
	PUSH_LE_U16(buf, 2, credits_granted);
	PUSH_LE_U16(buf, 4, flags);
	PUSH_LE_U32(buf, 8, remaining);
	PUSH_LE_U32(buf, 12, data_offset);
	PUSH_LE_U32(buf, 16, data_length);
	if (payload_len > 0) {
		memcpy(buf + SMBDIRECT_DATA_OFFSET, payload, payload_len);
		len = SMBDIRECT_DATA_OFFSET + payload_len;
	}
	return len;
}

static struct smbdirect_proto *new_proto(TALLOC_CTX *mem_ctx,
					 const struct smbdirect_params *params)
{
	struct smbdirect_params defaults;
	struct smbdirect_proto *p = NULL;
	uint32_t n;
	int ret;

	if (params == NULL) {
		smbdirect_params_set_defaults(&defaults);
		params = &defaults;
	}
	p = smbdirect_proto_create(mem_ctx, params, NULL);
	assert_non_null(p);

	n = smbdirect_proto_recv_to_post(p);
	assert_int_equal(n, params->receive_credit_max);
	ret = smbdirect_proto_recv_posted(p, n, NULL);
	assert_int_equal(ret, 0);
	return p;
}

/* Negotiate like cifs.ko and repost the consumed buffer. */
static struct smbdirect_proto *new_established(TALLOC_CTX *mem_ctx)
{
	struct smbdirect_proto *p = new_proto(mem_ctx, NULL);
	uint8_t req[SMBDIRECT_NEGOTIATE_REQ_SIZE];
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE];
	enum smbdirect_negotiate_action action;
	int ret;

	push_cifs_neg_req(req);
	action = smbdirect_proto_negotiate(p, req, sizeof(req), resp, NULL);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_ACCEPT);
	ret = smbdirect_proto_recv_posted(p, 1, NULL);
	assert_int_equal(ret, 0);
	return p;
}

static void test_params_defaults(void **state)
{
	struct smbdirect_params p;
	int ret;

	(void)state;

	smbdirect_params_set_defaults(&p);
	assert_int_equal(p.receive_credit_max, 255);
	assert_int_equal(p.send_credit_target, 255);
	assert_int_equal(p.max_send_size, 1364);
	assert_int_equal(p.max_receive_size, 1364);
	assert_int_equal(p.max_fragmented_size, 1048576);
	assert_int_equal(p.max_read_write_size, 8 * MIB);
	assert_int_equal(p.keepalive_interval_sec, 120);
	assert_int_equal(p.keepalive_timeout_sec, 120);

	ret = smbdirect_params_validate(&p, NULL);
	assert_int_equal(ret, 0);
}

static void test_params_validate(void **state)
{
	struct smbdirect_params p;
	struct smbdirect_err err;
	int ret;

	(void)state;

	smbdirect_params_set_defaults(&p);
	p.max_send_size = 127;
	ret = smbdirect_params_validate(&p, &err);
	assert_int_equal(ret, EINVAL);
	assert_string_equal(err.reason,
			    "params: max_send_size 127 outside "
			    "128..1048576");
	p.max_send_size = 128;
	assert_int_equal(smbdirect_params_validate(&p, NULL), 0);

	smbdirect_params_set_defaults(&p);
	p.max_receive_size = 127;
	assert_int_equal(smbdirect_params_validate(&p, NULL), EINVAL);
	p.max_receive_size = MIB + 1;
	assert_int_equal(smbdirect_params_validate(&p, NULL), EINVAL);
	p.max_receive_size = MIB;
	assert_int_equal(smbdirect_params_validate(&p, NULL), 0);

	smbdirect_params_set_defaults(&p);
	p.max_fragmented_size = 131071;
	assert_int_equal(smbdirect_params_validate(&p, NULL), EINVAL);
	p.max_fragmented_size = 131072;
	assert_int_equal(smbdirect_params_validate(&p, NULL), 0);

	smbdirect_params_set_defaults(&p);
	p.receive_credit_max = 0;
	assert_int_equal(smbdirect_params_validate(&p, NULL), EINVAL);

	smbdirect_params_set_defaults(&p);
	p.send_credit_target = 0;
	assert_int_equal(smbdirect_params_validate(&p, NULL), EINVAL);

	smbdirect_params_set_defaults(&p);
	p.max_read_write_size = 0;
	assert_int_equal(smbdirect_params_validate(&p, NULL), EINVAL);

	smbdirect_params_set_defaults(&p);
	p.keepalive_timeout_sec = 0;
	assert_int_equal(smbdirect_params_validate(&p, NULL), EINVAL);
	p.keepalive_interval_sec = 0;	/* keepalives off: no timeout */
	assert_int_equal(smbdirect_params_validate(&p, NULL), 0);
}

static void test_create_invalid_params(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_params p;
	struct smbdirect_proto *proto = NULL;
	struct smbdirect_err err;

	(void)state;

	smbdirect_params_set_defaults(&p);
	p.max_fragmented_size = 4096;
	proto = smbdirect_proto_create(mem_ctx, &p, &err);
	assert_null(proto);
	assert_int_equal(err.code, EINVAL);
	assert_int_equal(talloc_total_blocks(mem_ctx), 1);

	TALLOC_FREE(mem_ctx);
}

static void test_negotiate_cifs_values(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_proto *p = new_proto(mem_ctx, NULL);
	uint8_t req[SMBDIRECT_NEGOTIATE_REQ_SIZE];
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE];
	struct smbdirect_negotiate_resp r;
	enum smbdirect_negotiate_action action;
	struct smbdirect_err err;
	int ret;

	(void)state;

	push_cifs_neg_req(req);
	action = smbdirect_proto_negotiate(p, req, sizeof(req), resp, &err);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_ACCEPT);
	assert_int_equal(err.code, 0);
	assert_int_equal(p->state, SMBDIRECT_PROTO_ESTABLISHED);

	ret = smbdirect_negotiate_resp_pull(resp, sizeof(resp), &r, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(r.min_version, 0x0100);
	assert_int_equal(r.max_version, 0x0100);
	assert_int_equal(r.negotiated_version, 0x0100);
	assert_int_equal(r.reserved, 0);
	assert_int_equal(r.credits_requested, 255);
	/* 255 posted, one held the request */
	assert_int_equal(r.credits_granted, 254);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.max_read_write_size, 8 * MIB);
	assert_int_equal(r.preferred_send_size, 1364);
	assert_int_equal(r.max_receive_size, 1364);
	assert_int_equal(r.max_fragmented_size, MIB);

	/*
	 * What cifs.ko checks in process_negotiation_response():
	 * PreferredSendSize <= its max receive size, and the minimums.
	 */
	assert_true(r.preferred_send_size <= 1364);
	assert_true(r.max_receive_size >= 128);
	assert_true(r.max_fragmented_size >= 131072);
	assert_true(r.credits_granted > 0);
	assert_true(r.credits_requested > 0);

	/* the buffer that held the request must be reposted */
	assert_int_equal(smbdirect_proto_recv_to_post(p), 1);

	TALLOC_FREE(mem_ctx);
}

static void negotiate_sizes(uint32_t peer_preferred_send,
			    uint32_t peer_max_receive,
			    uint32_t expect_max_send,
			    uint32_t expect_max_receive)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_proto *p = new_proto(mem_ctx, NULL);
	uint8_t req[SMBDIRECT_NEGOTIATE_REQ_SIZE];
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE];
	struct smbdirect_negotiate_resp r;
	enum smbdirect_negotiate_action action;

	push_neg_req(req, 0x0100, 0x0100, 255, peer_preferred_send,
		     peer_max_receive, 200000);
	action = smbdirect_proto_negotiate(p, req, sizeof(req), resp, NULL);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_ACCEPT);
	smbdirect_negotiate_resp_pull(resp, sizeof(resp), &r, NULL);

	assert_int_equal(p->max_send_size, expect_max_send);
	assert_int_equal(p->max_receive_size, expect_max_receive);
	assert_int_equal(r.preferred_send_size, expect_max_send);
	assert_int_equal(r.max_receive_size, expect_max_receive);
	assert_int_equal(p->max_fragmented_send_size, 200000);

	TALLOC_FREE(mem_ctx);
}

static void test_negotiate_size_selection(void **state)
{
	(void)state;

	/* peer smaller than us: take theirs */
	negotiate_sizes(500, 1000, 1000, 500);
	/* peer larger than us: keep ours (Windows receives 8192) */
	negotiate_sizes(1364, 8192, 1364, 1364);
	negotiate_sizes(8192, 8192, 1364, 1364);
	/* tiny PreferredSendSize: never announce below 128 */
	negotiate_sizes(64, 1364, 1364, 128);
	negotiate_sizes(0, 1364, 1364, 128);
	/* minimum MaxReceiveSize */
	negotiate_sizes(1364, 128, 128, 1364);
}

static enum smbdirect_negotiate_action negotiate_once(
	const uint8_t *req,
	size_t len,
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE],
	struct smbdirect_err *err)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_proto *p = new_proto(mem_ctx, NULL);
	enum smbdirect_negotiate_action action;

	action = smbdirect_proto_negotiate(p, req, len, resp, err);
	if (action != SMBDIRECT_NEGOTIATE_ACCEPT) {
		assert_int_equal(p->state, SMBDIRECT_PROTO_FAILED);
	}
	TALLOC_FREE(mem_ctx);
	return action;
}

static void test_negotiate_short(void **state)
{
	uint8_t req[SMBDIRECT_NEGOTIATE_REQ_SIZE];
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE];
	struct smbdirect_err err;
	enum smbdirect_negotiate_action action;

	(void)state;

	push_cifs_neg_req(req);
	action = negotiate_once(req, 19, resp, &err);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_DISCONNECT);
	assert_int_equal(err.code, EPROTO);
	assert_string_equal(err.reason,
			    "negotiate request: length 19 below minimum 20");

	action = negotiate_once(req, 20, resp, &err);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_ACCEPT);
}

static void check_version_reject(uint16_t min_version, uint16_t max_version)
{
	uint8_t req[SMBDIRECT_NEGOTIATE_REQ_SIZE];
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE];
	uint8_t expect[SMBDIRECT_NEGOTIATE_RESP_SIZE] = {
		0x00, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0,
		0xBB, 0x00, 0x00, 0xC0,
	};
	struct smbdirect_err err;
	enum smbdirect_negotiate_action action;

	push_neg_req(req, min_version, max_version, 255, 1364, 1364, MIB);
	action = negotiate_once(req, sizeof(req), resp, &err);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_REJECT);
	assert_int_equal(err.code, EOPNOTSUPP);
	/* [MS-SMBD] 3.1.5.3: versions and Status, everything else 0 */
	assert_memory_equal(resp, expect, sizeof(expect));
}

static void test_negotiate_version(void **state)
{
	uint8_t req[SMBDIRECT_NEGOTIATE_REQ_SIZE];
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE];
	struct smbdirect_err err;
	enum smbdirect_negotiate_action action;

	(void)state;

	check_version_reject(0x0200, 0x0200);
	check_version_reject(0x0101, 0xFFFF);
	check_version_reject(0x0000, 0x00FF);
	check_version_reject(0x0200, 0x0100);	/* MinVersion > MaxVersion */

	push_neg_req(req, 0x0200, 0x0300, 255, 1364, 1364, MIB);
	negotiate_once(req, sizeof(req), resp, &err);
	assert_string_equal(err.reason,
			    "negotiate: version range 0x0200..0x0300 does "
			    "not include 0x0100");

	/* any range containing 0x0100 is fine */
	push_neg_req(req, 0x0001, 0xFFFF, 255, 1364, 1364, MIB);
	action = negotiate_once(req, sizeof(req), resp, &err);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_ACCEPT);
	push_neg_req(req, 0x0100, 0x0200, 255, 1364, 1364, MIB);
	action = negotiate_once(req, sizeof(req), resp, &err);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_ACCEPT);
}

static void test_negotiate_field_minimums(void **state)
{
	uint8_t req[SMBDIRECT_NEGOTIATE_REQ_SIZE];
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE];
	struct smbdirect_err err;
	enum smbdirect_negotiate_action action;

	(void)state;

	push_neg_req(req, 0x0100, 0x0100, 0, 1364, 1364, MIB);
	action = negotiate_once(req, sizeof(req), resp, &err);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_DISCONNECT);
	assert_string_equal(err.reason, "negotiate: CreditsRequested is 0");

	push_neg_req(req, 0x0100, 0x0100, 1, 1364, 1364, MIB);
	action = negotiate_once(req, sizeof(req), resp, &err);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_ACCEPT);

	push_neg_req(req, 0x0100, 0x0100, 255, 1364, 127, MIB);
	action = negotiate_once(req, sizeof(req), resp, &err);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_DISCONNECT);
	assert_string_equal(err.reason,
			    "negotiate: MaxReceiveSize 127 below minimum "
			    "128");

	push_neg_req(req, 0x0100, 0x0100, 255, 1364, 128, MIB);
	action = negotiate_once(req, sizeof(req), resp, &err);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_ACCEPT);

	push_neg_req(req, 0x0100, 0x0100, 255, 1364, 1364, 131071);
	action = negotiate_once(req, sizeof(req), resp, &err);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_DISCONNECT);
	assert_string_equal(err.reason,
			    "negotiate: MaxFragmentedSize 131071 below "
			    "minimum 131072");

	push_neg_req(req, 0x0100, 0x0100, 255, 1364, 1364, 131072);
	action = negotiate_once(req, sizeof(req), resp, &err);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_ACCEPT);

	/* [MS-SMBD] 3.1.5.6 order: the version is judged first */
	push_neg_req(req, 0x0200, 0x0200, 0, 1364, 0, 0);
	action = negotiate_once(req, sizeof(req), resp, &err);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_REJECT);
}

static void test_negotiate_no_receive_left(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_params params;
	struct smbdirect_proto *p = NULL;
	uint8_t req[SMBDIRECT_NEGOTIATE_REQ_SIZE];
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE];
	struct smbdirect_negotiate_resp r;
	struct smbdirect_err err;
	enum smbdirect_negotiate_action action;

	(void)state;

	/* a single receive, used up by the request itself */
	smbdirect_params_set_defaults(&params);
	params.receive_credit_max = 1;
	p = new_proto(mem_ctx, &params);

	push_cifs_neg_req(req);
	action = smbdirect_proto_negotiate(p, req, sizeof(req), resp, &err);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_REJECT);
	assert_int_equal(err.code, ENOBUFS);
	smbdirect_negotiate_resp_pull(resp, sizeof(resp), &r, NULL);
	assert_int_equal(r.status, SMBDIRECT_STATUS_INSUFFICIENT_RESOURCES);
	assert_int_equal(r.credits_granted, 0);

	TALLOC_FREE(mem_ctx);
}

static void test_wrong_state(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_proto *p = NULL;
	uint8_t req[SMBDIRECT_NEGOTIATE_REQ_SIZE];
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE];
	uint8_t msg[64];
	uint8_t *pdu = NULL;
	size_t pdu_len = 0;
	size_t len;
	struct smbdirect_err err;
	struct smbdirect_frag_tx tx;
	enum smbdirect_negotiate_action action;
	int ret;

	(void)state;

	/* data before negotiate */
	p = new_proto(mem_ctx, NULL);
	len = put_msg(msg, 1, 0, 0, 0, 24, 4, (const uint8_t *)"SMB2", 4);
	ret = smbdirect_proto_recv(p, msg, len, mem_ctx, &pdu, &pdu_len,
				   &err);
	assert_int_equal(ret, EINVAL);
	ret = smbdirect_proto_send_init(p, &tx, 10, &err);
	assert_int_equal(ret, EPIPE);
	TALLOC_FREE(p);

	p = new_proto(mem_ctx, NULL);
	ret = smbdirect_proto_send_init(p, &tx, 10, &err);
	assert_int_equal(ret, EINVAL);
	assert_false(smbdirect_proto_want_send_now(p));

	/* a second negotiate */
	push_cifs_neg_req(req);
	action = smbdirect_proto_negotiate(p, req, sizeof(req), resp, NULL);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_ACCEPT);
	action = smbdirect_proto_negotiate(p, req, sizeof(req), resp, &err);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_DISCONNECT);
	assert_int_equal(err.code, EINVAL);

	TALLOC_FREE(mem_ctx);
}

static void test_recv_single_pdu(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	TALLOC_CTX *pdu_ctx = talloc_new(mem_ctx);
	struct smbdirect_proto *p = new_established(mem_ctx);
	static const uint8_t payload[] = "\xfeSMB negotiate";
	uint8_t msg[128];
	uint8_t *pdu = NULL;
	size_t pdu_len = 0;
	size_t len;
	int ret;

	(void)state;

	len = put_msg(msg, 255, 255, 0, 0, 24, sizeof(payload),
		      payload, sizeof(payload));
	ret = smbdirect_proto_recv(p, msg, len, pdu_ctx, &pdu, &pdu_len,
				   NULL);
	assert_int_equal(ret, 0);
	assert_non_null(pdu);
	assert_int_equal(pdu_len, sizeof(payload));
	assert_memory_equal(pdu, payload, sizeof(payload));
	assert_ptr_equal(talloc_parent(pdu), pdu_ctx);

	assert_int_equal(p->credits.send_credits, 255);
	assert_int_equal(p->credits.recv_granted, 253);
	assert_int_equal(smbdirect_proto_recv_to_post(p), 1);

	TALLOC_FREE(mem_ctx);
}

static void test_recv_length_limit(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_proto *p = new_established(mem_ctx);
	uint8_t msg[1400] = { 0 };
	uint8_t *pdu = NULL;
	size_t pdu_len = 0;
	struct smbdirect_err err;
	int ret;

	(void)state;

	/* exactly the negotiated MaxReceiveSize */
	put_msg(msg, 255, 10, 0, 0, 24, 1364 - 24, NULL, 0);
	ret = smbdirect_proto_recv(p, msg, 1364, mem_ctx, &pdu, &pdu_len,
				   &err);
	assert_int_equal(ret, 0);
	assert_int_equal(pdu_len, 1340);

	/* one byte more */
	put_msg(msg, 255, 10, 0, 0, 24, 1365 - 24, NULL, 0);
	ret = smbdirect_proto_recv(p, msg, 1365, mem_ctx, &pdu, &pdu_len,
				   &err);
	assert_int_equal(ret, EPROTO);
	assert_string_equal(err.reason,
			    "data transfer: message length 1365 exceeds "
			    "negotiated MaxReceiveSize 1364");

	TALLOC_FREE(mem_ctx);
}

/* Feed one raw message to a fresh connection, expect a failure. */
static void expect_recv_error(const uint8_t *msg,
			      size_t len,
			      int expect_code,
			      const char *expect_reason)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_proto *p = new_established(mem_ctx);
	uint8_t *pdu = NULL;
	size_t pdu_len = 0;
	struct smbdirect_err err;
	struct smbdirect_send_msg out;
	int ret;

	ret = smbdirect_proto_recv(p, msg, len, mem_ctx, &pdu, &pdu_len,
				   &err);
	assert_int_equal(ret, expect_code);
	assert_null(pdu);
	if (expect_reason != NULL) {
		assert_string_equal(err.reason, expect_reason);
	}
	assert_int_equal(p->state, SMBDIRECT_PROTO_FAILED);

	/* the failure is sticky and quotes the first reason */
	ret = smbdirect_proto_recv(p, msg, len, mem_ctx, &pdu, &pdu_len,
				   &err);
	assert_int_equal(ret, EPIPE);
	assert_non_null(strstr(err.reason, "connection already failed: "));
	ret = smbdirect_proto_send_empty(p, &out, &err);
	assert_int_equal(ret, EPIPE);
	assert_int_equal(smbdirect_proto_recv_to_post(p), 0);
	assert_false(smbdirect_proto_want_send_now(p));

	TALLOC_FREE(mem_ctx);
}

static void test_recv_rejections(void **state)
{
	static const uint8_t zeros[32];
	uint8_t msg[256] = { 0 };
	size_t len;

	(void)state;

	/* shorter than 20 bytes */
	put_msg(msg, 1, 0, 0, 0, 0, 0, NULL, 0);
	expect_recv_error(msg, 19, EPROTO,
			  "data transfer: message length 19 below "
			  "minimum 20");

	/* CreditsRequested 0 */
	put_msg(msg, 0, 0, 0, 0, 0, 0, NULL, 0);
	expect_recv_error(msg, 20, EPROTO,
			  "data transfer: CreditsRequested is 0");

	/* DataOffset + DataLength past the message */
	len = put_msg(msg, 1, 0, 0, 0, 24, 33, zeros, 32);
	expect_recv_error(msg, len, EPROTO,
			  "data transfer: DataOffset 24 + DataLength 33 "
			  "exceeds message length 56");

	/* DataOffset + DataLength wrapping 32 bits */
	len = put_msg(msg, 1, 0, 0, 0, 0xFFFFFFF8, 0x20, zeros, 32);
	expect_recv_error(msg, len, EPROTO, NULL);

	/* DataLength + RemainingDataLength over max fragmented (1 MiB) */
	len = put_msg(msg, 1, 0, 0, MIB - 31, 24, 32, zeros, 32);
	expect_recv_error(msg, len, EPROTO,
			  "reassembly: DataLength 32 + RemainingDataLength "
			  "1048545 exceeds max fragmented size 1048576");

	/* huge RemainingDataLength */
	len = put_msg(msg, 1, 0, 0, UINT32_MAX, 24, 32, zeros, 32);
	expect_recv_error(msg, len, EPROTO, NULL);

	/* unaligned DataOffset */
	len = put_msg(msg, 1, 0, 0, 0, 26, 8, zeros, 32);
	expect_recv_error(msg, len, EPROTO, NULL);
}

static void test_recv_credit_violation(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_proto *p = new_established(mem_ctx);
	uint8_t msg[64];
	uint8_t *pdu = NULL;
	size_t pdu_len = 0;
	struct smbdirect_err err;
	size_t len;
	int ret;
	int i;

	(void)state;

	/*
	 * The peer holds 254 credits; the daemon keeps every receive
	 * posted but we never send, so no new credits are granted.  The
	 * first message grants us credits, else spending the peer's last
	 * credit would already be a deadlock (EDEADLK).
	 */
	for (i = 0; i < 254; i++) {
		len = put_msg(msg, 255, i == 0 ? 10 : 0, 0, 0, 0, 0, NULL, 0);
		ret = smbdirect_proto_recv(p, msg, len, mem_ctx, &pdu,
					   &pdu_len, &err);
		assert_int_equal(ret, 0);
		ret = smbdirect_proto_recv_posted(p, 1, NULL);
		assert_int_equal(ret, 0);
	}
	assert_int_equal(p->credits.peer_last_credit_violations, 1);
	ret = smbdirect_proto_recv(p, msg, len, mem_ctx, &pdu, &pdu_len,
				   &err);
	assert_int_equal(ret, EPROTO);
	assert_non_null(strstr(err.reason, "credit violation"));

	TALLOC_FREE(mem_ctx);
}

static void test_recv_credit_deadlock(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_proto *p = new_proto(mem_ctx, NULL);
	uint8_t req[SMBDIRECT_NEGOTIATE_REQ_SIZE];
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE];
	enum smbdirect_negotiate_action action;
	uint8_t msg[64];
	uint8_t *pdu = NULL;
	size_t pdu_len = 0;
	struct smbdirect_err err;
	size_t len;
	int ret;

	(void)state;

	/* the peer asks for a single credit and gets it */
	push_neg_req(req, 0x0100, 0x0100, 1, 1364, 1364, MIB);
	action = smbdirect_proto_negotiate(p, req, sizeof(req), resp, NULL);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_ACCEPT);

	/* ... and spends it without granting us any: nobody can send */
	len = put_msg(msg, 1, 0, 0, 0, 0, 0, NULL, 0);
	ret = smbdirect_proto_recv(p, msg, len, mem_ctx, &pdu, &pdu_len,
				   &err);
	assert_int_equal(ret, EDEADLK);
	assert_int_equal(p->state, SMBDIRECT_PROTO_FAILED);

	TALLOC_FREE(mem_ctx);
}

static void test_send_too_big(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_proto *p = new_established(mem_ctx);
	struct smbdirect_frag_tx tx;
	struct smbdirect_err err;
	int ret;

	(void)state;

	ret = smbdirect_proto_send_init(p, &tx, MIB + 1, &err);
	assert_int_equal(ret, EMSGSIZE);
	/* not fatal for the connection */
	assert_int_equal(p->state, SMBDIRECT_PROTO_ESTABLISHED);
	ret = smbdirect_proto_send_init(p, &tx, MIB, &err);
	assert_int_equal(ret, 0);

	TALLOC_FREE(mem_ctx);
}

static void test_send_waits_for_credits(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_proto *p = new_established(mem_ctx);
	struct smbdirect_frag_tx tx;
	struct smbdirect_send_msg out;
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	uint8_t msg[64];
	uint8_t *pdu = NULL;
	size_t pdu_len = 0;
	size_t len;
	int ret;

	(void)state;

	/* no send credits before the peer's first message */
	ret = smbdirect_proto_send_init(p, &tx, 100, &err);
	assert_int_equal(ret, 0);
	ret = smbdirect_proto_send_next(p, &tx, &out, &err);
	assert_int_equal(ret, EAGAIN);
	assert_false(smbdirect_frag_tx_done(&tx));
	assert_int_equal(p->state, SMBDIRECT_PROTO_ESTABLISHED);

	/* the peer grants 2 credits */
	len = put_msg(msg, 255, 2, 0, 0, 0, 0, NULL, 0);
	ret = smbdirect_proto_recv(p, msg, len, mem_ctx, &pdu, &pdu_len,
				   &err);
	assert_int_equal(ret, 0);

	/* an empty message grants the one ungranted posted receive */
	ret = smbdirect_proto_send_empty(p, &out, &err);
	assert_int_equal(ret, 0);
	assert_int_equal(out.credits_granted, 1);

	/* last credit, every posted receive already granted: wait */
	ret = smbdirect_proto_send_next(p, &tx, &out, &err);
	assert_int_equal(ret, EAGAIN);
	assert_non_null(strstr(err.reason, "last send credit reserved"));
	assert_false(smbdirect_frag_tx_done(&tx));

	/* the daemon reposts the consumed receive: now it may go */
	ret = smbdirect_proto_recv_posted(p, 1, NULL);
	assert_int_equal(ret, 0);
	ret = smbdirect_proto_send_next(p, &tx, &out, &err);
	assert_int_equal(ret, 0);
	assert_true(smbdirect_frag_tx_done(&tx));
	assert_true(out.last);
	assert_int_equal(out.hdr_len, 24);
	assert_int_equal(out.payload_ofs, 0);
	assert_int_equal(out.payload_len, 100);
	assert_int_equal(out.credits_granted, 1);

	ret = smbdirect_data_hdr_pull(out.hdr, out.hdr_len + 100, &hdr,
				      NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(hdr.credits_requested, 255);
	assert_int_equal(hdr.credits_granted, 1);
	assert_int_equal(hdr.flags, 0);
	assert_int_equal(hdr.data_offset, 24);
	assert_int_equal(hdr.data_length, 100);
	assert_int_equal(hdr.remaining_data_length, 0);

	ret = smbdirect_proto_send_next(p, &tx, &out, &err);
	assert_int_equal(ret, EINVAL);

	/* no credit at all now */
	ret = smbdirect_proto_send_empty(p, &out, &err);
	assert_int_equal(ret, EAGAIN);
	assert_string_equal(err.reason, "credits: no send credit");

	TALLOC_FREE(mem_ctx);
}

static void test_keepalive(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_proto *p = new_established(mem_ctx);
	struct smbdirect_send_msg out;
	struct smbdirect_data_hdr hdr;
	uint8_t msg[64];
	uint8_t *pdu = NULL;
	size_t pdu_len = 0;
	size_t len;
	int ret;

	(void)state;

	len = put_msg(msg, 255, 100, 0, 0, 0, 0, NULL, 0);
	ret = smbdirect_proto_recv(p, msg, len, mem_ctx, &pdu, &pdu_len,
				   NULL);
	assert_int_equal(ret, 0);
	ret = smbdirect_proto_recv_posted(p, 1, NULL);
	assert_int_equal(ret, 0);

	assert_false(smbdirect_proto_want_send_now(p));
	smbdirect_proto_keepalive_request(p);
	assert_true(smbdirect_proto_want_send_now(p));
	assert_false(smbdirect_proto_keepalive_outstanding(p));

	ret = smbdirect_proto_send_empty(p, &out, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(out.hdr_len, 20);
	assert_int_equal(out.payload_len, 0);
	assert_int_equal(out.flags, SMBDIRECT_FLAG_RESPONSE_REQUESTED);
	ret = smbdirect_data_hdr_pull(out.hdr, out.hdr_len, &hdr, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(hdr.flags, SMBDIRECT_FLAG_RESPONSE_REQUESTED);
	assert_int_equal(hdr.data_offset, 0);
	assert_int_equal(hdr.remaining_data_length, 0);
	assert_true(smbdirect_proto_keepalive_outstanding(p));
	assert_false(smbdirect_proto_want_send_now(p));

	/* a second timer tick while unanswered changes nothing */
	smbdirect_proto_keepalive_request(p);
	assert_true(smbdirect_proto_keepalive_outstanding(p));
	ret = smbdirect_proto_send_empty(p, &out, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(out.flags, 0);

	/* any message from the peer answers it */
	len = put_msg(msg, 255, 0, 0, 0, 0, 0, NULL, 0);
	ret = smbdirect_proto_recv(p, msg, len, mem_ctx, &pdu, &pdu_len,
				   NULL);
	assert_int_equal(ret, 0);
	assert_false(smbdirect_proto_keepalive_outstanding(p));

	TALLOC_FREE(mem_ctx);
}

static void test_keepalive_rides_on_data(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_proto *p = new_established(mem_ctx);
	struct smbdirect_frag_tx tx;
	struct smbdirect_send_msg out;
	uint8_t msg[64];
	uint8_t *pdu = NULL;
	size_t pdu_len = 0;
	size_t len;
	int ret;

	(void)state;

	len = put_msg(msg, 255, 100, 0, 0, 0, 0, NULL, 0);
	ret = smbdirect_proto_recv(p, msg, len, mem_ctx, &pdu, &pdu_len,
				   NULL);
	assert_int_equal(ret, 0);

	smbdirect_proto_keepalive_request(p);
	ret = smbdirect_proto_send_init(p, &tx, 3000, NULL);
	assert_int_equal(ret, 0);
	ret = smbdirect_proto_send_next(p, &tx, &out, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(out.flags, SMBDIRECT_FLAG_RESPONSE_REQUESTED);
	ret = smbdirect_proto_send_next(p, &tx, &out, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(out.flags, 0);
	assert_true(smbdirect_proto_keepalive_outstanding(p));

	TALLOC_FREE(mem_ctx);
}

static void test_answer_response_requested(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_proto *p = new_established(mem_ctx);
	struct smbdirect_send_msg out;
	uint8_t msg[64];
	uint8_t *pdu = NULL;
	size_t pdu_len = 0;
	size_t len;
	int ret;

	(void)state;

	len = put_msg(msg, 255, 10, SMBDIRECT_FLAG_RESPONSE_REQUESTED,
		      0, 0, 0, NULL, 0);
	ret = smbdirect_proto_recv(p, msg, len, mem_ctx, &pdu, &pdu_len,
				   NULL);
	assert_int_equal(ret, 0);
	assert_null(pdu);
	assert_true(smbdirect_proto_want_send_now(p));

	ret = smbdirect_proto_send_empty(p, &out, NULL);
	assert_int_equal(ret, 0);
	/* the answer must not ask for an answer itself (no ping-pong) */
	assert_int_equal(out.flags, 0);
	assert_false(smbdirect_proto_want_send_now(p));
	assert_false(smbdirect_proto_keepalive_outstanding(p));

	TALLOC_FREE(mem_ctx);
}

static void test_credit_only_message(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_proto *p = new_established(mem_ctx);
	struct smbdirect_send_msg out;
	struct smbdirect_data_hdr hdr;
	uint8_t msg[64];
	uint8_t *pdu = NULL;
	size_t pdu_len = 0;
	size_t len;
	int ret;
	int i;

	(void)state;

	/* peer holds 254; it sends until it is at the low water mark */
	len = put_msg(msg, 255, 5, 0, 0, 0, 0, NULL, 0);
	for (i = 0; i < 254 - 31; i++) {
		assert_false(smbdirect_proto_want_send_now(p));
		ret = smbdirect_proto_recv(p, msg, len, mem_ctx, &pdu,
					   &pdu_len, NULL);
		assert_int_equal(ret, 0);
		ret = smbdirect_proto_recv_posted(p, 1, NULL);
		assert_int_equal(ret, 0);
	}
	assert_int_equal(p->credits.recv_granted, 31);
	assert_true(smbdirect_proto_want_send_now(p));

	ret = smbdirect_proto_send_empty(p, &out, NULL);
	assert_int_equal(ret, 0);
	ret = smbdirect_data_hdr_pull(out.hdr, out.hdr_len, &hdr, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(hdr.credits_granted, 255 - 31);
	assert_int_equal(p->credits.recv_granted, 255);
	assert_false(smbdirect_proto_want_send_now(p));

	TALLOC_FREE(mem_ctx);
}

/*
 * A minimal cifs.ko-like peer: tracks the credits we granted it, grants
 * us credits, fragments and reassembles with the same rules.
 */
struct sim_client {
	uint32_t credits;	/* send credits we granted it */
	uint32_t max_send;	/* min(1364, our MaxReceiveSize) */
	struct smbdirect_reassembly *reasm;
};

/* The server handles one client message; returns the PDU if complete. */
static uint8_t *server_recv(struct smbdirect_proto *p,
			    struct sim_client *c,
			    const uint8_t *msg,
			    size_t len,
			    TALLOC_CTX *mem_ctx,
			    size_t *pdu_len)
{
	uint8_t *pdu = NULL;
	int ret;

	assert_true(c->credits > 0);
	c->credits -= 1;

	ret = smbdirect_proto_recv(p, msg, len, mem_ctx, &pdu, pdu_len,
				   NULL);
	assert_int_equal(ret, 0);
	ret = smbdirect_proto_recv_posted(p, smbdirect_proto_recv_to_post(p),
					  NULL);
	assert_int_equal(ret, 0);
	return pdu;
}

/* The client handles one server message. */
static uint8_t *client_recv(struct sim_client *c,
			    const struct smbdirect_send_msg *out,
			    const uint8_t *pdu,
			    TALLOC_CTX *mem_ctx,
			    size_t *pdu_len)
{
	uint8_t wire[SMBDIRECT_DEFAULT_MAX_SEND_SIZE];
	struct smbdirect_data_hdr hdr;
	uint8_t *rx = NULL;
	size_t len = out->hdr_len + out->payload_len;
	int ret;

	assert_true(len <= sizeof(wire));
	memcpy(wire, out->hdr, out->hdr_len);
	if (out->payload_len > 0) {
		memcpy(wire + out->hdr_len, pdu + out->payload_ofs,
		       out->payload_len);
	}

	ret = smbdirect_data_hdr_pull(wire, len, &hdr, NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(hdr.credits_granted, out->credits_granted);
	c->credits += hdr.credits_granted;

	ret = smbdirect_reassembly_push(c->reasm, &hdr,
					wire + hdr.data_offset, mem_ctx,
					&rx, pdu_len, NULL);
	assert_int_equal(ret, 0);
	return rx;
}

static void test_end_to_end_1mib_both_ways(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_proto *p = new_proto(mem_ctx, NULL);
	struct sim_client c = { 0 };
	uint8_t req[SMBDIRECT_NEGOTIATE_REQ_SIZE];
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE];
	struct smbdirect_negotiate_resp r;
	enum smbdirect_negotiate_action action;
	uint8_t *write_pdu = talloc_size(mem_ctx, MIB);
	uint8_t *read_pdu = talloc_size(mem_ctx, MIB);
	uint8_t *got = NULL;
	size_t got_len = 0;
	uint8_t msg[SMBDIRECT_DEFAULT_MAX_SEND_SIZE];
	struct smbdirect_frag_tx tx;
	struct smbdirect_frag f;
	struct smbdirect_send_msg out;
	size_t i;
	size_t credit_msgs = 0;
	size_t credit_len = 0;
	size_t client_grants = 0;
	bool first = true;
	int ret;

	(void)state;

	for (i = 0; i < MIB; i++) {
		write_pdu[i] = (uint8_t)(i * 13);
		read_pdu[i] = (uint8_t)(i * 29 + 1);
	}

	push_cifs_neg_req(req);
	action = smbdirect_proto_negotiate(p, req, sizeof(req), resp, NULL);
	assert_int_equal(action, SMBDIRECT_NEGOTIATE_ACCEPT);
	smbdirect_proto_recv_posted(p, 1, NULL);
	smbdirect_negotiate_resp_pull(resp, sizeof(resp), &r, NULL);
	c.credits = r.credits_granted;
	c.max_send = r.max_receive_size;
	c.reasm = smbdirect_reassembly_create(mem_ctx, MIB);

	/* client -> server: a 1 MiB write sent inline, 783 fragments */
	smbdirect_frag_tx_init(&tx, MIB, c.max_send, r.max_fragmented_size,
			       NULL);
	while (smbdirect_frag_tx_next(&tx, &f)) {
		/* cifs.ko grants its receives in its first message */
		size_t len = put_msg(msg, 255, first ? 255 : 0, 0,
				     f.remaining_data_length, 24,
				     f.payload_len, write_pdu + f.payload_ofs,
				     f.payload_len);

		first = false;
		got = server_recv(p, &c, msg, len, mem_ctx, &got_len);
		if (!f.last) {
			assert_null(got);
		}
		if (smbdirect_proto_want_send_now(p)) {
			ret = smbdirect_proto_send_empty(p, &out, NULL);
			assert_int_equal(ret, 0);
			client_recv(&c, &out, NULL, mem_ctx, &credit_len);
			credit_msgs += 1;
		}
	}
	assert_non_null(got);
	assert_int_equal(got_len, MIB);
	assert_memory_equal(got, write_pdu, MIB);
	assert_true(credit_msgs > 0);
	assert_int_equal(p->credits.peer_last_credit_violations, 0);

	/* server -> client: a 1 MiB read response sent inline */
	ret = smbdirect_proto_send_init(p, &tx, MIB, NULL);
	assert_int_equal(ret, 0);
	got = NULL;
	while (!smbdirect_frag_tx_done(&tx)) {
		ret = smbdirect_proto_send_next(p, &tx, &out, NULL);
		if (ret == EAGAIN) {
			/* the client grants 255 more with an empty message */
			size_t len = put_msg(msg, 255, 255, 0, 0, 0, 0,
					     NULL, 0);

			server_recv(p, &c, msg, len, mem_ctx, &credit_len);
			client_grants += 1;
			continue;
		}
		assert_int_equal(ret, 0);
		assert_true(out.hdr_len + out.payload_len <= p->max_send_size);
		got = client_recv(&c, &out, read_pdu, mem_ctx, &got_len);
		if (!out.last) {
			assert_null(got);
		}
	}
	assert_non_null(got);
	assert_int_equal(got_len, MIB);
	assert_memory_equal(got, read_pdu, MIB);
	assert_true(client_grants > 0);

	TALLOC_FREE(mem_ctx);
}

/* xorshift32: deterministic, so a failure reproduces */
static uint32_t next_rand(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

static void test_random_messages(void **state)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct smbdirect_proto *p = NULL;
	uint8_t msg[1400];
	uint32_t seed = 0x12345678;
	size_t accepted = 0;
	size_t rejected = 0;
	int iter;

	(void)state;

	for (iter = 0; iter < 20000; iter++) {
		uint8_t *pdu = NULL;
		size_t pdu_len = 0;
		size_t len = next_rand(&seed) % sizeof(msg);
		uint32_t kind = next_rand(&seed) % 4;
		size_t i;
		int ret;

		if (p == NULL) {
			p = new_established(mem_ctx);
		}
		for (i = 0; i < len; i++) {
			msg[i] = (uint8_t)next_rand(&seed);
		}
		/* bias toward plausible headers to get past the first checks */
		if (kind != 0 && len >= 20) {
			uint16_t creq = 1 + (next_rand(&seed) % 255);
			uint16_t cgr = next_rand(&seed) % 16;
			uint32_t ofs = (next_rand(&seed) % 64) & ~7U;
			uint32_t dlen = next_rand(&seed) % 1400;
			uint32_t rem = next_rand(&seed) % (2 * MIB);

			PUSH_LE_U16(msg, 0, creq);
			PUSH_LE_U16(msg, 2, cgr);
			PUSH_LE_U32(msg, 12, kind == 1 ? 24 : ofs);
			PUSH_LE_U32(msg, 16, dlen);
			PUSH_LE_U32(msg, 8, kind == 3 ? 0 : rem);
		}

		ret = smbdirect_proto_recv(p, msg, len, mem_ctx, &pdu,
					   &pdu_len, NULL);
		if (ret != 0) {
			rejected += 1;
			TALLOC_FREE(p);
			continue;
		}
		accepted += 1;
		TALLOC_FREE(pdu);
		ret = smbdirect_proto_recv_posted(
			p, smbdirect_proto_recv_to_post(p), NULL);
		assert_int_equal(ret, 0);
	}
	assert_true(accepted > 0);
	assert_true(rejected > 0);

	TALLOC_FREE(mem_ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params_defaults),
		cmocka_unit_test(test_params_validate),
		cmocka_unit_test(test_create_invalid_params),
		cmocka_unit_test(test_negotiate_cifs_values),
		cmocka_unit_test(test_negotiate_size_selection),
		cmocka_unit_test(test_negotiate_short),
		cmocka_unit_test(test_negotiate_version),
		cmocka_unit_test(test_negotiate_field_minimums),
		cmocka_unit_test(test_negotiate_no_receive_left),
		cmocka_unit_test(test_wrong_state),
		cmocka_unit_test(test_recv_single_pdu),
		cmocka_unit_test(test_recv_length_limit),
		cmocka_unit_test(test_recv_rejections),
		cmocka_unit_test(test_recv_credit_violation),
		cmocka_unit_test(test_recv_credit_deadlock),
		cmocka_unit_test(test_send_too_big),
		cmocka_unit_test(test_send_waits_for_credits),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_keepalive_rides_on_data),
		cmocka_unit_test(test_answer_response_requested),
		cmocka_unit_test(test_credit_only_message),
		cmocka_unit_test(test_end_to_end_1mib_both_ways),
		cmocka_unit_test(test_random_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
