/*
 * SMB Direct ([MS-SMBD]) per-connection protocol state, server side.
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

#include "smbdirect_proto.h"

void smbdirect_params_set_defaults(struct smbdirect_params *p)
{
	*p = (struct smbdirect_params) {
		.receive_credit_max = SMBDIRECT_DEFAULT_RECEIVE_CREDIT_MAX,
		.send_credit_target = SMBDIRECT_DEFAULT_SEND_CREDIT_TARGET,
		.max_send_size = SMBDIRECT_DEFAULT_MAX_SEND_SIZE,
		.max_receive_size = SMBDIRECT_DEFAULT_MAX_RECEIVE_SIZE,
		.max_fragmented_size = SMBDIRECT_DEFAULT_MAX_FRAGMENTED_SIZE,
		.max_read_write_size = SMBDIRECT_DEFAULT_MAX_READ_WRITE_SIZE,
		.keepalive_interval_sec =
			SMBDIRECT_DEFAULT_KEEPALIVE_INTERVAL_SEC,
		.keepalive_timeout_sec =
			SMBDIRECT_DEFAULT_KEEPALIVE_TIMEOUT_SEC,
	};
}

static int check_range(const char *name,
		       uint32_t value,
		       uint32_t min,
		       uint32_t max,
		       struct smbdirect_err *err)
{
	if (value >= min && value <= max) {
		return 0;
	}
	return smbdirect_err_set(err, EINVAL,
				 "params: %s %" PRIu32 " outside "
				 "%" PRIu32 "..%" PRIu32,
				 name, value, min, max);
}

int smbdirect_params_validate(const struct smbdirect_params *p,
			      struct smbdirect_err *err)
{
	int ret;

	ret = check_range("receive_credit_max", p->receive_credit_max,
			  1, UINT16_MAX, err);
	if (ret != 0) {
		return ret;
	}
	ret = check_range("send_credit_target", p->send_credit_target,
			  1, UINT16_MAX, err);
	if (ret != 0) {
		return ret;
	}
	ret = check_range("max_send_size", p->max_send_size,
			  SMBDIRECT_MIN_RECEIVE_SIZE,
			  SMBDIRECT_MAX_MESSAGE_SIZE, err);
	if (ret != 0) {
		return ret;
	}
	ret = check_range("max_receive_size", p->max_receive_size,
			  SMBDIRECT_MIN_RECEIVE_SIZE,
			  SMBDIRECT_MAX_MESSAGE_SIZE, err);
	if (ret != 0) {
		return ret;
	}
	ret = check_range("max_fragmented_size", p->max_fragmented_size,
			  SMBDIRECT_MIN_FRAGMENTED_SIZE,
			  SMBDIRECT_MAX_FRAGMENTED_SIZE, err);
	if (ret != 0) {
		return ret;
	}
	ret = check_range("max_read_write_size", p->max_read_write_size,
			  1, SMBDIRECT_MAX_READ_WRITE_SIZE_LIMIT, err);
	if (ret != 0) {
		return ret;
	}
	if (p->keepalive_interval_sec != 0) {
		ret = check_range("keepalive_timeout_sec",
				  p->keepalive_timeout_sec,
				  1, UINT32_MAX, err);
		if (ret != 0) {
			return ret;
		}
	}
	return 0;
}

struct smbdirect_proto *smbdirect_proto_create(
	TALLOC_CTX *mem_ctx,
	const struct smbdirect_params *params,
	struct smbdirect_err *err)
{
	struct smbdirect_proto *p = NULL;
	int ret;

	ret = smbdirect_params_validate(params, err);
	if (ret != 0) {
		return NULL;
	}

	p = talloc_zero(mem_ctx, struct smbdirect_proto);
	if (p == NULL) {
		smbdirect_err_set(err, ENOMEM, "proto: out of memory");
		return NULL;
	}
	p->params = *params;
	p->state = SMBDIRECT_PROTO_NEGOTIATE_WAIT;
	p->keepalive = SMBDIRECT_KEEPALIVE_NONE;
	p->max_fragmented_recv_size = params->max_fragmented_size;
	smbdirect_credits_init(&p->credits,
			       params->receive_credit_max,
			       params->send_credit_target);

	p->reassembly = smbdirect_reassembly_create(
		p, p->max_fragmented_recv_size);
	if (p->reassembly == NULL) {
		TALLOC_FREE(p);
		smbdirect_err_set(err, ENOMEM, "proto: out of memory");
		return NULL;
	}
	return p;
}

/*
 * Remember the first fatal error so that later calls, e.g. from a
 * completion still in the queue, fail the same way.
 */
static int proto_fail(struct smbdirect_proto *p,
		      const struct smbdirect_err *e,
		      struct smbdirect_err *err)
{
	p->state = SMBDIRECT_PROTO_FAILED;
	p->failure = *e;
	if (err != NULL) {
		*err = *e;
	}
	return e->code;
}

