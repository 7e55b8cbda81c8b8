/*
 * smbdirectd: the one way a connection ends, and its state
 *
 * Every layer of a connection (smbdirectd_conn.c and everything below
 * it) calls conn_close() on a fatal error and simply returns: this file
 * logs the reason, stops the relay to smbd and asks rdma_cm to
 * disconnect, after which the DISCONNECTED event (or, when none can
 * come, an immediate event) frees the connection. It calls nothing of
 * the other layers, so calling it from any of them points down. Every
 * change of a connection's state goes through conn_set_state() here,
 * which also publishes it for the status file.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include "includes.h"
#include "smbdirectd_ctx.h"
#include "smbdirectd_conn_private.h"
#include "smbdirectd_conn_close.h"

#include <rdma/rdma_cma.h>

static const char *conn_state_name(enum conn_state s)
{
	switch (s) {
	case CONN_ACCEPTING:
		return "accepting";
	case CONN_NEGOTIATE:
		return "negotiating";
	case CONN_RUNNING:
		return "running";
	case CONN_CLOSING:
		return "closing";
	case CONN_DONE:
		return "done";
	}
	return "?";
}

void conn_set_state(struct smbdirectd_conn *conn, enum conn_state state)
{
	conn->state = state;
	conn->status.state = conn_state_name(state);
}

/* A connection's counters, logged as it closes. */
static void smbdirectd_conn_log_status(const struct smbdirectd_conn *conn,
				       int level)
{
	const struct smbdirectd_counters *c = &conn->counters;
	const struct smbdirect_proto *p = conn->proto;

	DEBUG(level,
	      ("connection %" PRIu64 " from %s (smbd via 127.0.0.1:%u): "
	       "to smbd %" PRIu64 " PDUs / %" PRIu64 " bytes, to client "
	       "%" PRIu64 " PDUs / %" PRIu64 " bytes, RDMA sends %" PRIu64
	       ", receives %" PRIu64 ", errors %" PRIu64
	       "; offloaded WRITE %" PRIu64 " ops / %" PRIu64 " bytes, READ "
	       "%" PRIu64 " ops / %" PRIu64 " bytes, offload failures %" PRIu64
	       "; zero copy WRITE %" PRIu64 " / READ %" PRIu64 " bytes"
	       "; send credits %u, receive credits granted %u, max send "
	       "%u, max receive %u\n",
	       conn->id,
	       conn->peer,
	       conn->smbd_local_port,
	       c->pdus_to_smbd,
	       c->bytes_to_smbd,
	       c->pdus_to_client,
	       c->bytes_to_client,
	       c->rdma_sends,
	       c->rdma_recvs,
	       c->errors,
	       c->offload_write_ops,
	       c->offload_write_bytes,
	       c->offload_read_ops,
	       c->offload_read_bytes,
	       c->offload_failures,
	       c->zero_copy_write_bytes,
	       c->zero_copy_read_bytes,
	       p != NULL ? p->credits.send_credits : 0,
	       p != NULL ? p->credits.recv_granted : 0,
	       p != NULL ? p->max_send_size : 0,
	       p != NULL ? p->max_receive_size : 0));
}

static void conn_reap_now(struct tevent_context *ev,
			  struct tevent_immediate *im,
			  void *private_data)
{
	struct smbdirectd_conn *conn = talloc_get_type_abort(
		private_data, struct smbdirectd_conn);

	TALLOC_FREE(conn);
}

/*
 * No DISCONNECTED event will come (the peer never got established, or
 * rdma_disconnect failed): free the connection from the event loop,
 * outside whatever callback noticed it.
 */
static void conn_reap(struct smbdirectd_conn *conn)
{
	struct tevent_immediate *im = tevent_create_immediate(conn);

	conn_set_state(conn, CONN_DONE);
	if (im == NULL) {
		return; /* freed with the daemon at exit */
	}
	tevent_schedule_immediate(im, conn->ctx->ev, conn_reap_now, conn);
}

static void conn_close_va(struct smbdirectd_conn *conn,
			  bool peer_gone,
			  const char *fmt,
			  va_list ap) PRINTF_ATTRIBUTE(3, 0);

/*
 * peer_gone: the peer disconnected first; its DREQ was answered by the
 * CM already and a disconnect of ours would only add a second one.
 */
static void conn_close_va(struct smbdirectd_conn *conn,
			  bool peer_gone,
			  const char *fmt,
			  va_list ap)
{
	if (conn->state == CONN_CLOSING || conn->state == CONN_DONE) {
		return;
	}
	conn->close_reason = talloc_vasprintf(conn, fmt, ap);

	DBG_ERR("connection %" PRIu64 " from %s: disconnecting: %s\n",
		conn->id,
		conn->peer,
		conn->close_reason != NULL ? conn->close_reason : "?");
	smbdirectd_conn_log_status(conn, DBGLVL_NOTICE);

	TALLOC_FREE(conn->negotiate_timer);
	TALLOC_FREE(conn->idle_timer);
	TALLOC_FREE(conn->smbd_in); /* before the socket it reads */
	/*
	 * The writes still queued for smbd go with their queue: left
	 * there, the next would start on the freed stream (a failed write
	 * to a killed smbd closes the connection from its callback, and
	 * the queue then triggers the next one).
	 */
	TALLOC_FREE(conn->smbd_queue);
	TALLOC_FREE(conn->smbd);
	conn->smbd_fd = -1;

	conn_set_state(conn, CONN_CLOSING);
	/*
	 * rdma_disconnect moves the QP to the error state: outstanding work
	 * requests complete with IBV_WC_WR_FLUSH_ERR and rdma_cm reports
	 * DISCONNECTED, after which the resources are released.
	 */
	if (rdma_disconnect(conn->cm_id) != 0) {
		DBG_INFO("connection %" PRIu64 ": rdma_disconnect: %s\n",
			 conn->id,
			 strerror(errno));
		conn_reap(conn);
	}
}

void conn_close(struct smbdirectd_conn *conn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conn_close_va(conn, false, fmt, ap);
	va_end(ap);
}

void conn_peer_closed(struct smbdirectd_conn *conn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conn_close_va(conn, true, fmt, ap);
	va_end(ap);
}
