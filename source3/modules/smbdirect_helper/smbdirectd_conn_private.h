/*
 * smbdirectd: the inside of a connection, shared by its layers (see the
 * list in smbdirectd_conn.c). Structures and constants only: no layer
 * calls another through this header.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_CONN_PRIVATE_H_
#define _SMBDIRECTD_CONN_PRIVATE_H_

#include "smbdirectd_ctx.h"
#include "proto/smbdirect_proto.h"
#include <rdma/rdma_cma.h>
#include <infiniband/verbs.h>

struct smbdirectd_dev;
struct offload_item;
struct offload_record;
struct offload_rw;
struct offload_rsp;
struct smbdirectd_zc;
struct smbdirectd_session_keys;

/* wr_id: the buffer or slot index in the low 32 bits, its kind above. */
#define WR_RECV 1ULL
#define WR_SEND 2ULL
#define WR_RDMA 3ULL /* RDMA READ or WRITE of the offload */
#define WR_ID(kind, idx) (((kind) << 32) | (uint32_t)(idx))
#define WR_KIND(id) ((id) >> 32)
#define WR_IDX(id) ((uint32_t)(id))

/*
 * Stop reading from smbd while this much is waiting to go out over RDMA,
 * and stop re-posting receives (so stop granting credits) while this much
 * is waiting to be written to smbd: both directions stay bounded.
 */
#define RELAY_HIGH_WATER (32 * 1024 * 1024)

/* The stream header smbd expects in front of every SMB2 PDU. */
#define NBT_HDR_SIZE 4
#define NBT_MAX_LEN 0x00FFFFFF

enum conn_state {
	CONN_ACCEPTING,	 /* rdma_accept sent, not yet ESTABLISHED */
	CONN_NEGOTIATE,	 /* waiting for the [MS-SMBD] negotiate request */
	CONN_RUNNING,	 /* negotiated, relaying */
	CONN_CLOSING,	 /* disconnect requested, waiting for DISCONNECTED */
	CONN_DONE,	 /* the caller may free it */
};

struct buf_array {
	uint8_t *mem;
	struct ibv_mr *mr;
	uint32_t count;
	uint32_t size;
	uint32_t *free_stack;
	uint32_t num_free;
};

struct out_pdu {
	struct out_pdu *prev, *next;
	uint8_t *data; /* the SMB2 PDU without the stream header */
	size_t len;
	struct smbdirect_frag_tx tx;
	bool started;
	/* RDMA_V1_INVALIDATE: the last message is a Send with Invalidate */
	bool invalidate;
	uint32_t invalidate_rkey;
};

/* Send-queue work requests posted together at most (one doorbell). */
#define SQ_BATCH_MAX 32

struct smbdirectd_conn {
	struct smbdirectd_conn *prev, *next;
	struct smbdirectd_ctx *ctx;
	uint64_t id;
	enum conn_state state;
	char peer[INET6_ADDRSTRLEN + 8];
	char *close_reason;

	struct rdma_cm_id *cm_id;
	struct smbdirectd_dev *dev; /* PD and pool registration */
	uint8_t initiator_depth;    /* RDMA READs we may have in flight */
	struct ibv_comp_channel *comp_ch;
	struct ibv_cq *cq;
	bool qp_created;
	struct tevent_fd *cq_fde;
	struct buf_array recv;
	struct buf_array send;
	bool close_after_send; /* negotiate rejected: send, then close */
	/*
	 * Send-queue work requests gathered while an event is handled, for
	 * one ibv_post_send after it (conn_post_send_wr()): sq_wrs[0..sq_n)
	 * linked in order, each with its one SGE in sq_sges.
	 */
	struct ibv_send_wr sq_wrs[SQ_BATCH_MAX];
	struct ibv_sge sq_sges[SQ_BATCH_MAX];
	size_t sq_n;
	struct tevent_immediate *sq_flush;

