/*
 * libFuzzer target: the [MS-SMBD] protocol core (smbdirect_proto.c and
 * what it drives: smbdirect_pdu.c, smbdirect_credits.c,
 * smbdirect_fragment.c) on hostile peer messages, driven the way
 * smbdirectd drives it.
 *
 * Input: a sequence of records [op:1][len:2 LE][len bytes]. The first
 * record is the negotiate request whatever its op; after an ACCEPT each
 * later record, by op % 4:
 *
 *   0  a received message, fed to smbdirect_proto_recv(); receives are
 *      re-posted afterwards as the daemon does
 *   1  send a PDU of (LE32 of the bytes) % 2 MiB bytes: send_init, then
 *      send_next until done or EAGAIN (the rest continues with the next
 *      op 1 record, FIFO as the daemon does)
 *   2  send_empty() when want_send_now() (or op & 0x80)
 *   3  keepalive_request()
 *
 * A failed negotiate or a non-zero return from recv means disconnect;
 * the records after it check that every later call fails with EPIPE,
 * as completions still queued in the daemon would see it. Every
 * message we produce must pass our own receive validation.
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
#include "proto/smbdirect_proto.h"

#define MAX_SEND_PDU (2 * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant failed: %s\n", \
			__FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

struct harness {
	struct smbdirect_proto *p;
	bool failed;
	bool tx_active;
	struct smbdirect_frag_tx tx;
	size_t tx_pdu_len;
	size_t tx_sent;
};

static void repost(struct harness *h)
{
	struct smbdirect_err err;
	uint32_t n;
	int ret;

	n = smbdirect_proto_recv_to_post(h->p);
	if (n == 0) {
		return;
	}
	ret = smbdirect_proto_recv_posted(h->p, n, &err);
	CHECK(ret == 0);
}

static void check_credits(const struct harness *h)
{
	const struct smbdirect_credits *c = &h->p->credits;

	CHECK(c->recv_granted <= c->recv_posted);
	CHECK(c->recv_posted <= c->receive_credit_max);
	CHECK(c->send_credits <= SMBDIRECT_SEND_CREDITS_LIMIT);
}

/* A message we send must be one our own receiver accepts. */
static void check_own_msg(const struct harness *h,
			  const struct smbdirect_send_msg *msg)
{
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err err;
	uint8_t *buf = NULL;
	size_t len;
	int ret;

	CHECK(msg->hdr_len == SMBDIRECT_DATA_HDR_SIZE ||
	      (msg->hdr_len == SMBDIRECT_DATA_MIN_HDR_SIZE &&
	       msg->payload_len == 0));
	len = msg->hdr_len + msg->payload_len;
	CHECK(len <= h->p->max_send_size);

	buf = calloc(1, len);
	CHECK(buf != NULL);
	memcpy(buf, msg->hdr, msg->hdr_len);
	ret = smbdirect_data_hdr_pull(buf, len, &hdr, &err);
	CHECK(ret == 0);
	CHECK(hdr.data_length == msg->payload_len);
	CHECK(hdr.credits_granted == msg->credits_granted);
	CHECK(hdr.flags == msg->flags);
	CHECK(hdr.credits_requested >= 1);
	free(buf);
}

static void do_send(struct harness *h, const uint8_t *b, size_t len)
{
	struct smbdirect_err err;
	int ret;

	if (!h->tx_active) {
		uint32_t v = 0;

		if (len >= 4) {
			v = PULL_LE_U32(b, 0);
		} else if (len > 0) {
			v = b[0];
		}
		h->tx_pdu_len = v % MAX_SEND_PDU;
		ret = smbdirect_proto_send_init(h->p, &h->tx, h->tx_pdu_len,
						&err);
		if (h->failed) {
			CHECK(ret == EPIPE);
			return;
		}
		if (ret == EMSGSIZE) {
			CHECK(h->tx_pdu_len > h->p->max_fragmented_send_size);
			return;
		}
		CHECK(ret == 0);
		h->tx_active = true;
		h->tx_sent = 0;
	}

	while (!smbdirect_frag_tx_done(&h->tx)) {
		struct smbdirect_send_msg msg;

		ret = smbdirect_proto_send_next(h->p, &h->tx, &msg, &err);
		if (h->failed) {
			CHECK(ret == EPIPE);
			return;
		}
		if (ret == EAGAIN) {
			return;
		}
		CHECK(ret == 0);
		check_own_msg(h, &msg);
		CHECK(msg.payload_ofs == h->tx_sent);
		h->tx_sent += msg.payload_len;
		CHECK(h->tx_sent <= h->tx_pdu_len);
		CHECK(PULL_LE_U32(msg.hdr, 8) == h->tx_pdu_len - h->tx_sent);
		CHECK(msg.last == (h->tx_sent == h->tx_pdu_len));
		check_credits(h);
	}
	h->tx_active = false;
}

