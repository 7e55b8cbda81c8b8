/*
 * smbdirectd: give up the privileges start-up needed
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_PRIVS_H_
#define _SMBDIRECTD_PRIVS_H_

/*
 * Before the first RDMA file is opened (see smbdirectd_privs.c for why
 * not later): drop every capability (effective, permitted, inheritable,
 * bounding set) but CAP_IPC_LOCK where RLIMIT_MEMLOCK is limited and
 * CAP_NET_BIND_SERVICE if keep_net_bind (a listening port below 1024),
 * and set no_new_privs. Before that, start the smbd pid resolver
 * (smbdirectd_procnet_resolver_start()). false: the capabilities could
 * not be set (the daemon should not go on); not running as root is no
 * error.
 */
bool smbdirectd_privs_drop(bool keep_net_bind);

#endif
