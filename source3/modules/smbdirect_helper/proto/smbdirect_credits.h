/*
 * SMB Direct ([MS-SMBD] 3.1.5.1, 3.1.5.8, 3.1.5.9) credit accounting.
 *
 * Pure bookkeeping, no verbs: the daemon reports what it posted and what
 * completed, this code says how many credits to grant, whether a message
 * may be sent now and whether the peer broke the rules.
 *
 * Terms (from our side of the connection):
 *
 *   send credits   granted to us by the peer; each message we send costs
 *                  one ([MS-SMBD] Connection.SendCredits).
 *   posted         receive buffers currently posted on the queue pair.
 *   granted        credits the peer holds: receives we posted and granted
 *                  and the peer has not yet used
 *                  ([MS-SMBD] Connection.ReceiveCredits).  granted <= posted
 *                  always, so every message the peer may send finds a
 *                  posted receive.
 *   target         the peer's latest CreditsRequested
 *                  ([MS-SMBD] Connection.ReceiveCreditTarget).
 *
 * Copyright (C) 2025 The vfs_smbdirect authors
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECT_CREDITS_H_
#define _SMBDIRECT_CREDITS_H_

#include "smbdirect_pdu.h"

/*
 * Upper bound for the send credits we accept to hold.  CreditsRequested
 * ("total number of Send Credits requested ..., including any Send
 * Credits already granted") is a 16-bit field, so a total beyond 65535
 * cannot be meaningful; a peer pushing us past it is broken or hostile.
 */
#define SMBDIRECT_SEND_CREDITS_LIMIT UINT16_MAX

struct smbdirect_credits {
	/* Local configuration */
	uint16_t receive_credit_max;	/* Connection.ReceiveCreditMax */
	uint16_t send_credit_target;	/* Connection.SendCreditTarget */

	/* Send side */
	uint32_t send_credits;		/* Connection.SendCredits */

	/* Receive side */
	uint32_t recv_posted;
	uint32_t recv_granted;		/* Connection.ReceiveCredits */
	uint16_t recv_credit_target;	/* Connection.ReceiveCreditTarget */

	/* The peer set SMB_DIRECT_RESPONSE_REQUESTED: we owe it a message. */
	bool response_requested;

	/*
	 * Times the peer spent its last credit on a message granting us
	 * none ([MS-SMBD] 3.1.5.1 forbids it).  cifs.ko does not implement
	 * that rule, so it is counted for the log instead of being fatal,
	 * unless it leaves both sides without credits (EDEADLK).
	 */
	uint64_t peer_last_credit_violations;
};

/* Start with nothing posted, nothing granted, no send credits. */
void smbdirect_credits_init(struct smbdirect_credits *c,
			    uint16_t receive_credit_max,
			    uint16_t send_credit_target);

/*
 * How many receive buffers the daemon should post now to keep
 * receive_credit_max buffers posted.
 */
uint32_t smbdirect_credits_recv_to_post(const struct smbdirect_credits *c);

/*
 * The daemon posted n more receives.  EINVAL if that would exceed
 * receive_credit_max (the daemon's bookkeeping went wrong).
 */
int smbdirect_credits_recv_posted(struct smbdirect_credits *c,
				  uint32_t n,
				  struct smbdirect_err *err);

/*
 * The negotiate request arrived (in one of the posted receives).
 * Consumes that receive, sets the target to the peer's CreditsRequested
 * and computes the initial grant for the negotiate response
 * ([MS-SMBD] 3.1.5.6 -> 3.1.5.9): min(posted, target, max).
 * *credits_granted may be 0 when nothing is posted; the caller must
 * then refuse the connection.
 */
int smbdirect_credits_on_negotiate(struct smbdirect_credits *c,
				   uint16_t peer_credits_requested,
				   uint16_t *credits_granted,
				   struct smbdirect_err *err);

/*
 * A data transfer message (already validated by smbdirect_data_hdr_pull)
 * arrived in one of the posted receives ([MS-SMBD] 3.1.5.8):
 *
 *  - EPROTO if the peer held no credit (credit violation)
 *  - consumes one posted receive and one granted credit
 *  - target := CreditsRequested
 *  - send credits += CreditsGranted (EPROTO past the limit above)
 *  - RESPONSE_REQUESTED sets response_requested
 *  - EDEADLK if the peer spent its last credit without granting any
 *    while we hold none: nobody can ever send again.
 */
int smbdirect_credits_on_recv(struct smbdirect_credits *c,
			      const struct smbdirect_data_hdr *hdr,
			      struct smbdirect_err *err);

/*
 * Credits the next outgoing message would grant ([MS-SMBD] 3.1.5.9):
 * enough to bring the peer up to min(target, receive_credit_max), never
 * more than posted-but-ungranted receives, and at least one when the
 * peer holds none or when we are down to our last send credit (which
 * may only be spent on a message that grants credits).
 */
uint16_t smbdirect_credits_grantable(const struct smbdirect_credits *c);

/*
 * May a message be sent now?  Needs a send credit; the last one only
 * when the message grants at least one credit ([MS-SMBD] 3.1.5.1).
 */
bool smbdirect_credits_can_send(const struct smbdirect_credits *c);

/*
 * Account for one message about to be sent: spends a send credit,
 * grants smbdirect_credits_grantable() credits and clears
 * response_requested.  Returns EAGAIN (state unchanged) when
 * smbdirect_credits_can_send() is false.  Once this succeeded the
 * message must be sent: there is no undo, a failed post send means the
 * connection is lost anyway.
 */
int smbdirect_credits_take_send(struct smbdirect_credits *c,
				uint16_t *credits_granted,
				uint16_t *credits_requested,
				struct smbdirect_err *err);

/*
 * The peer runs low on credits while we have receives to grant: send a
 * message (a credit-only one if nothing else is queued).  "Low" is at
 * most 1/8 of the target, as ksmbd does, to batch grants instead of
 * answering every message.
 */
bool smbdirect_credits_need_grant(const struct smbdirect_credits *c);

#endif /* _SMBDIRECT_CREDITS_H_ */
