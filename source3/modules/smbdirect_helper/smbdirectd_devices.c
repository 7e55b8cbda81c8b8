/*
 * smbdirectd: discovery of the RDMA devices on this host
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include "replace.h"
#include "lib/util/debug.h"
#include "smbdirectd_devices.h"

#include <infiniband/verbs.h>

static const char *port_state_name(enum ibv_port_state state)
{
	switch (state) {
	case IBV_PORT_NOP:
		return "NOP";
	case IBV_PORT_DOWN:
		return "DOWN";
	case IBV_PORT_INIT:
		return "INIT";
	case IBV_PORT_ARMED:
		return "ARMED";
	case IBV_PORT_ACTIVE:
		return "ACTIVE";
	case IBV_PORT_ACTIVE_DEFER:
		return "ACTIVE_DEFER";
	}
	return "UNKNOWN";
}

static const char *link_layer_name(uint8_t link_layer)
{
	switch (link_layer) {
	case IBV_LINK_LAYER_INFINIBAND:
		return "InfiniBand";
	case IBV_LINK_LAYER_ETHERNET:
		return "Ethernet";
	}
	return "unspecified";
}

static const char *transport_name(enum ibv_transport_type t)
{
	switch (t) {
	case IBV_TRANSPORT_IB:
		return "InfiniBand";
	case IBV_TRANSPORT_IWARP:
		return "iWARP";
	default:
		break;
	}
	return "other";
}

static unsigned mtu_bytes(enum ibv_mtu mtu)
{
	/* IBV_MTU_256 == 1 ... IBV_MTU_4096 == 5 */
	if (mtu < IBV_MTU_256 || mtu > IBV_MTU_4096) {
		return 0;
	}
	return 128U << mtu;
}

static int probe_one(TALLOC_CTX *mem_ctx,
		     struct ibv_device *dev,
		     struct smbdirectd_device_info *info)
{
	struct ibv_context *ctx = NULL;
	struct ibv_device_attr attr;
	unsigned p;
	int ret;

	info->name = talloc_strdup(mem_ctx, ibv_get_device_name(dev));
	info->transport = transport_name(dev->transport_type);
	info->node_guid = be64toh(ibv_get_device_guid(dev));

	ctx = ibv_open_device(dev);
	if (ctx == NULL) {
		DBG_ERR("ibv_open_device(%s) failed: %s\n",
			info->name,
			strerror(errno));
		return -1;
	}

	ret = ibv_query_device(ctx, &attr);
	if (ret != 0) {
		DBG_ERR("ibv_query_device(%s) failed: %s\n",
			info->name,
			strerror(ret));
		ibv_close_device(ctx);
		return -1;
	}

	info->max_qp = attr.max_qp;
	info->max_qp_wr = attr.max_qp_wr;
	info->max_sge = attr.max_sge;
	info->max_mr_size_mb = (uint32_t)MIN(attr.max_mr_size >> 20,
					     UINT32_MAX);
	info->max_qp_rd_atom = attr.max_qp_rd_atom;
	info->max_qp_init_rd_atom = attr.max_qp_init_rd_atom;
	info->num_ports = attr.phys_port_cnt;
	info->ports = talloc_zero_array(mem_ctx,
					struct smbdirectd_port_info,
					info->num_ports);
	if (info->ports == NULL && info->num_ports > 0) {
		ibv_close_device(ctx);
		errno = ENOMEM;
		return -1;
	}

	for (p = 0; p < info->num_ports; p++) {
		struct ibv_port_attr pattr;
		struct smbdirectd_port_info *pi = &info->ports[p];

		pi->port_num = p + 1; /* verbs ports count from 1 */
		ret = ibv_query_port(ctx, pi->port_num, &pattr);
		if (ret != 0) {
			DBG_WARNING("ibv_query_port(%s, %u) failed: %s\n",
				    info->name,
				    pi->port_num,
				    strerror(ret));
			pi->state = "UNKNOWN";
			pi->link_layer = "unspecified";
			continue;
		}
		pi->state = port_state_name(pattr.state);
		pi->link_layer = link_layer_name(pattr.link_layer);
		pi->max_mtu = mtu_bytes(pattr.max_mtu);
		pi->active_mtu = mtu_bytes(pattr.active_mtu);
	}

	ibv_close_device(ctx);
	return 0;
}

int smbdirectd_devices_probe(TALLOC_CTX *mem_ctx,
			     struct smbdirectd_device_info **_devices)
{
	struct ibv_device **list = NULL;
	struct smbdirectd_device_info *devices = NULL;
	int num = 0;
	int i;
	int found = 0;

	list = ibv_get_device_list(&num);
	if (list == NULL) {
		return -1;
	}

	devices = talloc_zero_array(mem_ctx,
				    struct smbdirectd_device_info,
				    MAX(num, 1));
	if (devices == NULL) {
		ibv_free_device_list(list);
		errno = ENOMEM;
		return -1;
	}

	for (i = 0; i < num; i++) {
		/* A device we cannot open is logged and skipped. */
		if (probe_one(devices, list[i], &devices[found]) == 0) {
			found++;
		}
	}

	ibv_free_device_list(list);
	*_devices = devices;
	return found;
}

void smbdirectd_devices_log(const struct smbdirectd_device_info *devices,
			    int num_devices)
{
	int i;
	unsigned p;

	if (num_devices == 0) {
		DBG_WARNING("no RDMA device found: load a NIC driver, or "
			    "create a Soft-RoCE link with "
			    "'rdma link add rxe0 type rxe netdev IFACE'\n");
		return;
	}

	for (i = 0; i < num_devices; i++) {
		const struct smbdirectd_device_info *d = &devices[i];

		DBG_NOTICE("RDMA device %s: transport %s, node GUID "
			   "%016" PRIx64 ", %u port(s), max_qp %u, "
			   "max_qp_wr %u, max_sge %u, max_mr_size %u MiB, "
			   "max_qp_rd_atom %u, max_qp_init_rd_atom %u\n",
			   d->name,
			   d->transport,
			   d->node_guid,
			   d->num_ports,
			   d->max_qp,
			   d->max_qp_wr,
			   d->max_sge,
			   d->max_mr_size_mb,
			   d->max_qp_rd_atom,
			   d->max_qp_init_rd_atom);
		for (p = 0; p < d->num_ports; p++) {
			const struct smbdirectd_port_info *pi = &d->ports[p];

			DBG_NOTICE("RDMA device %s port %u: %s, link layer "
				   "%s, active MTU %u (max %u)\n",
				   d->name,
				   pi->port_num,
				   pi->state,
				   pi->link_layer,
				   pi->active_mtu,
				   pi->max_mtu);
		}
	}
}
