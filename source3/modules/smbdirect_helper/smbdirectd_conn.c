/*
 * smbdirectd: one SMB Direct connection, its states and its wiring
 *
 * A connection is accepted here (hosts allow/deny, smbdirect:max
 * connections), follows rdma_cm's events (ESTABLISHED, DISCONNECTED,
 * DEVICE_REMOVAL, ...), answers the [MS-SMBD] negotiate request and
 * keeps the connection alive (keepalive, idle timer). Its completions
 * arrive here and go to the layer they belong to. [MS-SMBD] itself
 * (negotiate, credits, fragmentation) is decided by smbdirect_proto.
 * The layers below, each calling only the ones under it:
 *
 *   smbdirectd_offload.c     READ/WRITE with an RDMA channel: requests
 *                            to smbd, responses to the client
 *   smbdirectd_offload_zc.c  their records, and the zero-copy link
 *   smbdirectd_rdma_rw.c     posting the RDMA READ/WRITE work requests
 *   smbdirectd_relay.c       the loopback TCP connection to smbd
 *   smbdirectd_transport.c   QP, CQ, buffers; posting receives and sends
 *   smbdirectd_conn_close.c  the one way a connection ends, its state
 *
 * and under those the shared pieces: the zero-copy table
 * (smbdirectd_zerocopy.c), the registered pool (smbdirectd_pool.c) and
 * its registration per device (smbdirectd_dev.c). Above this file are
 * only the listener (smbdirectd_listen.c) and main (smbdirectd.c); the
 * status file reads what the connections publish (smbdirectd_ctx.h).
 * A lower layer reports up by return value, by conn_close(), or through
 * the function pointers set in smbdirectd_conn_accept().
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 *
 * This program is distributed in the hope that it will be useful,
 * but WITHOUT ANY WARRANTY; without even the implied warranty of
 * MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
 * GNU General Public License for more details.
 *
 * You should have received a copy of the GNU General Public License
 * along with this program.  If not, see <http://www.gnu.org/licenses/>.
 */

#include "includes.h"
#include "lib/util/dlinklist.h"
#include "lib/util/access.h"
#include "smbdirectd_ctx.h"
#include "smbdirectd_config.h"
#include "smbdirectd_conn.h"
#include "smbdirectd_conn_private.h"
#include "smbdirectd_conn_close.h"
#include "smbdirectd_dev.h"
#include "smbdirectd_offload.h"
#include "smbdirectd_offload_zc.h"
#include "smbdirectd_rdma_rw.h"
#include "smbdirectd_relay.h"
#include "smbdirectd_transport.h"
#include "proto/smbdirect_proto.h"

#include <rdma/rdma_cma.h>
#include <infiniband/verbs.h>

/* ------------------------------------------------------------------ */
/* teardown                                                            */

static int conn_destructor(struct smbdirectd_conn *conn)
{
	struct smbdirectd_ctx *ctx = conn->ctx;

	/* tevent handlers first: nothing may call back into a dying conn */
	TALLOC_FREE(conn->cq_fde);
	TALLOC_FREE(conn->negotiate_timer);
	TALLOC_FREE(conn->idle_timer);
	TALLOC_FREE(conn->smbd_in); /* its tevent_fd is on smbd's socket */
	TALLOC_FREE(conn->smbd);
	conn->smbd_fd = -1;
	/* slots vfs_smbdirect still works on outlive the connection */
	offload_teardown(conn);

	smbdirectd_transport_free(conn);
	/* the pool registration, which the QP used, may go now */
	smbdirectd_dev_put(ctx, conn->dev);
	conn->dev = NULL;
	if (conn->cm_id != NULL) {
		rdma_destroy_id(conn->cm_id);
	}

	smbdirectd_counters_add(&ctx->totals, &conn->counters);
	DLIST_REMOVE(ctx->conns, conn);
	ctx->num_conns -= 1;
	DLIST_REMOVE(ctx->conn_status, &conn->status);
	return 0;
}

void smbdirectd_conn_shutdown(struct smbdirectd_conn *conn,
			      const char *reason)
{
	conn_close(conn, "%s", reason);
}

