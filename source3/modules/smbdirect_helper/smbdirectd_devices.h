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

#ifndef _SMBDIRECTD_DEVICES_H_
#define _SMBDIRECTD_DEVICES_H_

#include <stdint.h>
#include <talloc.h>

struct smbdirectd_port_info {
	uint8_t port_num;
	const char *state;	/* "ACTIVE", "DOWN", ... */
	const char *link_layer; /* "Ethernet", "InfiniBand" */
	uint32_t max_mtu;
	uint32_t active_mtu;
};

struct smbdirectd_device_info {
	const char *name;
	const char *transport; /* "InfiniBand" (IB and RoCE), "iWARP" */
	uint64_t node_guid;
	uint32_t max_qp;
	uint32_t max_qp_wr;
	uint32_t max_sge;
	uint32_t max_mr_size_mb;
	uint32_t max_qp_rd_atom;
	uint32_t max_qp_init_rd_atom;
	unsigned num_ports;
	struct smbdirectd_port_info *ports;
};

/*
 * Open every RDMA device libibverbs knows about and describe it.
 *
 * Returns the number of devices found (0 is not an error: the host may
 * simply have no RDMA hardware or no rxe/siw link configured) or -1 with
 * errno set when libibverbs itself fails. *_devices is allocated on mem_ctx.
 */
int smbdirectd_devices_probe(TALLOC_CTX *mem_ctx,
			     struct smbdirectd_device_info **_devices);

/* Log the probed devices through Samba's debug system at level 0/1. */
void smbdirectd_devices_log(const struct smbdirectd_device_info *devices,
			    int num_devices);

#endif
