/*
 * SMB Direct ([MS-SMBD]) per-connection protocol state, server side.
 *
 * The rule of proto/: nothing in this folder calls verbs, sockets or
 * tevent, or touches a file. Bytes come in and go out through the
 * caller's buffers, so that selftest/unit and selftest/fuzz drive every
 * line of it without a device; anything that needs the outside world
 * belongs to the daemon (smbdirectd_*.c, one folder up).
 *
 * Ties together negotiate handling, validation of every received
 * message, credits, fragmentation and reassembly.  No verbs: the daemon
 * (smbdirectd) posts receives and sends; this code decides what is
 * valid and what the headers contain.
 *
 * Driving it from a verbs/tevent loop:
 *
 *   p = smbdirect_proto_create(conn_ctx, &params, &err);
 *
 *   post receives of smbdirect_proto_recv_buffer_size(p) bytes:
 *     n = smbdirect_proto_recv_to_post(p); post n;
 *     smbdirect_proto_recv_posted(p, n, &err);
 *   (repeat after every receive completion: the buffer is free again
 *    as soon as the call handling it returns.)
 *
 *   first receive completion:
 *     action = smbdirect_proto_negotiate(p, buf, len, resp, &err);
 *     ACCEPT:     send the 32 byte resp; connection established
 *     REJECT:     send resp (failure status), then disconnect
 *     DISCONNECT: disconnect without reply, log err.reason
 *
 *   every later receive completion:
 *     ret = smbdirect_proto_recv(p, buf, len, mem_ctx, &pdu, &pdu_len,
 *                                &err);
 *     ret != 0:    disconnect, log err.reason
 *     pdu != NULL: a complete SMB2 PDU (talloc'ed on mem_ctx)
 *     then retry queued sends (new send credits may have arrived), and
 *     if nothing is queued but smbdirect_proto_want_send_now(p), send
 *     smbdirect_proto_send_empty().
 *
 *   sending one SMB2 PDU (FIFO: finish one PDU before the next):
 *     smbdirect_proto_send_init(p, &tx, pdu_len, &err);
 *     while (!smbdirect_frag_tx_done(&tx)) {
 *         ret = smbdirect_proto_send_next(p, &tx, &msg, &err);
 *         EAGAIN: wait for a receive that grants credits, retry
 *         0: post msg.hdr[0..msg.hdr_len) followed by
 *            pdu[msg.payload_ofs .. msg.payload_ofs + msg.payload_len)
 *            (for RDMA_V1_INVALIDATE use SEND_WITH_INVALIDATE when
 *            msg.last)
 *     }
 *
 *   idle timer (params.keepalive_interval_sec without traffic):
 *     smbdirect_proto_keepalive_request(p); then send_empty() unless a
 *     PDU is about to go out (it carries the flag instead).
 *     If smbdirect_proto_keepalive_outstanding(p) is still true
 *     params.keepalive_timeout_sec after that message, disconnect.
 *
 * Copyright (C) 2025 The vfs_smbdirect authors
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECT_PROTO_H_
#define _SMBDIRECT_PROTO_H_

#include "smbdirect_pdu.h"
#include "smbdirect_credits.h"
#include "smbdirect_fragment.h"

/*
 * Defaults match cifs.ko and ksmbd (255 credits, 1364 byte messages,
 * 1 MiB max fragmented receive, 8 MiB RDMA read/write, 120 s keepalive)
 * and what Windows accepts.  Windows sends with MaxSendSize 1364 but
 * receives up to 8192 ([MS-SMBD] <2>); 1364 both ways is what the
 * Linux peers use.
 */
#define SMBDIRECT_DEFAULT_RECEIVE_CREDIT_MAX 255
#define SMBDIRECT_DEFAULT_SEND_CREDIT_TARGET 255
#define SMBDIRECT_DEFAULT_MAX_SEND_SIZE 1364
#define SMBDIRECT_DEFAULT_MAX_RECEIVE_SIZE 1364
#define SMBDIRECT_DEFAULT_MAX_FRAGMENTED_SIZE (1024 * 1024)
#define SMBDIRECT_DEFAULT_MAX_READ_WRITE_SIZE (8 * 1024 * 1024)
#define SMBDIRECT_DEFAULT_KEEPALIVE_INTERVAL_SEC 120
/*
 * cifs.ko may answer RESPONSE_REQUESTED only with its next message
 * (SMB2 ECHO every 60 s when idle), so allow a full interval.
 */
