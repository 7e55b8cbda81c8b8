/*
 * smbdirectd: rdma_cm listeners and the event channel
 *
 * One event channel carries the events of the listening ids and of every
 * connection (rdma_cm migrates a new connection's id to the listener's
 * channel), so one tevent fd handler dispatches them all.
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
#include "smbdirectd_config.h"
#include "smbdirectd_conn.h"
#include "smbdirectd_dev.h"
#include "smbdirectd_listen.h"

#include <rdma/rdma_cma.h>

/* rdma_listen backlog */
#define LISTEN_BACKLOG 64

struct smbdirectd_listener {
	struct smbdirectd_ctx *ctx;
	struct rdma_event_channel *channel;
	struct tevent_fd *fde;
	struct rdma_cm_id **ids;
	size_t num_ids;
};

static int listener_destructor(struct smbdirectd_listener *l)
{
	size_t i;

	TALLOC_FREE(l->fde);
	for (i = 0; i < l->num_ids; i++) {
		rdma_destroy_id(l->ids[i]);
	}
	l->num_ids = 0;
	/*
	 * The channel is shared with the connections' ids: the daemon frees
	 * the listener only after every connection is gone.
	 */
	SMB_ASSERT(l->ctx->num_conns == 0);
	rdma_destroy_event_channel(l->channel);
	return 0;
}

static bool is_listener_id(struct smbdirectd_listener *l,
			   struct rdma_cm_id *id)
{
	size_t i;

	for (i = 0; i < l->num_ids; i++) {
		if (l->ids[i] == id) {
			return true;
		}
	}
	return false;
}

/*
 * The device under a listening address went away (driver unloaded,
 * "rdma link delete"): the kernel waits until every user of it let go,
 * so stop listening there and release the device's pool registration.
 */
static void listener_device_removed(struct smbdirectd_listener *l,
				    struct rdma_cm_id *id)
{
	const char *name = id->verbs != NULL
				   ? ibv_get_device_name(id->verbs->device)
				   : "?";
	struct ibv_context *verbs = id->verbs;
	size_t i;

	DBG_ERR("RDMA device %s was removed: no longer listening on one "
		"address (%zu left)\n",
		name,
		l->num_ids - 1);
	for (i = 0; i < l->num_ids; i++) {
		if (l->ids[i] == id) {
			l->ids[i] = l->ids[l->num_ids - 1];
			l->num_ids -= 1;
			break;
		}
	}
	rdma_destroy_id(id);
	smbdirectd_dev_removed(l->ctx, verbs);
	if (l->num_ids == 0) {
		DBG_ERR("no RDMA address left to listen on: stopping (start "
			"smbdirectd again once the device is back; systemd "
			"does so by itself)\n");
		l->ctx->nothing_to_listen_on = true;
	}
}

static void listener_handle_event(struct smbdirectd_listener *l,
				  struct rdma_cm_event *event)
{
	struct smbdirectd_conn *conn = NULL;
	struct rdma_cm_id *id = event->id;
	bool done;

	if (event->event == RDMA_CM_EVENT_CONNECT_REQUEST) {
		if (!smbdirectd_conn_accept(l->ctx, event)) {
			rdma_ack_cm_event(event);
			rdma_destroy_id(id);
			return;
		}
		rdma_ack_cm_event(event);
		return;
	}

	if (is_listener_id(l, id) &&
	    event->event == RDMA_CM_EVENT_DEVICE_REMOVAL) {
		rdma_ack_cm_event(event);
		listener_device_removed(l, id);
		return;
	}
	if (is_listener_id(l, id)) {
		DBG_WARNING("listener event %s (status %d)\n",
			    rdma_event_str(event->event),
			    event->status);
		rdma_ack_cm_event(event);
		return;
	}

	conn = talloc_get_type(id->context, struct smbdirectd_conn);
	if (conn == NULL) {
		DBG_WARNING("event %s for an unknown connection\n",
			    rdma_event_str(event->event));
		rdma_ack_cm_event(event);
		return;
	}
	done = smbdirectd_conn_cm_event(conn, event);
	/* rdma_destroy_id (in the destructor) waits for the ack */
	rdma_ack_cm_event(event);
	if (done) {
		TALLOC_FREE(conn);
	}
}

