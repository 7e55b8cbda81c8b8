/*
 * smbdirectd: its side of the zero-copy link with vfs_smbdirect
 * (smbdirect_zerocopy.h): the control socket the module attaches
 * through, and each connection's table.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_ZEROCOPY_H_
#define _SMBDIRECTD_ZEROCOPY_H_

#include "smbdirectd.h"
#include "smbdirect_zerocopy.h"

struct smbdirectd_conn;

/* One connection's table, made when the module attaches. */
struct smbdirectd_zc {
	int fd;
	size_t size;
	struct smbdirect_zc_table *table;
	uint32_t reads;	 /* READ entries published, not yet retired */
	uint32_t writes; /* WRITE entries published, not yet retired */
};

/*
 * Listen on the control socket (cfg->control_socket). Returns false,
 * logged, when that fails; the daemon then runs without zero copy.
 */
bool smbdirectd_zc_listen(struct smbdirectd_ctx *ctx);
/* Stop listening and remove the socket. */
void smbdirectd_zc_stop(struct smbdirectd_ctx *ctx);

#endif