#define SMBDIRECT_DEFAULT_KEEPALIVE_TIMEOUT_SEC 120

/* Accepted ranges for the smb.conf "smbdirect:" options. */
#define SMBDIRECT_MAX_MESSAGE_SIZE (1024 * 1024)
#define SMBDIRECT_MAX_FRAGMENTED_SIZE (64 * 1024 * 1024)
#define SMBDIRECT_MAX_READ_WRITE_SIZE_LIMIT (1024 * 1024 * 1024)

struct smbdirect_params {
	uint16_t receive_credit_max;	/* 1..65535 */
	uint16_t send_credit_target;	/* 1..65535 */
	uint32_t max_send_size;		/* 128..1 MiB */
	uint32_t max_receive_size;	/* 128..1 MiB */
	uint32_t max_fragmented_size;	/* 131072..64 MiB (receive side) */
	uint32_t max_read_write_size;	/* 1..1 GiB */
	uint32_t keepalive_interval_sec;	/* 0 disables keepalives */
	uint32_t keepalive_timeout_sec;	/* > 0 */
};

/* Fill p with the defaults above. */
void smbdirect_params_set_defaults(struct smbdirect_params *p);

/* EINVAL with a reason naming the offending option when out of range. */
int smbdirect_params_validate(const struct smbdirect_params *p,
			      struct smbdirect_err *err);

enum smbdirect_proto_state {
	SMBDIRECT_PROTO_NEGOTIATE_WAIT,
	SMBDIRECT_PROTO_ESTABLISHED,
	SMBDIRECT_PROTO_FAILED,
};

enum smbdirect_negotiate_action {
	SMBDIRECT_NEGOTIATE_ACCEPT,	/* send response, established */
	SMBDIRECT_NEGOTIATE_REJECT,	/* send failure response, disconnect */
	SMBDIRECT_NEGOTIATE_DISCONNECT,	/* disconnect, no response */
};

/* [MS-SMBD] Connection.KeepaliveRequested, for our own keepalives. */
enum smbdirect_keepalive {
	SMBDIRECT_KEEPALIVE_NONE,
	SMBDIRECT_KEEPALIVE_PENDING,	/* next message carries the flag */
	SMBDIRECT_KEEPALIVE_SENT,	/* waiting for any peer message */
};

struct smbdirect_proto {
	struct smbdirect_params params;
	enum smbdirect_proto_state state;

	/* Negotiated, valid once established ([MS-SMBD] 3.1.1.1) */
	uint32_t max_send_size;			/* Connection.MaxSendSize */
	uint32_t max_receive_size;		/* Connection.MaxReceiveSize */
	uint32_t max_fragmented_send_size;	/* peer's MaxFragmentedSize */
	uint32_t max_fragmented_recv_size;	/* ours */
	uint32_t max_read_write_size;

	struct smbdirect_credits credits;
	struct smbdirect_reassembly *reassembly;
	enum smbdirect_keepalive keepalive;

	/* First fatal error; later calls fail with EPIPE quoting it. */
	struct smbdirect_err failure;
};

/*
 * One data transfer message to post: hdr[0..hdr_len) followed by
 * payload_len bytes of the PDU starting at payload_ofs (none for an
 * empty message).
 */
struct smbdirect_send_msg {
	uint8_t hdr[SMBDIRECT_DATA_HDR_SIZE];
	size_t hdr_len;			/* 20 without payload, else 24 */
	size_t payload_ofs;
	size_t payload_len;
	uint16_t credits_granted;	/* also encoded in hdr */
	uint16_t flags;			/* also encoded in hdr */
	bool last;			/* last message of the PDU */
};

/*
 * Allocate the state on mem_ctx.  NULL with err set when params are
 * invalid (EINVAL) or memory is short (ENOMEM).
 */
struct smbdirect_proto *smbdirect_proto_create(
	TALLOC_CTX *mem_ctx,
	const struct smbdirect_params *params,
	struct smbdirect_err *err);

/* Size of each receive buffer to post: params.max_receive_size. */
uint32_t smbdirect_proto_recv_buffer_size(const struct smbdirect_proto *p);

