/*
 * smbdirectd: which smbd process serves a relayed connection
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_PROCNET_H_
#define _SMBDIRECTD_PROCNET_H_

#include <stdint.h>
#include <sys/types.h>

/*
 * The pid of the process holding the server end of our loopback TCP
 * connection (local port smbd_port, peer port our_port), found through
 * /proc/net/tcp{,6} and /proc/PID/fd. Only for the log and the status
 * view: after Samba's multichannel hand-off the socket lives in the smbd
 * that serves the client, which is the answer an admin wants. 0 when not
 * found (not root, or the connection is gone).
 */
pid_t smbdirectd_procnet_smbd_pid(uint16_t our_port, uint16_t smbd_port);

#endif