static void listener_fd_handler(struct tevent_context *ev,
				struct tevent_fd *fde,
				uint16_t flags,
				void *private_data)
{
	struct smbdirectd_listener *l = talloc_get_type_abort(
		private_data, struct smbdirectd_listener);
	struct rdma_cm_event *event = NULL;

	/* The channel fd is non-blocking: drain what is there. */
	while (rdma_get_cm_event(l->channel, &event) == 0) {
		listener_handle_event(l, event);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK) {
		DBG_ERR("rdma_get_cm_event: %s\n", strerror(errno));
	}
}

/* The listening id, or NULL (logged) when addr:port cannot be had. */
static struct rdma_cm_id *listen_on(struct smbdirectd_listener *l,
				    const char *addr,
				    uint16_t port)
{
	struct rdma_addrinfo hints = {0};
	struct rdma_addrinfo *res = NULL;
	struct rdma_cm_id *id = NULL;
	char port_str[8];
	int ret;

	snprintf(port_str, sizeof(port_str), "%u", port);
	hints.ai_flags = RAI_PASSIVE | RAI_NUMERICHOST;
	hints.ai_port_space = RDMA_PS_TCP;
	ret = rdma_getaddrinfo(addr, port_str, &hints, &res);
	if (ret != 0) {
		DBG_ERR("cannot listen on %s: not a usable address (%s)\n",
			addr,
			strerror(errno));
		return NULL;
	}

	ret = rdma_create_id(l->channel, &id, NULL, RDMA_PS_TCP);
	if (ret != 0) {
		DBG_ERR("rdma_create_id: %s\n", strerror(errno));
		rdma_freeaddrinfo(res);
		return NULL;
	}
	ret = rdma_bind_addr(id, res->ai_src_addr);
	rdma_freeaddrinfo(res);
	if (ret != 0) {
		DBG_ERR("cannot listen on %s port %u: rdma_bind_addr: %s "
			"(no RDMA device has this address, or the port is "
			"taken)\n",
			addr,
			port,
			strerror(errno));
		rdma_destroy_id(id);
		return NULL;
	}
	ret = rdma_listen(id, LISTEN_BACKLOG);
	if (ret != 0) {
		DBG_ERR("rdma_listen on %s port %u: %s\n",
			addr,
			port,
			strerror(errno));
		rdma_destroy_id(id);
		return NULL;
	}

	l->ids = talloc_realloc(l, l->ids, struct rdma_cm_id *, l->num_ids + 1);
	if (l->ids == NULL) {
		rdma_destroy_id(id);
		return NULL;
	}
	l->ids[l->num_ids++] = id;
	DBG_ERR("listening for SMB Direct on %s port %u (device %s)\n",
		addr,
		port,
		id->verbs != NULL ? ibv_get_device_name(id->verbs->device)
				  : "any");
	return id;
}

static bool is_ib_transport(const struct rdma_cm_id *id)
{
	return id != NULL && id->verbs != NULL &&
	       id->verbs->device->transport_type == IBV_TRANSPORT_IB;
}

/*
 * One address on the ports of smbdirect:port, or by default where
 * clients look (smbdirectd_config.h): 5445, and 445 as well when the
 * address turns out to be on an InfiniBand or RoCE device.
 */
static void listen_on_address(struct smbdirectd_listener *l,
			      const struct smbdirectd_config *cfg,
			      const char *addr)
{
	struct rdma_cm_id *id = NULL;
	size_t i;

	if (cfg->num_ports != 0) {
		for (i = 0; i < cfg->num_ports; i++) {
			listen_on(l, addr, cfg->ports[i]);
		}
		return;
	}
	id = listen_on(l, addr, SMBDIRECTD_PORT_IWARP);
	if (is_ib_transport(id)) {
		listen_on(l, addr, SMBDIRECTD_PORT_IB);
	}
}

