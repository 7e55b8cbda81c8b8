/*
 * SMB Direct ([MS-SMBD] 3.1.5.1, 3.1.5.8, 3.1.5.9) credit accounting.
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

#include "smbdirect_credits.h"

void smbdirect_credits_init(struct smbdirect_credits *c,
			    uint16_t receive_credit_max,
			    uint16_t send_credit_target)
{
	memset(c, 0, sizeof(*c));
	c->receive_credit_max = receive_credit_max;
	c->send_credit_target = send_credit_target;
}

uint32_t smbdirect_credits_recv_to_post(const struct smbdirect_credits *c)
{
	if (c->recv_posted >= c->receive_credit_max) {
		return 0;
	}
	return c->receive_credit_max - c->recv_posted;
}

int smbdirect_credits_recv_posted(struct smbdirect_credits *c,
				  uint32_t n,
				  struct smbdirect_err *err)
{
	uint64_t posted = (uint64_t)c->recv_posted + n;

	if (posted > c->receive_credit_max) {
		return smbdirect_err_set(err, EINVAL,
					 "credits: %" PRIu32 " receives posted "
					 "plus %" PRIu32 " exceeds receive "
					 "credit max %" PRIu16,
					 c->recv_posted, n,
					 c->receive_credit_max);
	}
	c->recv_posted = (uint32_t)posted;
	return 0;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

int smbdirect_credits_on_negotiate(struct smbdirect_credits *c,
				   uint16_t peer_credits_requested,
				   uint16_t *credits_granted,
				   struct smbdirect_err *err)
{
	uint32_t grant;

	if (c->recv_posted == 0) {
		return smbdirect_err_set(err, EINVAL,
					 "credits: negotiate request received "
					 "but no receive was posted");
	}
	c->recv_posted -= 1;
	c->recv_credit_target = peer_credits_requested;

	grant = min_u32(c->recv_posted, peer_credits_requested);
	grant = min_u32(grant, c->receive_credit_max);

	c->recv_granted = grant;
	*credits_granted = (uint16_t)grant;
	return 0;
}

int smbdirect_credits_on_recv(struct smbdirect_credits *c,
			      const struct smbdirect_data_hdr *hdr,
			      struct smbdirect_err *err)
{
	bool was_last_credit;
	uint64_t send_credits;

	if (c->recv_posted == 0) {
		return smbdirect_err_set(err, EINVAL,
					 "credits: message received but no "
					 "receive was posted");
	}
	if (c->recv_granted == 0) {
		return smbdirect_err_set(err, EPROTO,
					 "credit violation: peer sent a "
					 "message while holding no credits "
					 "(%" PRIu32 " receives posted, "
					 "none granted)",
					 c->recv_posted);
	}

	was_last_credit = (c->recv_granted == 1);
	c->recv_granted -= 1;
	c->recv_posted -= 1;
	c->recv_credit_target = hdr->credits_requested;

	send_credits = (uint64_t)c->send_credits + hdr->credits_granted;
	if (send_credits > SMBDIRECT_SEND_CREDITS_LIMIT) {
		return smbdirect_err_set(err, EPROTO,
					 "credit violation: peer granted "
					 "%" PRIu16 " credits on top of "
					 "%" PRIu32 ", total exceeds %d",
					 hdr->credits_granted,
					 c->send_credits,
					 SMBDIRECT_SEND_CREDITS_LIMIT);
	}
	c->send_credits = (uint32_t)send_credits;

	if (hdr->flags & SMBDIRECT_FLAG_RESPONSE_REQUESTED) {
		c->response_requested = true;
	}

	if (was_last_credit && hdr->credits_granted == 0) {
		c->peer_last_credit_violations += 1;
		if (c->send_credits == 0) {
			return smbdirect_err_set(err, EDEADLK,
						 "credit deadlock: peer spent "
						 "its last credit without "
						 "granting any and we hold no "
						 "send credits");
		}
	}
	return 0;
}

uint16_t smbdirect_credits_grantable(const struct smbdirect_credits *c)
{
	uint32_t avail;
	uint32_t target;
	uint32_t want = 0;

	if (c->recv_posted <= c->recv_granted) {
		return 0;
	}
	avail = c->recv_posted - c->recv_granted;

	target = min_u32(c->recv_credit_target, c->receive_credit_max);
	if (c->recv_granted < target) {
		want = target - c->recv_granted;
	}

	/*
	 * [MS-SMBD] 3.1.5.9: with the peer at zero credits, or with our
	 * last send credit about to be spent, at least one receive MUST be
	 * made available, else the connection stalls.
	 */
	if (want == 0 && (c->recv_granted == 0 || c->send_credits == 1)) {
		want = 1;
	}

	want = min_u32(want, avail);
	return (uint16_t)min_u32(want, UINT16_MAX);
}

bool smbdirect_credits_can_send(const struct smbdirect_credits *c)
{
	uint16_t grant;

	if (c->send_credits == 0) {
		return false;
	}
	if (c->send_credits > 1) {
		return true;
	}
	grant = smbdirect_credits_grantable(c);
	return grant > 0;
}

int smbdirect_credits_take_send(struct smbdirect_credits *c,
				uint16_t *credits_granted,
				uint16_t *credits_requested,
				struct smbdirect_err *err)
{
	uint16_t grant;
	bool ok;

	ok = smbdirect_credits_can_send(c);
	if (!ok) {
		if (c->send_credits == 0) {
			return smbdirect_err_set(err, EAGAIN,
						 "credits: no send credit");
		}
		return smbdirect_err_set(err, EAGAIN,
					 "credits: last send credit reserved "
					 "for a message granting credits, "
					 "none grantable");
	}

	grant = smbdirect_credits_grantable(c);
	c->recv_granted += grant;
	c->send_credits -= 1;
	c->response_requested = false;

	*credits_granted = grant;
	*credits_requested = c->send_credit_target;
	return 0;
}

bool smbdirect_credits_need_grant(const struct smbdirect_credits *c)
{
	uint32_t target;
	uint32_t low_water;
	uint16_t grant;

	grant = smbdirect_credits_grantable(c);
	if (grant == 0) {
		return false;
	}

	target = min_u32(c->recv_credit_target, c->receive_credit_max);
	low_water = target / 8;
	return c->recv_granted <= low_water;
}
