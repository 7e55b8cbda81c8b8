/*
 * The smb.conf options of the zero-copy link, read alike by smbdirectd
 * and vfs_smbdirect.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include "includes.h"
#include "lib/util_path.h"
#include "proto/smbdirect_zerocopy.h"
#include "smbdirect_zerocopy_config.h"
#include <sys/un.h>

bool smbdirect_zc_enabled(void)
{
	return lp_parm_bool(-1, "smbdirect", "zero copy", true);
}

char *smbdirect_zc_socket_path(TALLOC_CTX *mem_ctx)
{
	struct sockaddr_un sun;
	const char *opt = NULL;
	char *path = NULL;

	opt = lp_parm_const_string(-1, "smbdirect", "control socket", NULL);
	if (opt != NULL && opt[0] != '\0') {
		path = talloc_strdup(mem_ctx, opt);
	} else {
		path = lock_path(mem_ctx, SMBDIRECT_ZC_SOCKET_NAME);
	}
	if (path == NULL) {
		return NULL;
	}
	if (strlen(path) >= sizeof(sun.sun_path)) {
		DBG_ERR("smbdirect:control socket %s is longer than a UNIX "
			"socket path may be (%zu bytes): set a shorter one\n",
			path,
			sizeof(sun.sun_path) - 1);
		TALLOC_FREE(path);
		return NULL;
	}
	return path;
}