static int proto_failed_before(const struct smbdirect_proto *p,
			       struct smbdirect_err *err)
{
	return smbdirect_err_set(err, EPIPE,
				 "connection already failed: %s",
				 p->failure.reason);
}

uint32_t smbdirect_proto_recv_buffer_size(const struct smbdirect_proto *p)
{
	return p->params.max_receive_size;
}

uint32_t smbdirect_proto_recv_to_post(const struct smbdirect_proto *p)
{
	if (p->state == SMBDIRECT_PROTO_FAILED) {
		return 0;
	}
	return smbdirect_credits_recv_to_post(&p->credits);
}

int smbdirect_proto_recv_posted(struct smbdirect_proto *p,
				uint32_t n,
				struct smbdirect_err *err)
{
	if (p->state == SMBDIRECT_PROTO_FAILED) {
		return proto_failed_before(p, err);
	}
	return smbdirect_credits_recv_posted(&p->credits, n, err);
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* [MS-SMBD] 3.1.5.3: a failure response is all zero but versions/status */
static void negotiate_failure_resp(uint32_t status,
				   uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE])
{
	struct smbdirect_negotiate_resp r = {
		.min_version = SMBDIRECT_PROTOCOL_V1,
		.max_version = SMBDIRECT_PROTOCOL_V1,
		.status = status,
	};

	smbdirect_negotiate_resp_push(&r, resp);
}

static enum smbdirect_negotiate_action negotiate_disconnect(
	struct smbdirect_proto *p,
	const struct smbdirect_err *e,
	struct smbdirect_err *err)
{
	proto_fail(p, e, err);
	return SMBDIRECT_NEGOTIATE_DISCONNECT;
}

static enum smbdirect_negotiate_action negotiate_reject(
	struct smbdirect_proto *p,
	uint32_t status,
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE],
	const struct smbdirect_err *e,
	struct smbdirect_err *err)
{
	negotiate_failure_resp(status, resp);
	proto_fail(p, e, err);
	return SMBDIRECT_NEGOTIATE_REJECT;
}

enum smbdirect_negotiate_action smbdirect_proto_negotiate(
	struct smbdirect_proto *p,
	const uint8_t *buf,
	size_t len,
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE],
	struct smbdirect_err *err)
{
	struct smbdirect_negotiate_req req;
	struct smbdirect_negotiate_resp r;
	struct smbdirect_err e;
	uint16_t granted = 0;
	int ret;

	smbdirect_err_clear(&e);
	memset(resp, 0, SMBDIRECT_NEGOTIATE_RESP_SIZE);

	if (p->state == SMBDIRECT_PROTO_FAILED) {
		proto_failed_before(p, err);
		return SMBDIRECT_NEGOTIATE_DISCONNECT;
	}
	if (p->state != SMBDIRECT_PROTO_NEGOTIATE_WAIT) {
		smbdirect_err_set(&e, EINVAL,
				  "negotiate: connection already negotiated");
		return negotiate_disconnect(p, &e, err);
	}

	ret = smbdirect_negotiate_req_pull(buf, len, &req, &e);
	if (ret != 0) {
		return negotiate_disconnect(p, &e, err);
	}

	if (req.min_version > SMBDIRECT_PROTOCOL_V1 ||
	    req.max_version < SMBDIRECT_PROTOCOL_V1)
	{
		smbdirect_err_set(&e, EOPNOTSUPP,
				  "negotiate: version range 0x%04" PRIx16
				  "..0x%04" PRIx16 " does not include 0x%04x",
				  req.min_version, req.max_version,
				  SMBDIRECT_PROTOCOL_V1);
		return negotiate_reject(p, SMBDIRECT_STATUS_NOT_SUPPORTED,
					resp, &e, err);
	}
	if (req.credits_requested == 0) {
		smbdirect_err_set(&e, EPROTO,
				  "negotiate: CreditsRequested is 0");
		return negotiate_disconnect(p, &e, err);
	}
	if (req.max_receive_size < SMBDIRECT_MIN_RECEIVE_SIZE) {
		smbdirect_err_set(&e, EPROTO,
				  "negotiate: MaxReceiveSize %" PRIu32
				  " below minimum %d",
				  req.max_receive_size,
				  SMBDIRECT_MIN_RECEIVE_SIZE);
		return negotiate_disconnect(p, &e, err);
	}
	if (req.max_fragmented_size < SMBDIRECT_MIN_FRAGMENTED_SIZE) {
		smbdirect_err_set(&e, EPROTO,
				  "negotiate: MaxFragmentedSize %" PRIu32
				  " below minimum %d",
				  req.max_fragmented_size,
				  SMBDIRECT_MIN_FRAGMENTED_SIZE);
		return negotiate_disconnect(p, &e, err);
	}