	/*
	 * The negotiate request can complete before rdma_cm reports
	 * ESTABLISHED (the QP receives as soon as rdma_accept is done, and
	 * cifs.ko sends at once): it is kept here until then.
	 */
	bool early_negotiate;
	uint32_t early_idx;
	uint32_t early_len;

	struct smbdirect_proto *proto;

	/* SMB2 PDUs from smbd waiting for send credits and buffers */
	struct out_pdu *out_queue;
	size_t out_bytes;

	/* The loopback TCP connection to smbd */
	struct tstream_context *smbd;
	struct tevent_queue *smbd_queue;
	/* what smbd sent, its buffer and reader (smbdirectd_relay.c) */
	struct smbd_input *smbd_in;
	uint16_t smbd_local_port;
	char *smbd_local_address; /* "ipv4:127.0.0.1:PORT" */
	/* channel signing keys from smbd (smbdirectd_session_keys.c) */
	struct smbdirectd_session_keys *session_keys;
	/*
	 * conn->smbd's descriptor: smbd's PDUs are read from it in bulk,
	 * and the bytes smbd relays after a zero-copy READ response dropped
	 * unread (MSG_TRUNC); -1: not found, the PDUs are read through
	 * conn->smbd one at a time, those bytes with them.
	 */
	int smbd_fd;
	pid_t smbd_pid; /* looked up at smbd's first response */
	size_t to_smbd_bytes; /* written to tstream but not yet completed */

	/*
	 * Requests in arrival order; an offloaded WRITE waits here for its
	 * RDMA READ, and what follows it waits too, so smbd sees the
	 * client's order (smbdirectd_offload.c).
	 */
	struct offload_item *to_smbd;
	/* READ/WRITE with RDMA channel waiting for smbd's response */
	struct offload_record *records;
	/* RDMA READ/WRITE operations: in flight by slot, and waiting */
	struct offload_rw **rw_slots;
	uint32_t num_rw_slots;
	uint32_t rw_wrs_in_flight;
	uint32_t rdma_reads_in_flight;
	struct offload_rw *rw_wait;
	/* the response from smbd being rewritten (reading paused) */
	struct offload_rsp *rsp;
	/* vfs_smbdirect attached: the zero-copy table (smbdirectd_zerocopy.c) */
	struct smbdirectd_zc *zc;

	struct tevent_timer *negotiate_timer;
	/*
	 * [MS-SMBD] idle connection timer. A receive only notes its time
	 * (CLOCK_MONOTONIC_COARSE, read without a system call); the timer,
	 * set once and then by itself, works out how long the peer has
	 * been quiet when it fires, instead of being set again per message.
	 */
	struct tevent_timer *idle_timer;
	struct timespec last_recv;
	/* asked for a keepalive without a send credit to carry it */
	bool keepalive_unsent;

	/*
	 * How the relay and the transport report up, set by
	 * smbdirectd_conn.c when it accepts: a lower layer never calls a
	 * higher one by name.
	 */
	/* The first 80 bytes of a PDU from smbd: offload_zc_read_done() */
	int (*smbd_probe)(struct smbdirectd_conn *conn,
			  const uint8_t *hdr,
			  size_t pdu_len,
			  struct offload_record **rec);
	/* A whole PDU from smbd, ours to free: offload_response() */
	void (*smbd_received)(struct smbdirectd_conn *conn,
			      uint8_t *pdu,
			      size_t len,
			      struct offload_record *zc_rec);
	/* The connection to smbd is up: offload_flush() */
	void (*smbd_connected)(struct smbdirectd_conn *conn);
	/*
	 * The queue to the client went below RELAY_HIGH_WATER while
	 * reading from smbd was paused: conn_smbd_read_next()
	 */
	void (*smbd_read_resume)(struct smbdirectd_conn *conn);

	struct smbdirectd_counters counters;
	/* published on ctx->conn_status for the status file */
	struct smbdirectd_conn_status status;
};

/* RDMA READ/WRITE work requests allowed on the send queue at once. */
#define RW_MAX_WRS 64

#endif
