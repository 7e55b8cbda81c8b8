/*
 * The two smb.conf [global] options both sides of the zero-copy link
 * read the same way: "smbdirect:zero copy" and "smbdirect:control socket".
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECT_ZEROCOPY_CONFIG_H_
#define _SMBDIRECT_ZEROCOPY_CONFIG_H_

#include "replace.h"
#include <talloc.h>

/* "smbdirect:zero copy" (default yes) */
bool smbdirect_zc_enabled(void);

/*
 * "smbdirect:control socket", by default smbdirectd.sock in the lock
 * directory. NULL (logged) when the path is too long for a UNIX socket.
 */
char *smbdirect_zc_socket_path(TALLOC_CTX *mem_ctx);

#endif