/* Receives to post now (keeps receive_credit_max posted). */
uint32_t smbdirect_proto_recv_to_post(const struct smbdirect_proto *p);

/* The daemon posted n receives. */
int smbdirect_proto_recv_posted(struct smbdirect_proto *p,
				uint32_t n,
				struct smbdirect_err *err);

/*
 * Handle the negotiate request in buf/len ([MS-SMBD] 3.1.5.6) and fill
 * resp for ACCEPT and REJECT ([MS-SMBD] 3.1.5.3).
 *
 *  - shorter than 20 bytes                  DISCONNECT
 *  - 0x0100 not in [MinVersion, MaxVersion] REJECT, STATUS_NOT_SUPPORTED
 *  - CreditsRequested 0                     DISCONNECT
 *  - MaxReceiveSize < 128                   DISCONNECT
 *  - MaxFragmentedSize < 131072             DISCONNECT
 *  - no receive posted to grant             REJECT,
 *                                           STATUS_INSUFFICIENT_RESOURCES
 *
 * On ACCEPT: max_receive_size = max(128, min(ours, PreferredSendSize)),
 * max_send_size = min(ours, MaxReceiveSize), max_fragmented_send_size =
 * MaxFragmentedSize, and the response grants min(posted, CreditsRequested,
 * receive_credit_max) credits.  err.reason describes every non-ACCEPT.
 */
enum smbdirect_negotiate_action smbdirect_proto_negotiate(
	struct smbdirect_proto *p,
	const uint8_t *buf,
	size_t len,
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE],
	struct smbdirect_err *err);

/*
 * Handle one received data transfer message ([MS-SMBD] 3.1.5.8):
 * validates it (length within negotiated MaxReceiveSize, header checks
 * of smbdirect_data_hdr_pull(), credits, fragment consistency), updates
 * credits and keepalive state and reassembles.
 *
 * Returns 0 with *pdu set (talloc'ed on mem_ctx) when a PDU completed,
 * 0 with *pdu NULL otherwise.  Any non-zero return means disconnect.
 */
int smbdirect_proto_recv(struct smbdirect_proto *p,
			 const uint8_t *buf,
			 size_t len,
			 TALLOC_CTX *mem_ctx,
			 uint8_t **pdu,
			 size_t *pdu_len,
			 struct smbdirect_err *err);

/*
 * Start sending a PDU of pdu_len bytes.  EMSGSIZE (not fatal for the
 * connection) if it exceeds the peer's MaxFragmentedSize.
 */
int smbdirect_proto_send_init(struct smbdirect_proto *p,
			      struct smbdirect_frag_tx *tx,
			      size_t pdu_len,
			      struct smbdirect_err *err);

/*
 * Produce the next message of the PDU in *msg, with CreditsGranted,
 * CreditsRequested and Flags taken from the current state.  EAGAIN
 * (nothing consumed) when no send credit may be spent now.  Once 0 is
 * returned the message counts as sent.
 */
int smbdirect_proto_send_next(struct smbdirect_proto *p,
			      struct smbdirect_frag_tx *tx,
			      struct smbdirect_send_msg *msg,
			      struct smbdirect_err *err);

/*
 * Produce a message without payload (20 bytes): grants credits, answers
 * RESPONSE_REQUESTED and carries our keepalive flag if one is pending.
 * EAGAIN when no send credit may be spent now.
 */
int smbdirect_proto_send_empty(struct smbdirect_proto *p,
			       struct smbdirect_send_msg *msg,
			       struct smbdirect_err *err);

/*
 * Something must go out soon even with no PDU queued: the peer asked
 * for a response, the peer runs low on credits we can grant, or our own
 * keepalive is pending.
 */
bool smbdirect_proto_want_send_now(const struct smbdirect_proto *p);

/*
 * The idle timer fired: the next message carries RESPONSE_REQUESTED
 * ([MS-SMBD] 3.1.2.2).  No effect while an earlier keepalive is still
 * unanswered.
 */
void smbdirect_proto_keepalive_request(struct smbdirect_proto *p);

/* Our keepalive went out and nothing was received since. */
bool smbdirect_proto_keepalive_outstanding(const struct smbdirect_proto *p);

#endif /* _SMBDIRECT_PROTO_H_ */
