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

#include "smbdirectd_ctx.h"
#include "proto/smbdirect_zerocopy.h"

struct smbdirectd_conn;
struct smbdirectd_pool_chunk;
struct smbdirectd_zc_parked;

/* One connection's table, made when the module attaches. */
struct smbdirectd_zc {
	struct smbdirectd_ctx *ctx;
	uint64_t conn_id;
	int fd;
	size_t size;
	struct smbdirect_zc_table *table;
	uint32_t reads;	 /* READ entries published, not yet retired */
	uint32_t writes; /* WRITE entries published, not yet retired */
	/* the guards' read ends (smbdirect_zerocopy.h), -1 when hung up */
	int *guards;
	struct tevent_fd **guard_fdes;
	/* slots of CLAIMED entries, kept until the module gives them up */
	struct smbdirectd_zc_parked *parked;
	struct tevent_timer *park_timer;
	bool conn_gone;
};

/*
 * Entry idx is CLAIMED: keep its slot (chunk) reserved until the entry
 * leaves CLAIMED or every process of the module's side is gone.
 */
void smbdirectd_zc_park(struct smbdirectd_zc *zc,
			int idx,
			struct smbdirectd_pool_chunk *chunk);
/*
 * The connection is being freed: zc, if it holds parked slots, lives
 * on under the daemon until they are free, then goes by itself.
 */
void smbdirectd_zc_conn_gone(struct smbdirectd_zc *zc);

/*
 * Listen on the control socket (cfg->control_socket). Returns false,
 * logged, when that fails; the daemon then runs without zero copy.
 */
bool smbdirectd_zc_listen(struct smbdirectd_ctx *ctx);
/* Stop listening and remove the socket. */
void smbdirectd_zc_stop(struct smbdirectd_ctx *ctx);

#endif
