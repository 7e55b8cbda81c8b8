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

#include "replace.h"
#include "system/dir.h"
#include "smbdirectd_procnet.h"

/* The socket inode of the TCP connection local:smbd_port <- our_port. */
static unsigned long find_inode(const char *table,
				uint16_t our_port,
				uint16_t smbd_port)
{
	FILE *f = fopen(table, "r");
	char line[512];
	unsigned long inode = 0;

	if (f == NULL) {
		return 0;
	}
	/* first line: column titles */
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char local[64];
		char remote[64];
		unsigned lport;
		unsigned rport;
		unsigned long ino;
		char *colon = NULL;

		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line,
			   " %*s %63s %63s %*s %*s %*s %*s %*s %*s %lu",
			   local, remote, &ino) != 3) {
			continue;
		}
		colon = strrchr(local, ':');
		if (colon == NULL || sscanf(colon + 1, "%x", &lport) != 1) {
			continue;
		}
		colon = strrchr(remote, ':');
		if (colon == NULL || sscanf(colon + 1, "%x", &rport) != 1) {
			continue;
		}
		if (lport == smbd_port && rport == our_port) {
			inode = ino;
			break;
		}
	}
	fclose(f);
	return inode;
}

static bool pid_holds_socket(const char *pid, unsigned long inode)
{
	char dir[64];
	char want[64];
	DIR *d = NULL;
	struct dirent *e = NULL;
	bool found = false;

	snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	d = opendir(dir);
	if (d == NULL) {
		return false;
	}
	while (!found && (e = readdir(d)) != NULL) {
		char path[320];
		char target[64];
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0) {
			continue;
		}
		target[n] = '\0';
		found = (strcmp(target, want) == 0);
	}
	closedir(d);
	return found;
}

pid_t smbdirectd_procnet_smbd_pid(uint16_t our_port, uint16_t smbd_port)
{
	unsigned long inode;
	DIR *proc = NULL;
	struct dirent *e = NULL;
	pid_t pid = 0;
	pid_t self = getpid();

	inode = find_inode("/proc/net/tcp", our_port, smbd_port);
	if (inode == 0) {
		inode = find_inode("/proc/net/tcp6", our_port, smbd_port);
	}
	if (inode == 0) {
		return 0;
	}
	proc = opendir("/proc");
	if (proc == NULL) {
		return 0;
	}
	while (pid == 0 && (e = readdir(proc)) != NULL) {
		pid_t p;

		if (e->d_name[0] < '0' || e->d_name[0] > '9') {
			continue;
		}
		p = (pid_t)strtol(e->d_name, NULL, 10);
		if (p == self) {
			continue;
		}
		if (pid_holds_socket(e->d_name, inode)) {
			pid = p;
		}
	}
	closedir(proc);
	return pid;
}