void smbdirectd_conn_shutdown_all(struct smbdirectd_ctx *ctx,
				  const char *reason)
{
	struct smbdirectd_conn *conn = NULL;
	struct smbdirectd_conn *next = NULL;

	for (conn = ctx->conns; conn != NULL; conn = next) {
		next = conn->next;
		conn_close(conn, "%s", reason);
	}
}

void smbdirectd_conn_free_all(struct smbdirectd_ctx *ctx)
{
	struct smbdirectd_conn *conn = NULL;

	while ((conn = ctx->conns) != NULL) {
		TALLOC_FREE(conn);
	}
}

/* ------------------------------------------------------------------ */
/* completions                                                         */

static void conn_negotiate_timeout(struct tevent_context *ev,
				   struct tevent_timer *te,
				   struct timeval now,
				   void *private_data)
{
	struct smbdirectd_conn *conn = talloc_get_type_abort(
		private_data, struct smbdirectd_conn);

	conn->negotiate_timer = NULL;
	conn_close(conn, "no SMB Direct negotiate request within %u s",
		   conn->ctx->cfg->negotiate_timeout_sec);
}

static void conn_idle_timer(struct tevent_context *ev,
			    struct tevent_timer *te,
			    struct timeval now,
			    void *private_data);

static void conn_arm_idle_timer(struct smbdirectd_conn *conn, uint32_t msec)
{
	TALLOC_FREE(conn->idle_timer);
	conn->idle_timer = tevent_add_timer(conn->ctx->ev,
					    conn,
					    timeval_current_ofs_msec(msec),
					    conn_idle_timer,
					    conn);
	if (conn->idle_timer == NULL) {
		DBG_ERR("connection %" PRIu64 ": out of memory for the idle "
			"timer: no more keepalives on it\n",
			conn->id);
	}
}

static void conn_note_recv(struct smbdirectd_conn *conn)
{
	clock_gettime(CLOCK_MONOTONIC_COARSE, &conn->last_recv);
}

/* How long the peer has been quiet, in ms. */
static uint64_t conn_quiet_msec(const struct smbdirectd_conn *conn)
{
	struct timespec now;
	int64_t ns;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	ns = nsec_time_diff(&now, &conn->last_recv);
	return ns > 0 ? (uint64_t)ns / 1000000 : 0;
}

/* From the negotiate on, while keepalives are on. */
static void conn_start_idle_timer(struct smbdirectd_conn *conn)
{
	uint32_t interval = conn->proto->params.keepalive_interval_sec;

	conn_note_recv(conn);
	if (interval != 0) {
		conn_arm_idle_timer(conn, interval * 1000);
	}
}

/*
 * [MS-SMBD] 3.1.6.2 / 3.1.6.3: when the peer was idle for the keepalive
 * interval, ask it for a response; if nothing arrives within the
 * timeout, the connection is dead. A peer that granted us no send
 * credit cannot be asked: if it stays quiet for the timeout too, it is
 * dropped as well (it could receive nothing from smbd either).
 *
 * After a keepalive the timer runs for the timeout: with a timeout
 * longer than the interval, a peer that answered and went quiet again
 * is asked next after the timeout, not after the interval.
 */
static void conn_idle_timer(struct tevent_context *ev,
			    struct tevent_timer *te,
			    struct timeval now,
			    void *private_data)
{
	struct smbdirectd_conn *conn = talloc_get_type_abort(
		private_data, struct smbdirectd_conn);
	uint32_t interval_ms = conn->proto->params.keepalive_interval_sec *
			       1000;
	uint32_t timeout = conn->proto->params.keepalive_timeout_sec;
	uint64_t quiet_ms = conn_quiet_msec(conn);

	conn->idle_timer = NULL;
	if (smbdirect_proto_keepalive_outstanding(conn->proto) &&
	    conn->keepalive_unsent) {
		/* it went out late, with the credit the peer granted since */
		conn->keepalive_unsent = false;
		conn_arm_idle_timer(conn, timeout * 1000);
		return;
	}
	if (smbdirect_proto_keepalive_outstanding(conn->proto)) {
		conn_close(conn, "keepalive not answered within %u s", timeout);
		return;
	}
	if (quiet_ms < interval_ms) {
		/* the peer spoke since the timer was set */
		conn->keepalive_unsent = false;
		conn_arm_idle_timer(conn, interval_ms - quiet_ms);
		return;
	}
	if (conn->keepalive_unsent) {
		conn_close(conn, "quiet for %" PRIu64 " s, and no send "
			   "credit to ask it for a keepalive",
			   quiet_ms / 1000);
		return;
	}
	smbdirect_proto_keepalive_request(conn->proto);
	conn_pump(conn);
	if (!smbdirect_proto_keepalive_outstanding(conn->proto)) {
		/* no send credit: it rides on the next message we can send */
		conn->keepalive_unsent = true;
	}
	conn_arm_idle_timer(conn, timeout * 1000);
}