	ret = smbdirect_credits_on_negotiate(&p->credits,
					     req.credits_requested,
					     &granted, &e);
	if (ret != 0) {
		return negotiate_disconnect(p, &e, err);
	}
	if (granted == 0) {
		smbdirect_err_set(&e, ENOBUFS,
				  "negotiate: no posted receive left to "
				  "grant as credit");
		return negotiate_reject(p,
					SMBDIRECT_STATUS_INSUFFICIENT_RESOURCES,
					resp, &e, err);
	}

	/*
	 * [MS-SMBD] 3.1.5.6: we receive at most what the peer prefers to
	 * send, but never announce less than the 128 byte minimum.
	 */
	p->max_receive_size = min_u32(p->params.max_receive_size,
				      req.preferred_send_size);
	if (p->max_receive_size < SMBDIRECT_MIN_RECEIVE_SIZE) {
		p->max_receive_size = SMBDIRECT_MIN_RECEIVE_SIZE;
	}
	p->max_send_size = min_u32(p->params.max_send_size,
				   req.max_receive_size);
	p->max_fragmented_send_size = req.max_fragmented_size;
	p->max_read_write_size = p->params.max_read_write_size;

	r = (struct smbdirect_negotiate_resp) {
		.min_version = SMBDIRECT_PROTOCOL_V1,
		.max_version = SMBDIRECT_PROTOCOL_V1,
		.negotiated_version = SMBDIRECT_PROTOCOL_V1,
		.credits_requested = p->credits.send_credit_target,
		.credits_granted = granted,
		.status = SMBDIRECT_STATUS_SUCCESS,
		.max_read_write_size = p->max_read_write_size,
		.preferred_send_size = p->max_send_size,
		.max_receive_size = p->max_receive_size,
		.max_fragmented_size = p->max_fragmented_recv_size,
	};
	smbdirect_negotiate_resp_push(&r, resp);

	p->state = SMBDIRECT_PROTO_ESTABLISHED;
	smbdirect_err_clear(err);
	return SMBDIRECT_NEGOTIATE_ACCEPT;
}

int smbdirect_proto_recv(struct smbdirect_proto *p,
			 const uint8_t *buf,
			 size_t len,
			 TALLOC_CTX *mem_ctx,
			 uint8_t **pdu,
			 size_t *pdu_len,
			 struct smbdirect_err *err)
{
	struct smbdirect_data_hdr hdr;
	struct smbdirect_err e;
	int ret;

	*pdu = NULL;
	*pdu_len = 0;
	smbdirect_err_clear(&e);

	if (p->state == SMBDIRECT_PROTO_FAILED) {
		return proto_failed_before(p, err);
	}
	if (p->state != SMBDIRECT_PROTO_ESTABLISHED) {
		smbdirect_err_set(&e, EINVAL,
				  "data transfer: received before negotiate "
				  "completed");
		return proto_fail(p, &e, err);
	}

	/*
	 * The peer's MaxSendSize is min(its own, the MaxReceiveSize we
	 * announced), so anything longer is a peer bug.
	 */
	if (len > p->max_receive_size) {
		smbdirect_err_set(&e, EPROTO,
				  "data transfer: message length %zu exceeds "
				  "negotiated MaxReceiveSize %" PRIu32,
				  len, p->max_receive_size);
		return proto_fail(p, &e, err);
	}

	ret = smbdirect_data_hdr_pull(buf, len, &hdr, &e);
	if (ret != 0) {
		return proto_fail(p, &e, err);
	}

	ret = smbdirect_credits_on_recv(&p->credits, &hdr, &e);
	if (ret != 0) {
		return proto_fail(p, &e, err);
	}

	ret = smbdirect_reassembly_push(p->reassembly, &hdr,
					buf + hdr.data_offset,
					mem_ctx, pdu, pdu_len, &e);
	if (ret != 0) {
		return proto_fail(p, &e, err);
	}

	/* Any message from the peer answers our keepalive. */
	if (p->keepalive == SMBDIRECT_KEEPALIVE_SENT) {
		p->keepalive = SMBDIRECT_KEEPALIVE_NONE;
	}

	smbdirect_err_clear(err);
	return 0;
}

int smbdirect_proto_send_init(struct smbdirect_proto *p,
			      struct smbdirect_frag_tx *tx,
			      size_t pdu_len,
			      struct smbdirect_err *err)
{
	if (p->state == SMBDIRECT_PROTO_FAILED) {
		return proto_failed_before(p, err);
	}
	if (p->state != SMBDIRECT_PROTO_ESTABLISHED) {
		return smbdirect_err_set(err, EINVAL,
					 "send: negotiate not completed");
	}
	return smbdirect_frag_tx_init(tx, pdu_len, p->max_send_size,
				      p->max_fragmented_send_size, err);
}

