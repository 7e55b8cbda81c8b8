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

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The pid of the process holding the server end of our loopback TCP
 * connection (local port smbd_port, peer port our_port), found through
 * /proc/net/tcp{,6} and /proc/PID/fd. Only for the log and the status
 * view: after Samba's multichannel hand-off the socket lives in the smbd
 * that serves the client, which is the answer an admin wants. 0 when not
 * found (not root, or the connection is gone).
 *
 * Asks the resolver process if one was started, else looks it up
 * itself.
 */
pid_t smbdirectd_procnet_smbd_pid(uint16_t our_port, uint16_t smbd_port);

/*
 * Fork the resolver: a child that keeps only CAP_SYS_PTRACE (what
 * reading the /proc/PID/fd of smbd processes needs) and does the
 * lookups above, so that smbdirectd itself can drop it. Dies with
 * smbdirectd (PR_SET_PDEATHSIG). Before smbdirectd drops its privileges
 * (smbdirectd_privs_drop() calls it). The child calls drop_privs first
 * and exits if it fails: smbdirectd_privs.c passes the function that
 * keeps CAP_SYS_PTRACE only, so that capabilities stay its business.
 */
bool smbdirectd_procnet_resolver_start(bool (*drop_privs)(void));

#endif