static void conn_handle_negotiate(struct smbdirectd_conn *conn,
				  const uint8_t *buf,
				  size_t len)
{
	uint8_t resp[SMBDIRECT_NEGOTIATE_RESP_SIZE];
	struct smbdirect_err err = {0};
	enum smbdirect_negotiate_action action;
	uint32_t idx;

	TALLOC_FREE(conn->negotiate_timer);
	action = smbdirect_proto_negotiate(conn->proto, buf, len, resp, &err);
	if (action == SMBDIRECT_NEGOTIATE_DISCONNECT) {
		conn->counters.errors += 1;
		conn_close(conn, "%s", err.reason);
		return;
	}

	/* The one message that needs no send credit. */
	if (!buf_get(&conn->send, &idx)) {
		conn_close(conn, "negotiate: no send buffer");
		return;
	}
	if (action == SMBDIRECT_NEGOTIATE_REJECT) {
		conn->counters.errors += 1;
		DBG_ERR("connection %" PRIu64 " from %s: negotiate refused: "
			"%s\n",
			conn->id,
			conn->peer,
			err.reason);
		conn->close_after_send = true;
		conn_send_raw(conn, idx, resp, sizeof(resp));
		return;
	}
	if (!conn_send_raw(conn, idx, resp, sizeof(resp))) {
		return;
	}

	DBG_NOTICE("connection %" PRIu64 " from %s: negotiated: max send "
		   "%u, max receive %u, max fragmented send %u / receive "
		   "%u, max read/write %u, credits granted %u\n",
		   conn->id,
		   conn->peer,
		   conn->proto->max_send_size,
		   conn->proto->max_receive_size,
		   conn->proto->max_fragmented_send_size,
		   conn->proto->max_fragmented_recv_size,
		   conn->proto->max_read_write_size,
		   conn->proto->credits.recv_granted);
	conn_set_state(conn, CONN_RUNNING);
	conn_start_idle_timer(conn);
	conn_connect_smbd(conn);
	conn_pump(conn);
}

static void conn_handle_recv(struct smbdirectd_conn *conn,
			     const struct ibv_wc *wc)
{
	uint32_t idx = WR_IDX(wc->wr_id);
	struct smbdirect_err err = {0};
	uint8_t *pdu = NULL;
	size_t pdu_len = 0;
	const uint8_t *buf = NULL;
	int ret;

	if (idx >= conn->recv.count) {
		conn_close(conn, "receive completion for unknown buffer %u",
			   idx);
		return;
	}
	buf = buf_ptr(&conn->recv, idx);
	conn->counters.rdma_recvs += 1;

	/* byte_len comes from the peer: never beyond our buffer */
	if (wc->byte_len > conn->recv.size) {
		buf_put(&conn->recv, idx);
		conn_close(conn, "received %u bytes into a %u byte buffer",
			   wc->byte_len, conn->recv.size);
		return;
	}

	if (conn->state == CONN_ACCEPTING && !conn->early_negotiate) {
		/*
		 * Answering before ESTABLISHED was seen, or disconnecting,
		 * can be lost on the peer's side: handle it then.
		 */
		conn->early_negotiate = true;
		conn->early_idx = idx;
		conn->early_len = wc->byte_len;
		return;
	}
	if (conn->state == CONN_NEGOTIATE) {
		conn_handle_negotiate(conn, buf, wc->byte_len);
		buf_put(&conn->recv, idx);
		return;
	}
	if (conn->state != CONN_RUNNING) {
		buf_put(&conn->recv, idx);
		return;
	}

	ret = smbdirect_proto_recv(conn->proto, buf, wc->byte_len, conn,
				   &pdu, &pdu_len, &err);
	/* reassembly copied what it needs: the buffer may be re-posted */
	buf_put(&conn->recv, idx);
	if (ret != 0) {
		conn->counters.errors += 1;
		conn_close(conn, "%s", err.reason);
		return;
	}
	conn_note_recv(conn);
	if (pdu != NULL) {
		/* to smbd, through the offload's ordered queue */
		offload_request(conn, pdu, pdu_len);
	}
}

