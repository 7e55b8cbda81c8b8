/*
 * smbdirectd: the status file (live connections and counters)
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_STATUS_H_
#define _SMBDIRECTD_STATUS_H_

#include "smbdirectd_ctx.h"

#define SMBDIRECTD_STATUS_FILE "smbdirectd.status"
#define SMBDIRECTD_STATUS_INTERVAL_SEC 1

/*
 * Rewrite <pid directory>/smbdirectd.status every second (atomically:
 * written aside, then renamed) with one "key=value ..." line for the
 * daemon and one per live connection. Readable while it runs:
 *   daemon pid=... connections=... accepted=... refused=... <counters>
 *   conn id=... peer=... smbd_port=... state=... <counters> <credits>
 */
bool smbdirectd_status_start(struct smbdirectd_ctx *ctx);

/* Write it now (also at exit, with the final totals). */
void smbdirectd_status_write(struct smbdirectd_ctx *ctx);

/*
 * smbdirectd --status [--json]: print the running daemon's status file
 * for people, or as one JSON object {"daemon": {...}, "connections":
 * [{...}, ...]}. Returns the exit code (1: not running).
 */
int smbdirectd_status_print(bool json);

#endif