static void do_empty(struct harness *h, bool force)
{
	struct smbdirect_send_msg msg;
	struct smbdirect_err err;
	int ret;

	if (!force && !smbdirect_proto_want_send_now(h->p)) {
		return;
	}
	ret = smbdirect_proto_send_empty(h->p, &msg, &err);
	if (h->failed) {
		CHECK(ret == EPIPE);
		return;
	}
	if (ret == EAGAIN) {
		return;
	}
	CHECK(ret == 0);
	CHECK(msg.payload_len == 0);
	CHECK(msg.hdr_len == SMBDIRECT_DATA_MIN_HDR_SIZE);
	check_own_msg(h, &msg);
	check_credits(h);
}

static void do_recv(struct harness *h,
		    TALLOC_CTX *ctx,
		    const uint8_t *b,
		    size_t len)
{
	struct smbdirect_err err;
	uint8_t *pdu = NULL;
	size_t pdu_len = 0;
	int ret;

	ret = smbdirect_proto_recv(h->p, b, len, ctx, &pdu, &pdu_len, &err);
	if (h->failed) {
		CHECK(ret == EPIPE);
	}
	if (ret != 0) {
		CHECK(err.code == ret);
		CHECK(pdu == NULL);
		CHECK(h->p->state == SMBDIRECT_PROTO_FAILED);
		CHECK(smbdirect_proto_recv_to_post(h->p) == 0);
		CHECK(!smbdirect_proto_want_send_now(h->p));
		h->failed = true;
		return;
	}
	if (pdu != NULL) {
		CHECK(pdu_len > 0);
		CHECK(pdu_len <= h->p->max_fragmented_recv_size);
		TALLOC_FREE(pdu);
	}
	check_credits(h);
	repost(h);
}

static bool do_negotiate(struct harness *h, const uint8_t *b, size_t len)
{
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE];
	struct smbdirect_negotiate_resp r;
	struct smbdirect_err err;
	enum smbdirect_negotiate_action action;
	int ret;

	action = smbdirect_proto_negotiate(h->p, b, len, resp, &err);
	if (action == SMBDIRECT_NEGOTIATE_DISCONNECT) {
		return false;
	}
	ret = smbdirect_negotiate_resp_pull(resp, sizeof(resp), &r, &err);
	CHECK(ret == 0);
	if (action == SMBDIRECT_NEGOTIATE_REJECT) {
		CHECK(r.status != SMBDIRECT_STATUS_SUCCESS);
		return false;
	}
	CHECK(action == SMBDIRECT_NEGOTIATE_ACCEPT);
	CHECK(r.status == SMBDIRECT_STATUS_SUCCESS);
	CHECK(r.negotiated_version == SMBDIRECT_PROTOCOL_V1);
	CHECK(r.credits_granted >= 1);
	CHECK(r.max_receive_size >= SMBDIRECT_MIN_RECEIVE_SIZE);
	CHECK(r.preferred_send_size >= SMBDIRECT_MIN_RECEIVE_SIZE);
	CHECK(r.max_receive_size <= smbdirect_proto_recv_buffer_size(h->p));
	check_credits(h);
	repost(h);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct smbdirect_params params;
	struct smbdirect_err err;
	struct harness h = { .p = NULL };
	size_t pos = 0;
	bool first = true;

	CHECK(ctx != NULL);
	smbdirect_params_set_defaults(&params);
	h.p = smbdirect_proto_create(ctx, &params, &err);
	CHECK(h.p != NULL);
	repost(&h);

	while (size - pos >= 3) {
		uint8_t op = data[pos];
		size_t len = data[pos + 1] | (data[pos + 2] << 8);
		uint8_t *b = NULL;

		pos += 3;
		if (len > size - pos) {
			len = size - pos;
		}

		/* exact-size copy: reading past the message is caught */
		b = malloc(len == 0 ? 1 : len);
		CHECK(b != NULL);
		memcpy(b, data + pos, len);
		pos += len;

		if (first) {
			first = false;
			h.failed = !do_negotiate(&h, b, len);
		} else {
			switch (op % 4) {
			case 0:
				do_recv(&h, ctx, b, len);
				break;
			case 1:
				do_send(&h, b, len);
				break;
			case 2:
				do_empty(&h, (op & 0x80) != 0);
				break;
			case 3:
				smbdirect_proto_keepalive_request(h.p);
				break;
			}
		}
		free(b);
	}

	TALLOC_FREE(ctx);
	return 0;
}