static void conn_handle_wc(struct smbdirectd_conn *conn,
			   const struct ibv_wc *wc)
{
	uint64_t kind = WR_KIND(wc->wr_id);
	uint32_t idx = WR_IDX(wc->wr_id);

	if (kind == WR_SEND) {
		if (idx < conn->send.count) {
			buf_put(&conn->send, idx);
		}
	}

	if (kind == WR_RDMA) {
		offload_rw_completion(conn, wc);
		return;
	}

	if (wc->status != IBV_WC_SUCCESS) {
		if (kind == WR_RECV && idx < conn->recv.count) {
			buf_put(&conn->recv, idx);
		}
		/* Flushes are expected once we are disconnecting. */
		if (conn->state != CONN_CLOSING) {
			conn->counters.errors += 1;
			conn_close(conn, "%s work request failed: %s",
				   kind == WR_RECV ? "receive" : "send",
				   ibv_wc_status_str(wc->status));
		}
		return;
	}

	if (kind == WR_RECV) {
		if (wc->opcode != IBV_WC_RECV) {
			conn_close(conn, "unexpected completion opcode %d",
				   (int)wc->opcode);
			return;
		}
		conn_handle_recv(conn, wc);
		return;
	}
	if (kind == WR_SEND) {
		if (conn->close_after_send) {
			conn_close(conn, "negotiate refused");
		}
		return;
	}
	conn_close(conn, "completion with unknown wr_id 0x%" PRIx64,
		   (uint64_t)wc->wr_id);
}

/*
 * Handle every completion already in the CQ. False if polling failed
 * (the connection is closed then).
 */
static bool conn_drain_cq(struct smbdirectd_conn *conn)
{
	struct ibv_wc wc[16];
	int n;
	int i;

	do {
		n = ibv_poll_cq(conn->cq, ARRAY_SIZE(wc), wc);
		if (n < 0) {
			conn_close(conn, "ibv_poll_cq failed");
			return false;
		}
		for (i = 0; i < n; i++) {
			conn_handle_wc(conn, &wc[i]);
		}
	} while (n > 0);
	return true;
}

static void conn_cq_handler(struct tevent_context *ev,
			    struct tevent_fd *fde,
			    uint16_t flags,
			    void *private_data)
{
	struct smbdirectd_conn *conn = talloc_get_type_abort(
		private_data, struct smbdirectd_conn);
	struct ibv_cq *cq = NULL;
	void *cq_ctx = NULL;

	if (ibv_get_cq_event(conn->comp_ch, &cq, &cq_ctx) != 0) {
		return; /* spurious wakeup: the fd is non-blocking */
	}
	ibv_ack_cq_events(cq, 1);
	if (ibv_req_notify_cq(cq, 0) != 0) {
		conn_close(conn, "ibv_req_notify_cq failed");
		return;
	}

	/*
	 * Poll after re-arming, so that no completion that arrived in
	 * between is missed.
	 */
	if (!conn_drain_cq(conn)) {
		return;
	}
	conn_pump(conn);
}

/* ------------------------------------------------------------------ */
/* setup                                                               */

