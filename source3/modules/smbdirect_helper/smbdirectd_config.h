/*
 * smbdirectd: the settings it takes from smb.conf
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_CONFIG_H_
#define _SMBDIRECTD_CONFIG_H_

#include "replace.h"
#include <talloc.h>
#include "proto/smbdirect_proto.h"

/*
 * The rdma_cm ports clients try: 5445 is SMB Direct's port for iWARP,
 * which shares TCP's port space (445 there is smbd's); InfiniBand and
 * RoCE have a port space of their own, where Windows and ksmbd use 445.
 * The Linux client tries 5445, then 445.
 */
#define SMBDIRECTD_PORT_IWARP 5445
#define SMBDIRECTD_PORT_IB 445
#define SMBDIRECTD_DEFAULT_SMBD_ADDRESS "127.0.0.1"
#define SMBDIRECTD_DEFAULT_SMBD_PORT 445
#define SMBDIRECTD_DEFAULT_NEGOTIATE_TIMEOUT 5
#define SMBDIRECTD_DEFAULT_MAX_CONNECTIONS 256
#define SMBDIRECTD_DEFAULT_POOL_SIZE_MB 64

/* Buffer descriptors accepted per READ/WRITE (cifs.ko sends one). */
#define SMBDIRECTD_MAX_DESCRIPTORS 16

struct smbdirectd_config {
	/* [MS-SMBD] sizes, credits and keepalive */
	struct smbdirect_params proto;

	/* The addresses to listen on, numeric, IPv4 or IPv6. */
	const char **listen;
	size_t num_listen;
	/*
	 * smbdirect:port, when set: these rdma_cm ports on every address.
	 * Empty (the default): SMBDIRECTD_PORT_IWARP on every address and
	 * SMBDIRECTD_PORT_IB as well where the device is InfiniBand or
	 * RoCE (smbdirectd_listen.c).
	 */
	uint16_t *ports;
	size_t num_ports;

	/* Where smbd accepts the relayed connections. */
	const char *smbd_address;
	uint16_t smbd_port;

	/* A peer that connects but sends no negotiate request is dropped. */
	uint32_t negotiate_timeout_sec;
	uint32_t max_connections;

	/* Registered memory for RDMA READ/WRITE offload, in bytes. */
	size_t pool_size;

	/*
	 * The zero-copy link with vfs_smbdirect (smbdirect_zerocopy.h):
	 * on, and where its control socket is. The module reads the same
	 * two [global] options.
	 */
	bool zero_copy;
	const char *control_socket;
};

/*
 * Read the [global] "interfaces" entries marked capability=RDMA and the
 * "smbdirect:" options of the loaded smb.conf. NULL (with the reason
 * logged) when an option is out of range.
 */
struct smbdirectd_config *smbdirectd_config_load(TALLOC_CTX *mem_ctx);

/* Log the effective settings at level 1. */
void smbdirectd_config_log(const struct smbdirectd_config *cfg);

#endif