bool smbdirectd_listen_needs_low_port(const struct smbdirectd_config *cfg)
{
	struct ibv_device **list = NULL;
	bool ib = false;
	size_t i;
	int n = 0;

	if (cfg->num_ports != 0) {
		for (i = 0; i < cfg->num_ports; i++) {
			if (cfg->ports[i] < 1024) {
				return true;
			}
		}
		return false;
	}
	/* sysfs only: no device file is opened before privileges drop */
	list = ibv_get_device_list(&n);
	if (list == NULL) {
		return false;
	}
	for (i = 0; i < (size_t)n; i++) {
		if (list[i]->transport_type == IBV_TRANSPORT_IB) {
			ib = true;
		}
	}
	ibv_free_device_list(list);
	return ib;
}

char *smbdirectd_listen_describe(TALLOC_CTX *mem_ctx,
				 const struct smbdirectd_ctx *ctx)
{
	const struct smbdirectd_listener *l = ctx->listener;
	char *s = talloc_strdup(mem_ctx, "");
	size_t i;

	for (i = 0; l != NULL && s != NULL && i < l->num_ids; i++) {
		struct sockaddr *sa = rdma_get_local_addr(l->ids[i]);
		char buf[INET6_ADDRSTRLEN] = "?";
		const void *a = NULL;

		if (sa->sa_family == AF_INET6) {
			a = &((struct sockaddr_in6 *)sa)->sin6_addr;
		} else {
			a = &((struct sockaddr_in *)sa)->sin_addr;
		}
		inet_ntop(sa->sa_family, a, buf, sizeof(buf));
		s = talloc_asprintf_append_buffer(
			s,
			"%s%s%s%s:%u",
			i == 0 ? "" : ",",
			sa->sa_family == AF_INET6 ? "[" : "",
			buf,
			sa->sa_family == AF_INET6 ? "]" : "",
			(unsigned)ntohs(rdma_get_src_port(l->ids[i])));
	}
	return s;
}

bool smbdirectd_listen_start(struct smbdirectd_ctx *ctx)
{
	struct smbdirectd_listener *l = NULL;
	size_t i;

	if (ctx->cfg->num_listen == 0) {
		DBG_ERR("nothing to listen on: mark the RDMA interfaces in "
			"smb.conf with interfaces = \"IP;capability=RDMA\" or "
			"set smbdirect:listen = IP\n");
		return false;
	}

	l = talloc_zero(ctx, struct smbdirectd_listener);
	if (l == NULL) {
		return false;
	}
	l->ctx = ctx;
	l->channel = rdma_create_event_channel();
	if (l->channel == NULL) {
		DBG_ERR("rdma_create_event_channel: %s (is the rdma_ucm "
			"kernel module loaded?)\n",
			strerror(errno));
		TALLOC_FREE(l);
		return false;
	}
	talloc_set_destructor(l, listener_destructor);
	if (set_blocking(l->channel->fd, false) != 0) {
		TALLOC_FREE(l);
		return false;
	}
	l->fde = tevent_add_fd(ctx->ev,
			       l,
			       l->channel->fd,
			       TEVENT_FD_READ,
			       listener_fd_handler,
			       l);
	if (l->fde == NULL) {
		TALLOC_FREE(l);
		return false;
	}

	for (i = 0; i < ctx->cfg->num_listen; i++) {
		listen_on_address(l, ctx->cfg, ctx->cfg->listen[i]);
	}
	if (l->num_ids == 0) {
		TALLOC_FREE(l);
		return false;
	}
	ctx->listener = l;
	return true;
}

void smbdirectd_listen_stop(struct smbdirectd_ctx *ctx)
{
	struct smbdirectd_listener *l = ctx->listener;
	size_t i;

	if (l == NULL) {
		return;
	}
	for (i = 0; i < l->num_ids; i++) {
		rdma_destroy_id(l->ids[i]);
	}
	l->num_ids = 0;
}