static void format_peer(struct rdma_cm_id *id, char *buf, size_t len)
{
	struct sockaddr *sa = rdma_get_peer_addr(id);
	char host[INET6_ADDRSTRLEN] = "?";
	uint16_t port = ntohs(rdma_get_dst_port(id));

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr,
			  host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr,
			  host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, port);
	} else {
		snprintf(buf, len, "(family %d)", sa->sa_family);
	}
}

static bool peer_allowed(struct rdma_cm_id *id, const char *peer)
{
	struct sockaddr *sa = rdma_get_peer_addr(id);
	char host[INET6_ADDRSTRLEN] = "";
	const void *a = NULL;

	if (sa->sa_family == AF_INET) {
		a = &((struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		a = &((struct sockaddr_in6 *)sa)->sin6_addr;
	} else {
		return false;
	}
	if (inet_ntop(sa->sa_family, a, host, sizeof(host)) == NULL) {
		return false;
	}
	/*
	 * smbd sees every relayed connection as coming from loopback,
	 * which "hosts allow" always admits: the real peer is checked here,
	 * against the same [global] lists. allow_access logs refusals.
	 */
	return allow_access(lp_hosts_deny(-1), lp_hosts_allow(-1), host,
			    host);
}

/*
 * The verbs resources (smbdirectd_transport.c), the RDMA READ/WRITE
 * slots (smbdirectd_rdma_rw.c), and a posted receive for the negotiate
 * request.
 */
static bool conn_setup_verbs(struct smbdirectd_conn *conn)
{
	if (!smbdirectd_transport_setup(conn, conn_cq_handler)) {
		return false;
	}
	if (!offload_rw_setup(conn)) {
		return false;
	}
	/* The negotiate request must find a posted receive. */
	return conn_post_recvs(conn);
}

bool smbdirectd_conn_accept(struct smbdirectd_ctx *ctx,
			    struct rdma_cm_event *event)
{
	struct rdma_cm_id *id = event->id;
	const struct rdma_conn_param *peer = &event->param.conn;
	struct smbdirectd_conn *conn = NULL;
	struct rdma_conn_param param = {0};
	struct ibv_device_attr dev_attr;
	struct smbdirect_err err = {0};
	char peer_name[sizeof(conn->peer)];

	format_peer(id, peer_name, sizeof(peer_name));

	if (!peer_allowed(id, peer_name)) {
		DBG_ERR("refusing SMB Direct connection from %s: denied by "
			"hosts allow / hosts deny\n",
			peer_name);
		ctx->refused += 1;
		rdma_reject(id, NULL, 0);
		return false;
	}
	if (ctx->num_conns >= ctx->cfg->max_connections) {
		DBG_ERR("refusing SMB Direct connection from %s: %u "
			"connections open (smbdirect:max connections)\n",
			peer_name,
			ctx->num_conns);
		ctx->refused += 1;
		rdma_reject(id, NULL, 0);
		return false;
	}

	conn = talloc_zero(ctx, struct smbdirectd_conn);
	if (conn == NULL) {
		rdma_reject(id, NULL, 0);
		return false;
	}
	conn->smbd_fd = -1;
	conn->ctx = ctx;
	conn->id = ++ctx->next_conn_id;
	conn->cm_id = id;
	conn_set_state(conn, CONN_ACCEPTING);
	snprintf(conn->peer, sizeof(conn->peer), "%s", peer_name);
	DLIST_ADD_END(ctx->conns, conn);
	ctx->num_conns += 1;
	conn->status.id = conn->id;
	conn->status.peer = conn->peer;
	conn->status.counters = &conn->counters;
	DLIST_ADD_END(ctx->conn_status, &conn->status);
	talloc_set_destructor(conn, conn_destructor);
	id->context = conn;
	/* what the relay and the transport report goes to the offload */
	conn->smbd_probe = offload_zc_read_done;
	conn->smbd_received = offload_response;
	conn->smbd_connected = offload_flush;
	conn->smbd_read_resume = conn_smbd_read_next;

	conn->proto = smbdirect_proto_create(conn, &ctx->cfg->proto, &err);
	if (conn->proto == NULL) {
		DBG_ERR("%s: %s\n", peer_name, err.reason);
		goto fail;
	}
	conn->status.proto = conn->proto;
	if (!conn_setup_verbs(conn)) {
		goto fail;
	}

	/*
	 * RDMA read/write depth. rdma_cm reports a connect request's values
	 * already from our side (ready for rdma_accept): initiator_depth is
	 * how many RDMA READs the client lets us have outstanding (its
	 * responder resources, 32 for cifs.ko), responder_resources how
	 * many it wants to issue to us (0: clients never read our memory).
	 * Neither may exceed what this device supports.
	 */
	if (ibv_query_device(id->verbs, &dev_attr) != 0) {
		goto fail;
	}
	param.responder_resources =
		MIN(peer->responder_resources, dev_attr.max_qp_rd_atom);
	param.initiator_depth =
		MIN(peer->initiator_depth, dev_attr.max_qp_init_rd_atom);
	param.rnr_retry_count = 7;
	conn->initiator_depth = param.initiator_depth;

	if (rdma_accept(id, &param) != 0) {
		DBG_ERR("%s: rdma_accept: %s\n", peer_name, strerror(errno));
		goto fail;
	}
	ctx->accepted += 1;
	DBG_NOTICE("connection %" PRIu64 " from %s accepted (initiator "
		   "depth %u, responder resources %u)\n",
		   conn->id,
		   conn->peer,
		   param.initiator_depth,
		   param.responder_resources);

	conn->negotiate_timer = tevent_add_timer(
		ctx->ev,
		conn,
		timeval_current_ofs(ctx->cfg->negotiate_timeout_sec, 0),
		conn_negotiate_timeout,
		conn);
	if (conn->negotiate_timer == NULL) {
		goto fail;
	}
	return true;

fail:
	rdma_reject(id, NULL, 0);
	/* the caller destroys the cm_id: do not let the destructor */
	conn->cm_id = NULL;
	if (conn->qp_created) {
		rdma_destroy_qp(id);
		conn->qp_created = false;
	}
	TALLOC_FREE(conn);
	return false;
}

bool smbdirectd_conn_cm_event(struct smbdirectd_conn *conn,
			      struct rdma_cm_event *event)
{
	switch (event->event) {
	case RDMA_CM_EVENT_ESTABLISHED:
		if (conn->state == CONN_ACCEPTING) {
			conn_set_state(conn, CONN_NEGOTIATE);
		}
		if (conn->early_negotiate) {
			conn->early_negotiate = false;
			conn_handle_negotiate(conn,
					      buf_ptr(&conn->recv,
						      conn->early_idx),
					      conn->early_len);
			buf_put(&conn->recv, conn->early_idx);
			conn_pump(conn);
		}
		DBG_INFO("connection %" PRIu64 " from %s established\n",
			 conn->id,
			 conn->peer);
		return false;
	case RDMA_CM_EVENT_DISCONNECTED:
		/*
		 * The CM event channel and the CQ's channel are two fds:
		 * a failed RDMA READ that made the peer give up may still
		 * sit in the CQ. Handle it first, so that the log names
		 * what went wrong, not just that the peer left.
		 */
		if (conn->cq != NULL && conn->state != CONN_CLOSING &&
		    conn->state != CONN_DONE) {
			conn_drain_cq(conn);
		}
		conn_peer_closed(conn, "the peer disconnected");
		conn_set_state(conn, CONN_DONE);
		break;
	case RDMA_CM_EVENT_TIMEWAIT_EXIT:
		return false;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		conn_close(conn, "the RDMA device was removed");
		conn_set_state(conn, CONN_DONE);
		smbdirectd_dev_removed(conn->ctx, conn->cm_id->verbs);
		break;
	default:
		/* CONNECT_ERROR, UNREACHABLE, REJECTED, ...: it is over */
		conn_close(conn, "rdma_cm event %s (status %d)",
			   rdma_event_str(event->event),
			   event->status);
		conn_set_state(conn, CONN_DONE);
		break;
	}
	DBG_NOTICE("connection %" PRIu64 " from %s closed: %s\n",
		   conn->id,
		   conn->peer,
		   conn->close_reason != NULL ? conn->close_reason : "?");
	return true;
}
