/*
 * smbdirectd: rdma_cm listeners and the event channel
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_LISTEN_H_
#define _SMBDIRECTD_LISTEN_H_

#include "smbdirectd_ctx.h"

/*
 * Create the rdma_cm event channel (watched by ctx->ev) and listen on
 * every configured address. Addresses that cannot be bound (no RDMA
 * device behind them, already in use) are logged and skipped; false
 * when none could be.
 */
bool smbdirectd_listen_start(struct smbdirectd_ctx *ctx);

/*
 * Whether listening will need CAP_NET_BIND_SERVICE (a port below 1024:
 * 445 on an InfiniBand or RoCE device by default). Looks at the devices
 * without opening them, so it can be asked before privileges drop.
 */
bool smbdirectd_listen_needs_low_port(const struct smbdirectd_config *cfg);

/* "ADDR:PORT,[ADDR6]:PORT,..." of the listening ids, for the status */
char *smbdirectd_listen_describe(TALLOC_CTX *mem_ctx,
				 const struct smbdirectd_ctx *ctx);

/* Stop listening; connections go on. */
void smbdirectd_listen_stop(struct smbdirectd_ctx *ctx);

#endif