/*
 * Spend a send credit and encode the header for frag.  Only called once
 * smbdirect_credits_take_send() succeeded.
 */
static void build_msg(struct smbdirect_proto *p,
		      const struct smbdirect_frag *frag,
		      uint16_t credits_granted,
		      uint16_t credits_requested,
		      struct smbdirect_send_msg *msg)
{
	struct smbdirect_data_hdr hdr;
	uint16_t flags = 0;

	/*
	 * Our keepalive rides on whatever goes out next.  A message
	 * answering the peer's RESPONSE_REQUESTED deliberately does not
	 * set the flag itself: cifs.ko echoes the flag in its next
	 * message, so echoing back would ping-pong forever.
	 */
	if (p->keepalive == SMBDIRECT_KEEPALIVE_PENDING) {
		flags |= SMBDIRECT_FLAG_RESPONSE_REQUESTED;
		p->keepalive = SMBDIRECT_KEEPALIVE_SENT;
	}

	hdr = (struct smbdirect_data_hdr) {
		.credits_requested = credits_requested,
		.credits_granted = credits_granted,
		.flags = flags,
		.remaining_data_length = frag->remaining_data_length,
		.data_offset = frag->data_offset,
		.data_length = frag->payload_len,
	};

	*msg = (struct smbdirect_send_msg) {
		.payload_ofs = frag->payload_ofs,
		.payload_len = frag->payload_len,
		.credits_granted = credits_granted,
		.flags = flags,
		.last = frag->last,
	};
	msg->hdr_len = smbdirect_data_hdr_push(&hdr, msg->hdr);
}

static int take_send_credit(struct smbdirect_proto *p,
			    uint16_t *credits_granted,
			    uint16_t *credits_requested,
			    struct smbdirect_err *err)
{
	if (p->state == SMBDIRECT_PROTO_FAILED) {
		return proto_failed_before(p, err);
	}
	if (p->state != SMBDIRECT_PROTO_ESTABLISHED) {
		return smbdirect_err_set(err, EINVAL,
					 "send: negotiate not completed");
	}
	return smbdirect_credits_take_send(&p->credits, credits_granted,
					   credits_requested, err);
}

int smbdirect_proto_send_next(struct smbdirect_proto *p,
			      struct smbdirect_frag_tx *tx,
			      struct smbdirect_send_msg *msg,
			      struct smbdirect_err *err)
{
	struct smbdirect_frag frag;
	uint16_t granted = 0;
	uint16_t requested = 0;
	int ret;
	bool ok;

	if (smbdirect_frag_tx_done(tx)) {
		return smbdirect_err_set(err, EINVAL,
					 "send: PDU already completely sent");
	}

	ret = take_send_credit(p, &granted, &requested, err);
	if (ret != 0) {
		return ret;
	}

	ok = smbdirect_frag_tx_next(tx, &frag);
	if (!ok) {
		/* checked above, cannot happen */
		return smbdirect_err_set(err, EINVAL,
					 "send: no fragment left");
	}

	build_msg(p, &frag, granted, requested, msg);
	smbdirect_err_clear(err);
	return 0;
}

int smbdirect_proto_send_empty(struct smbdirect_proto *p,
			       struct smbdirect_send_msg *msg,
			       struct smbdirect_err *err)
{
	struct smbdirect_frag frag = {
		.last = true,
	};
	uint16_t granted = 0;
	uint16_t requested = 0;
	int ret;

	ret = take_send_credit(p, &granted, &requested, err);
	if (ret != 0) {
		return ret;
	}

	build_msg(p, &frag, granted, requested, msg);
	smbdirect_err_clear(err);
	return 0;
}

bool smbdirect_proto_want_send_now(const struct smbdirect_proto *p)
{
	bool need_grant;

	if (p->state != SMBDIRECT_PROTO_ESTABLISHED) {
		return false;
	}
	if (p->credits.response_requested) {
		return true;
	}
	if (p->keepalive == SMBDIRECT_KEEPALIVE_PENDING) {
		return true;
	}
	need_grant = smbdirect_credits_need_grant(&p->credits);
	return need_grant;
}

void smbdirect_proto_keepalive_request(struct smbdirect_proto *p)
{
	if (p->state != SMBDIRECT_PROTO_ESTABLISHED) {
		return;
	}
	if (p->keepalive == SMBDIRECT_KEEPALIVE_NONE) {
		p->keepalive = SMBDIRECT_KEEPALIVE_PENDING;
	}
}

bool smbdirect_proto_keepalive_outstanding(const struct smbdirect_proto *p)
{
	return p->keepalive == SMBDIRECT_KEEPALIVE_SENT;
}
